package alerts

import (
	"bytes"
	"encoding/json"
	"math"
	"runtime"
	"strconv"
	"sync"
)

// seqMark is the event.sequence an event is encoded with ahead of being
// queued: the outbox writes its real sequence number in its place
// (see [Encoded]). No JSON string can hold it: a quote in a string is
// escaped.
var seqMark = []byte(`"sequence":` + strconv.FormatUint(math.MaxUint64, 10))

// Encoded is an event's JSON taken ahead of its queuing, with a mark where
// its event.sequence goes: [Dispatcher.PublishEncoded] writes the number
// the outbox gives it there, instead of encoding the event in the outbox's
// write transaction. Nil: encode it then.
type Encoded []byte

// Encode encodes evs, on every core, each with the sequence mark. An
// event whose encoding holds no mark (cannot happen: event.sequence comes
// before any other field that could) is left nil.
func Encode(evs []Event) []Encoded {
	out := make([]Encoded, len(evs))
	work := func(i int) {
		ev := evs[i] // a copy: the mark is not the caller's
		ev.Event.Sequence = math.MaxUint64
		b, err := json.Marshal(&ev)
		if err == nil && bytes.Count(b, seqMark) == 1 {
			out[i] = b
		}
	}
	n := min(runtime.GOMAXPROCS(0), len(evs)/64)
	if n < 2 {
		for i := range evs {
			work(i)
		}
		return out
	}
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := w; i < len(evs); i += n {
				work(i)
			}
		})
	}
	wg.Wait()
	return out
}

// withSequence returns e with seq in the mark's place.
func (e Encoded) withSequence(seq uint64) []byte {
	i := bytes.Index(e, seqMark)
	out := make([]byte, 0, len(e))
	out = append(out, e[:i]...)
	out = append(out, `"sequence":`...)
	out = strconv.AppendUint(out, seq, 10)
	return append(out, e[i+len(seqMark):]...)
}
