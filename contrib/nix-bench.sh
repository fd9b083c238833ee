#!/bin/bash
# The Nix store benchmark of the README (NixOS, The Nix store): a store of
# PATHS x FILES files built with nix-store --add in DIR (bind-mounted over
# /nix in a private mount namespace: the host's /nix is never touched),
# then, ROUNDS times: vigil nix snapshot (the seal), vigil init of the same
# tree, find, vigil nix check (unchanged, with and without the sample, and
# --full) and nix-store --verify --check-contents. Needs root, nix-bin,
# python3 and GNU time.
#
#   make build && VIGIL=bin/vigil contrib/nix-bench.sh
set -euo pipefail
PATHS=${PATHS:-1000} FILES=${FILES:-100} ROUNDS=${ROUNDS:-3} SHIFT=${SHIFT:-9} # files of 64 B to 64 << (SHIFT-1) B
V=$(realpath "${VIGIL:-bin/vigil}")
B=${DIR:-$(mktemp -d /var/tmp/vigil-nix-bench.XXXXXX)}
mkdir -p "$B/host/nix" "$B/host/etc/vigil" "$B/host/etc/nix" "$B/src" "$B/db"
echo "require-sigs = false" >"$B/host/etc/nix/nix.conf"
python3 - "$B/src" "$PATHS" "$FILES" "$SHIFT" <<'PY'
import os, sys
src, paths, files, shift = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
base = b"vigil nix benchmark content " * (600 << max(0, shift - 9))
for p in range(paths):
    for f in range(files):
        d = os.path.join(src, "pkg%d" % p, "d%d" % (f % 10))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%d" % f), "wb") as fh:
            fh.write((("%d/%d" % (p, f)).encode() + base)[:64 << ((p + f) % shift)])
PY
innix() { unshare --mount --propagation private bash -c "mount --bind '$B/host/nix' /nix && NIX_CONFIG='build-users-group =' $1"; }
ls "$B/src" | sed "s|^|$B/src/|" >"$B/list"
innix "xargs nix-store --add <'$B/list' >/dev/null"
rm -rf "$B/src"
printf 'database = "%s/db/nix.db"\nroots = ["%s/host/etc"]\n[nix]\nroot = "%s/host"\nsnapshot = "%s/host/etc/vigil/nix-store.json"\n' "$B" "$B" "$B" "$B" >"$B/nix.toml"
sed 's/^roots = .*/&\nscan = { reread_within = 0 }/' "$B/nix.toml" >"$B/nix-nosample.toml"
printf 'database = "%s/db/tree.db"\nroots = ["%s/host/nix/store"]\n' "$B" "$B" >"$B/tree.toml"
t() { /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KB" "$@"; }
echo "$(find "$B/host/nix/store" -type f | wc -l) files, $(find "$B/host/nix/store" | wc -l) entries, $(du -sb "$B/host/nix/store" | cut -f1) bytes"
"$V" --config "$B/nix.toml" -q init
"$V" --config "$B/tree.toml" -q init
for _ in $(seq "$ROUNDS"); do
	echo "== vigil nix snapshot (seal)"; t "$V" --config "$B/nix.toml" -q nix snapshot
	"$V" --config "$B/nix.toml" -q update >/dev/null
	echo "== vigil init --force of the store tree"; t "$V" --config "$B/tree.toml" -q init --force
	echo "== find -printf ''"; t find "$B/host/nix/store" -printf ''
	echo "== find with stat"; t find "$B/host/nix/store" -printf '%i %s %T@ %C@\n' >/dev/null
	echo "== vigil nix check (unchanged, sample off)"; t "$V" --config "$B/nix-nosample.toml" -q nix check
	echo "== vigil nix check (unchanged, default sample)"; t "$V" --config "$B/nix.toml" -q nix check
	echo "== vigil nix check --full"; t "$V" --config "$B/nix.toml" -q nix check --full
	echo "== nix-store --verify --check-contents"
	t unshare --mount --propagation private bash -c "mount --bind '$B/host/nix' /nix && NIX_CONFIG='build-users-group =' nix-store --verify --check-contents 2>/dev/null"
	uptime
done
[ -n "${DIR:-}" ] || rm -rf "$B"
