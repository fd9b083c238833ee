package engine

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/zeebo/blake3"

	"vigil/internal/config"
	"vigil/internal/textdiff"
	"vigil/merkle"
	"vigil/store"
)

// DiffReporter is a [Reporter] that also takes the diffs of kept content:
// for a change of a file whose content a rule keeps (config's diff), or of
// a secret never kept, the engine calls ChangeDiff with the diff (or why
// there is none) instead of Change.
type DiffReporter interface {
	Reporter
	ChangeDiff(merkle.Change, *textdiff.Diff) error
}

// Why a diff has no content (textdiff.Diff.NotKept).
const (
	notKeptSecret     = "secret: never kept"
	notKeptKey        = "holds a private key: never kept"
	notKeptRule       = "not kept: diff = false"
	notKeptSize       = "larger than diff_max"
	notKeptPrivate    = "not world-readable (diff_private = false)"
	notKeptBinary     = "binary"
	notKeptChanged    = "changed while read"
	notKeptUnreadable = "could not be read"
	notKeptOld        = "the baseline's content was not kept"
)

// neverKept are names whose content is never kept, whatever the rules
// say: password hashes and their backups.
var neverKept = []string{"shadow", "gshadow", "shadow-", "gshadow-"}

// diffLines bounds each diff shown.
const diffLines = 200

// keeper reads, checks and keeps the content of the files the rules keep,
// and makes the diffs of their changes. A nil keeper does nothing.
type keeper struct {
	m *config.Matcher
	// src holds the kept content; db, where a baseline is written, too.
	src interface {
		Content(merkle.Hash) ([]byte, error)
	}
	db *store.DB
	// stored says the new side of a change is in the database too (a
	// diff of two baselines), not on disk.
	stored bool
	// baseline names the old side in diff headers.
	baseline uint64
	// w, if set, is the writer of the new baseline, which keeps the
	// content of what it writes (see [keeper.keep]).
	w *store.Writer
	// read holds content read for a diff that w may keep next.
	read map[merkle.Hash][]byte
	// oldSnaps are the trusted Btrfs snapshots of the baseline compared
	// with (the old side), newSnaps those of the new side when it is a
	// stored baseline too (a diff of two baselines): kept content is read
	// there first, checked against the recorded hash. Nothing is stored
	// for a path that the written baseline's snapshots (keptSnaps) hold.
	oldSnaps, newSnaps, keptSnaps []store.Snapshot
}

// maxRemembered bounds keeper.read.
const maxRemembered = 64

// newKeeper returns the keeper of o's rules, nil when no rule keeps
// content.
func newKeeper(o *Options, m *config.Matcher, db *store.DB, baseline uint64) *keeper {
	if o.Config == nil || m == nil {
		return nil
	}
	for _, r := range o.Config.Rules {
		if r.Content.Keep {
			k := &keeper{m: m, db: db, baseline: baseline}
			if db != nil {
				k.src = db
			}
			return k
		}
	}
	return nil
}

// rule returns the content rule of path, and whether it says anything
// (a rule sets diff, or the name is never kept).
func (k *keeper) rule(p string) (config.Content, bool) {
	c := k.m.Content(p)
	for _, n := range neverKept {
		if path.Base(p) == n {
			return config.Content{Set: true}, true
		}
	}
	return c, c.Set
}

// load returns e's content when the rules keep it, else why not: from
// disk, checked against e's hash, or with fromDB from the database.
func (k *keeper) load(e *merkle.Entry, fromDB bool) ([]byte, string) {
	c, _ := k.rule(e.Path)
	for _, n := range neverKept {
		if path.Base(e.Path) == n {
			return nil, notKeptSecret
		}
	}
	switch {
	case !c.Keep:
		return nil, notKeptRule
	case e.Size > c.Limit():
		return nil, notKeptSize
	case e.Perm&0o004 == 0 && !c.Private:
		return nil, notKeptPrivate
	}
	if fromDB {
		return k.fromStore(e, k.oldSnaps)
	}
	if data, ok := k.read[e.Hash]; ok {
		return data, ""
	}
	data, err := readContent(e.Path, c.Limit())
	switch {
	case err != nil:
		return nil, notKeptUnreadable
	case int64(len(data)) > c.Limit():
		return nil, notKeptSize
	case blake3.Sum256(data) != e.Hash:
		return nil, notKeptChanged
	case !textdiff.IsText(data):
		return nil, notKeptBinary
	case textdiff.HasPrivateKey(data):
		return nil, notKeptKey
	}
	return data, ""
}

