package fleet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/note"

	"vigil/internal/config"
)

// Conn is a connection to the fleet's JetStream.
type Conn struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// Connect connects to the servers of f within ctx's deadline (10 s when it
// has none), with its credentials and TLS settings; name tells the server
// who connects. Credentials never appear in errors.
func Connect(ctx context.Context, f config.Fleet, name string) (*Conn, error) {
	if !f.Enabled() {
		return nil, errors.New("no [fleet] url configured")
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	opts := []nats.Option{nats.Name(name), nats.Timeout(timeout / time.Duration(len(f.URLs))), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.DontRandomize()}
	switch {
	case f.CredsFile != "":
		opts = append(opts, nats.UserCredentials(f.CredsFile))
	case f.NkeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(f.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("fleet.nkey_seed_file %s: cannot be read as an NKey seed", f.NkeySeedFile)
		}
		opts = append(opts, o)
	}
	if f.TLSCA != "" {
		opts = append(opts, nats.RootCAs(f.TLSCA))
	}
	if f.TLSCert != "" {
		opts = append(opts, nats.ClientCert(f.TLSCert, f.TLSKey))
	}
	nc, err := nats.Connect(strings.Join(f.URLs, ","), opts...)
	if err != nil {
		return nil, &fs.PathError{Op: "connect", Path: strings.Join(f.URLs, ","), Err: err}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Conn{nc: nc, js: js}, nil
}

// NewConn wraps an existing connection (tests, embedding).
func NewConn(nc *nats.Conn) (*Conn, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	return &Conn{nc: nc, js: js}, nil
}

// Close closes the connection.
func (c *Conn) Close() { c.nc.Close() }

// JetStream returns the connection's JetStream context.
func (c *Conn) JetStream() jetstream.JetStream { return c.js }

// kv opens a bucket.
func (c *Conn) kv(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := c.js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("bucket %s: %w", bucket, ErrNotInitialized)
	}
	return kv, err
}

// Init creates (or updates) the fleet's buckets and streams with replicas
// copies each: see the package doc.
func (c *Conn) Init(ctx context.Context, replicas int) error {
	if replicas < 1 {
		replicas = 1
	}
	for _, b := range []jetstream.KeyValueConfig{
		{Bucket: BucketHosts, Description: "vigil: each host's published state", History: 64, Replicas: replicas},
		{Bucket: BucketKeys, Description: "vigil: each host's enrolled verifier key", History: 16, Replicas: replicas},
		{Bucket: BucketWitness, Description: "vigil: each witness's record and cosigned checkpoint of each host", History: 64, Replicas: replicas},
	} {
		if _, err := c.js.CreateOrUpdateKeyValue(ctx, b); err != nil {
			return fmt.Errorf("bucket %s: %w", b.Bucket, err)
		}
	}
	if _, err := c.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: BucketNodes,
		Description: "vigil: the hosts' portable trees, one manifest per directory node, named by its hash",
		Replicas:    replicas, Storage: jetstream.FileStorage}); err != nil {
		return fmt.Errorf("object store %s: %w", BucketNodes, err)
	}
	if _, err := c.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: BucketGolden,
		Description: "vigil: each profile's golden baseline, a signed statement per promotion", History: 64, Replicas: replicas}); err != nil {
		return fmt.Errorf("bucket %s: %w", BucketGolden, err)
	}
	if _, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: StreamFleet, Description: "vigil: fleet events",
		Subjects: []string{SubjectFleet + ">"}, Replicas: replicas, Duplicates: 15 * time.Minute, Storage: jetstream.FileStorage}); err != nil {
		return fmt.Errorf("stream %s: %w", StreamFleet, err)
	}
	_, err := c.js.Stream(ctx, StreamEvents)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = c.js.CreateStream(ctx, jetstream.StreamConfig{Name: StreamEvents, Description: "vigil: the hosts' events (nats sink)",
			Subjects: []string{"vigil.events.>"}, Replicas: replicas, Duplicates: 15 * time.Minute, Storage: jetstream.FileStorage})
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", StreamEvents, err)
	}
	return nil
}

// Enroll records host's verifier key (vigil keygen's vigil.pub text) in
// vigil_keys. Enrolling the key a host has is a no-op; another key is
// [ErrEnrolled] unless replace is set.
func (c *Conn) Enroll(ctx context.Context, host, vkey string, replace bool) error {
	vkey = strings.TrimSpace(vkey)
	if _, err := note.NewVerifier(vkey); err != nil {
		return fmt.Errorf("host %s: not a verifier key: %w", host, err)
	}
	kv, err := c.kv(ctx, BucketKeys)
	if err != nil {
		return err
	}
	e, err := kv.Get(ctx, host)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		_, err = kv.Create(ctx, host, []byte(vkey))
		return err
	case err != nil:
		return err
	case string(e.Value()) == vkey:
		return nil
	case !replace:
		return fmt.Errorf("host %s: %w (%s); give --replace to change it", host, ErrEnrolled, keyName(string(e.Value())))
	}
	_, err = kv.Update(ctx, host, []byte(vkey), e.Revision())
	return err
}

// EnrolledKey returns host's enrolled verifier key, [ErrNotEnrolled] when
// there is none.
func (c *Conn) EnrolledKey(ctx context.Context, host string) (string, uint64, error) {
	kv, err := c.kv(ctx, BucketKeys)
	if err != nil {
		return "", 0, err
	}
	e, err := kv.Get(ctx, host)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", 0, fmt.Errorf("host %s: %w", host, ErrNotEnrolled)
	}
	if err != nil {
		return "", 0, err
	}
	return string(e.Value()), e.Revision(), nil
}

// keyName is the name part of a verifier key.
func keyName(vkey string) string {
	name, _, _ := strings.Cut(vkey, "+")
	return name
}

// conflict reports a lost revision-checked write.
func conflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

// Forget removes every witness's record of host from vigil_witness, with
// their history and without a delete marker: the host starts over in the
// fleet (after 'vigil init --force', or a host rebuilt), its next
// checkpoint witnessed as a first one. It is the fleet operator's act, off
// the host; a host's NATS user must not be allowed it (see the README).
func (c *Conn) Forget(ctx context.Context, host string) error {
	s, err := c.js.Stream(ctx, "KV_"+BucketWitness)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("bucket %s: %w", BucketWitness, ErrNotInitialized)
	}
	if err != nil {
		return err
	}
	return s.Purge(ctx, jetstream.WithPurgeSubject("$KV."+BucketWitness+"."+host+".*"))
}
