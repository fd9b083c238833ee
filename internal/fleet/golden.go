package fleet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"vigil/internal/engine"
	"vigil/merkle"
)

// BucketGolden holds each profile's golden baseline: key = profile, value
// = a golden statement signed by one of fleet.golden_keys (a C2SP signed
// note); the key's history is the promotions.
const BucketGolden = "vigil_golden"

// goldenHeader starts a golden statement.
const goldenHeader = "vigil golden statement v1"

// Golden is a promotion: the sealed baseline of Host becomes what every
// host of Profile is compared with, by its portable root.
type Golden struct {
	Profile  string    `json:"profile"`
	Host     string    `json:"host"`
	Baseline uint64    `json:"baseline"`
	Root     string    `json:"root"`          // the host's attested root, as its statement says
	Portable string    `json:"portable_root"` // what hosts are compared by
	Time     time.Time `json:"time"`
	User     string    `json:"user,omitempty"`
	Reason   string    `json:"reason"`
	// SignedBy names the key that signed it, Revision is its revision in
	// vigil_golden (0 before it is stored).
	SignedBy string `json:"signed_by,omitempty"`
	Revision uint64 `json:"revision,omitempty"`
}

// Statement is the canonical text of g that a golden key signs.
func (g Golden) Statement() string {
	return fmt.Sprintf("%s\nprofile %s\nhost %s\nbaseline %d\nroot %s\nportable %s\ntime %s\nuser %s\nreason %s\n",
		goldenHeader, strconv.QuoteToASCII(g.Profile), strconv.QuoteToASCII(g.Host), g.Baseline, g.Root, g.Portable,
		g.Time.UTC().Format(time.RFC3339Nano), strconv.QuoteToASCII(g.User), strconv.QuoteToASCII(g.Reason))
}

// ParseGolden reads a golden statement; only the canonical text is
// accepted.
func ParseGolden(text string) (Golden, error) {
	var g Golden
	lines := strings.Split(text, "\n")
	if len(lines) != 10 || lines[0] != goldenHeader || lines[9] != "" {
		return g, errors.New("not a vigil golden statement")
	}
	field := func(i int, key string) string {
		v, ok := strings.CutPrefix(lines[i], key+" ")
		if !ok {
			return "\x00"
		}
		return v
	}
	var err error
	unq := func(s string) string {
		u, e := strconv.Unquote(s)
		err = errors.Join(err, e)
		return u
	}
	g.Profile, g.Host = unq(field(1, "profile")), unq(field(2, "host"))
	g.Baseline, _ = strconv.ParseUint(field(3, "baseline"), 10, 64)
	g.Root, g.Portable = field(4, "root"), field(5, "portable")
	if t, e := time.Parse(time.RFC3339Nano, field(6, "time")); e == nil {
		g.Time = t
	} else {
		err = errors.Join(err, e)
	}
	g.User, g.Reason = unq(field(7, "user")), unq(field(8, "reason"))
	if err != nil || g.Statement() != text || len(g.Portable) != 64 {
		return Golden{}, fmt.Errorf("golden statement not in canonical form: %v", err)
	}
	return g, nil
}

