package bench

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAideConfig(t *testing.T) {
	f := newAideFiles("/w/aide-check")
	got, err := aideConfig(f, "/w/corpus/files-1.0+x")
	if err != nil {
		t.Fatalf("aideConfig() = %v", err)
	}
	want := `# written by vigil's bench package
database_in=file:/w/aide-check/aide.db
database_out=file:/w/aide-check/aide.db.new
database_new=file:/w/aide-check/aide.db.new
database_attrs=E
gzip_dbout=no
num_workers=2
/w/corpus/files-1\.0\+x($|/) p+i+n+u+g+s+m+c+sha256
`
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("aideConfig() (-got +want):\n%s", diff)
	}
}

func TestAideConfigRejectsUnsafePaths(t *testing.T) {
	for _, root := range []string{"relative/root", "/with space", "/with@at", `/back\slash`, "/per%20cent", "/new\nline"} {
		if _, err := aideConfig(newAideFiles("/w"), root); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("aideConfig(root %q) = %v, want %v", root, err, ErrUnsafePath)
		}
	}
}

func TestAcceptAideCheck(t *testing.T) {
	for status, want := range map[int]error{0: nil, 1: nil, 7: nil, 13: nil, 14: ErrExitStatus, 17: ErrExitStatus} {
		if got := acceptAideCheck(status); !errors.Is(got, want) || (want == nil && got != nil) {
			t.Errorf("acceptAideCheck(%d) = %v, want %v", status, got, want)
		}
	}
}

// TestRunAide runs both aide tools for real when aide is installed.
func TestRunAide(t *testing.T) {
	if _, err := exec.LookPath("aide"); err != nil {
		t.Skip("aide is not installed (apt-get install aide): skipping")
	}
	before := dirNames(t, "/var/lib/aide")
	c := tinyTree(t, 200)
	tools, err := Tools([]string{AideInit, AideCheck}, Binaries{})
	if err != nil {
		t.Fatalf("Tools() = %v", err)
	}
	work := t.TempDir()
	res, err := Run(t.Context(), work, []Corpus{c}, tools, Options{Rounds: 1})
	if err != nil {
		t.Fatalf("Run(aide) = %v", err)
	}
	initRes, checkRes := res.Corpora[0].Tools[0], res.Corpora[0].Tools[1]
	// A line per entry: the database is larger than a few bytes per file.
	if initRes.DBBytes < c.Entries*50 || checkRes.DBBytes != 0 {
		t.Errorf("database sizes: init %d, check %d; want init >= %d (50 per entry), check 0", initRes.DBBytes, checkRes.DBBytes, c.Entries*50)
	}
	if _, err := os.Stat(filepath.Join(work, c.Name, AideCheck, "aide.db")); err != nil {
		t.Errorf("aide --check baseline: %v", err)
	}
	if diff := cmp.Diff(dirNames(t, "/var/lib/aide"), before); diff != "" {
		t.Errorf("/var/lib/aide changed during the run (-after +before):\n%s", diff)
	}
}

// dirNames lists a directory, or returns nil if it does not exist.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
