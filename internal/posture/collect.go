package posture

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultSysctls are the kernel parameters recorded when the configuration
// names none (it adds to them with Options.Sysctls): pointer and log
// leaks, BPF and ptrace for the unprivileged, kexec and module loading,
// reverse-path filtering and forwarding, the fs.protected_* links and
// files, core dumps of setuid programs, the lowest mappable address. A
// '*' matches one element (an interface name).
var DefaultSysctls = []string{
	"kernel.kptr_restrict", "kernel.dmesg_restrict", "kernel.unprivileged_bpf_disabled",
	"kernel.yama.ptrace_scope", "kernel.kexec_load_disabled", "kernel.modules_disabled",
	"kernel.randomize_va_space", "kernel.sysrq", "kernel.perf_event_paranoid",
	"net.core.bpf_jit_harden",
	"net.ipv4.conf.*.rp_filter", "net.ipv4.conf.all.accept_redirects", "net.ipv4.conf.all.send_redirects",
	"net.ipv4.conf.all.accept_source_route", "net.ipv4.ip_forward", "net.ipv4.tcp_syncookies",
	"net.ipv6.conf.all.forwarding", "net.ipv6.conf.all.accept_redirects",
	"fs.protected_hardlinks", "fs.protected_symlinks", "fs.protected_fifos", "fs.protected_regular",
	"fs.suid_dumpable", "vm.mmap_min_addr", "dev.tty.ldisc_autoload",
}

// DefaultMounts are the mount points whose options are recorded.
var DefaultMounts = []string{"/", "/boot", "/tmp", "/var/tmp", "/dev/shm", "/home"}

// Collectors names every collector, in the order they run.
var Collectors = []string{
	"sysctl", "module", "kernel", "lockdown", "secureboot", "lsm", "selinux", "apparmor",
	"socket", "nft", "mount", "accounts", "systemd", "lynis",
}

// Absent is the value of a sysctl the kernel does not have, NotMounted that
// of a mount point that is not one, None that of an empty list.
const (
	Absent     = "(absent)"
	NotMounted = "(not a mount point)"
	None       = "(none)"
)

// Options choose what a [Collector] records. The zero value records the
// defaults.
type Options struct {
	// Sysctls are recorded besides [DefaultSysctls].
	Sysctls []string
	// Mounts replace [DefaultMounts] when set.
	Mounts []string
	// Units are unit files analysed offline by systemd-analyze security;
	// none: where systemd runs, every loaded service (online).
	Units []string
	// Etc is the directory holding passwd and shadow; "" means /etc.
	Etc string
	// Disable names collectors not to run (recorded as unavailable).
	Disable []string
	// NoTools leaves out the collectors that run programs (systemd, nft,
	// lynis): what a benchmark of the /proc and /sys readers measures.
	NoTools bool
	// Lynis runs lynis (audit system --cronjob --quick; minutes) and
	// records its hardening index and the ids of its warnings; off, the
	// lynis collector is recorded as unavailable.
	Lynis bool
	// LynisTests, when set, restricts lynis to these test ids (lynis
	// --tests): seconds instead of minutes.
	LynisTests []string
	// LynisTimeout bounds one lynis run; 0 means [DefaultLynisTimeout].
	// A run past it is killed with its children and recorded as an error.
	LynisTimeout time.Duration
}

// DefaultLynisTimeout bounds a lynis audit that hangs (a probe waiting on
// the network or a device): the posture goes on without it.
const DefaultLynisTimeout = 15 * time.Minute

// A Collector collects the posture. It keeps the systemd-analyze scores of
// unit files by content hash for its life; it is safe for concurrent use.
type Collector struct {
	opts  Options
	mu    sync.Mutex
	cache map[string]unitScore
}

// unitScore is what systemd-analyze said of one unit file.
type unitScore struct {
	exposure string
	failing  []string
}

// NewCollector returns a collector with options o.
func NewCollector(o Options) *Collector {
	return &Collector{opts: o, cache: map[string]unitScore{}}
}

// sink gathers the items of one collection.
type sink struct {
	items []Item
}

func (s *sink) add(key, value string) { s.items = append(s.items, Item{Key: key, Value: value}) }

func (s *sink) unavailable(collector, why string) {
	s.items = slices.DeleteFunc(s.items, func(it Item) bool { return CollectorOf(it.Key) == collector })
	s.add(unavailablePrefix+collector, why)
}

// Collect reads the posture, sorted by key ([Sort]). A collector that
// cannot run here is recorded as unavailable with the reason; only a
// cancelled ctx is an error.
func (c *Collector) Collect(ctx context.Context) ([]Item, error) {
	s := &sink{}
	for _, name := range Collectors {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if slices.Contains(c.opts.Disable, name) {
			s.unavailable(name, "disabled by the configuration")
			continue
		}
		if c.opts.NoTools && (name == "systemd" || name == "nft" || name == "lynis") {
			s.unavailable(name, "not run (no tools)")
			continue
		}
		if name == "lynis" && !c.opts.Lynis {
			s.unavailable(name, "not enabled (posture.lynis, vigil posture --lynis)")
			continue
		}
		if why := c.collect(ctx, name, s); why != "" {
			s.unavailable(name, why)
		}
	}
	Sort(s.items)
	s.items = slices.CompactFunc(s.items, func(a, b Item) bool { return a.Key == b.Key })
	return s.items, ctx.Err()
}

func (c *Collector) etc(name string) string {
	dir := c.opts.Etc
	if dir == "" {
		dir = "/etc"
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}
