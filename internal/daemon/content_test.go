package daemon

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// TestFileSinkGetsDiff: an sshd_config edit reaches a file sink with
// vigil.diff (the changed line, the password masked), and a sink with
// diff = false without it.
func TestFileSinkGetsDiff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		withDiff, noDiff := filepath.Join(dir, "with.json"), filepath.Join(dir, "without.json")
		tree := fimtest.Tree{"etc/ssh/sshd_config": fimtest.File("Port 22\nPermitRootLogin no\n# password = old-one\n")}
		h := newHostFor(t, tree, func(root string) string {
			return fmt.Sprintf("[[sink]]\ntype = \"file\"\npath = %q\n[[sink]]\ntype = \"file\"\npath = %q\ndiff = false\n"+
				"[[rule]]\npaths = [%q]\ndiff = true\n", withDiff, noDiff, root+"/etc/**")
		})
		h.startIdle(t, Options{})
		h.write(t, "etc/ssh/sshd_config", "Port 22\nPermitRootLogin yes\n# password = new-one\n")
		h.settle(time.Second)
		find := func(path string) *alerts.Event {
			for _, ev := range readEvents(t, path) {
				if ev.Event.Action == "updated" && ev.File != nil && strings.HasSuffix(ev.File.Path, "sshd_config") {
					return &ev
				}
			}
			t.Fatalf("%s: no updated event of sshd_config", path)
			return nil
		}
		ev := find(withDiff)
		if ev.Vigil == nil || ev.Vigil.Diff == nil || !strings.Contains(ev.Vigil.Diff.Unified, "+PermitRootLogin yes\n") {
			t.Fatalf("file sink: vigil = %+v, want vigil.diff with +PermitRootLogin yes", ev.Vigil)
		}
		if d := ev.Vigil.Diff.Unified; strings.Contains(d, "new-one") || !strings.Contains(d, "+# password = ****") {
			t.Errorf("file sink: diff does not mask the password:\n%s", d)
		}
		if len(ev.Vigil.Security) == 0 {
			t.Errorf("file sink: no vigil.security beside the diff")
		}
		if ev := find(noDiff); ev.Vigil == nil || ev.Vigil.Diff != nil || len(ev.Vigil.Security) == 0 {
			t.Errorf("sink with diff = false: vigil = %+v, want no diff and the classification", ev.Vigil)
		}
	})
}
