// Package bench compares vigil with the tools it replaces and with the
// cheapest programs that do the same I/O, side by side on the same trees.
//
// A run takes one or more corpora ([Copy] makes a copy of a directory with
// `cp -a`, [Generate] writes a deterministic tree of small files) and a list
// of [Tool]s, and for every corpus runs each tool once as a warm-up, then
// [Options.Rounds] interleaved rounds (A B C ..., A B C ...), so that drift in
// the machine's state (page cache, CPU frequency, background work) is shared
// by all tools instead of landing on one of them. [Run] returns [Results];
// [WriteMarkdown] prints medians, ratios and peak memory as tables and
// [WriteSVG] draws median time against number of files, one line per tool.
//
// The tools ([ToolNames]) are:
//
//   - vigil-init, vigil-check, vigil-check-full: `vigil --config CFG --quiet
//     init --force`, `... check` and `... check --full`, with a config written
//     into the work directory. The database is removed before every init, so
//     that it measures taking a first baseline, as aide --init does. A check
//     of the unchanged tree that reports differences (exit status 1 to 7) is
//     a failure ([ErrDifferences]).
//   - aide-init, aide-check: `aide --config CFG --init` and `... --check`
//     with a generated aide.conf whose only rule is
//     `ROOT($|/) p+i+n+u+g+s+m+c+sha256` (checked against aide.conf(5) of
//     AIDE 0.18) and num_workers=2. Databases live in the work directory;
//     /var/lib/aide is never touched. --check exits with 1 to 7 when it sees
//     differences; only statuses of 14 and above fail.
//   - b3sum: `find ROOT -type f -print0 | xargs -0 -P2 -n256 b3sum >/dev/null`
//     under `bash -c` with pipefail.
//   - find: `find ROOT -printf '%s %T@ %i\n' >/dev/null`, the floor for a
//     metadata-only walk.
//   - floor: a Go walk with two workers that open, fstat and read every
//     regular file into a reused 1 MiB buffer and hash it with BLAKE3
//     ([Floor]); the floor for a content walk. It runs as a child process
//     like the others (vigil-bench floor ROOT).
//
// Setup that a tool needs but that is not what is being measured (aide's
// database for --check, vigil's baseline for check) runs untimed before each
// run. The tool's standard output goes to /dev/null and its standard error to
// a log file next to its config.
//
// # What is measured
//
// Wall time is taken around fork, exec and wait of the child; user and
// system CPU time come from the rusage that wait4 returns for it
// (os.ProcessState). Both cover the child and every descendant it waited
// for, so a pipeline under bash counts as a whole. Each table shows the
// median, min and max wall time of the timed rounds; ratios ([Comparisons])
// divide medians.
//
// Peak RSS is ru_maxrss (KiB), which on Linux is the largest resident set of
// any single process among the child and its waited-for descendants, not
// their sum: for the b3sum pipeline it is the biggest b3sum, although two
// run at once. The ru_maxrss of a child that the Go runner starts cannot be
// trusted, though: Go starts children with clone(CLONE_VM|CLONE_VFORK), the
// child runs in the runner's memory until exec, and the kernel carries that
// memory's high-water mark into the child's ru_maxrss at exec, so every
// child reports at least the runner's own peak (6 MiB or more). The warm-up
// run of each tool therefore runs under GNU time (`time -f %M`, found in
// $PATH or given as [Options.GNUTime]), whose own small process is then the
// floor; the tables report that value. GNU time adds milliseconds of wall
// time, so the timed rounds start the tools directly. Without GNU time the
// tables fall back to the timed rounds' ru_maxrss and say so.
//
// # Reproducing
//
// From the repository root, as root on an otherwise idle machine:
//
//	make compare
//	go run ./cmd/vigil-bench -corpus /usr -files 10000,100000 -rounds 5 -out bench/results
//	go run ./cmd/vigil-bench -files 20000 -tools find,b3sum,floor,aide-init,aide-check -cold
//
// Add -cold to drop the page cache (`sync; echo 3 >/proc/sys/vm/drop_caches`)
// before every timed run, and -keep to keep the work directory with configs,
// databases and stderr logs.
//
// # Caveats
//
// Warm-cache numbers measure CPU and system-call cost, not the disk: the
// corpus has just been written or copied and sits in the page cache. The
// generated tree holds files of 0 to 4 KiB, so it stresses per-file cost;
// a copy of /usr has larger files and weighs hashing more. AIDE's database is
// written uncompressed and without checksums of itself (database_attrs=E),
// which makes AIDE faster than Debian's default configuration. Runs on a
// machine with other load are noisy; compare medians over several rounds and
// look at min and max before trusting a ratio close to its target.
package bench
