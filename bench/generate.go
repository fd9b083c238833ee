package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Shape of a generated tree.
const (
	fanOut      = 32   // subdirectories per directory above the leaves
	minPerDir   = 50   // fewest files in a leaf directory
	maxPerDir   = 150  // most files in a leaf directory
	maxFileSize = 4096 // largest file, in bytes
	linkOdds    = 50   // one file in linkOdds gets a symlink next to it
	execOdds    = 10   // one file in execOdds is executable
)

// extensions gives generated file names some variety.
var extensions = []string{".c", ".h", ".go", ".txt", ".conf", ".so", ".py", ""}

// Generate writes a tree of n regular files of 0 to 4 KiB to dir, which must
// not exist, and returns it as a corpus named "files-N". The tree is a
// function of n and seed alone: leaf directories of 50 to 150 files sit at
// equal depth below directories of up to 32 subdirectories; names, sizes,
// contents, modes (0644, or 0755 for one file in ten) and modification times
// are drawn from a ChaCha8 stream seeded with seed, and about one file in
// fifty gets a relative symlink to a file in its directory. The modification
// times of directories are those of their creation.
func Generate(ctx context.Context, dir string, n int, seed uint64) (Corpus, error) {
	if n < 1 {
		return Corpus{}, fmt.Errorf("generate %d files: %w", n, ErrFileCount)
	}
	if err := absent(dir); err != nil {
		return Corpus{}, err
	}
	g := newGenerator(seed)
	depth := 1
	for d := fanOut; d < n/minPerDir+1; d *= fanOut {
		depth++
	}
	for leaf, placed := 0, 0; placed < n; leaf++ {
		if err := ctx.Err(); err != nil {
			return Corpus{}, err
		}
		k := min(n-placed, minPerDir+g.rng.IntN(maxPerDir-minPerDir+1))
		path := leafPath(dir, leaf, depth)
		if err := os.MkdirAll(path, 0o755); err != nil {
			return Corpus{}, err
		}
		if err := g.fill(path, k); err != nil {
			return Corpus{}, err
		}
		placed += k
	}
	c := Corpus{Name: "files-" + strconv.Itoa(n), Root: dir, Generated: true, Seed: seed}
	return c, c.count()
}

// leafPath returns the path of leaf directory number leaf: its digits in base
// fanOut, depth of them, as nested directory names.
func leafPath(root string, leaf, depth int) string {
	parts := make([]string, depth+1)
	parts[0] = root
	for i := depth; i >= 1; i-- {
		parts[i] = fmt.Sprintf("d%02d", leaf%fanOut)
		leaf /= fanOut
	}
	return filepath.Join(parts...)
}

// generator holds the random stream of one tree.
type generator struct {
	src  *rand.ChaCha8
	rng  *rand.Rand
	buf  []byte
	base time.Time
}

func newGenerator(seed uint64) *generator {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	src := rand.NewChaCha8(key)
	return &generator{
		src:  src,
		rng:  rand.New(src),
		buf:  make([]byte, maxFileSize),
		base: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// fill writes k files, and some symlinks, into the directory dir.
func (g *generator) fill(dir string, k int) error {
	for j := range k {
		name := fmt.Sprintf("f%03d%s", j, extensions[g.rng.IntN(len(extensions))])
		if err := g.file(filepath.Join(dir, name)); err != nil {
			return err
		}
		if g.rng.IntN(linkOdds) != 0 {
			continue
		}
		link := filepath.Join(dir, fmt.Sprintf("l%03d", j))
		if err := os.Symlink(name, link); err != nil {
			return err
		}
	}
	return nil
}

// file writes one file with random size, content, mode and times.
func (g *generator) file(path string) error {
	data := g.buf[:g.rng.IntN(maxFileSize+1)]
	_, _ = g.src.Read(data) // ChaCha8.Read never fails
	mode := os.FileMode(0o644)
	if g.rng.IntN(execOdds) == 0 {
		mode = 0o755
	}
	mtime := g.base.Add(time.Duration(g.rng.Int64N(int64(365 * 24 * time.Hour))))
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil { // independent of the umask
		return err
	}
	return os.Chtimes(path, mtime, mtime)
}
