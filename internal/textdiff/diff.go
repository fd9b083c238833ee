package textdiff

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxEdits bounds the edit script [Lines] searches for: beyond it the
// differing middle (after the common prefix and suffix) is reported as
// removed whole and added whole, so time and memory stay bounded.
const MaxEdits = 1000

// Op is one line of an edit script.
type Op byte

// The edit operations.
const (
	Equal  Op = ' '
	Delete Op = '-'
	Insert Op = '+'
)

// Edit is a run of lines with the same operation: old[OldAt:OldAt+N] for
// Equal and Delete, new[NewAt:NewAt+N] for Insert (Equal's new lines
// start at NewAt).
type Edit struct {
	Op           Op
	OldAt, NewAt int
	N            int
}

// Split splits b into lines, each without its newline; a last line without
// one is a line too (noEOL says it had none).
func Split(b []byte) (lines []string, noEOL bool) {
	if len(b) == 0 {
		return nil, false
	}
	s := string(b)
	noEOL = !strings.HasSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n"), noEOL
}

// Lines returns an edit script turning old into new: a shortest one when
// it has at most [MaxEdits] edits beyond the common prefix and suffix.
func Lines(old, new []string) []Edit {
	pre := 0
	for pre < len(old) && pre < len(new) && old[pre] == new[pre] {
		pre++
	}
	suf := 0
	for suf < len(old)-pre && suf < len(new)-pre && old[len(old)-1-suf] == new[len(new)-1-suf] {
		suf++
	}
	var s script
	s.add(Equal, 0, 0, pre)
	a, b := ids(old[pre:len(old)-suf], new[pre:len(new)-suf])
	if !myers(a, b, pre, &s) {
		s.add(Delete, pre, pre, len(a))
		s.add(Insert, len(old)-suf, pre, len(b))
	}
	s.add(Equal, len(old)-suf, len(new)-suf, suf)
	return s.edits
}

type script struct{ edits []Edit }

// add appends n lines of op, merging with the previous run of the same op.
func (s *script) add(op Op, oldAt, newAt, n int) {
	if n == 0 {
		return
	}
	if k := len(s.edits) - 1; k >= 0 && s.edits[k].Op == op {
		s.edits[k].N += n
		return
	}
	s.edits = append(s.edits, Edit{op, oldAt, newAt, n})
}

// ids numbers the distinct lines of a and b, so that the search compares
// integers.
func ids(a, b []string) ([]int, []int) {
	seed := maphash.MakeSeed()
	seen := map[uint64]int{}
	conv := func(ls []string) []int {
		out := make([]int, len(ls))
		for i, l := range ls {
			h := maphash.String(seed, l)
			id, ok := seen[h]
			if !ok {
				id = len(seen)
				seen[h] = id
			}
			out[i] = id
		}
		return out
	}
	return conv(a), conv(b)
}

// myers appends to s a shortest edit script from a to b (whose lines start
// at line off of both files), false if it needs more than MaxEdits edits.
func myers(a, b []int, off int, s *script) bool {
	n, m := len(a), len(b)
	maxD := min(n+m, MaxEdits)
	v := make([]int, 2*maxD+2)
	var trace [][]int
	for d := 0; d <= maxD; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[maxD+k-1] < v[maxD+k+1]) {
				x = v[maxD+k+1]
			} else {
				x = v[maxD+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[maxD+k] = x
			if x >= n && y >= m {
				backtrack(trace, maxD, n, m, d, off, s)
				return true
			}
		}
	}
	return false
}

