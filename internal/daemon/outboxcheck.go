package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"vigil/alerts"
)

// Outbox gaps while the daemon runs.
//
// The daemon holds its outbox file open and bbolt holds an exclusive flock
// on it, so no other bbolt (vigil's or the bbolt tool) can open it to
// delete entries while it runs; that is what the start's gap check
// (reportGaps) is for. What can happen while it runs:
//
//   - the file is renamed over (a backup put back, another outbox moved
//     there) or removed: the daemon goes on with the file it holds, which
//     no path names any more, and what that file queues undelivered is
//     lost at the next start, which reads the file at the path. Found by
//     comparing the file held with the one at the path.
//   - the file is written in place by something ignoring the flock (raw
//     writes, a tool run with locking off): entries can vanish from a
//     queue. Found by the same gap check as at the start, run again.
//
// A sink acknowledging out of order removes a later entry before an
// earlier one: the earlier one is still queued and delivered next, no gap.
// A truncated file faults bbolt's memory map (the daemon dies, and the
// next start finds the file unreadable).

// outboxCheckEvery is how often the running daemon checks its outbox file.
const outboxCheckEvery = 10 * time.Second

// watchOutbox checks the outbox file every outboxCheckEvery (or
// Options.outboxCheck) until ctx is done: events_missing for each sink's
// queue when the file at the path is no longer the one held (once per
// replacement), and for entries gone from a queue.
func (p *pipeline) watchOutbox(ctx context.Context) error {
	every := p.o.outboxCheck
	if every <= 0 {
		every = outboxCheckEvery
	}
	path := p.cfg.OutboxPath()
	held, err := os.Lstat(path) // the file opened a moment ago
	if err != nil {
		p.o.Log.Error().Err(err).Str("path", path).Msg("the outbox file is not checked while the daemon runs")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	replaced := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := p.reportGaps(); err != nil {
			p.o.Log.Error().Err(err).Msg("the outbox's gaps could not be checked")
		}
		if held == nil {
			continue
		}
		at, err := os.Lstat(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			p.o.Log.Error().Err(err).Str("path", path).Msg("the outbox file could not be checked")
			continue
		}
		gone := err != nil || !os.SameFile(held, at) // removed, or another file there
		if gone && !replaced {
			p.reportReplaced()
		}
		replaced = gone
	}
}

// reportReplaced publishes, for each sink with events queued, the
// critical events_missing alert of what the next start will not find:
// the outbox file at the path is no longer the daemon's.
func (p *pipeline) reportReplaced() {
	path := p.cfg.OutboxPath()
	runs, err := p.outboxDB.Queued()
	if err != nil {
		p.o.Log.Error().Err(err).Str("path", path).Msg("the outbox file was replaced or removed; its queues could not be read")
		return
	}
	p.o.Log.Error().Str("path", path).Int("sinks", len(runs)).
		Msg("the outbox file was replaced or removed while the daemon runs: what it queues is in a file no path names, lost at the next start")
	now := time.Now()
	var evs []alerts.Event
	for _, r := range runs {
		evs = append(evs, alerts.Missing(alerts.MissingInfo{Sink: r.Sink, Count: r.Count, FirstSequence: r.First, LastSequence: r.Last}, p.o.Host, now))
	}
	if len(evs) == 0 {
		return
	}
	p.st.alerts.Add(int64(len(evs)))
	if err := p.disp.Publish(evs...); err != nil {
		p.o.Log.Error().Err(err).Msg("events_missing not published")
	}
}
