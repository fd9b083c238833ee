package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zeebo/blake3"
)

// listing describes a tree: one line per entry with its relative path,
// type and permissions, and for files size, mtime and content hash, for
// symlinks the target.
func listing(t *testing.T, root string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", rel, info.Mode())
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %d %d %x", info.Size(), info.ModTime().UnixNano(), blake3.Sum256(data))
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			line += " -> " + target
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return lines
}

func TestGenerateIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	a, err := Generate(t.Context(), filepath.Join(dir, "a"), 700, 42)
	if err != nil {
		t.Fatalf("Generate(a, 700, 42) = %v", err)
	}
	b, err := Generate(t.Context(), filepath.Join(dir, "b"), 700, 42)
	if err != nil {
		t.Fatalf("Generate(b, 700, 42) = %v", err)
	}
	la, lb := listing(t, a.Root), listing(t, b.Root)
	if diff := cmp.Diff(la, lb); diff != "" {
		t.Errorf("two trees with seed 42 differ (-a +b):\n%s", diff)
	}
	c, err := Generate(t.Context(), filepath.Join(dir, "c"), 700, 43)
	if err != nil {
		t.Fatalf("Generate(c, 700, 43) = %v", err)
	}
	if cmp.Equal(la, listing(t, c.Root)) {
		t.Errorf("trees with seeds 42 and 43 are equal, want them to differ")
	}
	if diff := cmp.Diff(a, b, cmpIgnoreRoot); diff != "" {
		t.Errorf("corpus of two trees with seed 42 (-a +b):\n%s", diff)
	}
}

var cmpIgnoreRoot = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Root" }, cmp.Ignore())

func TestGenerateShape(t *testing.T) {
	tests := []struct {
		name     string
		files    int
		minDepth int // directories between the root and the files
	}{
		{"one file", 1, 1},
		{"one directory", 120, 1},
		{"nested", 5000, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "tree")
			c, err := Generate(t.Context(), root, tt.files, 1)
			if err != nil {
				t.Fatalf("Generate(%d) = %v", tt.files, err)
			}
			st := shape(t, root)
			if st.files != tt.files || c.Files != int64(tt.files) {
				t.Errorf("Generate(%d): %d files on disk, Corpus.Files = %d; want %d", tt.files, st.files, c.Files, tt.files)
			}
			if st.maxPerDir > maxPerDir {
				t.Errorf("Generate(%d): %d files in one directory, want at most %d", tt.files, st.maxPerDir, maxPerDir)
			}
			if st.fileDepth < tt.minDepth {
				t.Errorf("Generate(%d): files at depth %d, want at least %d", tt.files, st.fileDepth, tt.minDepth)
			}
			if c.Name != fmt.Sprintf("files-%d", tt.files) || !c.Generated || c.Entries <= int64(tt.files) {
				t.Errorf("Generate(%d) = %+v, want name files-%d, Generated, more entries than files", tt.files, c, tt.files)
			}
		})
	}
}

type treeShape struct {
	files, symlinks, maxPerDir, fileDepth int
}

func shape(t *testing.T, root string) treeShape {
	t.Helper()
	var s treeShape
	perDir := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type().IsRegular():
			s.files++
			perDir[filepath.Dir(path)]++
			rel, err := filepath.Rel(root, filepath.Dir(path))
			if err != nil {
				return err
			}
			s.fileDepth = strings.Count(rel, "/") + 1
		case d.Type()&fs.ModeSymlink != 0:
			s.symlinks++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	for _, n := range perDir {
		s.maxPerDir = max(s.maxPerDir, n)
	}
	return s
}

func TestGenerateHasSymlinks(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tree")
	if _, err := Generate(t.Context(), root, 2000, 7); err != nil {
		t.Fatalf("Generate(2000) = %v", err)
	}
	// About one file in linkOdds gets a link: 40 expected for 2000 files.
	if s := shape(t, root); s.symlinks < 10 || s.symlinks > 100 {
		t.Errorf("Generate(2000): %d symlinks, want about %d", s.symlinks, 2000/linkOdds)
	}
}

func TestGenerateErrors(t *testing.T) {
	existing := t.TempDir()
	tests := []struct {
		name string
		dir  string
		n    int
		want error
	}{
		{"zero files", filepath.Join(existing, "new"), 0, ErrFileCount},
		{"existing directory", existing, 10, ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(t.Context(), tt.dir, tt.n, 1)
			if !errors.Is(err, tt.want) {
				t.Errorf("Generate(%s, %d) = %v, want %v", tt.dir, tt.n, err, tt.want)
			}
		})
	}
}

func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src, err := Generate(t.Context(), filepath.Join(dir, "src"), 300, 3)
	if err != nil {
		t.Fatalf("Generate() = %v", err)
	}
	c, err := Copy(t.Context(), src.Root, filepath.Join(dir, "copy"))
	if err != nil {
		t.Fatalf("Copy() = %v", err)
	}
	if diff := cmp.Diff(listing(t, c.Root), listing(t, src.Root)); diff != "" {
		t.Errorf("copy differs from source (-copy +source):\n%s", diff)
	}
	want := Corpus{Name: "copy-src", Root: c.Root, Source: src.Root, Files: src.Files, Entries: src.Entries, Bytes: src.Bytes}
	if diff := cmp.Diff(c, want); diff != "" {
		t.Errorf("Copy() corpus (-got +want):\n%s", diff)
	}
	if _, err := Copy(t.Context(), src.Root, c.Root); !errors.Is(err, ErrExists) {
		t.Errorf("Copy() onto an existing path = %v, want %v", err, ErrExists)
	}
}