// GoldenVerifiers returns the verifiers of fleet.golden_keys.
func GoldenVerifiers(keys []string) (note.Verifiers, error) {
	if len(keys) == 0 {
		return nil, errors.New("no fleet.golden_keys: list the verifier keys that may promote a golden baseline")
	}
	var vs []note.Verifier
	for _, k := range keys {
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("fleet.golden_keys %q: %w", k, err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

// Candidate returns the golden statement that would promote host's sealed
// baseline for profile: the host's published statement is verified with
// its enrolled key, and the portable root taken from it (what the host
// signed, not what it says beside).
func (c *Conn) Candidate(ctx context.Context, profile, host, user, reason string, now time.Time) (Golden, error) {
	kv, err := c.kv(ctx, BucketHosts)
	if err != nil {
		return Golden{}, err
	}
	st, _, err := c.hostState(ctx, kv, host)
	if err != nil {
		return Golden{}, err
	}
	if st == nil {
		return Golden{}, fmt.Errorf("host %q: %w", host, ErrUnknownHost)
	}
	if st.Profile != profile {
		return Golden{}, fmt.Errorf("host %q is of profile %q, not %q", host, st.Profile, profile)
	}
	if st.Statement == "" {
		return Golden{}, fmt.Errorf("host %q: its baseline is not sealed: only a sealed baseline is promoted", host)
	}
	vkey, _, err := c.EnrolledKey(ctx, host)
	if err != nil {
		return Golden{}, err
	}
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return Golden{}, err
	}
	n, err := note.Open([]byte(st.Statement), note.VerifierList(v))
	if err != nil {
		return Golden{}, fmt.Errorf("host %q: its statement does not verify with its enrolled key: %w", host, err)
	}
	in, err := engine.ParseStatement(n.Text)
	if err != nil {
		return Golden{}, fmt.Errorf("host %q: %w", host, err)
	}
	if in.PortableRoot == ([32]byte{}) {
		return Golden{}, fmt.Errorf("host %q: its sealed statement has no portable root (sealed before portable roots): reseal it", host)
	}
	return Golden{Profile: profile, Host: host, Baseline: in.ID, Root: in.Root.String(), Portable: in.PortableRoot.String(),
		Time: now.UTC(), User: user, Reason: reason}, nil
}

// SetGolden stores a signed golden statement for its profile after
// verifying it with vs (fleet.golden_keys).
func (c *Conn) SetGolden(ctx context.Context, signed []byte, vs note.Verifiers) (Golden, error) {
	g, err := openGolden(signed, vs)
	if err != nil {
		return g, err
	}
	kv, err := c.kv(ctx, BucketGolden)
	if err != nil {
		return g, err
	}
	g.Revision, err = kv.Put(ctx, g.Profile, signed)
	return g, err
}

func openGolden(signed []byte, vs note.Verifiers) (Golden, error) {
	n, err := note.Open(signed, vs)
	if err != nil {
		return Golden{}, fmt.Errorf("golden statement: %w", err)
	}
	g, err := ParseGolden(n.Text)
	if err != nil {
		return g, err
	}
	g.SignedBy = n.Sigs[0].Name
	return g, nil
}

// ErrNoGolden means a profile has no golden baseline.
var ErrNoGolden = errors.New("no golden baseline")

// Golden returns profile's golden baseline, verified.
func (c *Conn) Golden(ctx context.Context, profile string, vs note.Verifiers) (Golden, error) {
	kv, err := c.kv(ctx, BucketGolden)
	if err != nil {
		return Golden{}, err
	}
	e, err := kv.Get(ctx, profile)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Golden{}, fmt.Errorf("profile %q: %w", profile, ErrNoGolden)
	}
	if err != nil {
		return Golden{}, err
	}
	g, err := openGolden(e.Value(), vs)
	if err != nil {
		return g, fmt.Errorf("%s/%s revision %d: %w", BucketGolden, profile, e.Revision(), err)
	}
	if g.Profile != profile {
		return g, fmt.Errorf("%s/%s holds a statement for profile %q", BucketGolden, profile, g.Profile)
	}
	g.Revision = e.Revision()
	return g, nil
}

// GoldenLog returns profile's promotions, oldest first, each verified (one
// that does not verify is an error: the bucket was written around vigil).
func (c *Conn) GoldenLog(ctx context.Context, profile string, vs note.Verifiers) ([]Golden, error) {
	kv, err := c.kv(ctx, BucketGolden)
	if err != nil {
		return nil, err
	}
	hist, err := kv.History(ctx, profile)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Golden
	for _, e := range hist {
		if e.Operation() != jetstream.KeyValuePut {
			continue
		}
		g, err := openGolden(e.Value(), vs)
		if err != nil {
			return out, fmt.Errorf("%s/%s revision %d: %w", BucketGolden, profile, e.Revision(), err)
		}
		g.Revision = e.Revision()
		out = append(out, g)
	}
	return out, nil
}

// PortableRoot returns the portable root host published, from its signed
// statement when it is sealed (verified with its enrolled key), else from
// its state.
func (c *Conn) PortableRoot(ctx context.Context, host string) (merkle.Hash, error) {
	kv, err := c.kv(ctx, BucketHosts)
	if err != nil {
		return merkle.Hash{}, err
	}
	st, _, err := c.hostState(ctx, kv, host)
	if err != nil {
		return merkle.Hash{}, err
	}
	if st == nil {
		return merkle.Hash{}, fmt.Errorf("host %q: %w", host, ErrUnknownHost)
	}
	s := st.PortableRoot
	if st.Statement != "" {
		if g, err := c.Candidate(ctx, st.Profile, host, "", "", time.Time{}); err == nil {
			s = g.Portable
		} else {
			return merkle.Hash{}, err
		}
	}
	return parseRoot(host, s)
}

func parseRoot(what, s string) (merkle.Hash, error) {
	var h merkle.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%s: no portable root published (a baseline taken before portable roots, or a vigil without them)", what)
	}
	copy(h[:], b)
	return h, nil
}

// GoldenRoot is the portable root of g.
func (g Golden) GoldenRoot() (merkle.Hash, error) {
	return parseRoot("golden of "+g.Profile, g.Portable)
}

// ProfileOf returns the profile host published.
func (c *Conn) ProfileOf(ctx context.Context, host string) (string, error) {
	kv, err := c.kv(ctx, BucketHosts)
	if err != nil {
		return "", err
	}
	st, _, err := c.hostState(ctx, kv, host)
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", fmt.Errorf("host %q: %w", host, ErrUnknownHost)
	}
	if st.Profile == "" {
		return "", fmt.Errorf("host %q publishes no profile (fleet.profile): it has no golden baseline", host)
	}
	return st.Profile, nil
}
