//go:build linux

package engine_test

import (
	"testing"

	"vigil/internal/engine"
	"vigil/internal/trusttest"
	"vigil/store"
)

// BenchmarkTrust is the trust decision's cost on a sealed host (an init and
// a seal in the audit log, the kept checkpoint beside it), against what a
// check with a pinned key did before it (the audit log's hashes and the
// seals, with no phase record, kept checkpoint or marker read).
func BenchmarkTrust(b *testing.B) {
	h := trusttest.NewHost(b)
	db, err := store.Open(h.DB, store.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e := h.Engine(b)
	vs, _ := e.Pinned()
	b.Run("trust", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := e.Trust(db)
			if err != nil || v.Untrusted != nil || v.Critical() {
				b.Fatalf("Trust: %v, %+v", err, v)
			}
		}
	})
	b.Run("seals-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.VerifyAudit(); err != nil {
				b.Fatal(err)
			}
			if err := engine.VerifySeals(db, vs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
