// Package progress shows how far a scan has come on one terminal line.
//
// The scanner's callers count what they do in a [Counters] value with atomic
// adds; [Start] runs a goroutine that redraws the line from the counters at a
// fixed interval, so counting costs an atomic add and drawing never slows the
// scan down. [Render] is the pure function that formats one line.
//
// The caller starts the display only when the writer (normally stderr) is a
// terminal and the user did not ask for quiet output: the line is redrawn
// with a carriage return and an erase-to-end-of-line escape sequence, which
// only make sense on a terminal.
package progress

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often [Start] redraws the line when given no interval.
const DefaultInterval = 250 * time.Millisecond

// Terminal sequences: go to the start of the line, erase to its end.
const (
	lineStart = "\r"
	eraseEnd  = "\x1b[K"
)

// Counters count the work of a scan. They are safe for concurrent use; the
// zero value is ready.
type Counters struct {
	Files  atomic.Int64 // entries seen
	Hashed atomic.Int64 // files whose content was read and hashed
	Bytes  atomic.Int64 // bytes hashed
	Errors atomic.Int64 // paths that could not be checked
}

// Snapshot is the value of [Counters] at one moment.
type Snapshot struct {
	Files, Hashed, Bytes, Errors int64
}

// Load returns the current values of c. Each counter is read atomically, the
// set as a whole is not: good enough for a display.
func (c *Counters) Load() Snapshot {
	return Snapshot{
		Files:  c.Files.Load(),
		Hashed: c.Hashed.Load(),
		Bytes:  c.Bytes.Load(),
		Errors: c.Errors.Load(),
	}
}

// Render formats the progress line for s after elapsed: files seen, files
// and bytes hashed, the hashing rate in MiB/s, the errors if any and the
// elapsed time, as in "1520 files, 120 hashed (7.5 MiB, 3.2 MiB/s), 0:02".
func Render(s Snapshot, elapsed time.Duration) string {
	rate := 0.0
	if sec := elapsed.Seconds(); sec > 0 {
		rate = float64(s.Bytes) / sec / (1 << 20)
	}
	line := fmt.Sprintf("%s, %d hashed (%s, %.1f MiB/s), ",
		plural(s.Files, "file", "files"), s.Hashed, IEC(s.Bytes), rate)
	if s.Errors > 0 {
		line += plural(s.Errors, "error", "errors") + ", "
	}
	return line + clock(elapsed)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

// clock formats d as m:ss, or h:mm:ss from an hour on.
func clock(d time.Duration) string {
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// IEC formats n bytes with IEC binary prefixes: "512 B", "1.5 KiB".
func IEC(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Start draws the progress that load returns on w every interval (every <= 0 means
// [DefaultInterval]) until ctx is done or stop is called, then erases the
// line if it drew one. stop waits for that and may be called more than once.
// The first line appears after one interval, so a short run shows nothing.
// If a write to w fails, the display ends.
func Start(ctx context.Context, w io.Writer, load func() Snapshot, every time.Duration) (stop func()) {
	if every <= 0 {
		every = DefaultInterval
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		draw(ctx, w, load, every)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// draw redraws the line every interval until ctx is done.
func draw(ctx context.Context, w io.Writer, load func() Snapshot, every time.Duration) {
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	drawn := false
	for {
		select {
		case <-ctx.Done():
			if drawn {
				// Progress is best effort: if erasing fails, there is
				// nobody to tell and nothing else to do.
				_, _ = io.WriteString(w, lineStart+eraseEnd)
			}
			return
		case <-tick.C:
			line := lineStart + Render(load(), time.Since(start)) + eraseEnd
			if _, err := io.WriteString(w, line); err != nil {
				return
			}
			drawn = true
		}
	}
}
