#!/bin/bash
# The unchanged Nix check against find and nix-store --verify
# --check-contents, interleaved: ROUNDS rounds (default 5), each running
# the four once, in turn, so that a change in the machine's load falls on
# all of them; medians of wall and CPU (user + sys) time. Then the
# load-independent figures: system calls per store entry (strace -c -f)
# of each. DIR is a store as contrib/nix-bench.sh leaves it:
#
#   make build
#   DIR=/var/tmp/vigil-nix ROUNDS=0 VIGIL=bin/vigil contrib/nix-bench.sh   # build the store, init
#   bin/vigil --config /var/tmp/vigil-nix/nix.toml -q nix snapshot
#   bin/vigil --config /var/tmp/vigil-nix/nix.toml -q update
#   DIR=/var/tmp/vigil-nix VIGIL=bin/vigil contrib/nix-compare.sh
#
# Needs root, nix-bin, strace, python3 and GNU time.
set -euo pipefail
B=${DIR:?DIR: a store built by contrib/nix-bench.sh}
ROUNDS=${ROUNDS:-5}
V=$(realpath "${VIGIL:-bin/vigil}")
sed 's/^roots = .*/&\nscan = { reread_within = 0 }/' "$B/nix.toml" >"$B/nix-nosample.toml"
S="$B/host/nix/store"
entries=$(find "$S" | wc -l)
nixverify="mount --bind '$B/host/nix' /nix && NIX_CONFIG='build-users-group =' nix-store --verify --check-contents 2>/dev/null"
run() { # name command...: one timed run, appended to $B/times
	/usr/bin/time -f "$1 %e %U %S" -a -o "$B/times" "${@:2}" >/dev/null
}
: >"$B/times"
for _ in $(seq "$ROUNDS"); do
	run find find "$S" -printf '%i %s %T@ %C@\n'
	run check-nosample "$V" --config "$B/nix-nosample.toml" -q nix check
	run check-sample "$V" --config "$B/nix.toml" -q nix check
	run nix-verify unshare --mount --propagation private bash -c "$nixverify"
done
echo "$entries entries in $S; $ROUNDS interleaved rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$B/times" <<'PY'
import sys, statistics as st
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 4:
        runs.setdefault(f[0], []).append((float(f[1]), float(f[2]) + float(f[3])))
med = {k: (st.median(w for w, _ in v), st.median(c for _, c in v)) for k, v in runs.items()}
for k, (w, c) in med.items():
    print(f"{k:16} wall {w:6.2f} s   cpu {c:6.2f} s   (walls: {' '.join(f'{w:.2f}' for w, _ in runs[k])})")
nv = med["nix-verify"]
for k in ("check-nosample", "check-sample"):
    w, c = med[k]
    print(f"{k}: {nv[0]/w:.1f}x less wall, {nv[1]/c:.1f}x less cpu than nix-store --verify --check-contents; "
          f"{w/med['find'][0]:.2f}x find's wall, {c/med['find'][1]:.2f}x its cpu")
PY
syscalls() { # name command...: system calls per entry, the Go runtime's futex and nanosleep left out
	strace -c -f -o "$B/strace" "${@:2}" >/dev/null 2>&1
	awk -v n="$entries" -v name="$1" '$NF !~ /^(futex|nanosleep|wait4|total|syscall|-+)$/ && $4 ~ /^[0-9]+$/ {c += $4; by = by " " $NF "=" $4}
		END {printf "%-16s %.2f system calls per entry:%s\n", name, c / n, by}' "$B/strace"
}
syscalls find find "$S" -printf '%i %s %T@ %C@\n'
syscalls check-nosample "$V" --config "$B/nix-nosample.toml" -q nix check
syscalls nix-verify unshare --mount --propagation private bash -c "$nixverify"
