package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Corpus is a directory tree that every tool runs on.
type Corpus struct {
	// Name identifies the corpus in results: "files-N" for a generated tree,
	// "copy-BASE" for a copy of a directory.
	Name string `json:"name"`
	// Root is the absolute path of the tree.
	Root string `json:"root"`
	// Source is the directory that was copied; empty for a generated tree.
	Source string `json:"source,omitempty"`
	// Generated reports whether the tree came from [Generate].
	Generated bool `json:"generated"`
	// Seed is the seed of a generated tree.
	Seed uint64 `json:"seed,omitempty"`
	// Files is the number of regular files, Entries the number of all
	// entries (the root included) and Bytes the sum of regular file sizes.
	Files   int64 `json:"files"`
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
}

// Copy copies the directory src to dst with `cp -a` (dst must not exist) and
// returns it as a corpus named "copy-" plus the base name of src.
func Copy(ctx context.Context, src, dst string) (Corpus, error) {
	if err := absent(dst); err != nil {
		return Corpus{}, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Corpus{}, err
	}
	out, err := exec.CommandContext(ctx, "cp", "-a", "--", src, dst).CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		return Corpus{}, &fs.PathError{Op: "copy", Path: src, Err: fmt.Errorf("cp: %s: %w", msg, err)}
	}
	c := Corpus{Name: "copy-" + baseName(src), Root: dst, Source: src}
	return c, c.count()
}

// baseName returns a name for the directory p that is safe in file names.
func baseName(p string) string {
	b := filepath.Base(filepath.Clean(p))
	if b == "/" || b == "." {
		return "root"
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r <= ' ' {
			return '_'
		}
		return r
	}, b)
}

// absent returns an error unless nothing exists at path.
func absent(path string) error {
	_, err := os.Lstat(path)
	if err == nil {
		return &fs.PathError{Op: "create", Path: path, Err: ErrExists}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// count fills in Files, Entries and Bytes by walking c.Root.
func (c *Corpus) count() error {
	c.Files, c.Entries, c.Bytes = 0, 0, 0
	return filepath.WalkDir(c.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		c.Entries++
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		c.Files++
		c.Bytes += info.Size()
		return nil
	})
}
