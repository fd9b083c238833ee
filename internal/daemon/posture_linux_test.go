package daemon

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/posture"
	"vigil/store"
)

// TestPostureJobs: in a network namespace of the test's own, the posture
// recorded by init is compared by the posture job (posture.interval) and
// by whole checks: ip_forward turned on is one posture_changed event (info
// in the setup phase), not repeated, and resolved once turned off again.
func TestPostureJobs(t *testing.T) {
	fimtest.NeedRoot(t, "unshares a network namespace")
	var disable []string
	for _, c := range posture.Collectors {
		if c != "sysctl" {
			disable = append(disable, strconv.Quote(c))
		}
	}
	h := newHostAt(t, t.TempDir(), fimtest.Tree{"a": fimtest.File("a")}, func(string) string {
		return "[posture]\nenable = true\ndisable = [" + strings.Join(disable, ", ") + "]\n"
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Errorf("unshare(CLONE_NEWNET): %v", err)
			return
		}
		postureJobs(t, h)
	}()
	<-done
}

func postureJobs(t *testing.T, h *host) {
	eng, err := engine.New(h.cfg, engine.Settings{Host: "test"})
	if err != nil {
		t.Error(err)
		return
	}
	db, err := store.Open(h.db, store.Options{})
	if err == nil {
		if _, err = eng.Init(t.Context(), db, engine.Request{}, nil); err == nil {
			_, err = eng.KeepCheckpoint(db, nil) // as vigil init does
		}
		err = errors.Join(err, db.Close())
	}
	if err != nil {
		t.Errorf("init with the posture: %v", err)
		return
	}
	v := &verifier{dbPath: h.db, host: "test", log: zerolog.Nop(), lockWait: wait,
		alerted: map[string]string{}, resolved: map[string]int{}, dirty: map[string]bool{}, stats: newStats()}
	run := func(j job) []alerts.Event {
		evs, err := v.run(t.Context(), h.cfg, j)
		if err != nil {
			t.Errorf("verifier.run(%+v): %v", j, err)
		}
		return evs
	}
	setForward := func(v string) {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(v), 0); err != nil {
			t.Error(err)
		}
	}
	pj := job{posture: true, why: "posture"}
	if evs := run(pj); len(evs) != 0 {
		t.Errorf("posture job on an unchanged host: %s, want none", describe(evs))
	}
	setForward("1")
	evs := run(pj)
	i := slices.IndexFunc(evs, func(ev alerts.Event) bool {
		return ev.Vigil != nil && ev.Vigil.Posture != nil && ev.Vigil.Posture.Key == "sysctl:net.ipv4.ip_forward"
	})
	if i < 0 || evs[i].Event.Action != "posture_changed" || evs[i].Vigil.Posture.New != "1" || evs[i].Event.Severity != alerts.SeverityInfo ||
		evs[i].Event.ID == "" || evs[i].Vigil.Phase != "setup" {
		t.Errorf("posture job after ip_forward=1: %s, want posture_changed 0 -> 1, info, with an id", describe(evs))
	}
	if evs := run(pj); len(evs) != 0 {
		t.Errorf("posture job again: %s, want none (alerted already)", describe(evs))
	}
	if evs := run(job{whole: true, why: "scan"}); len(evs) != 0 {
		t.Errorf("whole check: %s, want none (the posture finding stands, alerted already)", describe(evs))
	}
	setForward("0")
	evs = run(pj)
	if len(actions(evs, "resolved")) == 0 {
		t.Errorf("posture job with ip_forward back to 0: %s, want the findings resolved", describe(evs))
	}
	for p := range v.alerted {
		if strings.HasPrefix(p, posturePrefix) && v.alerted[p] != "" {
			t.Errorf("posture finding %s still stands", p)
		}
	}
	setForward("1")
	if evs := run(job{whole: true, why: "scan"}); len(evs) == 0 {
		t.Errorf("whole check after ip_forward=1: no events, want the posture change")
	}
	setForward("0")
}
