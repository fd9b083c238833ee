package daemon

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"vigil/alerts"
	"vigil/internal/config"
)

// routes builds the sinks of c; with none configured, events go to stdout.
func routes(c *config.Config, stdout io.Writer) ([]alerts.Route, error) {
	sinks := c.Sinks
	if len(sinks) == 0 {
		sinks = []config.Sink{{Type: "stdout"}}
	}
	out := make([]alerts.Route, 0, len(sinks))
	for i, s := range sinks {
		sink, err := newSink(s, stdout)
		if err != nil {
			return nil, fmt.Errorf("sink[%d] (%s): %w", i, s.Type, err)
		}
		if s.NoDiff {
			sink = alerts.WithoutDiff(sink)
		}
		r := alerts.Route{Name: fmt.Sprintf("%d-%s", i, s.Type), Sink: sink}
		if s.MinSeverity != "" {
			r.Filter.MinSeverity, _ = alerts.ParseSeverity(s.MinSeverity)
		}
		if len(s.Paths) > 0 {
			r.Filter.Path = s.MatchPath
		}
		out = append(out, r)
	}
	return out, nil
}

func newSink(s config.Sink, stdout io.Writer) (alerts.Sink, error) {
	switch s.Type {
	case "stdout":
		return &alerts.WriterSink{W: stdout}, nil
	case "file":
		return &alerts.FileSink{Path: s.Path, MaxSize: s.MaxSize, Keep: s.Keep}, nil
	case "webhook":
		w := &alerts.WebhookSink{URL: s.URL, Timeout: s.Timeout, Retries: s.Retries, Backoff: s.Backoff}
		if s.SecretFile != "" {
			b, err := os.ReadFile(s.SecretFile)
			if err != nil {
				return nil, err
			}
			w.Secret = bytes.TrimSpace(b)
		}
		return w, nil
	case "syslog":
		network, addr := s.Network, s.Address
		if network == "" {
			network = "unixgram"
		}
		if network == "unixgram" && addr == "" {
			addr = "/dev/log"
		}
		return &alerts.SyslogSink{Network: network, Address: addr, Facility: config.FacilityCode(s.Facility), Timeout: s.Timeout}, nil
	case "exec":
		return &alerts.ExecSink{Command: s.Command, Timeout: s.Timeout}, nil
	case "nats":
		return &alerts.NATSSink{URL: s.URL, Subject: s.Subject, Timeout: s.Timeout, CredsFile: s.CredsFile}, nil
	}
	return nil, fmt.Errorf("unknown sink type %q", s.Type)
}
