package alerts

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"vigil/merkle"
)

// TestEncodeWithSequence: an event encoded ahead, with the sequence the
// outbox gives it written in, is byte for byte the event encoded with
// that sequence, whatever its strings hold (the mark's own text, quotes,
// HTML, bytes that are not UTF-8), on one core and on many.
func TestEncodeWithSequence(t *testing.T) {
	now := time.Unix(1700000000, 123)
	names := []string{"/etc/passwd", `/srv/"sequence":18446744073709551615`, "/srv/<a&b>", "/srv/\xff\xfe", "/srv/" + strings.Repeat("x", 300)}
	var evs []Event
	for i := range 200 {
		name := names[i%len(names)]
		ev := FromChange(merkle.Change{Path: name, Action: merkle.Created, New: &merkle.Entry{Path: name, Type: merkle.TypeFile, Size: int64(i), Inode: math.MaxUint64}}, "host", now)
		ev.Event.Severity = SeverityAlert
		ev.SetID("scope:" + name)
		evs = append(evs, ev)
	}
	for _, n := range []int{len(names), len(evs)} { // one core, then workers
		pre := Encode(evs[:n])
		for i, ev := range evs[:n] {
			if pre[i] == nil {
				t.Fatalf("event %d (%s) not encoded ahead", i, ev.File.Path)
			}
			for _, seq := range []uint64{1, 42, math.MaxUint64 - 1} {
				ev.Event.Sequence = seq
				want, err := json.Marshal(&ev)
				if err != nil {
					t.Fatal(err)
				}
				if got := pre[i].withSequence(seq); string(got) != string(want) {
					t.Fatalf("event %d, sequence %d:\n got %s\nwant %s", i, seq, got, want)
				}
			}
		}
	}
	if evs[0].Event.Sequence != 0 {
		t.Errorf("Encode changed its input's sequence to %d", evs[0].Event.Sequence)
	}
}
