package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/store"
)

// statementHeader is the first line of every statement; it names the format.
const statementHeader = "vigil baseline statement v1"

// Statement returns the text a seal signs for a baseline: everything a
// verifier relies on, one field per line, so that an edit of any of them
// (the root, the counts, the configuration digest, the baseline's place in
// the history, the audit log it follows) fails the signature. Paths are
// quoted (Go syntax), so the text is printable ASCII whatever the names.
func Statement(in store.Info) string {
	var b strings.Builder
	c := in.Counts
	fmt.Fprintf(&b, "%s\nhost %s\nbaseline %d\nparent %d\ncreated %s\nroot %s\n", statementHeader,
		strconv.QuoteToASCII(in.Host), in.ID, in.Parent, in.Created.UTC().Format(time.RFC3339Nano), in.Root)
	// The portable root (what the fleet compares hosts and golden
	// baselines by); baselines without one keep the statement they had.
	if in.PortableRoot != (store.RootHash{}) {
		fmt.Fprintf(&b, "portable %s\n", in.PortableRoot)
	}
	for _, r := range in.Roots {
		fmt.Fprintf(&b, "monitored %s\n", strconv.QuoteToASCII(r))
	}
	fmt.Fprintf(&b, "config %s\nphase %s\n", in.ConfigDigest, in.Phase)
	fmt.Fprintf(&b, "counts entries=%d files=%d dirs=%d symlinks=%d other=%d bytes=%d errors=%d hash_skipped=%d unstable=%d\n",
		c.Entries, c.Files, c.Dirs, c.Symlinks, c.Other, c.Bytes, c.Errors, c.HashSkipped, c.Unstable)
	fmt.Fprintf(&b, "audit %d %s\n", in.AuditSize, in.AuditRoot)
	fmt.Fprintf(&b, "command %s\nchanges %d\nreason %s\nuser %s\nuid %d\nversion %s\n", in.Command, in.Changes,
		strconv.QuoteToASCII(in.Reason), strconv.QuoteToASCII(in.User), in.UID, strconv.QuoteToASCII(in.Version))
	// What the Btrfs check trusts (the lower bound of its search) and what
	// check compares device counters with: signed, so that a swapped
	// snapshot record or raised counters break the seal. Baselines without
	// them keep the statement they had.
	for _, sn := range in.Snapshots {
		fmt.Fprintf(&b, "snapshot %s %s %s otransid=%d ctransid=%d live=%s\n", strconv.QuoteToASCII(sn.Root),
			strconv.QuoteToASCII(sn.Path), sn.UUID, sn.OTransid, sn.CTransid, sn.LiveUUID)
	}
	for _, d := range in.DevStats {
		fmt.Fprintf(&b, "device %s %d write=%d read=%d flush=%d corruption=%d generation=%d\n", d.FSID, d.DevID,
			d.WriteErrs, d.ReadErrs, d.FlushErrs, d.CorruptionErrs, d.GenerationErrs)
	}
	// The root of the posture tree (internal/posture): its items are
	// signed with the rest. Baselines without a posture keep the
	// statement they had.
	if in.Posture != nil {
		fmt.Fprintf(&b, "posture %s\n", in.Posture.Root)
	}
	// The root of the Nix tree (internal/nixtree): every store path's
	// sealed record is signed with the rest. Baselines without one keep
	// the statement they had.
	if in.Nix != nil {
		fmt.Fprintf(&b, "nix %s paths=%d\n", in.Nix.Root, in.Nix.Paths)
	}
	return b.String()
}

