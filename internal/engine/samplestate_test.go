//go:build linux

package engine_test

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/internal/engine"
)

// TestSampleStateRoundTrip: a missing state file gives a fresh key; a saved
// one reads back as saved, mode 0600; the key never shows in its string
// forms.
func TestSampleStateRoundTrip(t *testing.T) {
	t.Parallel()
	path := engine.SamplePath(filepath.Join(t.TempDir(), "vigil.db"))
	s, created, err := engine.LoadSampleState(path)
	if err != nil || !created {
		t.Fatalf("LoadSampleState(%s) of no file = %v, created %v; want nil, true", path, err, created)
	}
	if s.Key == ([32]byte{}) || s.Check != 0 {
		t.Errorf("fresh state: key zero %v, check %d; want a random key, 0", s.Key == [32]byte{}, s.Check)
	}
	s.Check = 41
	if err := s.Save(path); err != nil {
		t.Fatalf("Save(%s): %v", path, err)
	}
	got, created, err := engine.LoadSampleState(path)
	if err != nil || created || !sameState(got, s) {
		t.Errorf("LoadSampleState after Save = check %d, same key %v, written %v, created %v, %v; want check 41, same key, written %v, false, nil",
			got.Check, got.Key == s.Key, got.Written, created, err, s.Written)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("state file %s: %v, mode %v; want 0600", path, err, st.Mode())
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, hex.EncodeToString(s.Key[:8])) {
			t.Errorf("Sprintf(%q, state) = %q: shows the key", f, out)
		}
	}
}

// TestSampleStateRefused: a damaged state file and one others could read or
// replace fail with errors naming the file; a temporary file planted beside
// it is not written through.
func TestSampleStateRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, err := engine.NewSampleState()
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, name string) string {
		p := filepath.Join(dir, name)
		if err := good.Save(p); err != nil {
			t.Fatalf("Save(%s): %v", p, err)
		}
		return p
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, p string)
		want   error
	}{
		{"byte flipped", func(t *testing.T, p string) { flipByte(t, p, 30) }, engine.ErrStateCorrupt},
		{"truncated", func(t *testing.T, p string) { must(t, os.Truncate(p, 40)) }, engine.ErrStateCorrupt},
		{"empty", func(t *testing.T, p string) { must(t, os.Truncate(p, 0)) }, engine.ErrStateCorrupt},
		{"an older version's", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, []byte("vigil-sample-state 1\nkey "+strings.Repeat("ab", 32)+"\ncheck 7\nsum 00\n"), 0o600))
		}, engine.ErrStateCorrupt},
		{"readable by others", func(t *testing.T, p string) { must(t, os.Chmod(p, 0o644)) }, engine.ErrStateUnsafe},
		{"a symlink", func(t *testing.T, p string) {
			must(t, os.Rename(p, p+".real"))
			must(t, os.Symlink(p+".real", p))
		}, engine.ErrStateUnsafe},
		{"a directory", func(t *testing.T, p string) {
			must(t, os.Remove(p))
			must(t, os.Mkdir(p, 0o700))
		}, engine.ErrStateUnsafe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, strings.ReplaceAll(tt.name, " ", "-")+".sample")
			tt.damage(t, p)
			_, _, err := engine.LoadSampleState(p)
			var pe *fs.PathError
			if !errors.Is(err, tt.want) || !errors.As(err, &pe) || pe.Path != p {
				t.Errorf("LoadSampleState(%s) = %v, want %v naming the file", p, err, tt.want)
			}
		})
	}
	t.Run("owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the file away")
		}
		p := write(t, "other.sample")
		must(t, os.Chown(p, 65534, 65534))
		if _, _, err := engine.LoadSampleState(p); !errors.Is(err, engine.ErrStateUnsafe) {
			t.Errorf("LoadSampleState of a file owned by uid 65534 = %v, want %v", err, engine.ErrStateUnsafe)
		}
	})
	t.Run("planted temporary file", func(t *testing.T) {
		p := filepath.Join(dir, "planted.sample")
		victim := filepath.Join(dir, "victim")
		must(t, os.WriteFile(victim, []byte("untouched"), 0o644))
		must(t, os.Symlink(victim, p+".tmp"))
		if err := good.Save(p); err != nil {
			t.Fatalf("Save(%s) beside a planted %s.tmp: %v", p, p, err)
		}
		if b, err := os.ReadFile(victim); err != nil || string(b) != "untouched" {
			t.Errorf("the planted symlink's target holds %q (%v), want it untouched", b, err)
		}
		if s, _, err := engine.LoadSampleState(p); err != nil || !sameState(s, good) {
			t.Errorf("LoadSampleState(%s) after Save = %v, %v; want the saved state", p, s, err)
		}
	})
}

