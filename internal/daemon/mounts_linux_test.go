package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/alerts"
	"vigil/internal/fimtest"
)

// mountNSChild marks the test binary run in a mount namespace of its own.
const mountNSChild = "VIGIL_TEST_MOUNTNS_CHILD"

// inMountNamespace runs the test named again in a child process with a
// private mount namespace and reports whether the caller is that child
// (then it goes on with the test); in the parent it checks the child
// passed and returns false.
func inMountNamespace(t *testing.T) bool {
	t.Helper()
	if os.Getenv(mountNSChild) != "" {
		// Nothing mounted here propagates to the host.
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Fatalf("making / private in the child's namespace: %v", err)
		}
		return true
	}
	fimtest.NeedRoot(t, "mounts in a mount namespace of its own")
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), mountNSChild+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in a mount namespace: %v\n%s", t.Name(), err, out)
	}
	return false
}

// TestMountChanged: a tmpfs mounted over a watched directory while the
// daemon runs is a mount_changed alert, and the check of the subtree it
// sets off reports what the mount hides and shows (no hint from the
// intake); the unmount likewise.
func TestMountChanged(t *testing.T) {
	if !inMountNamespace(t) {
		return
	}
	h := newHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root"), "etc/group": fimtest.File("wheel")}, "")
	h.mounts = true
	h.cfg.RereadWithin = 0
	h.start(t, Options{})
	h.sink.await(t, "the start", func(evs []alerts.Event) bool { return count(evs, "start") > 0 })

	// A tmpfs made ready elsewhere, then put over etc in one step.
	stage := t.TempDir()
	if err := unix.Mount("tmpfs", stage, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stage, "passwd"), []byte("root\nevil"), 0o644); err != nil {
		t.Fatal(err)
	}
	etc := h.path("etc")
	if err := unix.Mount(stage, etc, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	mounted := func(change string) func([]alerts.Event) bool {
		return func(evs []alerts.Event) bool {
			for _, ev := range find(evs, "mount_changed", etc) {
				if ev.Vigil.Mount.Change == change && ev.Vigil.Mount.FSType == "tmpfs" && ev.Event.Severity == alerts.SeverityAlert {
					return true
				}
			}
			return false
		}
	}
	h.sink.await(t, "mount_changed (mounted) on "+etc, mounted("mounted"))
	h.sink.await(t, "updated "+h.path("etc/passwd"), has("updated", h.path("etc/passwd")))
	h.sink.await(t, "deleted "+h.path("etc/group"), has("deleted", h.path("etc/group")))

	if err := unix.Unmount(etc, 0); err != nil {
		t.Fatal(err)
	}
	h.sink.await(t, "mount_changed (unmounted) on "+etc, mounted("unmounted"))
	h.sink.await(t, "resolved "+h.path("etc/passwd"), has("resolved", h.path("etc/passwd")))
	if err := unix.Unmount(stage, 0); err != nil {
		t.Fatal(err)
	}
}
