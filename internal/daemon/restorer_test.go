//go:build linux

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sys/unix"

	"vigil/alerts"
	"vigil/btrfs"
	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/internal/watch"
	"vigil/store"
)

// TestEngineRestorer is the restore remediation for real: a sealed
// baseline of a tree on a loop-mounted Btrfs, with its trusted snapshot,
// the hardened phase, and a rule asking for restore. A trojan written
// over a setuid program is put back from the snapshot by the daemon,
// the trojan quarantined, and the alert resolved.
func TestEngineRestorer(t *testing.T) {
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		t.Fatal(err)
	}
	tree := fimtest.Tree{"usr/bin/sudo": fimtest.File("the real sudo").Mode(0o4755), "etc/motd": fimtest.File("hi")}
	tree.Make(t, vol)
	marker := filepath.Join(t.TempDir(), "hardened")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHostAt(t, vol, fimtest.Tree{}, func(string) string {
		return remediationRule(vol, "usr", `remediation = "restore"`) + fmt.Sprintf("[phase]\nhardened_markers = [%q]\n", marker)
	})
	skey, vkey, err := note.GenerateKey(nil, "restore-test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(h.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := engine.Seal(context.Background(), db, engine.Options{Config: h.cfg, Host: "test", Phase: engine.PhaseHardened, Signer: signer})
	db.Close()
	if err != nil {
		t.Fatalf("engine.Seal: %v", err)
	}
	if len(res.Baseline.Snapshots) != 1 {
		t.Fatalf("the seal recorded %d snapshots, want 1", len(res.Baseline.Snapshots))
	}
	h.start(t, Options{Restorer: EngineRestorer(h.cfg, note.VerifierList(verifier))})

	sudo := filepath.Join(vol, "usr", "bin", "sudo")
	if err := os.WriteFile(sudo, []byte("a trojan sudo"), 0o4755); err != nil {
		t.Fatal(err)
	}
	h.hint("usr/bin/sudo")
	_, got := awaitRemediation(t, h, "updated", sudo)
	if got.Event.Outcome != "success" || got.Vigil.Remediation.Source != res.Baseline.Snapshots[0].Path {
		t.Fatalf("restore of %s = %+v remediation %+v; want success from %s", sudo, got.Event, got.Vigil.Remediation, res.Baseline.Snapshots[0].Path)
	}
	if b, _ := os.ReadFile(sudo); string(b) != "the real sudo" {
		t.Errorf("%s holds %q after the restore", sudo, b)
	}
	if st, err := os.Stat(sudo); err != nil || st.Mode()&os.ModeSetuid == 0 {
		t.Errorf("%s after the restore: %v, %v; want setuid back", sudo, st, err)
	}
	q, err := os.ReadDir(filepath.Join(vol, btrfs.DefaultQuarantine))
	if err != nil || len(q) != 1 {
		t.Fatalf("quarantine: %v, %v; want the trojan", q, err)
	}
	qp := filepath.Join(vol, btrfs.DefaultQuarantine, q[0].Name())
	if b, _ := os.ReadFile(qp); string(b) != "a trojan sudo" {
		t.Errorf("quarantined %q, want the trojan", b)
	}
	if st, _ := os.Lstat(qp); st == nil || st.Mode().Perm() != 0 || st.Mode()&os.ModeSetuid != 0 {
		t.Errorf("quarantined copy's mode %v, want 000 without setuid", st.Mode())
	}
	h.stop(t)
}

