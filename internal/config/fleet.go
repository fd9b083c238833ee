package config

import (
	"maps"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultHeartbeatInterval is how often vigil watch publishes the host's
// state to the fleet when [Fleet.HeartbeatInterval] is 0.
const DefaultHeartbeatInterval = 60 * time.Second

// Fleet is the [fleet] table: where the host publishes its state to be
// witnessed, and what the witnesses (vigil fleet serve) share. A
// configuration without url has no fleet.
type Fleet struct {
	// URLs are the NATS servers (nats:// or tls://), tried in turn.
	URLs []string
	// CredsFile is a NATS user credentials file (JWT and NKey seed);
	// NkeySeedFile an NKey seed file. At most one; never logged.
	CredsFile, NkeySeedFile string
	// TLSCA verifies the servers; TLSCert and TLSKey are the client's
	// certificate (mutual TLS), both or neither.
	TLSCA, TLSCert, TLSKey string
	// Host names this host in the fleet; "" is the host name.
	Host string
	// Profile groups hosts meant to be alike.
	Profile string
	// HeartbeatInterval is how often vigil watch publishes the host's
	// state; 0 means [DefaultHeartbeatInterval].
	HeartbeatInterval time.Duration
	// Witnesses are the witnesses' verifier keys (signed-note verifier
	// keys, as vigil keygen's vigil.pub holds them): a witnessed
	// checkpoint counts when Quorum of them cosigned it.
	Witnesses []string
	// Quorum is how many of Witnesses must have cosigned; 0 means 1 when
	// there are witnesses.
	Quorum int
	// TOFU lets vigil fleet serve enroll the key of a host it does not
	// know from the host's first statement, instead of alerting.
	TOFU bool
	// GoldenKeys are the verifier keys whose signatures promote a golden
	// baseline (vigil fleet golden set): a golden statement signed by any
	// other key is not one.
	GoldenKeys []string
	// ConsoleTokenFile holds the token a console of vigil fleet serve
	// --listen requires on an address that is not loopback.
	ConsoleTokenFile string
	// HostSpecific (host_specific) are the paths a host holds of its own,
	// left out of its portable tree (patterns of path.Match; a
	// directory's subtree goes with it); nil means [DefaultHostSpecific].
	HostSpecific []string
}

// DefaultHostSpecific are fleet.host_specific's default: two hosts built
// from one configuration differ there by design.
var DefaultHostSpecific = []string{
	"/etc/machine-id", "/var/lib/dbus/machine-id", "/etc/hostname", "/etc/hostid", "/etc/adjtime",
	"/etc/ssh/ssh_host_*", "/etc/wireguard", "/etc/vigil/*.key", "/var/lib/nixos",
}

// HostSpecificPaths returns the host-specific patterns in force.
func (f Fleet) HostSpecificPaths() []string {
	if f.HostSpecific != nil {
		return f.HostSpecific
	}
	return DefaultHostSpecific
}

// Enabled reports whether a fleet is configured.
func (f Fleet) Enabled() bool { return len(f.URLs) > 0 }

// Heartbeat returns the heartbeat interval in force.
func (f Fleet) Heartbeat() time.Duration {
	if f.HeartbeatInterval > 0 {
		return f.HeartbeatInterval
	}
	return DefaultHeartbeatInterval
}

// QuorumOf returns the quorum in force: Quorum, or 1 when it is 0 and
// witnesses are listed.
func (f Fleet) QuorumOf() int {
	if f.Quorum == 0 && len(f.Witnesses) > 0 {
		return 1
	}
	return f.Quorum
}

func (d *decoder) fleet(key keyPath, v any, c *Config) {
	m, ok := v.(map[string]any)
	if !ok {
		d.wrongType(key, v, "table")
		return
	}
	f := &c.Fleet
	for _, name := range slices.Sorted(maps.Keys(m)) {
		k, v := key.key(name), m[name]
		switch name {
		case "url":
			if s, one := v.(string); one {
				f.URLs = []string{s}
			} else {
				f.URLs = d.strings(k, v)
			}
		case "creds_file":
			d.str(k, v, &f.CredsFile)
		case "nkey_seed_file":
			d.str(k, v, &f.NkeySeedFile)
		case "tls_ca":
			d.str(k, v, &f.TLSCA)
		case "tls_cert":
			d.str(k, v, &f.TLSCert)
		case "tls_key":
			d.str(k, v, &f.TLSKey)
		case "host":
			d.str(k, v, &f.Host)
		case "profile":
			d.str(k, v, &f.Profile)
		case "heartbeat_interval":
			d.duration(k, v, &f.HeartbeatInterval)
		case "witnesses":
			f.Witnesses = d.strings(k, v)
		case "quorum":
			d.integer(k, v, &f.Quorum)
		case "tofu":
			d.boolean(k, v, &f.TOFU)
		case "golden_keys":
			f.GoldenKeys = d.strings(k, v)
		case "console_token_file":
			d.str(k, v, &f.ConsoleTokenFile)
		case "host_specific":
			f.HostSpecific = d.strings(k, v)
			if f.HostSpecific == nil {
				f.HostSpecific = []string{}
			}
		default:
			d.problemf(k, "unknown key")
		}
	}
}

// fleetProblems checks [fleet].
func (c *Config) fleetProblems() []problem {
	f, key := c.Fleet, keyPath{"fleet"}
	var ps []problem
	bad := func(k keyPath, format string, args ...any) { ps = append(ps, problemf(k, format, args...)) }
	for i, u := range f.URLs {
		p, err := url.Parse(u)
		if err != nil || !slices.Contains([]string{"nats", "tls"}, p.Scheme) || p.Host == "" {
			bad(key.key("url").index(i), "%q is not a nats:// or tls:// URL", u)
		} else if p.User != nil {
			bad(key.key("url").index(i), "a URL must not carry credentials: use creds_file or nkey_seed_file")
		}
	}
	files := map[string]string{"console_token_file": f.ConsoleTokenFile, "creds_file": f.CredsFile, "nkey_seed_file": f.NkeySeedFile, "tls_ca": f.TLSCA, "tls_cert": f.TLSCert, "tls_key": f.TLSKey}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if p := files[name]; p != "" && !filepath.IsAbs(p) {
			bad(key.key(name), "%q is not an absolute path", p)
		}
	}
	if f.CredsFile != "" && f.NkeySeedFile != "" {
		bad(key.key("nkey_seed_file"), "give creds_file or nkey_seed_file, not both")
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		bad(key.key("tls_cert"), "tls_cert and tls_key go together")
	}
	if strings.ContainsAny(f.Host, "*> \t/\\") || strings.Contains(f.Host, "..") || strings.HasPrefix(f.Host, ".") || strings.HasSuffix(f.Host, ".") {
		bad(key.key("host"), "%q cannot name a host in the fleet (a NATS key: no '*', '>', '/', white space or empty label)", f.Host)
	}
	if f.HeartbeatInterval != 0 && f.HeartbeatInterval < time.Second {
		bad(key.key("heartbeat_interval"), "%v is shorter than a second", f.HeartbeatInterval)
	}
	for _, list := range []struct {
		name string
		keys []string
	}{{"witnesses", f.Witnesses}, {"golden_keys", f.GoldenKeys}} {
		for i, w := range list.keys {
			if p := strings.SplitN(w, "+", 3); len(p) != 3 || p[0] == "" || len(p[1]) != 8 || strings.Trim(p[1], "0123456789abcdef") != "" || p[2] == "" {
				bad(key.key(list.name).index(i), "%q is not a verifier key (NAME+HASH+KEY, as vigil keygen writes to vigil.pub)", w)
			}
		}
	}
	for i, p := range f.HostSpecific {
		if _, err := path.Match(p, "/"); err != nil || !strings.HasPrefix(p, "/") {
			bad(key.key("host_specific").index(i), "%q is not an absolute path pattern (path.Match)", p)
		}
	}
	if f.Quorum < 0 || f.Quorum > len(f.Witnesses) {
		bad(key.key("quorum"), "must be 0 to the number of witnesses (%d), got %d", len(f.Witnesses), f.Quorum)
	}
	if !f.Enabled() && (f.Host != "" || len(f.Witnesses) > 0 || f.CredsFile != "") {
		bad(key, "has no url: list the NATS server(s) the fleet runs on")
	}
	return ps
}
