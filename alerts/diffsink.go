package alerts

import (
	"context"
	"encoding/json"
)

// WithoutDiff returns a sink that passes events on to s without
// vigil.diff, the diffs of kept content (a sink's diff = false: a SIEM may
// not want file content, even masked). The other fields are unchanged.
func WithoutDiff(s Sink) Sink { return noDiffSink{s} }

type noDiffSink struct{ Sink }

func (n noDiffSink) Send(ctx context.Context, evs []*Event, data [][]byte) (int, error) {
	evs, data = append([]*Event(nil), evs...), append([][]byte(nil), data...)
	for i, ev := range evs {
		if ev.Vigil == nil || ev.Vigil.Diff == nil {
			continue
		}
		c := *ev
		v := *ev.Vigil
		v.Diff = nil
		c.setVigil(&v)
		b, err := json.Marshal(&c)
		if err != nil {
			return 0, err
		}
		evs[i], data[i] = &c, b
	}
	return n.Sink.Send(ctx, evs, data)
}
