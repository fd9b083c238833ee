package trusttest

import (
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// Reseal accepts the host's current state as a new sealed baseline signed
// by signer, through the engine as the CLI does, and keeps the checkpoint.
func (h *Host) Reseal(t testing.TB, signer note.Signer) {
	t.Helper()
	h.write(t, "reseal", signer)
}
