package daemon

import (
	"fmt"
	"path/filepath"
	"strings"

	"vigil/internal/engine"
	"vigil/internal/watch"
	"vigil/merkle"
	"vigil/store"
)

// A restore puts a path back as a new inode: equal to its baseline record
// in everything but its inode and ctime, and its directory in everything
// but its mtime and ctime. The remediation knows what it wrote: right
// after a successful restore it records the path's and its directory's
// new identity (a restoredMark), and the verifier takes a change that
// differs from the record only in those attributes, and whose live entry
// is exactly the one recorded, as intact: no new alert (a standing one is
// resolved), so no second remediation. Any later change (another inode,
// another ctime) is judged as usual.
//
// # Caveats
//
// The marks are kept until the next baseline, in the outbox file beside
// the alerted paths (so a restart keeps them). Only the restored path and
// its directory are marked, not what lies below a restored directory.

// restoredMark is the identity of an entry a restore wrote.
type restoredMark struct {
	inode        uint64
	mtime, ctime int64
	dir          bool
}

// restoredAttrs are the attributes a restored entry may differ in from its
// record: a file's inode and ctime, a directory's times.
const (
	restoredFileAttrs = merkle.AttrInode | merkle.AttrCtime
	restoredDirAttrs  = merkle.AttrMtime | merkle.AttrCtime
)

// markRestored records what the restore of path left at path and its
// directory. Safe from any goroutine (the remediation's).
func (v *verifier) markRestored(path string) {
	marks := map[string]restoredMark{}
	for _, p := range []string{path, merkle.Parent(path)} {
		if e, err := engine.Glimpse(p, 0, nil); err == nil && e != nil {
			marks[p] = restoredMark{inode: e.Inode, mtime: e.Mtime, ctime: e.Ctime, dir: e.Type == merkle.TypeDir}
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.restored == nil {
		v.restored = map[string]restoredMark{}
	}
	for p, m := range marks {
		v.restored[p] = m
		v.markDirty(p)
	}
}

// markDirty says the mark of p is to be saved; v.mu is held.
func (v *verifier) markDirty(p string) {
	if v.restoredDirty == nil {
		v.restoredDirty = map[string]bool{}
	}
	v.restoredDirty[p] = true
}

// restoredKey prefixes the marks' keys in the outbox file, beside the
// alerted paths: no path holds a NUL. The marks outlive a restart.
const restoredKey = "\x00restored\x00"

// dirtyRestored returns the marks to save (a zero state: forgotten).
func (v *verifier) dirtyRestored() map[string]store.AlertState {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]store.AlertState{}
	for p := range v.restoredDirty {
		var s store.AlertState
		if m, ok := v.restored[p]; ok {
			s.State = fmt.Sprintf("%d %d %d %t", m.inode, m.mtime, m.ctime, m.dir)
		}
		out[restoredKey+p] = s
	}
	clear(v.restoredDirty)
	return out
}

// loadRestored takes a saved mark, and reports whether key was one.
func (v *verifier) loadRestored(key, state string) bool {
	p, ok := strings.CutPrefix(key, restoredKey)
	if !ok {
		return false
	}
	var m restoredMark
	if _, err := fmt.Sscanf(state, "%d %d %d %t", &m.inode, &m.mtime, &m.ctime, &m.dir); err != nil {
		return true // not one this vigil wrote: dropped
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.restored == nil {
		v.restored = map[string]restoredMark{}
	}
	v.restored[p] = m
	return true
}

// restoredIntact reports whether ch is only what a restore recorded left
// behind at its path.
func (v *verifier) restoredIntact(ch merkle.Change) bool {
	if ch.Action != merkle.AttributesModified || ch.New == nil {
		return false
	}
	v.mu.Lock()
	m, ok := v.restored[ch.Path]
	v.mu.Unlock()
	if !ok {
		return false
	}
	if m.dir {
		return ch.New.Type == merkle.TypeDir && ch.Changed&^restoredDirAttrs == 0 &&
			ch.New.Mtime == m.mtime && ch.New.Ctime == m.ctime && ch.New.Inode == m.inode
	}
	return ch.New.Type != merkle.TypeDir && ch.Changed&^restoredFileAttrs == 0 &&
		ch.New.Inode == m.inode && ch.New.Ctime == m.ctime
}

// restoredOrPutOff reports whether change ch is no finding: what a
// restore left (intact), or a path being restored (its finding put off:
// the alert standing stays until it is verified after the restore).
func (c *collect) restoredOrPutOff(ch merkle.Change) bool {
	switch {
	case c.v.restoredIntact(ch):
		c.restored[ch.Path] = true
		return true
	case c.v.putOff(ch.Path):
		c.restored[ch.Path], c.seen[ch.Path] = true, true
		return true
	}
	return false
}

// forgetRestored drops the marks: a new baseline records what is there.
func (v *verifier) forgetRestored() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for p := range v.restored {
		v.markDirty(p)
	}
	v.restored = nil
}

// restoring is told by the remediation of each path it is about to
// restore, and returns what it calls when the restore ended. Meanwhile the
// path and its directory are being restored: what a verification finds of
// them is put off (the alert standing stays; the restore's temporary file
// is no transient). At the end, when the restore succeeded, the path and
// its directory are marked; either way both are verified again, after the
// marks, whatever the timing of the restore's own hints.
func (p *pipeline) restoring(path string) (end func(ok bool)) {
	both := []string{path, merkle.Parent(path)}
	p.v.mu.Lock()
	if p.v.restoring == nil {
		p.v.restoring = map[string]int{}
	}
	for _, q := range both {
		p.v.restoring[q]++
	}
	p.v.mu.Unlock()
	return func(ok bool) {
		if ok {
			p.v.markRestored(path)
		}
		p.v.mu.Lock()
		for _, q := range both {
			if p.v.restoring[q]--; p.v.restoring[q] <= 0 {
				delete(p.v.restoring, q)
			}
		}
		p.v.mu.Unlock()
		for _, q := range both {
			p.settler.Add(watch.Event{Path: q, Op: watch.Changed})
		}
	}
}

// putOff reports whether a finding on path waits for a restore in
// progress (see restoring).
func (v *verifier) putOff(path string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.restoring[path] > 0
}

// restoreTempPrefix starts the names of the restore's temporary files
// (btrfs/restore_linux.go): made and renamed over the path restored.
const restoreTempPrefix = ".vigil-restore."

// restoreTemp reports whether path is a temporary file of a restore done
// in its directory (a name alone would let anyone hide a transient).
func (v *verifier) restoreTemp(path string) bool {
	if !strings.HasPrefix(filepath.Base(path), restoreTempPrefix) {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.restored[merkle.Parent(path)]
	return ok || v.restoring[merkle.Parent(path)] > 0
}

// restoredLive reports whether path is, right now, what a restore left
// there (the remediation's guard against restoring its own work again).
func (v *verifier) restoredLive(path string) bool {
	v.mu.Lock()
	m, ok := v.restored[path]
	v.mu.Unlock()
	if !ok {
		return false
	}
	e, err := engine.Glimpse(path, 0, nil)
	if err != nil || e == nil || e.Inode != m.inode || e.Ctime != m.ctime {
		return false
	}
	return !m.dir || e.Mtime == m.mtime
}
