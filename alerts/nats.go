package alerts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSSink publishes events to NATS JetStream: subject Subject (default
// "vigil.events." and the event's host, dots made underscores), the event
// as JSON, header Nats-Msg-Id set to event.id so that the stream drops a
// redelivered event within its duplicate window. An event counts as
// accepted only once JetStream acknowledged it. The stream (for example
// subjects "vigil.events.>") is the operator's to create.
type NATSSink struct {
	URL       string
	Subject   string
	Timeout   time.Duration // connect and each publish; 0 means 10 s
	CredsFile string        // optional NATS credentials file
	nc        *nats.Conn
	js        jetstream.JetStream
}

func (s *NATSSink) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 10 * time.Second
}

func (s *NATSSink) connect() error {
	opts := []nats.Option{nats.Name("vigil watch"), nats.Timeout(s.timeout()), nats.MaxReconnects(-1)}
	if s.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(s.CredsFile))
	}
	nc, err := nats.Connect(s.URL, opts...)
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	s.nc, s.js = nc, js
	return nil
}

// subject returns the subject of ev.
func (s *NATSSink) subject(ev *Event) string {
	if s.Subject != "" {
		return s.Subject
	}
	host := "unknown"
	if ev.Host != nil && ev.Host.Name != "" {
		host = strings.NewReplacer(".", "_", " ", "_", "*", "_", ">", "_").Replace(ev.Host.Name)
	}
	return "vigil.events." + host
}

// Send implements [Sink].
func (s *NATSSink) Send(ctx context.Context, evs []*Event, data [][]byte) (int, error) {
	if s.nc == nil {
		if err := s.connect(); err != nil {
			return 0, err
		}
	}
	for i, ev := range evs {
		msg := nats.NewMsg(s.subject(ev))
		msg.Data = data[i]
		if ev.Event.ID != "" {
			msg.Header.Set(jetstream.MsgIDHeader, ev.Event.ID)
		}
		pctx, cancel := context.WithTimeout(ctx, s.timeout())
		_, err := s.js.PublishMsg(pctx, msg)
		cancel()
		if err != nil {
			return i, err
		}
	}
	return len(evs), nil
}

// Close implements [Sink].
func (s *NATSSink) Close() error {
	if s.nc == nil {
		return nil
	}
	err := s.nc.Drain()
	s.nc, s.js = nil, nil
	if errors.Is(err, nats.ErrConnectionClosed) {
		return nil
	}
	return err
}
