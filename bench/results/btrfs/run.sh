#!/usr/bin/env bash
# The Btrfs check against the stat-cache check and AIDE on the same tree:
# 200,000 files on a loop-mounted Btrfs, 10 of them changed after the
# baseline. Needs root, btrfs-progs, aide and hyperfine. Usage:
#   bench/results/btrfs/run.sh [FILES] > bench/results/btrfs/results.md
set -euo pipefail
cd "$(dirname "$0")/../../.."
files=${1:-200000}
work=$(mktemp -d /tmp/vigil-btrfs-bench.XXXXXX)
mnt=$work/mnt
cleanup() {
	umount "$mnt" 2>/dev/null || true
	[ -n "${loop:-}" ] && losetup -d "$loop" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/vigil" ./cmd/vigil
truncate -s 4G "$work/img"
mkfs.btrfs -q -f "$work/img"
loop=$(losetup --find --show "$work/img")
mkdir "$mnt"
mount -o noatime "$loop" "$mnt"
btrfs -q subvolume create "$mnt/vol"
python3 - "$mnt/vol/tree" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i // 1000 % 1000), "e%02d" % (i % 10))
    if i % 1000 < 10:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d" % i), "w") as f:
        f.write("content of file %d\n" % i)
PY
cat > "$work/vigil.toml" <<TOML
database = "$work/vigil.db"
roots = ["$mnt/vol"]
TOML
cat > "$work/aide.conf" <<CONF
database_in=file:$work/aide.db
database_out=file:$work/aide.db.new
gzip_dbout=no
num_workers=2
$mnt/vol/tree p+i+n+u+g+s+m+c+sha256
CONF
v="$work/vigil --config $work/vigil.toml --quiet"
/usr/bin/time -f "vigil init: %e s, %M KiB" $v init >&2
aide --config "$work/aide.conf" --init >/dev/null 2>&1 || true
mv "$work/aide.db.new" "$work/aide.db"
# Ten changes: content, a same-size edit with the mtime put back, chmod,
# chown, an xattr, a new file, a deletion, a rename, a hard link, a new dir.
t=$mnt/vol/tree
echo changed >>"$t/d001/e01/f0001001"
cp -p "$t/d002/e02/f0002002" "$work/ref"; printf 'X' | dd of="$t/d002/e02/f0002002" bs=1 count=1 conv=notrunc status=none; touch -r "$work/ref" "$t/d002/e02/f0002002"
chmod 600 "$t/d003/e03/f0003003"
chown 1000 "$t/d004/e04/f0004004"
setfattr -n user.x -v 1 "$t/d005/e05/f0005005" 2>/dev/null || python3 -c "import os; os.setxattr('$t/d005/e05/f0005005', 'user.x', b'1')"
echo new >"$t/d006/e06/new"
rm "$t/d007/e07/f0007007"
mv "$t/d008/e08/f0008008" "$t/d008/e08/renamed"
ln "$t/d009/e09/f0009009" "$t/d009/link"
mkdir "$t/d010/newdir"
sync
echo "# Btrfs check, $files files, 10 changes"
echo
echo "\`bench/results/btrfs/run.sh $files\` on $(uname -r), $(nproc) CPUs, commit $(git rev-parse --short HEAD), warm page cache."
echo
hyperfine -N -i --warmup 2 --runs 10 --export-markdown "$work/h.md" \
	-n "vigil check (btrfs)" "$v check" \
	-n "vigil check --scan (stat cache)" "$v check --scan" >&2
hyperfine -N -i --warmup 0 --runs 2 --export-markdown "$work/a.md" \
	-n "aide --check" "aide --config $work/aide.conf --check" >&2
cat "$work/h.md"
echo
tail -n +3 "$work/a.md"
echo
echo "The Btrfs check's own report (\`check --json\`, summary):"
echo
echo '```'
{ $v check --json || true; } | tail -1 | python3 -c 'import json,sys; s=json.load(sys.stdin)["vigil"]["summary"]; print({k: s.get(k) for k in ("method","entries","added","removed","changed","moved","hashed")})'
echo '```'
echo
# The forensic diff of two snapshots against btrfs send: the baseline's
# snapshot and one taken now.
old=$(ls -d "$mnt"/vol/.vigil-snapshots/* | head -1)
btrfs -q subvolume snapshot -r "$mnt/vol" "$mnt/now"
hyperfine -N -i --warmup 2 --runs 10 --export-markdown "$work/d.md" \
	-n "vigil diff SNAP_A SNAP_B" "$work/vigil diff $old $mnt/now" \
	-n "btrfs send --no-data -p A B | btrfs receive --dump" "sh -c 'btrfs send -q --no-data -p $old $mnt/now | btrfs receive --dump >/dev/null'" >&2
tail -n +3 "$work/d.md"
echo
echo '```'
/usr/bin/time -f "vigil update (btrfs, 10 changes, whole process): %e s, %M KiB max RSS" $v update --reason bench 2>&1 >/dev/null | tail -1
/usr/bin/time -f "vigil check after the update (btrfs): %e s, %M KiB max RSS" $v check 2>&1 >/dev/null | tail -1
echo '```' 
