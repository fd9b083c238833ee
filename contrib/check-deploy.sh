#!/usr/bin/env bash
# The deployment checks `make test` runs (CI installs the tools: .ci/run):
#   - systemd-analyze verify of the units: no warning at all (a typo in a key
#     is only a warning there, so any output fails);
#   - systemd-analyze security --offline=yes: each service's exposure score
#     stays at or below the figure the README states;
#   - the NixOS module parses, and its defaults render a configuration that
#     `vigil config check` accepts, with the embedded default's digest,
#     database and keep, and units whose [Service] settings are those of
#     contrib/systemd (the same hardening);
#   - contrib/transition_phase.sh harden/setup on a scratch tree;
#   - make install into a DESTDIR puts every file where it belongs.
# Without systemd-analyze or nix-instantiate the check is skipped with the
# reason, unless CI is set: then a missing tool is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# Exposure scores (systemd-analyze's 0.0-10.0, times ten for --threshold).
check_max=7  # vigil-check.service: 0.7 SAFE
watch_max=10 # vigil-watch.service: 1.0 OK
fleet_max=10 # vigil-fleet.service: 0.9 SAFE

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-deploy: $*" >&2; exit 1; }
need() {
	command -v "$1" >/dev/null && return 0
	[ -n "${CI:-}" ] && fail "$1 is missing (install $2)"
	echo "check-deploy: $1 not installed (Debian package $2): skipping $3" >&2
	return 1
}

go build -o "$tmp/vigil" ./cmd/vigil
vigil=$tmp/vigil

