package daemon

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vigil/alerts"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
)

// TestMountAppearingIsMarked: a tmpfs mounted over a watched directory
// while the daemon runs (in the test's own mount namespace) gets an
// intake of its own: fanotify marks it (or, where it cannot, inotify
// watches it), /status says so, and a file a child process then writes in
// it is an alert from the intake's hint (with the process, when fanotify
// saw it), not left to the next scan an hour away.
func TestMountAppearingIsMarked(t *testing.T) {
	for _, intake := range []string{"fanotify", "inotify"} {
		t.Run(intake, func(t *testing.T) {
			if !inMountNamespace(t) {
				return
			}
			h := fanotifyHost(t, fimtest.Tree{"etc/passwd": fimtest.File("root"), "var/log": fimtest.Dir(0o755)})
			h.cfg.Watch.Intake = intake
			h.mounts = true
			h.cfg.Watch.Listen = "127.0.0.1:0"
			addr := make(chan string, 1)
			h.start(t, Options{onListen: func(a string) { addr <- a }})
			base := "http://" + <-addr
			h.sink.await(t, "the start", func(evs []alerts.Event) bool { return count(evs, "start") > 0 })

			etc := h.path("etc")
			if err := unix.Mount("tmpfs", etc, "tmpfs", 0, "size=1m"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { unix.Unmount(etc, unix.MNT_DETACH) })
			h.sink.await(t, "mount_changed on "+etc, has("mount_changed", etc))
			h.sink.await(t, "deleted "+h.path("etc/passwd")+" (hidden by the mount)", has("deleted", h.path("etc/passwd")))
			// fanotify: /status lists the mount once it is marked (or left
			// to inotify). inotify's new watches show in no count; a file
			// written before them is verified by the check the new intake
			// asks for once in place.
			var st Status
			for deadline := time.Now().Add(wait); intake == "fanotify"; time.Sleep(10 * time.Millisecond) {
				code, body := get(t, base+"/status")
				if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
					t.Fatalf("/status = %d %v:\n%s", code, err, body)
				}
				cov := st.Coverage
				if slices.Contains(cov.Filesystems, etc) || slices.ContainsFunc(cov.Inotify, func(u watch.Unmarked) bool { return u.Path == etc }) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/status coverage after the mount: %+v, want %s marked or left to inotify", cov, etc)
				}
			}

			// Written by another process: fanotify ignores the daemon's own.
			shadow := filepath.Join(etc, "shadow")
			cmd := exec.Command("sh", "-c", "echo evil > "+shadow)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sh: %v\n%s", err, out)
			}
			ev := find(h.sink.await(t, "created "+shadow, has("created", shadow)), "created", shadow)[0]
			if marked := slices.Contains(st.Coverage.Filesystems, etc); marked && (ev.Process == nil || ev.Process.PID != cmd.Process.Pid) {
				t.Errorf("created %s in the marked mount: process %+v, want pid %d (fanotify's hint)", shadow, ev.Process, cmd.Process.Pid)
			}
		})
	}
}