// backtrack walks the saved frontiers back from (n, m) and appends the
// edits in order.
func backtrack(trace [][]int, maxD, n, m, d, off int, s *script) {
	type step struct {
		op   Op
		x, y int
	}
	var rev []step
	x, y := n, m
	for ; d > 0; d-- {
		v := trace[d]
		k := x - y
		var pk int
		if k == -d || (k != d && v[maxD+k-1] < v[maxD+k+1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := v[maxD+pk]
		py := px - pk
		for x > px && y > py {
			x, y = x-1, y-1
			rev = append(rev, step{Equal, x, y})
		}
		if x == px {
			y--
			rev = append(rev, step{Insert, x, y})
		} else {
			x--
			rev = append(rev, step{Delete, x, y})
		}
	}
	for x > 0 && y > 0 {
		x, y = x-1, y-1
		rev = append(rev, step{Equal, x, y})
	}
	for i := len(rev) - 1; i >= 0; i-- {
		st := rev[i]
		s.add(st.op, off+st.x, off+st.y, 1)
	}
}

// Options bound a [Unified] diff. The zero value means 3 lines of context
// and at most 200 lines.
type Options struct {
	// Context is the number of unchanged lines shown around each change;
	// negative means none.
	Context int
	// MaxLines bounds the lines of the diff (headers included); the rest
	// is counted in Diff.Omitted.
	MaxLines int
	// OldName and NewName head the diff ("--- OldName", "+++ NewName").
	OldName, NewName string
}

// Diff is a bounded, masked unified diff: vigil.diff in events.
type Diff struct {
	// Unified is the diff as diff -u prints it, with secrets masked;
	// empty when there is none (see NotKept).
	Unified string `json:"unified,omitempty"`
	// Added and Removed count the lines added and removed, all of them.
	Added   int `json:"lines_added,omitempty"`
	Removed int `json:"lines_removed,omitempty"`
	// Truncated says lines of the diff were left out; Omitted counts them.
	Truncated bool `json:"truncated,omitempty"`
	Omitted   int  `json:"omitted_lines,omitempty"`
	// Masked counts the lines shown masked.
	Masked int `json:"masked_lines,omitempty"`
	// NotKept says why there is no diff: the old or the new content is
	// not kept ("secret: never kept", "binary", "larger than diff_max",
	// "not world-readable", "not kept in the baseline", ...).
	NotKept string `json:"not_kept,omitempty"`
}

// Unified returns the diff of old and new, each line masked by the
// patterns of [Patterns] (a PEM private key block whole).
func Unified(old, new []byte, o Options) Diff {
	if o.Context == 0 {
		o.Context = 3
	} else if o.Context < 0 {
		o.Context = 0
	}
	if o.MaxLines <= 0 {
		o.MaxLines = 200
	}
	ol, oNoEOL := Split(old)
	nl, nNoEOL := Split(new)
	edits := Lines(ol, nl)
	var d Diff
	for _, e := range edits {
		switch e.Op {
		case Delete:
			d.Removed += e.N
		case Insert:
			d.Added += e.N
		}
	}
	if d.Added == 0 && d.Removed == 0 && oNoEOL == nNoEOL {
		return d
	}
	ok, nk := keyLines(ol), keyLines(nl)
	r := render{d: &d, max: o.MaxLines}
	r.line("--- " + o.OldName)
	r.line("+++ " + o.NewName)
	for _, h := range hunks(edits, len(ol), len(nl), o.Context) {
		r.line(h.header())
		for _, e := range h.edits {
			for i := range e.N {
				switch e.Op {
				case Equal:
					r.body(' ', ol[e.OldAt+i], ok[e.OldAt+i])
				case Delete:
					r.body('-', ol[e.OldAt+i], ok[e.OldAt+i])
				case Insert:
					r.body('+', nl[e.NewAt+i], nk[e.NewAt+i])
				}
				r.noEOL(e, i, len(ol), len(nl), oNoEOL, nNoEOL)
			}
		}
	}
	d.Unified = r.b.String()
	d.Truncated = d.Omitted > 0
	return d
}

// MaxLineBytes bounds each line shown: the rest of a longer line is cut
// and counted ("... (N more bytes)").
const MaxLineBytes = 512

// cut returns line bounded by MaxLineBytes, cut at a character boundary.
func cut(line string) string {
	if len(line) <= MaxLineBytes {
		return line
	}
	n := MaxLineBytes
	for n > 0 && !utf8.RuneStart(line[n]) {
		n--
	}
	return line[:n] + "... (" + strconv.Itoa(len(line)-n) + " more bytes)"
}

// render writes lines up to max, counting the rest.
type render struct {
	b   strings.Builder
	d   *Diff
	max int
	n   int
}

func (r *render) line(s string) {
	if r.n >= r.max {
		r.d.Omitted++
		return
	}
	r.n++
	r.b.WriteString(s)
	r.b.WriteByte('\n')
}

// body writes one line of a file, masked.
func (r *render) body(op byte, line string, inKey bool) {
	if r.n >= r.max {
		r.d.Omitted++
		return
	}
	m := maskLine(line, inKey)
	if m.Masked {
		r.d.Masked++
	}
	r.line(string(op) + cut(m.Line))
}

// noEOL adds diff's marker after the last line of a file without a final
// newline.
func (r *render) noEOL(e Edit, i, nOld, nNew int, oNoEOL, nNoEOL bool) {
	lastOld := e.Op != Insert && e.OldAt+i == nOld-1 && oNoEOL
	lastNew := e.Op != Delete && e.NewAt+i == nNew-1 && nNoEOL
	if lastOld || lastNew {
		r.line(`\ No newline at end of file`)
	}
}

// hunk is a group of edits shown together with their context.
type hunk struct {
	oldAt, oldN, newAt, newN int
	edits                    []Edit
}

func (h hunk) header() string {
	return fmt.Sprintf("@@ -%s +%s @@", rangeText(h.oldAt, h.oldN), rangeText(h.newAt, h.newN))
}

// rangeText is diff -u's "start,count" (1-based; start is the line before
// an empty range).
func rangeText(at, n int) string {
	if n == 1 {
		return strconv.Itoa(at + 1)
	}
	if n == 0 {
		return strconv.Itoa(at) + ",0"
	}
	return strconv.Itoa(at+1) + "," + strconv.Itoa(n)
}

// hunks groups the changes of edits with ctx lines of context, merging
// groups whose context would touch.
func hunks(edits []Edit, nOld, nNew, ctx int) []hunk {
	var out []hunk
	var cur *hunk
	for i, e := range edits {
		if e.Op != Equal {
			if cur == nil {
				lead := 0
				if i > 0 {
					lead = min(ctx, edits[i-1].N)
				}
				out = append(out, hunk{oldAt: e.OldAt - lead, newAt: e.NewAt - lead})
				cur = &out[len(out)-1]
				if lead > 0 {
					p := edits[i-1]
					cur.edits = append(cur.edits, Edit{Equal, p.OldAt + p.N - lead, p.NewAt + p.N - lead, lead})
				}
			}
			cur.edits = append(cur.edits, e)
			continue
		}
		if cur == nil {
			continue
		}
		last := i == len(edits)-1
		if e.N <= 2*ctx && !last {
			cur.edits = append(cur.edits, e) // context joining two changes
			continue
		}
		if n := min(ctx, e.N); n > 0 {
			cur.edits = append(cur.edits, Edit{Equal, e.OldAt, e.NewAt, n})
		}
		cur = nil
	}
	for i := range out {
		h := &out[i]
		for _, e := range h.edits {
			if e.Op != Insert {
				h.oldN += e.N
			}
			if e.Op != Delete {
				h.newN += e.N
			}
		}
		if h.oldN == 0 {
			h.oldAt = startOf(h.edits, true)
		}
		if h.newN == 0 {
			h.newAt = startOf(h.edits, false)
		}
	}
	return out
}

// startOf is where an empty side of a hunk lies (diff counts it as the
// line before).
func startOf(es []Edit, old bool) int {
	if old {
		return es[0].OldAt
	}
	return es[0].NewAt
}

// IsText reports whether b may be kept as text: no NUL byte and valid
// UTF-8 in its first 8 KiB (a multi-byte character cut at the block's
// end does not count).
func IsText(b []byte) bool {
	blk := b[:min(len(b), 8192)]
	if bytes.IndexByte(blk, 0) >= 0 {
		return false
	}
	for len(blk) > 0 {
		r, size := utf8.DecodeRune(blk)
		if r == utf8.RuneError && size <= 1 {
			return !utf8.FullRune(blk) && len(blk) < len(b) // cut at the end
		}
		blk = blk[size:]
	}
	return true
}
