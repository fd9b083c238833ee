package console

import (
	"fmt"
	"io"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkFleetPage renders the fleet page of 1,000 hosts, each with a
// month of days on the timeline.
func BenchmarkFleetPage(b *testing.B) {
	f := &fixture{}
	for i := range 1000 {
		h := Host{HostSummary: HostSummary{Name: fmt.Sprintf("hv%04d", i), Profile: fmt.Sprintf("p%d", i%5), Phase: "hardened",
			Sealed: true, Root: fmt.Sprintf("%064x", i), Witnessed: uint64(i), Heartbeat: t0.Add(-time.Duration(i) * time.Second),
			State: "ok", Drift: i % 7}}
		for d := range 30 {
			h.Days = append(h.Days, Day{Date: t0.Add(-time.Duration(d) * 24 * time.Hour), Alerts: i % 3, Changes: d})
		}
		f.hosts = append(f.hosts, h)
	}
	c, err := New(f, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
		n, _ := io.Copy(io.Discard, rec.Body)
		size = int(n)
	}
	b.ReportMetric(float64(size), "bytes/page")
}
