package alerts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// ExecSink runs Command (argv, no shell) once per event with the event's
// JSON on standard input; exit status 0 accepts the event. The command is
// killed after Timeout. Its environment holds only PATH and
// VIGIL_EVENT_ID, VIGIL_EVENT_ACTION and VIGIL_FILE_PATH.
type ExecSink struct {
	Command []string
	Timeout time.Duration // 0 means 30 s
}

// Send implements [Sink].
func (s *ExecSink) Send(ctx context.Context, evs []*Event, data [][]byte) (int, error) {
	for i := range evs {
		if err := s.run(ctx, evs[i], data[i]); err != nil {
			return i, err
		}
	}
	return len(evs), nil
}

func (s *ExecSink) run(ctx context.Context, ev *Event, data []byte) error {
	if len(s.Command) == 0 {
		return ErrNoCommand
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	path := ""
	if ev.File != nil {
		path = ev.File.Path
	}
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "VIGIL_EVENT_ID=" + ev.Event.ID,
		"VIGIL_EVENT_ACTION=" + ev.Event.Action, "VIGIL_FILE_PATH=" + path}
	cmd.Stdin = bytes.NewReader(append(data[:len(data):len(data)], '\n'))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("exec %s: killed after %v: %w", s.Command[0], timeout, ErrRefused)
	}
	if err != nil {
		msg := out.Bytes()
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return fmt.Errorf("exec %s: %w: %q: %w", s.Command[0], err, msg, ErrRefused)
	}
	return nil
}

// Close implements [Sink].
func (s *ExecSink) Close() error { return nil }
