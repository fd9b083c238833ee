package nix

import (
	"fmt"
	"slices"
)

// Record is what a seal keeps of one valid path: its database record and
// the state vigil verified.
type Record struct {
	Hash             string   `json:"hash"`
	NARSize          int64    `json:"nar_size"`
	RegistrationTime int64    `json:"registration_time"`
	Ultimate         bool     `json:"ultimate,omitempty"`
	CA               string   `json:"ca,omitempty"`
	Sigs             []string `json:"sigs,omitempty"`
	Refs             []string `json:"refs,omitempty"`
	Stat             [32]byte `json:"stat"`
}

// Snapshot is the store as sealed: every valid path's record and the
// system closure (the paths reachable from [Store.SystemRoots]).
type Snapshot struct {
	Paths   map[string]Record `json:"paths"`
	Closure []string          `json:"closure"` // sorted
}

// Snapshot returns the snapshot of what r verified, with the closure of
// roots.
func (r *Report) Snapshot(roots []SystemRoot) Snapshot {
	s := Snapshot{Paths: make(map[string]Record, len(r.Paths))}
	for p, info := range r.Paths {
		s.Paths[p] = Record{Hash: info.Hash, NARSize: info.NARSize, RegistrationTime: info.RegistrationTime,
			Ultimate: info.Ultimate, CA: info.CA, Sigs: info.Sigs, Refs: info.Refs, Stat: r.States[p].Stat}
	}
	s.Closure = SortedKeys(r.Closure(roots))
	return s
}

// Closure returns the system closure of roots, each path with the root
// that reaches it first (roots in their order).
func (r *Report) Closure(roots []SystemRoot) map[string]string {
	tops := make([]string, len(roots))
	for i, rt := range roots {
		tops[i] = rt.Top
	}
	return Closure(r.Paths, tops)
}

// Known returns the states a snapshot recorded, for [Options.Known]: the
// NAR hash is the sealed database hash, trusted only together with an
// unchanged stat digest.
func (s Snapshot) Known() map[string]State {
	out := make(map[string]State, len(s.Paths))
	for p, rec := range s.Paths {
		h, err := ParseSHA256(rec.Hash)
		if err != nil || rec.Stat == ([32]byte{}) {
			continue
		}
		out[p] = State{NAR: PathHash{SHA256: h, NARSize: rec.NARSize}, Stat: rec.Stat}
	}
	return out
}

// Compare returns what changed between the sealed snapshot and the store r
// verified: database records of sealed paths that changed or went
// (DBChanged), and paths of the current system closure the sealed closure
// did not hold (ClosureAdded, with the generation that brought each) or
// that it lost (ClosureRemoved).
func Compare(sealed Snapshot, r *Report, roots []SystemRoot) []Finding {
	var out []Finding
	for _, p := range SortedKeys(sealed.Paths) {
		old := sealed.Paths[p]
		info := r.Paths[p]
		if info == nil {
			out = append(out, Finding{Kind: DBChanged, Path: p, Detail: "no longer a valid path"})
			continue
		}
		if d := recordDiff(old, info); d != "" {
			out = append(out, Finding{Kind: DBChanged, Path: p, Detail: d})
		}
	}
	out = append(out, closureDiff(sealed.Closure, r.Closure(roots), roots)...)
	SortFindings(out)
	return out
}

func recordDiff(old Record, info *PathInfo) string {
	switch {
	case old.Hash != info.Hash:
		return fmt.Sprintf("hash %s -> %s", old.Hash, info.Hash)
	case old.NARSize != info.NARSize:
		return fmt.Sprintf("nar size %d -> %d", old.NARSize, info.NARSize)
	case old.RegistrationTime != info.RegistrationTime:
		return fmt.Sprintf("registration time %d -> %d", old.RegistrationTime, info.RegistrationTime)
	case !slices.Equal(old.Refs, info.Refs):
		return "references changed"
	case old.CA != info.CA || old.Ultimate != info.Ultimate:
		return "content address or ultimate changed"
	case !slices.Equal(old.Sigs, info.Sigs):
		return "signatures changed"
	}
	return ""
}

func closureDiff(sealed []string, now map[string]string, roots []SystemRoot) []Finding {
	var out []Finding
	gen := map[string]SystemRoot{}
	for _, rt := range roots {
		if _, ok := gen[rt.Top]; !ok {
			gen[rt.Top] = rt
		}
	}
	for _, p := range SortedKeys(now) {
		if _, ok := slices.BinarySearch(sealed, p); ok {
			continue
		}
		rt := gen[now[p]]
		out = append(out, Finding{Kind: ClosureAdded, Path: p, Generation: rt.Generation, Root: rt.Link,
			Detail: "in the system closure, not in the sealed one"})
	}
	for _, p := range sealed {
		if _, ok := now[p]; !ok {
			out = append(out, Finding{Kind: ClosureRemoved, Path: p, Detail: "in the sealed system closure, not in the current one"})
		}
	}
	return out
}
