package daemon

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// TestNixTreeTampered: a record of the baseline's Nix tree edited in the
// database around vigil is a nix_snapshot_changed event of the Nix job
// (critical, naming the Nix tree), not a warning in the log.
func TestNixTreeTampered(t *testing.T) {
	nh := fimtest.NewNixHost(t, 4)
	h := newHostAt(t, filepath.Join(nh.Dir, "etc"), fimtest.Tree{}, func(string) string {
		return "[nix]\nroot = \"" + nh.Dir + "\"\nsnapshot = \"" + filepath.Join(nh.Dir, "etc/vigil/nix-store.json") + "\"\ninterval = \"300ms\"\n"
	})
	writeNixSnapshot(t, h.cfg)
	h.init(t)
	b, err := bolt.Open(h.db, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	edited := 0
	err = b.Update(func(tx *bolt.Tx) error {
		nb := tx.Bucket([]byte("nix"))
		if nb == nil {
			return nil
		}
		return nb.ForEachBucket(func(k []byte) error {
			rb := nb.Bucket(k)
			v := rb.Get([]byte(nh.Paths[1]))
			if v == nil {
				return nil
			}
			edited++
			return rb.Put([]byte(nh.Paths[1]), bytes.Replace(v, []byte("nar_size "), []byte("nar_size 1"), 1))
		})
	})
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil || edited != 1 {
		t.Fatalf("editing %s's record in the Nix tree: %v, %d trees edited; want 1", nh.Paths[1], err, edited)
	}
	h.start(t, Options{})
	evs := h.sink.await(t, "nix_snapshot_changed", func(evs []alerts.Event) bool { return len(actions(evs, "nix_snapshot_changed")) > 0 })
	ev := actions(evs, "nix_snapshot_changed")[0]
	if ev.Event.Severity != alerts.SeverityCritical || ev.Error == nil || !strings.Contains(ev.Error.Message, "Nix tree") {
		t.Errorf("nix_snapshot_changed: severity %d, %+v; want critical, naming the Nix tree", ev.Event.Severity, ev.Error)
	}
}
