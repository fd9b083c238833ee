package alerts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExecSink(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "got")
	ev := Resolved("/etc/passwd", "h", time.Now())
	ev.SetID("x")
	s := &ExecSink{Command: []string{"/bin/sh", "-c", `cat > "$0"; echo "$VIGIL_EVENT_ID $VIGIL_FILE_PATH" >> "$0"`, out}}
	if n, err := s.Send(context.Background(), []*Event{&ev}, [][]byte{[]byte(`{"a":1}`)}); n != 1 || err != nil {
		t.Fatalf("Send = %d, %v; want 1 accepted", n, err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"a\":1}\n" + ev.Event.ID + " /etc/passwd\n"; string(got) != want {
		t.Errorf("the command got %q, want %q", got, want)
	}

	fail := &ExecSink{Command: []string{"/bin/sh", "-c", "echo no; exit 3"}}
	if n, err := fail.Send(context.Background(), []*Event{&ev}, [][]byte{nil}); n != 0 || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "no") {
		t.Errorf("Send to a command exiting 3 = %d, %v; want 0 and ErrRefused with its output", n, err)
	}
	slow := &ExecSink{Command: []string{"/bin/sleep", "10"}, Timeout: 100 * time.Millisecond}
	began := time.Now()
	if n, err := slow.Send(context.Background(), []*Event{&ev}, [][]byte{nil}); n != 0 || !errors.Is(err, ErrRefused) {
		t.Errorf("Send to a command outliving its timeout = %d, %v; want 0 and ErrRefused", n, err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the timed-out command took %v to be killed", d)
	}
}
