package nix

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Where Nix keeps its store, database and configuration, as the store's
// own paths name them.
const (
	StoreDir = "/nix/store"
	DBPath   = "/nix/var/nix/db/db.sqlite"
	ConfPath = "/etc/nix/nix.conf"
)

// Store is a Nix store as a host holds it: Root is the directory its
// absolute paths (/nix/store/..., /nix/var/nix/..., /run/current-system)
// are under, "/" on the host and a temporary directory in tests.
type Store struct {
	Root string
}

// Real returns where the store's absolute path p is on this host.
func (s Store) Real(p string) string {
	if s.Root == "" {
		return p
	}
	return filepath.Join(s.Root, p)
}

// Exists reports whether the store's database exists (what makes [nix]
// default to on).
func (s Store) Exists() bool {
	st, err := os.Lstat(s.Real(DBPath))
	return err == nil && st.Mode().IsRegular()
}

// Conf is what vigil reads of nix.conf.
type Conf struct {
	TrustedKeys []PublicKey
	RequireSigs bool // Nix's default is true
}

// ReadConf reads trusted-public-keys (and extra-trusted-public-keys) and
// require-sigs from the store's nix.conf; a missing file is Nix's defaults
// (no key, require-sigs true). Every key that does not parse is an error.
// include and !include lines are not followed (NixOS writes one nix.conf).
func (s Store) ReadConf() (Conf, error) {
	c := Conf{RequireSigs: true}
	name := s.Real(ConfPath)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	defer f.Close()
	var errs []error
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "trusted-public-keys", "extra-trusted-public-keys":
			for _, f := range strings.Fields(v) {
				pk, err := ParsePublicKey(f)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", name, err))
					continue
				}
				c.TrustedKeys = append(c.TrustedKeys, pk)
			}
		case "require-sigs":
			c.RequireSigs = strings.TrimSpace(v) != "false"
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &fs.PathError{Op: "read", Path: name, Err: err})
	}
	return c, errors.Join(errs...)
}

// A SystemRoot is a GC root of the system closure: the link and the store
// path it resolves to.
type SystemRoot struct {
	Link       string // /run/current-system, /nix/var/nix/profiles/system-42-link, ...
	Generation int    // the system profile's generation number, 0 if not known
	Top        string // the store path it points into
}

// SystemRoots resolves the system profile's links
// (/nix/var/nix/profiles/system*), /run/current-system and
// /run/booted-system to their store paths, reading each link without ever
// following it on the host: a target is mapped back under [Store.Root].
// Links that do not exist are left out; the generation of the profile and
// of /run/*-system is that of the generation link with the same target.
//
// The generation links come first, oldest first, then the rest: the root
// that reaches a path first is the generation that brought it, which
// stays so while later generations are made and the profile and
// /run/current-system move (attributed to those, a path would change
// generation, and be reported again, at every switch).
func (s Store) SystemRoots() ([]SystemRoot, error) {
	var links, others []string
	profiles := "/nix/var/nix/profiles"
	ents, err := os.ReadDir(s.Real(profiles))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		switch {
		case generationOf(e.Name()) > 0:
			links = append(links, path.Join(profiles, e.Name()))
		case strings.HasPrefix(e.Name(), "system"):
			others = append(others, path.Join(profiles, e.Name()))
		}
	}
	slices.SortStableFunc(links, func(a, b string) int {
		return cmp.Compare(generationOf(path.Base(a)), generationOf(path.Base(b)))
	})
	links = append(links, others...)
	links = append(links, "/run/current-system", "/run/booted-system")
	var out []SystemRoot
	gens := map[string]int{}
	for _, l := range links {
		top, err := s.resolve(l)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		r := SystemRoot{Link: l, Top: top}
		if n := generationOf(path.Base(l)); n > 0 {
			r.Generation = n
			if _, ok := gens[top]; !ok {
				gens[top] = n
			}
		}
		out = append(out, r)
	}
	for i := range out {
		if out[i].Generation == 0 {
			out[i].Generation = gens[out[i].Top]
		}
	}
	return out, nil
}

// generationOf returns N of a profile's generation link system-N-link, or
// 0 for any other name.
func generationOf(name string) int {
	g, ok := strings.CutPrefix(name, "system-")
	if !ok {
		return 0
	}
	g, ok = strings.CutSuffix(g, "-link")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(g)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// resolve reads the chain of symlinks from the store's absolute path l
// until it reaches a path under the store directory, and returns that
// store path (/nix/store/<name>).
func (s Store) resolve(l string) (string, error) {
	cur := l
	for range 40 {
		if sp, ok := storePathOf(cur); ok {
			return sp, nil
		}
		target, err := os.Readlink(s.Real(cur))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(path.Dir(cur), target)
		}
		cur = path.Clean(target)
	}
	return "", &fs.PathError{Op: "readlink", Path: s.Real(l), Err: errors.New("too many levels of symbolic links")}
}

// storePathOf returns the store path p is in or below.
func storePathOf(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, StoreDir+"/")
	if !ok || rest == "" {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "/")
	return StoreDir + "/" + name, true
}

// Closure returns the store paths reachable from tops through the
// references of paths, each with the first top that reaches it. A top or
// reference the database does not list is included (and reaches nothing).
func Closure(paths map[string]*PathInfo, tops []string) map[string]string {
	out := map[string]string{}
	for _, top := range tops {
		todo := []string{top}
		for len(todo) > 0 {
			p := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			if _, seen := out[p]; seen {
				continue
			}
			out[p] = top
			if info := paths[p]; info != nil {
				todo = append(todo, info.Refs...)
			}
		}
	}
	return out
}

// SortedKeys returns the keys of m in order.
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
