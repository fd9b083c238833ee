package progress

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name    string
		s       Snapshot
		elapsed time.Duration
		want    string
	}{
		{"start", Snapshot{}, 0, "0 files, 0 hashed (0 B, 0.0 MiB/s), 0:00"},
		{"doc example", Snapshot{Files: 1520, Hashed: 120, Bytes: 7<<20 + 1<<19}, 2345 * time.Millisecond,
			"1520 files, 120 hashed (7.5 MiB, 3.2 MiB/s), 0:02"},
		{"one error", Snapshot{Files: 3, Errors: 1}, time.Second, "3 files, 0 hashed (0 B, 0.0 MiB/s), 1 error, 0:01"},
		{"errors", Snapshot{Files: 3, Errors: 7}, 61 * time.Second, "3 files, 0 hashed (0 B, 0.0 MiB/s), 7 errors, 1:01"},
		{"hours", Snapshot{Files: 5e6, Hashed: 4e6, Bytes: 3 << 40}, 3*time.Hour + 4*time.Minute + 5*time.Second,
			"5000000 files, 4000000 hashed (3.0 TiB, 284.8 MiB/s), 3:04:05"},
		{"bytes", Snapshot{Files: 1, Hashed: 1, Bytes: 1000}, 500 * time.Millisecond,
			"1 file, 1 hashed (1000 B, 0.0 MiB/s), 0:00"},
	}
	for _, tt := range tests {
		if got := Render(tt.s, tt.elapsed); got != tt.want {
			t.Errorf("%s: Render(%+v, %v) = %q, want %q", tt.name, tt.s, tt.elapsed, got, tt.want)
		}
	}
}

func TestIEC(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}, {1 << 62, "4.0 EiB"},
	}
	for _, tt := range tests {
		if got := IEC(tt.n); got != tt.want {
			t.Errorf("IEC(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// buffer is a bytes.Buffer safe for the renderer and the test to share.
type buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func frame(s Snapshot, elapsed time.Duration) string {
	return "\r" + Render(s, elapsed) + "\x1b[K"
}

// Time inside a synctest bubble is fake: time.Sleep advances it at once when
// every goroutine of the bubble is blocked, so these tests never wait.

func TestStartStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c Counters
		var out buffer
		stop := Start(t.Context(), &out, c.Load, time.Second)
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("output before the first interval = %q, want none", got)
		}
		c.Files.Add(10)
		c.Hashed.Add(2)
		c.Bytes.Add(3 << 20)
		time.Sleep(time.Second)
		synctest.Wait()
		want := frame(Snapshot{Files: 10, Hashed: 2, Bytes: 3 << 20}, time.Second)
		if got := out.String(); got != want {
			t.Fatalf("output after one interval = %q, want %q", got, want)
		}
		c.Errors.Add(1)
		time.Sleep(time.Second)
		synctest.Wait()
		want += frame(Snapshot{Files: 10, Hashed: 2, Bytes: 3 << 20, Errors: 1}, 2*time.Second)
		if got := out.String(); got != want {
			t.Fatalf("output after two intervals = %q, want %q", got, want)
		}
		stop()
		want += "\r\x1b[K"
		if got := out.String(); got != want {
			t.Errorf("output after stop = %q, want %q", got, want)
		}
		stop()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := out.String(); got != want {
			t.Errorf("output after a second stop and later ticks = %q, want %q", got, want)
		}
	})
}

func TestStopBeforeFirstFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out buffer
		stop := Start(t.Context(), &out, (&Counters{}).Load, 0)
		time.Sleep(DefaultInterval / 2)
		stop()
		if got := out.String(); got != "" {
			t.Errorf("output of a run shorter than one interval = %q, want none", got)
		}
	})
}

func TestContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var out buffer
		stop := Start(ctx, &out, (&Counters{}).Load, 0)
		time.Sleep(DefaultInterval)
		synctest.Wait()
		cancel()
		synctest.Wait()
		got := out.String()
		if !strings.HasSuffix(got, "\r\x1b[K") || strings.Count(got, "\r") != 2 {
			t.Errorf("output after cancel = %q, want one frame and the line erased", got)
		}
		stop() // must not block: the renderer has ended
	})
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, errors.New("broken pipe")
}

func TestWriteErrorEndsDisplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &failWriter{}
		stop := Start(t.Context(), w, (&Counters{}).Load, time.Second)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		stop()
		if w.n != 1 {
			t.Errorf("writes after the first failed = %d, want 1 in all", w.n)
		}
	})
}
