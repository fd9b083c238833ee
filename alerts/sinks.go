package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// WriterSink writes each event as one JSON line to W (the stdout sink).
type WriterSink struct{ W io.Writer }

// Send implements [Sink].
func (s *WriterSink) Send(ctx context.Context, _ []*Event, data [][]byte) (int, error) {
	return s.SendData(ctx, data)
}

// SendData implements [DataSender]: one line per event.
func (s *WriterSink) SendData(_ context.Context, data [][]byte) (int, error) {
	for i, d := range data {
		if _, err := s.W.Write(append(d[:len(d):len(d)], '\n')); err != nil {
			return i, err
		}
	}
	return len(data), nil
}

// Close implements [Sink].
func (s *WriterSink) Close() error { return nil }

// FileSink appends events as JSON lines to a file, rotating it by size:
// when a line would take the file past MaxSize it is renamed to Path.1
// (Path.1 to Path.2, and so on up to Keep files) and a new file begun.
// Each event is synced before Send returns.
type FileSink struct {
	Path    string
	MaxSize int64 // 0: no rotation
	Keep    int   // rotated files kept; 0 means 3
	f       *os.File
	size    int64
}

func (s *FileSink) open() error {
	f, err := os.OpenFile(s.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return errors.Join(err, f.Close())
	}
	s.f, s.size = f, fi.Size()
	return nil
}

func (s *FileSink) rotate() error {
	if err := s.f.Close(); err != nil {
		return err
	}
	s.f = nil
	keep := s.Keep
	if keep <= 0 {
		keep = 3
	}
	for i := keep - 1; i >= 1; i-- {
		if err := os.Rename(s.Path+"."+strconv.Itoa(i), s.Path+"."+strconv.Itoa(i+1)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.Rename(s.Path, s.Path+".1"); err != nil {
		return err
	}
	return s.open()
}

// Send implements [Sink]: the lines are written, then synced once.
func (s *FileSink) Send(ctx context.Context, _ []*Event, data [][]byte) (int, error) {
	return s.SendData(ctx, data)
}

// SendData implements [DataSender].
func (s *FileSink) SendData(_ context.Context, data [][]byte) (int, error) {
	if s.f == nil {
		if err := s.open(); err != nil {
			return 0, err
		}
	}
	for i, d := range data {
		line := append(d[:len(d):len(d)], '\n')
		if s.MaxSize > 0 && s.size > 0 && s.size+int64(len(line)) > s.MaxSize {
			// What is written so far is synced by the close in rotate.
			if err := s.f.Sync(); err != nil {
				return 0, err
			}
			if err := s.rotate(); err != nil {
				return i, err
			}
		}
		n, err := s.f.Write(line)
		s.size += int64(n)
		if err != nil {
			return 0, errors.Join(err, s.f.Sync())
		}
	}
	if err := s.f.Sync(); err != nil {
		return 0, err
	}
	return len(data), nil
}

// Close implements [Sink].
func (s *FileSink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// SignatureHeader carries a webhook body's HMAC-SHA256 under the
// configured secret: "sha256=" and the hex digest.
const SignatureHeader = "X-Vigil-Signature"

// WebhookSink POSTs each event as JSON to URL. A 2xx answer accepts it;
// anything else is retried up to Retries times with a doubling backoff from
// Backoff, and then the dispatcher retries later.
type WebhookSink struct {
	URL     string
	Timeout time.Duration // per request; 0 means 10 s
	Retries int
	Backoff time.Duration // 0 means 200 ms
	// Secret, if set, signs each body in [SignatureHeader].
	Secret []byte
	Client *http.Client // nil: a client of its own
}

// Send implements [Sink]: one POST per event, in order.
func (s *WebhookSink) Send(ctx context.Context, evs []*Event, data [][]byte) (int, error) {
	for i := range evs {
		if err := s.send(ctx, evs[i], data[i]); err != nil {
			return i, err
		}
	}
	return len(evs), nil
}

func (s *WebhookSink) send(ctx context.Context, ev *Event, data []byte) error {
	backoff := s.Backoff
	if backoff <= 0 {
		backoff = 200 * time.Millisecond
	}
	var err error
	for try := 0; ; try++ {
		if err = s.post(ctx, ev, data); err == nil || try >= s.Retries {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

func (s *WebhookSink) post(ctx context.Context, ev *Event, data []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if ev.Event.ID != "" {
		req.Header.Set("X-Vigil-Event-Id", ev.Event.ID)
	}
	if len(s.Secret) > 0 {
		m := hmac.New(sha256.New, s.Secret)
		m.Write(data)
		req.Header.Set(SignatureHeader, "sha256="+hex.EncodeToString(m.Sum(nil)))
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	err = errors.Join(cerr, resp.Body.Close())
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: %s: %w", s.URL, resp.Status, ErrRefused)
	}
	return err
}

// Close implements [Sink].
func (s *WebhookSink) Close() error { return nil }
