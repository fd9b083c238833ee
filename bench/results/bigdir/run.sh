#!/bin/sh
# run.sh VIGIL DIR...: peak RSS and wall time of vigil init, check and
# update (and what $CMDS lists instead, e.g. CMDS="check --full") on each
# DIR, a tree holding one huge directory, under GNU time. Each DIR gets its
# own configuration and database beside it.
#
# The trees of the results were made by a generator writing N files of a
# few bytes each (file-0000000.conf ...) into DIR/d.
set -eu
vigil=$1
shift
for dir in "$@"; do
	conf=$dir.toml
	db=$dir.db
	rm -f "$db" "$db".*
	printf 'database = "%s"\nroots = ["%s"]\n' "$db" "$dir" >"$conf"
	n=$(find "$dir" -mindepth 1 | wc -l)
	cmds=${CMDS:-"init --force
check
update"}
	echo "$cmds" | while read -r cmd; do
		out=$(mktemp)
		rc=0
		/usr/bin/time -f '%M %e %U %S' -o "$out" "$vigil" --config "$conf" --quiet $cmd >/dev/null 2>&1 || rc=$?
		read -r kib wall user sys <"$out"
		rm -f "$out"
		printf '%s\t%s entries\t%-14s\texit %s\t%6.1f MiB\t%6.2f s wall\t%6.2f s user\t%6.2f s sys\n' \
			"$dir" "$n" "$cmd" "$rc" "$(echo "$kib/1024" | bc -l)" "$wall" "$user" "$sys"
	done
done
