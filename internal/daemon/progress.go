package daemon

import (
	"sync/atomic"
	"time"

	"vigil/scanner"
)

// progress tells a verifier that works from one that is stuck, for the
// systemd watchdog: WATCHDOG=1 is sent only while each verifier (the
// loop, and the worker of large files) is idle or has moved (an entry
// visited, a chunk of a file read) within stallAfter. A read that hangs
// (a dead disk, a blocked network filesystem) or a loop that no longer
// turns stops the pings, and the service manager restarts the daemon.
type progress struct {
	busy  atomic.Int64 // when the loop's job began (unix ns); 0: idle
	stats atomic.Pointer[scanner.Stats]

	// The watchdog goroutine's own: what it saw last and when it moved.
	main, large mover
}

// mover is one verifier's last seen position.
type mover struct {
	job   int64 // which job (its start) or file
	count int64
	moved time.Time
}

// see records that the verifier is at count in job, now, and reports
// whether it moved within stallAfter (idle counts as moving).
func (m *mover) see(job, count int64, now time.Time, stallAfter time.Duration) bool {
	if job == 0 || job != m.job || count != m.count || m.moved.IsZero() {
		m.job, m.count, m.moved = job, count, now
		return true
	}
	return now.Sub(m.moved) < stallAfter
}

// begin marks the loop busy with a job and returns the counters the job's
// check is to update.
func (pr *progress) begin() *scanner.Stats {
	st := &scanner.Stats{}
	pr.stats.Store(st)
	pr.busy.Store(time.Now().UnixNano())
	return st
}

// end marks the loop idle.
func (pr *progress) end() { pr.busy.Store(0) }

func progressCount(st *scanner.Stats) int64 {
	if st == nil {
		return 0
	}
	return st.Entries.Load() + st.Chunks.Load()
}

// stallAfter is how long a verifier may stand still before the pings
// stop: three watchdog intervals.
func stallAfter(watchdog time.Duration) time.Duration { return 3 * watchdog }

// alive reports whether both verifiers move (see progress), and which one
// is stalled when not. Called from the watchdog goroutine only.
func (p *pipeline) alive(now time.Time) (bool, string) {
	limit := stallAfter(p.o.Watchdog)
	if !p.prog.main.see(p.prog.busy.Load(), progressCount(p.prog.stats.Load()), now, limit) {
		return false, "the verifier"
	}
	if p.prog.busy.Load() != 0 {
		p.prog.large = mover{} // it gives way to the loop (large.go): the loop's own progress counts
	} else if p.large != nil {
		var job, n int64
		if c := p.large.cur.Load(); c != nil {
			job, n = c.began.UnixNano(), progressCount(c.stats)
		}
		if !p.prog.large.see(job, n, now, limit) {
			return false, "the large-file verifier"
		}
	}
	return true, ""
}