if need systemd-analyze systemd "the systemd unit checks"; then
	mkdir "$tmp/units"
	for u in contrib/systemd/*.service contrib/systemd/*.timer; do
		sed "s|/usr/local/bin/vigil|$vigil|g" "$u" >"$tmp/units/${u##*/}"
	done
	out=$(systemd-analyze verify --man=no "$tmp"/units/* 2>&1) || fail "systemd-analyze verify failed: $out"
	[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
	for pair in vigil-check.service:$check_max vigil-watch.service:$watch_max vigil-fleet.service:$fleet_max; do
		unit=${pair%%:*} max=${pair##*:}
		score=$(systemd-analyze security --offline=yes --no-pager "$tmp/units/$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
		systemd-analyze security --offline=yes --threshold="$max" "$tmp/units/$unit" >/dev/null 2>&1 ||
			fail "$unit: exposure $score is above $((max / 10)).$((max % 10)) (README, Schedule)"
		echo "check-deploy: $unit exposure $score (at most $((max / 10)).$((max % 10)))"
	done
fi

if need nix-instantiate nix-bin "the NixOS module checks"; then
	export NIX_STATE_DIR=$tmp/nix NIX_CONF_DIR=$tmp NIX_LOG_DIR=$tmp/nix/log
	echo "build-users-group =" >"$tmp/nix.conf"
	nix-instantiate --parse nix/module.nix >/dev/null || fail "nix/module.nix does not parse"
	nix-instantiate --eval --strict --json nix/tests/render.nix >"$tmp/render.json" ||
		fail "nix/tests/render.nix does not evaluate"
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["config"], end="")' "$tmp/render.json" >"$tmp/nix.toml"
	"$vigil" config default >"$tmp/default.toml"
	got=$("$vigil" --config "$tmp/nix.toml" config check) || fail "vigil config check refuses the module's rendering:
$(cat "$tmp/nix.toml")"
	want=$("$vigil" --config "$tmp/default.toml" config check)
	[ "${got#*: }" = "${want#*: }" ] || fail "the module's defaults render another configuration than the embedded default:
  module:   ${got#*: }
  embedded: ${want#*: }"
	grep -q '"disabled":{}' "$tmp/render.json" || fail "the module defines something while disabled"
	python3 - "$tmp/render.json" contrib/systemd <<-'PY' || fail "the module's units differ from contrib/systemd's"
		import json, sys
		units = json.load(open(sys.argv[1]))["units"]
		def norm(v):
		    if isinstance(v, bool): return ["yes" if v else "no"]
		    if isinstance(v, list): return [str(x) for x in v]
		    return [str(v)]
		bad = 0
		for name, nix in units.items():
		    unit, section = {}, None
		    for line in open(sys.argv[2] + "/" + name):
		        line = line.strip()
		        if line.startswith("["): section = line
		        elif section == "[Service]" and "=" in line and not line.startswith("#"):
		            k, v = line.split("=", 1)
		            unit.setdefault(k, []).append(v)
		    # ExecStart differs in the binary's path only; the rest must match.
		    for k in sorted((set(unit) | set(nix)) - {"ExecStart", "Environment"}):
		        u, n = unit.get(k), norm(nix[k]) if k in nix else None
		        if k == "AmbientCapabilities" and u == [""] and n is None: continue
		        if k in ("CapabilityBoundingSet", "AmbientCapabilities", "RestrictAddressFamilies") and u and n:
		            u, n = sorted(" ".join(u).split()), sorted(" ".join(n).split())
		        if u != n:
		            print(f"{name}: {k}: unit {u}, module {n}", file=sys.stderr); bad += 1
		sys.exit(1 if bad else 0)
	PY
	echo "check-deploy: nix/module.nix parses; its defaults render the embedded default (${got#*digest }) and contrib/systemd's units"

	# Every [watch] option, a sink of each type and a rule's remediation:
	# vigil accepts the rendering, each value lands under its key, and the
	# watch unit gets the network (localhost and the collectors only) and
	# the file sink's directory.
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fullConfig"], end="")' "$tmp/render.json" >"$tmp/nix-full.toml"
	"$vigil" --config "$tmp/nix-full.toml" config check >/dev/null || fail "vigil config check refuses the module's rendering of [watch], [[sink]] and remediation:
$(cat "$tmp/nix-full.toml")"
	python3 - "$tmp/nix-full.toml" "$tmp/render.json" <<-'PY' || fail "the module renders [watch], [[sink]] or remediation wrongly"
		import json, sys, tomllib
		c = tomllib.load(open(sys.argv[1], "rb"))
		unit = json.load(open(sys.argv[2]))["fullWatch"]
		want_watch = {"settle": "50ms", "max_settle": "1s", "scan_interval": "30m", "full_scan_interval": "12h",
		              "outbox": "/var/lib/vigil/events.outbox", "outbox_max": 5000, "listen": "127.0.0.1:9847"}
		checks = [
		    ("watch", c.get("watch"), want_watch),
		    ("sink types", [s["type"] for s in c.get("sink", [])], ["file", "webhook", "syslog", "syslog", "nats", "exec"]),
		    ("file sink", c["sink"][0], {"type": "file", "path": "/var/log/vigil/events.json", "max_size": "100MiB", "keep": 5}),
		    ("exec sink command", c["sink"][5].get("command"), ["/usr/local/sbin/page-oncall", "--team", "infra"]),
		    ("rule remediation", {k: v for k, v in c["rule"][0].items() if k.startswith("remediation")},
		     {"remediation": "exec", "remediation_command": ["/usr/local/sbin/quarantine", "--"], "remediation_timeout": "20s"}),
		    ("PrivateNetwork", unit["PrivateNetwork"], False),
		    ("RestrictAddressFamilies", sorted(unit["RestrictAddressFamilies"]), ["AF_INET", "AF_INET6", "AF_UNIX"]),
		    ("IPAddressDeny", unit["IPAddressDeny"], "any"),
		    ("IPAddressAllow", unit.get("IPAddressAllow"), ["localhost", "192.0.2.10/32"]),
		    ("ReadWritePaths", unit["ReadWritePaths"], ["/var/lib/vigil", "/var/log/vigil", "/srv/quarantine"]),
		]
		bad = 0
		for name, got, want in checks:
		    if got != want:
		        print(f"{name}: rendered {got!r}, want {want!r}", file=sys.stderr); bad += 1
		sys.exit(1 if bad else 0)
	PY
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["restoreConfig"], end="")' "$tmp/render.json" >"$tmp/nix-restore.toml"
	if ! "$vigil" --config "$tmp/nix-restore.toml" config check >/dev/null; then
		fail "vigil config check refuses remediation = \"restore\" from the module"
	fi
	echo "check-deploy: the module renders [watch], [[sink]] and remediation that vigil accepts, and the watch unit's network and paths"

	# services.vigil.nix: every option lands under its [nix] key.
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nixConfig"], end="")' "$tmp/render.json" >"$tmp/nix-nix.toml"
	"$vigil" --config "$tmp/nix-nix.toml" config check >/dev/null || fail "vigil config check refuses the module's [nix]:
$(cat "$tmp/nix-nix.toml")"
	python3 - "$tmp/nix-nix.toml" <<-'PY' || fail "the module renders [nix] wrongly"
		import sys, tomllib
		got = tomllib.load(open(sys.argv[1], "rb")).get("nix")
		if got != {"enabled": True, "interval": "1h"}:
		    sys.exit(f"[nix] = {got}")
	PY

	# services.vigil.posture: every option lands under its [posture] key.
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["postureConfig"], end="")' "$tmp/render.json" >"$tmp/nix-posture.toml"
	"$vigil" --config "$tmp/nix-posture.toml" config check >/dev/null || fail "vigil config check refuses the module's [posture]:
$(cat "$tmp/nix-posture.toml")"
	python3 - "$tmp/nix-posture.toml" <<-'PY' || fail "the module renders [posture] wrongly"
		import sys, tomllib
		got = tomllib.load(open(sys.argv[1], "rb")).get("posture")
		want = {"enable": True, "profile": "workstation", "interval": "5m", "extra_sysctls": ["kernel.io_uring_disabled"],
		        "mounts": ["/", "/srv"], "units": ["/etc/systemd/system/app.service"], "disable": ["nft"], "max_exposure": 6.5, "lynis": True}
		if got != want:
		    print(f"posture: rendered {got!r}, want {want!r}", file=sys.stderr); sys.exit(1)
	PY
	echo "check-deploy: the module renders services.vigil.posture as [posture], which vigil accepts"

	# services.vigil.fleet: a [fleet] section vigil accepts, the check and
	# watch units reaching the NATS servers only, the witness unit.
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fleetConfig"], end="")' "$tmp/render.json" >"$tmp/nix-fleet.toml"
	"$vigil" --config "$tmp/nix-fleet.toml" config check >/dev/null || fail "vigil config check refuses the module's [fleet]:
$(cat "$tmp/nix-fleet.toml")"
	python3 - "$tmp/nix-fleet.toml" "$tmp/render.json" <<-'PY' || fail "the module renders [fleet] or the fleet's units wrongly"
		import json, sys, tomllib
		c = tomllib.load(open(sys.argv[1], "rb"))
		r = json.load(open(sys.argv[2]))
		allow = ["localhost", "192.0.2.20/32"]
		checks = [
		    ("fleet", c.get("fleet"), {"url": ["nats://192.0.2.20:4222"], "host": "hv1", "profile": "hypervisor", "heartbeat_interval": "30s",
		     "witnesses": ["witness1+713d8de1+AdvU/MvGhtdrT4Ei9LPuWD2ikJZM04VHCgIx6JR1qpkd"], "quorum": 1}),
		    ("check PrivateNetwork", r["fleetCheck"]["PrivateNetwork"], False),
		    ("check IPAddressAllow", r["fleetCheck"].get("IPAddressAllow"), allow),
		    ("watch IPAddressAllow", r["fleetWatch"].get("IPAddressAllow"), allow),
		    ("serve IPAddressAllow", r["fleetServe"].get("IPAddressAllow"), allow),
		]
		bad = 0
		for name, got, want in checks:
		    if got != want:
		        print(f"{name}: rendered {got!r}, want {want!r}", file=sys.stderr); bad += 1
		sys.exit(1 if bad else 0)
	PY
	echo "check-deploy: the module renders a [fleet] vigil accepts, the units' network towards it, and the witness unit"
fi

# The phase transition hook, on a scratch tree.
mkdir -p "$tmp/phase/root" "$tmp/phase/harden.d"
echo x >"$tmp/phase/root/f"
printf 'roots = ["%s"]\n[phase]\nhardened_markers = ["%s"]\n' "$tmp/phase/root" "$tmp/phase/marker" >"$tmp/phase/vigil.toml"
"$vigil" keygen --quiet --name check-deploy --out "$tmp/phase/keys"
printf '#!/bin/sh\ntouch %s\n' "$tmp/phase/hardened-step-ran" >"$tmp/phase/harden.d/10-step"
chmod +x "$tmp/phase/harden.d/10-step"
export VIGIL=$vigil VIGIL_CONFIG=$tmp/phase/vigil.toml VIGIL_DB=$tmp/phase/vigil.db \
	VIGIL_MARKER=$tmp/phase/marker VIGIL_HARDEN_D=$tmp/phase/harden.d VIGIL_KEY=$tmp/phase/keys/vigil.key \
	VIGIL_PUBKEY=$tmp/phase/keys/vigil.pub
contrib/transition_phase.sh harden >/dev/null 2>&1 || fail "transition_phase.sh harden failed"
[ -e "$tmp/phase/marker" ] && [ -e "$tmp/phase/hardened-step-ran" ] || fail "harden did not run its step and write the marker"
rc=0; "$vigil" --config "$VIGIL_CONFIG" --db "$VIGIL_DB" --quiet check >/dev/null 2>&1 || rc=$?
[ "$rc" = 8 ] || fail "a sealed hardened host checked with no key pinned exited $rc, not 8 (key_unpinned)"
"$vigil" --config "$VIGIL_CONFIG" --db "$VIGIL_DB" --quiet check --pubkey "$VIGIL_PUBKEY" || fail "the baseline harden took is not sealed by its key"
echo y >"$tmp/phase/root/g"
contrib/transition_phase.sh seal >/dev/null 2>&1 || fail "transition_phase.sh seal of a sealed host failed"
"$vigil" --config "$VIGIL_CONFIG" --db "$VIGIL_DB" audit --json | grep -c '"type":"seal"' | grep -qx 1 ||
	fail "transition_phase.sh seal sealed an already sealed host again (accepting a pending change)"
rm "$tmp/phase/root/g"
if VIGIL_REASON= contrib/transition_phase.sh setup </dev/null >/dev/null 2>&1; then fail "setup went on without a reason"; fi
VIGIL_REASON="maintenance window" contrib/transition_phase.sh setup >/dev/null 2>&1 || fail "transition_phase.sh setup failed"
[ ! -e "$tmp/phase/marker" ] || fail "setup left the marker"
"$vigil" --config "$VIGIL_CONFIG" --db "$VIGIL_DB" audit --json | tail -n 1 | grep -q '"type":"phase","phase":"setup","reason":"maintenance window' ||
	fail "the signed rollback to setup is not in the audit log"
"$vigil" --config "$VIGIL_CONFIG" --db "$VIGIL_DB" phase --json --pubkey "$VIGIL_PUBKEY" | grep -q '"phase":"setup"' ||
	fail "the recorded phase is not setup after the signed rollback"
printf '#!/bin/sh\nexit 3\n' >"$tmp/phase/harden.d/20-fails"
chmod +x "$tmp/phase/harden.d/20-fails"
if contrib/transition_phase.sh harden >/dev/null 2>&1; then fail "harden went on after a failing step"; fi
[ ! -e "$tmp/phase/marker" ] || fail "a failed hardening step still wrote the marker"
echo "check-deploy: transition_phase.sh harden/setup"

# make install into a DESTDIR.
make -s install DESTDIR="$tmp/root" PREFIX=/usr BIN="$tmp/bin" >/dev/null
for f in usr/bin/vigil usr/share/man/man1/vigil.1 usr/lib/systemd/system/vigil-check.service \
	usr/lib/systemd/system/vigil-check.timer usr/lib/systemd/system/vigil-watch.service usr/lib/systemd/system/vigil-fleet.service \
	usr/lib/sysusers.d/vigil.conf usr/share/bash-completion/completions/vigil \
	usr/share/zsh/site-functions/_vigil usr/share/fish/vendor_completions.d/vigil.fish \
	usr/libexec/vigil/transition_phase.sh usr/share/doc/vigil/README.md; do
	[ -e "$tmp/root/$f" ] || fail "make install did not install /$f"
done
grep -q '^ExecStart=/usr/bin/vigil ' "$tmp/root/usr/lib/systemd/system/vigil-check.service" ||
	fail "make install PREFIX=/usr left another binary path in vigil-check.service"
"$tmp/root/usr/bin/vigil" version | grep -q 'commit [0-9a-f]\{40\}' || fail "the installed vigil does not know its commit"
bash -n contrib/completion/vigil.bash || fail "the bash completion does not parse"
if command -v zsh >/dev/null; then zsh -n contrib/completion/_vigil || fail "the zsh completion does not parse"; fi
if command -v fish >/dev/null; then fish -n contrib/completion/vigil.fish || fail "the fish completion does not parse"; fi
echo "check-deploy: make install"