// sameState reports whether a and b hold the same key, check and time.
func sameState(a, b engine.SampleState) bool {
	return a.Key == b.Key && a.Check == b.Check && a.Written.Equal(b.Written)
}

func flipByte(t *testing.T, p string, at int) {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	b[at] ^= 0x01
	must(t, os.WriteFile(p, b, 0o600))
}

// saverEnv makes the test binary a process that saves the state file it
// names over and over, counting up, until it is killed.
const saverEnv = "VIGIL_TEST_SAMPLE_SAVER"

func TestSampleSaverHelper(t *testing.T) {
	path := os.Getenv(saverEnv)
	if path == "" {
		t.Skip("helper process of TestSampleStateKill9")
	}
	s, _, err := engine.LoadSampleState(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		s.Check++
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			fmt.Println("saved") // the killing may start
		}
	}
}

// TestSampleStateKill9: a process saving the state file as fast as it can
// is killed with SIGKILL at random moments; every time, the file reads
// back whole, with the same key and a counter that never went back.
func TestSampleStateKill9(t *testing.T) {
	t.Parallel()
	path := engine.SamplePath(filepath.Join(t.TempDir(), "vigil.db"))
	first, err := engine.NewSampleState()
	must(t, err)
	must(t, first.Save(path))
	r := rand.New(rand.NewPCG(11, 12))
	last := uint64(0)
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSampleSaverHelper$")
		cmd.Env = append(os.Environ(), saverEnv+"="+path)
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			t.Fatalf("round %d: the saver said nothing: %v", round, err)
		}
		time.Sleep(time.Duration(5+r.IntN(45)) * time.Millisecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: the saver ended by itself (%v), want it killed", round, err)
		}
		s, _, err := engine.LoadSampleState(path)
		if err != nil {
			t.Fatalf("round %d: LoadSampleState after SIGKILL: %v", round, err)
		}
		if s.Key != first.Key || s.Check < last {
			t.Fatalf("round %d: state after SIGKILL: same key %v, check %d after %d; want the same key, no step back",
				round, s.Key == first.Key, s.Check, last)
		}
		last = s.Check
		t.Logf("round %d: check %d", round, s.Check)
	}
	if last == 0 {
		t.Errorf("after 20 rounds the counter is 0: the saver never saved")
	}
}

// TestSampleStateConcurrentSaves: two checks saving the same state file
// at once both succeed and leave one of their states, whole, and no
// temporary file.
func TestSampleStateConcurrentSaves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sample")
	errs := make(chan error, 2)
	for w := range 2 {
		go func() {
			s := engine.SampleState{Key: [32]byte{byte(w)}}
			var err error
			for i := range 50 {
				s.Check = uint64(i)
				if err = s.Save(path); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("Save(%s) beside another saver: %v", path, err)
		}
	}
	if s, _, err := engine.LoadSampleState(path); err != nil || s.Check != 49 {
		t.Errorf("LoadSampleState(%s) after both = check %d, %v; want 49, nil", path, s.Check, err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 1 {
		t.Errorf("ReadDir(%s) = %v, %v; want the state file alone", dir, ents, err)
	}
}
