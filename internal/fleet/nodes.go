package fleet

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"vigil/internal/engine"
	"vigil/merkle"
	"vigil/store"
)

// BucketNodes is the object store of the hosts' portable trees: one
// manifest per directory node, named by its node hash in hex, so that N
// hosts holding one directory store it once and an update adds only what
// changed (issue 19).
const BucketNodes = "vigil_nodes"

// Keep is what the fleet's portable trees keep of an entry (see
// merkle.PortableAttrs); the manifests record it, and a reader refuses
// manifests made keeping anything else.
const Keep = merkle.PortableAttrs

// Nodes is the fleet's manifest store: an [engine.ManifestStore] for
// uploads and a [merkle.ManifestSource] for diffs, which checks every
// manifest it reads against its name. It counts what it fetched.
type Nodes struct {
	os  jetstream.ObjectStore
	ctx context.Context
	// Fetched and Bytes count the manifests read and their size.
	Fetched int
	Bytes   int64
}

var _ engine.ManifestStore = (*Nodes)(nil)
var _ merkle.ManifestSource = (*Nodes)(nil)

// Nodes opens the manifest store; its reads for diffs run under ctx.
func (c *Conn) Nodes(ctx context.Context) (*Nodes, error) {
	os, err := c.js.ObjectStore(ctx, BucketNodes)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("object store %s: %w", BucketNodes, ErrNotInitialized)
	}
	if err != nil {
		return nil, err
	}
	return &Nodes{os: os, ctx: ctx}, nil
}

func nodeName(h merkle.Hash) string { return hex.EncodeToString(h[:]) }

// Has reports whether the manifest of h is stored.
func (n *Nodes) Has(ctx context.Context, h merkle.Hash) (bool, error) {
	_, err := n.os.GetInfo(ctx, nodeName(h))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Put stores the manifest of h.
func (n *Nodes) Put(ctx context.Context, h merkle.Hash, manifest []byte) error {
	_, err := n.os.PutBytes(ctx, nodeName(h), manifest)
	return err
}

// Manifest reads and checks the manifest of h.
func (n *Nodes) Manifest(h merkle.Hash) (*merkle.Manifest, error) {
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	raw, err := n.os.GetBytes(ctx, nodeName(h))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s/%s: %w", BucketNodes, nodeName(h)[:16], ErrNoManifest)
	}
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", BucketNodes, nodeName(h)[:16], err)
	}
	n.Fetched++
	n.Bytes += int64(len(raw))
	return merkle.DecodeManifest(raw, h, Keep)
}

// ErrNoManifest means a portable tree's node is not in vigil_nodes: the
// host has not uploaded it (yet), or it was deleted.
var ErrNoManifest = errors.New("manifest not in the fleet")

// uploadTree puts the manifests of db's current baseline that the fleet
// lacks and returns its portable root (zero for a baseline taken before
// portable roots: nothing to upload).
func uploadTree(ctx context.Context, c *Conn, db *store.DB, hostSpecific []string) (merkle.Hash, error) {
	cur, err := db.Current()
	if errors.Is(err, store.ErrNoBaseline) {
		return merkle.Hash{}, nil
	}
	if err != nil {
		return merkle.Hash{}, err
	}
	root := merkle.Hash(cur.Info().PortableRoot)
	if root == (merkle.Hash{}) {
		return root, nil
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return root, err
	}
	if ok, err := nodes.Has(ctx, root); err != nil || ok {
		return root, err
	}
	up, err := engine.UploadManifests(ctx, cur, Keep, hostSpecific, nodes)
	if err != nil {
		return root, err
	}
	if up.Root != root {
		return root, fmt.Errorf("%s: the portable tree read from the database has root %x, the baseline records %x (%w)",
			db.Path(), up.Root[:8], root[:8], store.ErrTampered)
	}
	return root, nil
}
