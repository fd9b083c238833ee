package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"vigil/bench"
	"vigil/merkle"
	"vigil/store"
)

// historyOptions are the flags of vigil-bench history.
type historyOptions struct {
	corpus, work, vigil, oldVigil, out string
	files, changes, updates, rounds    int
	seed                               uint64
}

// runHistory is "vigil-bench history": what history costs in the Merkle
// store. On one corpus it takes a baseline, then -updates rounds of
// -changes rewritten files each followed by `vigil update`, and reports per
// update its time and the bytes it wrote, the database's size against one
// baseline, the time of an unchanged check (against -old-vigil's on its own
// database, interleaved), of `vigil diff` of the last two baselines, and the
// size of the proof of a file in the corpus's largest directory.
func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o historyOptions
	fs := flag.NewFlagSet("vigil-bench history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.corpus, "corpus", "", "copy `DIR` and run on the copy")
	fs.IntVar(&o.files, "files", 0, "or generate a tree of `N` files")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated tree and of the changes")
	fs.IntVar(&o.changes, "changes", 10, "files rewritten before each update")
	fs.IntVar(&o.updates, "updates", 20, "updates after the first baseline")
	fs.IntVar(&o.rounds, "rounds", 5, "timed rounds of check and diff")
	fs.StringVar(&o.vigil, "vigil", "", "vigil binary (default: go build ./cmd/vigil)")
	fs.StringVar(&o.oldVigil, "old-vigil", "", "an older vigil binary whose unchanged check is timed alongside")
	fs.StringVar(&o.work, "work", "/var/tmp", "make the work directory below `DIR`")
	fs.StringVar(&o.out, "out", "", "also write `DIR`/history.md")
	if err := fs.Parse(args); err != nil {
		return usageCode(err, stderr)
	}
	if (o.corpus == "") == (o.files == 0) {
		return usageCode(usageError{"history: need one of -corpus and -files"}, stderr)
	}
	var report bytes.Buffer
	if err := history(ctx, o, io.MultiWriter(stdout, &report), stderr); err != nil {
		fmt.Fprintf(stderr, "vigil-bench history: %v\n", err)
		return exitFailure
	}
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			fmt.Fprintf(stderr, "vigil-bench history: %v\n", err)
			return exitFailure
		}
		if err := os.WriteFile(filepath.Join(o.out, "history.md"), report.Bytes(), 0o644); err != nil {
			fmt.Fprintf(stderr, "vigil-bench history: %v\n", err)
			return exitFailure
		}
	}
	return exitOK
}

// hrun is one vigil binary with its configuration and database.
type hrun struct {
	bin, conf, db string
}

func (h hrun) cmd(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, h.bin, append([]string{"--config", h.conf, "--quiet"}, args...)...)
}

// timed runs vigil and returns its wall time and the bytes it wrote to
// storage (the growth of this process's write_bytes, which takes in the
// I/O of reaped children). Exit statuses in accept are not failures.
func (h hrun) timed(ctx context.Context, accept []int, args ...string) (time.Duration, int64, error) {
	before, err := writeBytes()
	if err != nil {
		return 0, 0, err
	}
	c := h.cmd(ctx, args...)
	var errOut bytes.Buffer
	c.Stderr = &errOut
	start := time.Now()
	err = c.Run()
	d := time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok && slices.Contains(accept, ee.ExitCode()) {
		err = nil
	}
	if err != nil {
		return d, 0, fmt.Errorf("%s %v: %w\n%s", h.bin, args, err, errOut.Bytes())
	}
	after, err := writeBytes()
	return d, after - before, err
}

// writeBytes reads write_bytes from /proc/self/io.
func writeBytes() (int64, error) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "write_bytes: "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/self/io: no write_bytes")
}

func history(ctx context.Context, o historyOptions, w, stderr io.Writer) error {
	dir, err := os.MkdirTemp(o.work, "vigil-history-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(stderr, "work directory %s\n", dir)
	var c bench.Corpus
	if o.corpus != "" {
		c, err = bench.Copy(ctx, o.corpus, filepath.Join(dir, "corpus"))
	} else {
		c, err = bench.Generate(ctx, filepath.Join(dir, "corpus"), o.files, o.seed)
	}
	if err != nil {
		return err
	}
	if o.vigil == "" {
		o.vigil = filepath.Join(dir, "vigil")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", o.vigil, "./cmd/vigil").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/vigil: %w\n%s", err, out)
		}
	}
	cur, err := newHrun(dir, "new", o.vigil, c.Root, "")
	if err != nil {
		return err
	}
	files, err := regularFiles(c.Root)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# vigil history on %s (%d files, %d entries)\n\n", c.Name, c.Files, c.Entries)
	fmt.Fprintf(w, "Command: `vigil-bench history %s`\n\n", strings.Join(os.Args[2:], " "))
	initTime, initBytes, err := cur.timed(ctx, nil, "init")
	if err != nil {
		return err
	}
	base, err := fileSize(cur.db)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "init: %s, %s written, database %s\n\n", initTime.Round(time.Millisecond), mib(initBytes), mib(base))
	if err := checkTimes(ctx, o, w, cur, dir, c.Root); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(o.seed, 2))
	fmt.Fprintf(w, "| update | time | written | records | database |\n|---:|---:|---:|---:|---:|\n")
	var times []time.Duration
	for u := 1; u <= o.updates; u++ {
		for range o.changes {
			f := files[r.IntN(len(files))]
			if err := os.WriteFile(f, fmt.Appendf(nil, "update %d %d\n", u, r.Uint64()), 0o644); err != nil {
				return err
			}
		}
		d, wb, err := cur.timed(ctx, nil, "update")
		if err != nil {
			return err
		}
		times = append(times, d)
		size, err := fileSize(cur.db)
		if err != nil {
			return err
		}
		recs, err := headChanges(ctx, cur)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| %d | %s | %s | %d | %s |\n", u, d.Round(time.Millisecond), mib(wb), recs, mib(size))
	}
	size, err := fileSize(cur.db)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nupdate median %s; database after init and %d updates: %s, %.2fx one baseline (%s)\n\n",
		bench.Median(times).Round(time.Millisecond), o.updates, mib(size), float64(size)/float64(base), mib(base))
	var diffs []time.Duration
	for range o.rounds {
		d, _, err := cur.timed(ctx, []int{1, 2, 3, 4, 5, 6, 7}, "diff")
		if err != nil {
			return err
		}
		diffs = append(diffs, d)
	}
	fmt.Fprintf(w, "diff of the last two baselines (whole process): median %s of %d\n\n", bench.Median(diffs).Round(time.Microsecond), o.rounds)
	return proofSize(w, cur.db)
}

