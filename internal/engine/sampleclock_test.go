package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vigil/internal/engine"
	"vigil/internal/fimtest"
	"vigil/scanner"
)

// clockFixture is a fixture whose checks keep a sample state file and run
// by a clock the test moves a whole sample period at a time.
type clockFixture struct {
	*fixture
	state string
	t0    time.Time
	files []string
}

const clockWithin = 9 // epochs of 5 periods

func newClockFixture(t *testing.T) *clockFixture {
	t.Helper()
	tree := fimtest.Tree{}
	var files []string
	for i := range 60 {
		name := fmt.Sprintf("d%d/f%02d", i%3, i)
		tree[name] = fimtest.File(name)
		files = append(files, name)
	}
	f := newFixture(t, tree)
	f.cfg.RereadWithin = clockWithin
	fimtest.SleepPastRacy()
	f.init(t)
	return &clockFixture{fixture: f, state: filepath.Join(t.TempDir(), "sample"), t0: time.Now(), files: files}
}

// checkAt runs a whole check at period i after the baseline's and returns
// its result and how many files the sample read.
func (c *clockFixture) checkAt(t *testing.T, i int) (engine.Result, int64) {
	t.Helper()
	o, st := c.statsOpts()
	o.SampleFile = c.state
	o.Now = func() time.Time { return c.t0.Add(time.Duration(i) * engine.DefaultSamplePeriod) }
	changes, errs, res := c.check(t, o)
	if len(changes) != 0 || len(errs) != 0 {
		t.Fatalf("check at period +%d reported %v, %v; want nothing", i, changes, errs)
	}
	return res, st.Sampled.Load()
}

// period returns the number of the sample period i periods after t0.
func (c *clockFixture) period(i int) uint64 {
	return uint64(c.t0.Add(time.Duration(i)*engine.DefaultSamplePeriod).UnixNano() / int64(engine.DefaultSamplePeriod))
}

// due counts the files due at any of periods i-back..i with the state's key.
func (c *clockFixture) due(t *testing.T, i int, back uint64) int64 {
	t.Helper()
	s, _, err := engine.LoadSampleState(c.state)
	if err != nil {
		t.Fatalf("LoadSampleState(%s): %v", c.state, err)
	}
	smp := scanner.Sample{Key: s.Key, Check: c.period(i), Back: back, Within: clockWithin}
	n := int64(0)
	for _, rel := range c.files {
		if e := c.entry(t, rel); e != nil && smp.Due(e) {
			n++
		}
	}
	return n
}

// wantAlert fails unless err is (or, for nil, is not) an alert of want.
func wantAlert(t *testing.T, what string, got error, want ...error) {
	t.Helper()
	if len(want) == 0 && got != nil {
		t.Errorf("%s: SampleAlert = %v, want none", what, got)
	}
	for _, w := range want {
		if !errors.Is(got, w) {
			t.Errorf("%s: SampleAlert = %v, want %v", what, got, w)
		}
	}
}

