package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// aideRule is the attribute set AIDE checks: what vigil attests for every
// entry (permissions, inode, link count, owner, group, size, mtime, ctime)
// plus a SHA-256 of the content.
const aideRule = "p+i+n+u+g+s+m+c+sha256"

// aideFirstError is the lowest exit status that aide uses for an error;
// 1 to 7 report differences (see aide(1), EXIT STATUS).
const aideFirstError = 14

// aideFiles are the files of one aide tool directory.
type aideFiles struct {
	conf, dbIn, dbOut, log string
}

func newAideFiles(dir string) aideFiles {
	return aideFiles{
		conf:  filepath.Join(dir, "aide.conf"),
		dbIn:  filepath.Join(dir, "aide.db"),
		dbOut: filepath.Join(dir, "aide.db.new"),
		log:   filepath.Join(dir, "setup.log"),
	}
}

func aideTool(name, aide string) func(context.Context, Corpus, string) (*Command, error) {
	return func(_ context.Context, c Corpus, dir string) (*Command, error) {
		f := newAideFiles(dir)
		conf, err := aideConfig(f, c.Root)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(f.conf, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		initArgv := []string{aide, "--config", f.conf, "--init"}
		if name == AideInit {
			return &Command{
				Argv:     initArgv,
				Setup:    func(context.Context) error { return removeIfExists(f.dbOut) },
				Database: f.dbOut,
			}, nil
		}
		return &Command{
			Argv:   []string{aide, "--config", f.conf, "--check"},
			Setup:  func(ctx context.Context) error { return aideBaseline(ctx, f, initArgv) },
			Accept: acceptAideCheck,
		}, nil
	}
}

// aideConfig returns an aide.conf that keeps every database in the files of f
// and has one rule, for root.
func aideConfig(f aideFiles, root string) (string, error) {
	var errs []error
	for _, p := range []string{f.dbIn, f.dbOut, root} {
		if err := aideSafe(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# written by vigil's bench package\n")
	fmt.Fprintf(&b, "database_in=file:%s\n", f.dbIn)
	fmt.Fprintf(&b, "database_out=file:%s\n", f.dbOut)
	fmt.Fprintf(&b, "database_new=file:%s\n", f.dbOut)
	fmt.Fprintf(&b, "database_attrs=E\ngzip_dbout=no\nnum_workers=2\n")
	fmt.Fprintf(&b, "%s %s\n", aideRegexp(root), aideRule)
	return b.String(), nil
}

// aideSafe rejects paths that aide.conf would read differently: relative
// ones, and ones with space, control characters, '\', '@' or '%', which the
// config syntax treats as escapes or macros.
func aideSafe(p string) error {
	if !filepath.IsAbs(p) || strings.ContainsAny(p, `\@%`) ||
		strings.ContainsFunc(p, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return &fs.PathError{Op: "aide config", Path: p, Err: ErrUnsafePath}
	}
	return nil
}

// aideRegexp returns a rule regexp that selects the tree at p: p with its
// metacharacters quoted, followed by "($|/)". AIDE anchors rules at the start
// only, so without the suffix a rule for /x/files-10 also selects
// /x/files-100.
func aideRegexp(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`.[]()*+?{}|^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteString("($|/)")
	return b.String()
}

// aideBaseline makes the database that --check reads, by running --init
// untimed, unless it exists.
func aideBaseline(ctx context.Context, f aideFiles, initArgv []string) error {
	if _, err := os.Stat(f.dbIn); err == nil {
		return nil
	}
	if err := removeIfExists(f.dbOut); err != nil {
		return err
	}
	if _, err := measure(ctx, initArgv, f.log, acceptZero); err != nil {
		return err
	}
	return os.Rename(f.dbOut, f.dbIn)
}

// acceptAideCheck accepts every status below aide's error codes: a check
// that reports differences still did all of its work.
func acceptAideCheck(status int) error {
	if status >= aideFirstError {
		return ErrExitStatus
	}
	return nil
}

func removeIfExists(path string) error {
	err := os.Remove(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