func newHrun(dir, name, bin, root, extra string) (hrun, error) {
	h := hrun{bin: bin, conf: filepath.Join(dir, name+".toml"), db: filepath.Join(dir, name+".db")}
	text := fmt.Sprintf("database = %q\nroots = [%q]\nkeep = 30\n%s", h.db, root, extra)
	return h, os.WriteFile(h.conf, []byte(text), 0o644)
}

// checkTimes times unchanged checks of the new vigil and, if given, the old
// one, interleaved.
func checkTimes(ctx context.Context, o historyOptions, w io.Writer, cur hrun, dir, root string) error {
	runs := []hrun{cur}
	names := []string{"vigil"}
	if o.oldVigil != "" {
		// The same database, without the keyed sample of rereads (which an
		// older vigil does not have): what the store itself costs.
		nosample := cur
		nosample.conf = filepath.Join(dir, "new-nosample.toml")
		text := fmt.Sprintf("database = %q\nroots = [%q]\nkeep = 30\n[scan]\nreread_within = 0\n", cur.db, root)
		if err := os.WriteFile(nosample.conf, []byte(text), 0o644); err != nil {
			return err
		}
		old, err := newHrun(dir, "old", o.oldVigil, root, "")
		if err != nil {
			return err
		}
		if _, _, err := old.timed(ctx, nil, "init"); err != nil {
			return err
		}
		runs, names = append(runs, nosample, old), append(names, "vigil without the keyed sample", "old vigil")
	}
	ts := make([][]time.Duration, len(runs))
	for round := -1; round < o.rounds; round++ { // round -1 warms up
		for i, h := range runs {
			d, _, err := h.timed(ctx, nil, "check")
			if err != nil {
				return err
			}
			if round >= 0 {
				ts[i] = append(ts[i], d)
			}
		}
	}
	for i := range runs {
		fmt.Fprintf(w, "unchanged check, %s: median %s (min %s, max %s) of %d\n", names[i],
			bench.Median(ts[i]).Round(time.Millisecond), slices.Min(ts[i]).Round(time.Millisecond),
			slices.Max(ts[i]).Round(time.Millisecond), o.rounds)
	}
	if len(runs) == 3 {
		fmt.Fprintf(w, "ratio new/old: %.3f with the sample, %.3f without it\n",
			float64(bench.Median(ts[0]))/float64(bench.Median(ts[2])), float64(bench.Median(ts[1]))/float64(bench.Median(ts[2])))
	}
	fmt.Fprintln(w)
	return nil
}

// headChanges returns how many records the newest baseline wrote.
func headChanges(ctx context.Context, h hrun) (int64, error) {
	out, err := h.cmd(ctx, "log", "--json").Output()
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	var l struct{ Changes int64 }
	return l.Changes, json.Unmarshal(line, &l)
}

// proofSize reports the proof of the first file of the directory with the
// most children in the current baseline: its hashes and bytes.
func proofSize(w io.Writer, path string) error {
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	cur, err := db.Current()
	if err != nil {
		return err
	}
	kids := map[string]int{}
	first := map[string]string{}
	it := cur.Iter()
	for {
		n, err := it.Next()
		if err != nil {
			return err
		}
		if n.Entry == nil {
			break
		}
		if n.Entry.Path != "/" && n.Entry.Type == merkle.TypeFile {
			p := merkle.Parent(n.Entry.Path)
			if kids[p]++; first[p] == "" {
				first[p] = n.Entry.Path
			}
		}
	}
	var big string
	for d, n := range kids {
		if n > kids[big] {
			big = d
		}
	}
	p, err := cur.Proof(first[big])
	if err != nil {
		return err
	}
	if err := p.Verify(merkle.Hash(cur.Info().Root)); err != nil {
		return err
	}
	hashes, size := 0, len(merkle.AppendAttested(nil, p.Entry))+len(p.Entry.Path)
	for _, s := range p.Steps {
		hashes += len(s.Path)
		size += 16 + 32*len(s.Path) + len(merkle.AppendAttested(nil, s.Dir)) + len(s.Dir.Name())
	}
	fmt.Fprintf(w, "proof of %s (largest directory, %d files): %d steps, %d hashes, %d bytes (entries' attested encodings, names, counts, indexes and hashes)\n",
		first[big], kids[big], len(p.Steps), hashes, size)
	return nil
}

func fileSize(p string) (int64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func mib(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

// regularFiles lists the regular files below root.
func regularFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	slices.Sort(out)
	return out, err
}