// TestSampleClock: a whole check reads the files due in the sample period
// the clock says, whatever the state file says; the state file adds the
// periods no check recorded; what is done to the file is an alert.
func TestSampleClock(t *testing.T) {
	t.Parallel()
	t.Run("one check a period", func(t *testing.T) {
		t.Parallel()
		c := newClockFixture(t)
		for i := range 3 {
			res, n := c.checkAt(t, i)
			wantAlert(t, fmt.Sprintf("check %d", i), res.SampleAlert)
			if want := c.due(t, i, 0); n != want {
				t.Errorf("check at period +%d read %d files of the sample, want the %d due then", i, n, want)
			}
			if s, _, err := engine.LoadSampleState(c.state); err != nil || s.Check != c.period(i) {
				t.Errorf("after the check at period +%d the state is at %d (%v), want %d", i, s.Check, err, c.period(i))
			}
		}
	})
	t.Run("periods missed are made up", func(t *testing.T) {
		t.Parallel()
		c := newClockFixture(t)
		c.checkAt(t, 0)
		res, n := c.checkAt(t, 3)
		wantAlert(t, "check after 2 missed periods", res.SampleAlert)
		if want := c.due(t, 3, 2); n != want || want <= c.due(t, 3, 0) {
			t.Errorf("check after 2 missed periods read %d files, want the %d due in the 3 periods (more than %d)", n, want, c.due(t, 3, 0))
		}
	})
	t.Run("deleted", func(t *testing.T) {
		t.Parallel()
		c := newClockFixture(t)
		c.checkAt(t, 0)
		must(t, os.Remove(c.state))
		res, _ := c.checkAt(t, 1)
		wantAlert(t, "deleted in the baseline's next period", res.SampleAlert)
		must(t, os.Remove(c.state))
		res, n := c.checkAt(t, 4)
		wantAlert(t, "deleted 4 periods after the baseline", res.SampleAlert, engine.ErrStateMissing)
		if want := c.due(t, 4, 0); n != want {
			t.Errorf("check without a state read %d files, want the %d due in its period", n, want)
		}
	})
	t.Run("written back", func(t *testing.T) {
		t.Parallel()
		c := newClockFixture(t)
		c.checkAt(t, 0)
		old, err := os.ReadFile(c.state)
		must(t, err)
		c.checkAt(t, 1)
		must(t, os.WriteFile(c.state, old, 0o600))
		res, _ := c.checkAt(t, 2)
		wantAlert(t, "state written back", res.SampleAlert, engine.ErrStateReplaced)
		res, _ = c.checkAt(t, 3)
		wantAlert(t, "the check after", res.SampleAlert)
	})
	t.Run("ahead", func(t *testing.T) {
		t.Parallel()
		c := newClockFixture(t)
		c.checkAt(t, 0)
		s, _, err := engine.LoadSampleState(c.state)
		must(t, err)
		s.Check = c.period(7)
		must(t, s.Save(c.state))
		res, n := c.checkAt(t, 1)
		wantAlert(t, "state ahead of the clock", res.SampleAlert, engine.ErrStateAhead)
		if want := c.due(t, 1, 0); n != want {
			t.Errorf("check with a state ahead read %d files, want the %d due in its period", n, want)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		t.Parallel()
		c := newClockFixture(t)
		c.checkAt(t, 0)
		must(t, os.WriteFile(c.state, []byte("garbage\n"), 0o600))
		res, _ := c.checkAt(t, 1)
		wantAlert(t, "state damaged", res.SampleAlert, engine.ErrStateCorrupt)
		res, _ = c.checkAt(t, 2)
		wantAlert(t, "the check after", res.SampleAlert)
	})
	t.Run("scoped", func(t *testing.T) {
		t.Parallel()
		c := newClockFixture(t)
		o := c.opts()
		o.SampleFile, o.Paths = c.state, []string{c.path("d1")}
		o.Now = func() time.Time { return c.t0.Add(5 * engine.DefaultSamplePeriod) }
		_, _, res := c.check(t, o)
		wantAlert(t, "scoped check without a state", res.SampleAlert)
		if _, err := os.Lstat(c.state); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after a scoped check, Lstat(%s) = %v, want no file", c.state, err)
		}
	})
	t.Run("frozen", func(t *testing.T) {
		fimtest.NeedRoot(t, "sets the immutable flag")
		t.Parallel()
		for _, flag := range []int{fsImmutable, fsAppend} {
			c := newClockFixture(t)
			c.checkAt(t, 0)
			setFlags(t, c.state, flag)
			res, n := c.checkAt(t, 1)
			wantAlert(t, fmt.Sprintf("state with flag %#x", flag), res.SampleAlert, engine.ErrStateFrozen, engine.ErrStateUnwritten)
			if want := c.due(t, 1, 0); n != want {
				t.Errorf("check with a frozen state read %d files, want the %d due in its period", n, want)
			}
		}
	})
	t.Run("directory frozen", func(t *testing.T) {
		fimtest.NeedRoot(t, "sets the immutable flag")
		t.Parallel()
		c := newClockFixture(t)
		c.checkAt(t, 0)
		setFlags(t, filepath.Dir(c.state), fsImmutable)
		res, _ := c.checkAt(t, 1)
		wantAlert(t, "state in an immutable directory", res.SampleAlert, engine.ErrStateUnwritten)
	})
}

// Inode flags (linux/fs.h), as chattr +i and +a set them.
const (
	fsImmutable = 0x10
	fsAppend    = 0x20
)

// setFlags adds inode flags to path, and takes them off when the test ends.
func setFlags(t *testing.T, path string, flags int) {
	t.Helper()
	var old uint32
	set := func(add bool) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if add {
			if old, err = unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS); err != nil {
				return err
			}
			return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(old)|flags)
		}
		return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(old))
	}
	if err := set(true); err != nil {
		t.Fatalf("FS_IOC_SETFLAGS +%#x on %s: %v", flags, path, err)
	}
	t.Cleanup(func() {
		if err := set(false); err != nil {
			t.Errorf("taking the flags %#x off %s: %v", flags, path, err)
		}
	})
}