// AuditRecord is one record of the audit log, stored as JSON.
type AuditRecord struct {
	Time     time.Time `json:"time"`
	Type     string    `json:"type"` // init, update, seal, reseal, signature, phase
	Baseline uint64    `json:"baseline,omitempty"`
	Parent   uint64    `json:"parent,omitempty"`
	OldRoot  string    `json:"old_root,omitempty"`
	Root     string    `json:"root,omitempty"`
	Phase    string    `json:"phase,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	UID      int64     `json:"uid"`
	User     string    `json:"user,omitempty"`
	Host     string    `json:"host,omitempty"`
	SignedBy string    `json:"signed_by,omitempty"`
	// Signature is the signed statement of a move between the phases
	// (a [PhaseStatement] as a signed note).
	Signature string `json:"signature,omitempty"`
	// Checkpoint is the file where the operation that wrote the record
	// keeps the audit log's checkpoint: from then on that file must exist
	// (see [Engine.Trust]).
	Checkpoint string `json:"checkpoint,omitempty"`
}

// sealing builds what a commit of pending carries: its audit record and,
// with a signer, its signed statement.
func (o *Options) sealing(pending store.Info, cmd string, oldRoot string) (store.Sealing, error) {
	rec := AuditRecord{
		Time: pending.Created, Type: cmd, Baseline: pending.ID, Parent: pending.Parent, OldRoot: oldRoot,
		Root: pending.Root.String(), Phase: pending.Phase, Reason: pending.Reason, UID: pending.UID,
		User: pending.User, Host: pending.Host, Checkpoint: o.KeptCheckpoint,
	}
	var s store.Sealing
	if o.Signer != nil {
		sig, err := note.Sign(&note.Note{Text: Statement(pending)}, o.Signer)
		if err != nil {
			return s, err
		}
		s.Signature, s.SignedBy, rec.SignedBy = sig, o.Signer.Name(), o.Signer.Name()
	}
	raw, err := json.Marshal(rec)
	s.Audit = raw
	return s, err
}

// VerifySeal checks that baseline b is sealed by one of verifiers: its
// signed statement verifies, states exactly what the database holds for it,
// follows the audit log as the database has it, and b is the newest
// baseline that log records (so that an older sealed baseline made current
// again is caught). A failure wraps [store.ErrTampered].
func VerifySeal(db *store.DB, b *store.Baseline, verifiers note.Verifiers) error {
	newest, err := newestBaseline(db)
	if err != nil {
		return err
	}
	return verifySeal(db, b.Info(), verifiers, newest)
}

// verifySeal is [VerifySeal] of in, with newest the newest baseline the
// audit log records.
func verifySeal(db *store.DB, in store.Info, verifiers note.Verifiers, newest uint64) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("baseline %d: %w: %s", in.ID, store.ErrTampered, fmt.Sprintf(format, args...))
	}
	if err := VerifyStatement(in, verifiers); err != nil {
		return err
	}
	at, err := db.AuditAt(in.AuditSize)
	if err != nil {
		return fail("the audit log it follows is gone: %v", err)
	}
	if in.AuditSize > 0 && at.Hash.String() != in.AuditRoot || in.AuditSize == 0 && in.AuditRoot != "" {
		return fail("the audit log before it was rewritten")
	}
	if newest != in.ID {
		return fail("the audit log records baseline %d after it: the database was put back to an older state", newest)
	}
	return nil
}

// VerifySeals is [VerifySeal] of the current baseline and
// [VerifyStatement] of every other kept baseline that was signed: what was
// signed stays what it was signed as.
func VerifySeals(db *store.DB, verifiers note.Verifiers) error {
	cur, err := db.Current()
	if err != nil {
		return err
	}
	if err := VerifySeal(db, cur, verifiers); err != nil {
		return err
	}
	return verifyKeptStatements(db, verifiers)
}

// verifyKeptStatements verifies the statement of every kept baseline that
// was signed.
func verifyKeptStatements(db *store.DB, vs note.Verifiers) error {
	all, err := db.Baselines()
	if err != nil {
		return err
	}
	for _, in := range all {
		if len(in.Signature) > 0 {
			if err := VerifyStatement(in, vs); err != nil {
				return err
			}
		}
	}
	return nil
}

// VerifyStatement checks that baseline in is signed by one of verifiers
// and that the signed statement is exactly what the database holds for it.
// A failure wraps [store.ErrTampered]: [ErrUnsigned] when it is not signed,
// [ErrForeignKey] when signed by another key.
func VerifyStatement(in store.Info, verifiers note.Verifiers) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("baseline %d: %w: %s", in.ID, store.ErrTampered, fmt.Sprintf(format, args...))
	}
	if len(in.Signature) == 0 {
		return fmt.Errorf("baseline %d: %w (%s)", in.ID, ErrUnsigned, unsignedAdvice(in))
	}
	n, err := note.Open(in.Signature, verifiers)
	if err != nil {
		if name := foreignSigner(err); name != "" {
			return &kindError{fmt.Sprintf("baseline %d: signed by %q, not by the pinned key", in.ID, name), ErrForeignKey}
		}
		return fail("signature: %v", err)
	}
	if n.Text != Statement(in) {
		return fail("the signed statement does not describe the baseline as stored (its metadata was changed)")
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != in.SignedBy {
		return fail("signed by %q, but its metadata says %q", n.Sigs[0].Name, in.SignedBy)
	}
	return nil
}

// newestBaseline returns the baseline of the newest audit record that
// wrote one.
func newestBaseline(db *store.DB) (uint64, error) {
	var id uint64
	err := db.AuditRecords(func(i int64, raw []byte) error {
		var r AuditRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("audit record %d: %w: %w", i, store.ErrCorrupt, err)
		}
		if r.writesBaseline() {
			id = r.Baseline
		}
		return nil
	})
	return id, err
}

// writesBaseline reports whether the record is of an operation that wrote
// a baseline (a signature or a phase change writes none).
func (r AuditRecord) writesBaseline() bool {
	switch r.Type {
	case "init", "update", "seal", "reseal", "migrate":
		return true
	}
	return false
}

// unsignedAdvice says how baseline in gets signed: a seal or reseal made
// with its statement written out waits for the signature.
func unsignedAdvice(in store.Info) string {
	switch in.Command {
	case "seal", "reseal":
		return fmt.Sprintf("its statement waits for a signature: vigil sign it where the key is, then vigil %s --signature FILE", in.Command)
	}
	return "seal it: vigil seal --key FILE"
}

// foreignSigner returns the name of the key that signed a note note.Open
// refused with err because none of its signatures is by a known key; ""
// for any other failure.
func foreignSigner(err error) string {
	var unknown *note.UnknownVerifierError
	if errors.As(err, &unknown) {
		return unknown.Name
	}
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) && len(unverified.Note.UnverifiedSigs) > 0 {
		return unverified.Note.UnverifiedSigs[0].Name
	}
	return ""
}

// OpenNote opens a signed note (a statement, a phase statement) with the
// pinned verifiers vs; what names it in errors. A note signed by another
// key is [ErrForeignKey], any other failure wraps [store.ErrTampered].
func OpenNote(what string, signed []byte, vs note.Verifiers) (*note.Note, error) {
	n, err := note.Open(signed, vs)
	if err == nil {
		return n, nil
	}
	if name := foreignSigner(err); name != "" {
		return nil, &kindError{fmt.Sprintf("%s: signed by %q, not by the pinned key", what, name), ErrForeignKey}
	}
	return nil, fmt.Errorf("%s: %w: %w", what, store.ErrTampered, err)
}
