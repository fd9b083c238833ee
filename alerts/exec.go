package alerts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
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
	path := ""
	if ev.File != nil {
		path = ev.File.Path
	}
	if _, _, err := RunCommand(ctx, s.Command, timeout, ev, path, data); err != nil {
		return fmt.Errorf("exec %w: %w", err, ErrRefused)
	}
	return nil
}

// Close implements [Sink].
func (s *ExecSink) Close() error { return nil }

// outputLimit bounds how much of a command's output RunCommand keeps for
// its error.
const outputLimit = 512

// RunCommand runs argv (no shell) for ev, with data (ev's JSON) and a
// newline on its standard input and an environment of only PATH,
// VIGIL_EVENT_ID, VIGIL_EVENT_ACTION, VIGIL_FILE_PATH (path) and env. It
// runs in a process group of its own, which is killed after timeout or
// when ctx is done. It returns the process fields of the run (exit code -1
// when a signal ended it) and whether the timeout killed it; err is nil
// for exit status 0, and else names the program and carries the first 512
// bytes of its output.
func RunCommand(ctx context.Context, argv []string, timeout time.Duration, ev *Event, path string, data []byte, env ...string) (*Process, bool, error) {
	if len(argv) == 0 {
		return nil, false, ErrNoCommand
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "VIGIL_EVENT_ID=" + ev.Event.ID,
		"VIGIL_EVENT_ACTION=" + ev.Event.Action, "VIGIL_FILE_PATH=" + path}, env...)
	cmd.Stdin = bytes.NewReader(append(data[:len(data):len(data)], '\n'))
	out := &limitedBuffer{max: outputLimit}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	proc := &Process{Executable: argv[0], Args: argv}
	if cmd.ProcessState != nil {
		code := cmd.ProcessState.ExitCode()
		proc.ExitCode = &code
	}
	if ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		return proc, true, fmt.Errorf("%s: killed after %v", argv[0], timeout)
	}
	if err != nil {
		return proc, false, fmt.Errorf("%s: %w: output %q", argv[0], err, out.Bytes())
	}
	return proc, false, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
