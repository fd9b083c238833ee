package daemon

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"vigil/internal/config"
)

// TestReloadSendsStandingAlerts: a sink added by a reload is sent the
// alerts still standing, once (f02 written back stands as
// attributes_modified: its ctime); a second reload sends none again.
func TestReloadSendsStandingAlerts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tree, rels := twenty()
		h := newHost(t, tree, "")
		events := filepath.Join(t.TempDir(), "events.json")
		withFile := fmt.Sprintf("database = %q\nroots = [%q]\n[watch]\nsettle = \"50ms\"\n[[sink]]\ntype = \"stdout\"\n[[sink]]\ntype = \"file\"\npath = %q\n", h.db, h.root, events)
		h.startIdle(t, Options{Reload: func() (*config.Config, error) {
			return config.Parse(filepath.Join(h.dir, "vigil.toml"), []byte(withFile))
		}})
		h.write(t, rels[0], "changed")
		h.write(t, rels[1], "changed")
		h.write(t, rels[2], "changed")
		h.settle(time.Second)
		h.write(t, rels[2], "x") // content back: its ctime still differs
		h.settle(time.Second)
		if n := len(readEvents(t, events)); n != 0 {
			t.Fatalf("the file sink has %d events before it is configured", n)
		}
		h.hup <- syscall.SIGHUP
		h.settle(time.Second)
		onPaths := func() int {
			n := 0
			for _, ev := range readEvents(t, events) {
				if ev.File != nil {
					n++
				}
			}
			return n
		}
		got := readEvents(t, events)
		if onPaths() != 3 || len(find(got, "updated", h.path(rels[0]))) != 1 || len(find(got, "updated", h.path(rels[1]))) != 1 ||
			len(find(got, "attributes_modified", h.path(rels[2]))) != 1 {
			t.Fatalf("the sink added by the reload got:\n%swant the 3 standing alerts, once", describe(got))
		}
		h.hup <- syscall.SIGHUP
		h.settle(time.Second)
		if n := onPaths(); n != 3 {
			t.Errorf("after a second reload the file sink has %d alerts, want the same 3", n)
		}
	})
}
