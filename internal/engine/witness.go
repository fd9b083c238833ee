package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"vigil/store"
)

// Witness gives the checkpoint of this host's audit log that a quorum of
// the fleet's witnesses cosigned (see internal/fleet): what no root on the
// host can take back. [Engine.Trust] requires the audit log to extend it.
type Witness interface {
	// Witnessed returns the newest checkpoint of the host's audit log the
	// configured quorum of witnesses cosigned, [ErrNotWitnessed] when
	// there is none yet, or another error when the fleet could not be
	// asked (it is unreachable: the trust decision falls back to the local
	// checkpoint, with a warning). It returns by ctx's deadline.
	Witnessed(ctx context.Context) (Witnessed, error)
}

// Witnessed is a checkpoint the fleet's witnesses cosigned.
type Witnessed struct {
	// Size and Hash are the checkpoint's tree size and RFC 6962 root.
	Size int64
	Hash []byte
	// By names the witnesses whose cosignatures were verified.
	By []string
}

// ErrNotWitnessed means the fleet holds no cosigned checkpoint of this
// host yet (it was just enrolled, or no quorum was reached).
var ErrNotWitnessed = errors.New("no witnessed checkpoint")

// WitnessTimeout bounds how long [Engine.Trust] waits for the fleet.
const WitnessTimeout = 2 * time.Second

// witnessFindings requires the audit log t to extend the checkpoint the
// fleet witnessed: a database put back below it, or a log rewritten under
// it, is a rollback even when the kept checkpoint was deleted or rewritten
// along with it. The fleet out of reach is a warning: the local checkpoint
// is all there is.
func (e *Engine) witnessFindings(db *store.DB, t store.AuditTree, v *Verdict) {
	v.Witnessed = -1
	if e.witness == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), WitnessTimeout)
	defer cancel()
	w, err := e.witness.Witnessed(ctx)
	switch {
	case errors.Is(err, ErrNotWitnessed):
		return
	case err != nil:
		v.add("fleet_unreachable", false, fmt.Errorf("the fleet's witnessed checkpoint could not be read, so only the local checkpoint rules out a rollback: %w", err))
		return
	}
	v.Witnessed = w.Size
	if w.Size > t.N {
		v.Untrusted = fmt.Errorf("%w: its audit log has %d records, the fleet's witnesses (%v) cosigned a checkpoint of %d", ErrRollback, t.N, w.By, w.Size)
		return
	}
	at, err := db.AuditAt(w.Size)
	if err != nil || !bytes.Equal(at.Hash[:], w.Hash) {
		v.Untrusted = fmt.Errorf("%w: its audit log does not extend the checkpoint of size %d the fleet's witnesses (%v) cosigned: the log was rewritten", ErrRollback, w.Size, w.By)
	}
}