// fromStore returns e's content from the snapshot of snaps that holds it,
// or else from the database, checked against e's hash (from a verified
// record).
func (k *keeper) fromStore(e *merkle.Entry, snaps []store.Snapshot) ([]byte, string) {
	if p, ok := inSnapshot(snaps, e.Path); ok {
		data, err := readContent(p, e.Size)
		if err == nil && blake3.Sum256(data) == e.Hash {
			return data, ""
		}
	}
	data, err := k.src.Content(e.Hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, notKeptOld
	case err != nil:
		return nil, notKeptUnreadable
	case blake3.Sum256(data) != e.Hash:
		return nil, "the kept content does not match its hash"
	}
	return data, ""
}

// keptFile reports whether e is a regular file with a known hash.
func keptFile(e *merkle.Entry) bool {
	return e != nil && e.Type == merkle.TypeFile && e.HashState == merkle.HashOK
}

// diff returns the diff of c's content, nil when no rule says anything
// about its path or its content did not change.
func (k *keeper) diff(c merkle.Change) *textdiff.Diff {
	if k == nil || k.src == nil || !keptFile(c.New) || c.Action == merkle.Deleted {
		return nil
	}
	if _, ok := k.rule(c.New.Path); !ok {
		return nil
	}
	if keptFile(c.Old) && c.Old.Hash == c.New.Hash {
		return nil
	}
	snaps := k.oldSnaps
	if k.stored {
		k.oldSnaps = k.newSnaps
	}
	newData, why := k.load(c.New, k.stored)
	k.oldSnaps = snaps
	if why != "" {
		return &textdiff.Diff{NotKept: why}
	}
	var oldData []byte
	oldName := "/dev/null"
	if keptFile(c.Old) {
		if oldData, why = k.load(c.Old, true); why != "" {
			return &textdiff.Diff{NotKept: why}
		}
		oldName = fmt.Sprintf("%s (baseline %d)", c.Old.Path, k.baseline)
	}
	if k.w != nil && len(k.read) < maxRemembered {
		if k.read == nil {
			k.read = map[merkle.Hash][]byte{}
		}
		k.read[c.New.Hash] = newData // for keep, which comes next
	}
	d := textdiff.Unified(oldData, newData, textdiff.Options{OldName: oldName, NewName: c.New.Path, MaxLines: diffLines})
	return &d
}

// keep keeps the content of e, written to the new baseline in place of old
// (nil if new), unless it is kept already or the rules do not keep it.
// Only what a baseline writes is read: in an update, what changed.
func (k *keeper) keep(e, old *merkle.Entry) error {
	if k == nil || k.w == nil || !keptFile(e) {
		return nil
	}
	data, seen := k.read[e.Hash]
	delete(k.read, e.Hash)
	if keptFile(old) && old.Hash == e.Hash && !seen {
		return nil // same content: kept with the old record, or not at all
	}
	if c, ok := k.rule(e.Path); !ok || !c.Keep {
		return nil
	}
	if _, ok := inSnapshot(k.keptSnaps, e.Path); ok {
		return nil // the baseline's snapshot holds it
	}
	if has, err := k.db.HasContent(e.Hash); err != nil || has {
		return err
	}
	if !seen {
		var why string
		if data, why = k.load(e, false); why != "" {
			return nil
		}
	}
	return k.w.PutContent(e.Hash, data)
}

// inSnapshot returns where the snapshot of snaps holding the root above p
// has p.
func inSnapshot(snaps []store.Snapshot, p string) (string, bool) {
	for _, s := range snaps {
		if !merkle.Within(p, s.Root) || !merkle.Within(p, s.Top) {
			continue
		}
		if s.Top == "/" {
			return s.Path + p, true
		}
		return s.Path + strings.TrimPrefix(p, s.Top), true
	}
	return "", false
}

// ChangeDiff holds ch back with its diff.
func (c *collector) ChangeDiff(ch merkle.Change, d *textdiff.Diff) error {
	if c.diffs == nil {
		c.diffs = map[int]*textdiff.Diff{}
	}
	c.diffs[len(c.changes)] = d
	c.changes = append(c.changes, ch)
	return nil
}

// replay reports the i-th change held back, ch, to r, with its diff if it
// has one and r takes diffs.
func (c *collector) replay(r Reporter, i int, ch merkle.Change) error {
	if dr, ok := r.(DiffReporter); ok && c.diffs[i] != nil {
		return dr.ChangeDiff(ch, c.diffs[i])
	}
	return r.Change(ch)
}