// TestDeviceErrors: a block of a monitored file is damaged under Btrfs (a
// write to the loop image), a read of it fails its checksum and the
// device's corruption counter rises: the daemon's next whole check says
// so, as a critical device_errors event.
func TestDeviceErrors(t *testing.T) {
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i*7 + i/4096)
	}
	victim := filepath.Join(vol, "victim")
	if err := os.WriteFile(victim, data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHostAt(t, vol, fimtest.Tree{}, func(string) string { return "" })
	h.cfg.Watch.ScanInterval = 200 * time.Millisecond
	db, err := store.Open(h.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := engine.Init(context.Background(), db, engine.Options{Config: h.cfg, Host: "test"})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Baseline.DevStats) != 1 {
		t.Fatalf("the baseline recorded %d devices, want 1", len(res.Baseline.DevStats))
	}
	h.start(t, Options{})
	off := fimtest.FindBlock(t, filepath.Join(filepath.Dir(mnt), "img"), data[:4096])
	img, err := os.OpenFile(filepath.Join(filepath.Dir(mnt), "img"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.WriteAt(make([]byte, 4096), off); err != nil {
		t.Fatal(err)
	}
	img.Close()
	f, err := os.Open(victim)
	if err != nil {
		t.Fatal(err)
	}
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if _, err := io.ReadAll(f); !errors.Is(err, unix.EIO) {
		t.Fatalf("read of the damaged file = %v, want EIO", err)
	}
	f.Close()
	evs := h.sink.await(t, "device_errors", func(evs []alerts.Event) bool {
		for _, e := range evs {
			if e.Event.Action == "device_errors" {
				return true
			}
		}
		return false
	})
	for _, e := range evs {
		if e.Event.Action != "device_errors" {
			continue
		}
		if e.Event.Severity != alerts.SeverityCritical || e.Vigil == nil || e.Vigil.Device == nil ||
			e.Vigil.Device.Current["corruption_errs"] == 0 || e.Vigil.Device.Recorded["corruption_errs"] != 0 {
			t.Errorf("device_errors event: %+v %+v", e.Event, e.Vigil)
		}
	}
	h.stop(t)
}

// TestRestoredIntact: the restore remediation for real, under a rule
// monitoring every attribute, with real inotify. The file put back is a
// new inode (new ctime) in a directory with new times: the path is
// intact all the same, its alert resolved, and nothing else follows: no
// alert on the file or its directory, no second remediation, no
// transient, nothing from the quarantine the trojan went to; nor after a
// restart.
func TestRestoredIntact(t *testing.T) {
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		t.Fatal(err)
	}
	tree := fimtest.Tree{"usr/bin/sudo": fimtest.File("the real sudo").Mode(0o4755), "etc/motd": fimtest.File("hi")}
	tree.Make(t, vol)
	marker := filepath.Join(t.TempDir(), "hardened")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHostAt(t, vol, fimtest.Tree{}, func(string) string {
		return fmt.Sprintf("[[rule]]\npaths = [%q]\nattributes = [\"all\"]\nremediation = \"restore\"\n[phase]\nhardened_markers = [%q]\n", filepath.Join(vol, "usr")+"/**", marker)
	}).inotify()
	skey, vkey, err := note.GenerateKey(nil, "restore-test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	db, err := store.Open(h.db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = engine.Seal(context.Background(), db, engine.Options{Config: h.cfg, Host: "test", Phase: engine.PhaseHardened, Signer: signer})
	db.Close()
	if err != nil {
		t.Fatalf("engine.Seal: %v", err)
	}
	h.start(t, Options{Restorer: EngineRestorer(h.cfg, note.VerifierList(verifier))})

	sudo, bin := filepath.Join(vol, "usr", "bin", "sudo"), filepath.Join(vol, "usr", "bin")
	if err := os.WriteFile(sudo, []byte("a trojan sudo"), 0o4755); err != nil {
		t.Fatal(err)
	}
	_, got := awaitRemediation(t, h, "updated", sudo)
	if got.Event.Outcome != "success" {
		t.Fatalf("restore of %s = %+v remediation %+v; want success", sudo, got.Event, got.Vigil.Remediation)
	}
	h.sink.await(t, "resolved "+sudo, func(evs []alerts.Event) bool { return len(find(evs, "resolved", sudo)) > 0 })
	// A barrier: a change made after the restore is verified after what
	// the restore's own writes hinted at.
	motd := filepath.Join(vol, "etc", "motd")
	if err := os.WriteFile(motd, []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.sink.await(t, "updated "+motd, func(evs []alerts.Event) bool { return len(find(evs, "updated", motd)) > 0 })
	h.stop(t)
	// A restart: the start's whole check finds the restored file as the
	// restore left it (the marks are in the outbox file).
	h.start(t, Options{Restorer: EngineRestorer(h.cfg, note.VerifierList(verifier))})
	evs := h.sink.await(t, "the second start's notice", func(evs []alerts.Event) bool {
		n := 0
		for _, ev := range evs {
			if ev.Event.Action == "start" {
				n++
			}
		}
		return n == 2
	})
	h.stop(t)
	var onSudo []string
	remediations := 0
	for _, ev := range evs {
		if ev.Event.Action == "remediation" {
			remediations++
		}
		if ev.File == nil {
			continue
		}
		switch p := ev.File.Path; {
		case p == sudo:
			onSudo = append(onSudo, ev.Event.Action)
		case p == bin || ev.Event.Action == "transient" || strings.Contains(p, btrfs.DefaultQuarantine) || strings.Contains(p, ".vigil-snapshots"):
			t.Errorf("event %s on %s after the restore, want none", ev.Event.Action, p)
		}
	}
	if want := []string{"updated", "remediation", "resolved"}; !slices.Equal(onSudo, want) || remediations != 1 {
		t.Errorf("events on %s %q and %d remediations, want %q and 1:\n%s", sudo, onSudo, remediations, want, describe(evs))
	}
}

// TestOwnDirsNotWatched: vigil's own directories in a Btrfs subvolume
// under a root (the trusted snapshots, the quarantine) are neither watched
// nor verified: the intake is told they are excluded, and a file made and
// removed in the quarantine, hinted, is no event.
func TestOwnDirsNotWatched(t *testing.T) {
	mnt := fimtest.LoopFS(t, "btrfs", 512<<20, "noatime")
	vol := filepath.Join(mnt, "vol")
	if err := btrfs.Create(vol); err != nil {
		t.Fatal(err)
	}
	h := newHostAt(t, vol, fimtest.Tree{"etc/motd": fimtest.File("hi")}, func(string) string { return "" })
	h.init(t)
	snaps, quarantine := filepath.Join(vol, ".vigil-snapshots"), filepath.Join(vol, btrfs.DefaultQuarantine)
	for _, d := range []string{snaps, quarantine} {
		if st, err := os.Lstat(d); err != nil || !st.IsDir() {
			t.Fatalf("%s after init: %v, %v; want vigil's directory", d, st, err)
		}
	}
	h.start(t, Options{})
	h.src.mu.Lock()
	opts := h.src.opts[len(h.src.opts)-1]
	h.src.mu.Unlock()
	for _, d := range []string{snaps, quarantine} {
		if !opts.Excluded(d) {
			t.Errorf("the intake watches %s, want it excluded", d)
		}
	}
	if opts.Excluded(filepath.Join(vol, "etc")) {
		t.Errorf("the intake excludes %s", filepath.Join(vol, "etc"))
	}
	q := filepath.Join(quarantine, "x")
	if err := os.WriteFile(q, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.src.send(watch.Event{Path: q, Op: watch.Changed})
	if err := os.Remove(q); err != nil {
		t.Fatal(err)
	}
	h.src.send(watch.Event{Path: q, Op: watch.Changed})
	motd := filepath.Join(vol, "etc", "motd")
	h.write(t, "etc/motd", "changed") // the barrier: verified after the hints before it
	evs := h.sink.await(t, "updated "+motd, func(evs []alerts.Event) bool { return len(find(evs, "updated", motd)) > 0 })
	h.stop(t)
	for _, ev := range evs {
		if ev.File != nil && strings.HasPrefix(ev.File.Path, quarantine) {
			t.Errorf("event %s on %s, want none in vigil's quarantine", ev.Event.Action, ev.File.Path)
		}
	}
}
