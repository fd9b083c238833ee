#!/bin/sh
# transition_phase.sh: vigil's hook in a host's phase transition.
#
#   transition_phase.sh harden   run the hardening steps, write the
#                                hardened-phase marker, then seal the
#                                baseline (vigil seal)
#   transition_phase.sh setup    record a rollback to the setup phase and
#                                remove the marker
#   transition_phase.sh seal     only seal (what the NixOS module's
#                                vigil-seal.service runs when the marker
#                                appears)
#
# Hardening steps are the executables in $VIGIL_HARDEN_D (default
# /etc/vigil/harden.d), run in name order; the first that fails stops the
# transition before the marker is written, so a half-hardened host is never
# sealed. Environment (defaults in brackets):
#   VIGIL         the vigil binary [vigil]
#   VIGIL_CONFIG  configuration [/etc/vigil/vigil.toml]
#   VIGIL_DB      database [/var/lib/vigil/vigil.db]
#   VIGIL_MARKER  hardened-phase marker [/etc/hypervisor/.phase2_hardened]
#   VIGIL_KEY     signing key for vigil seal [/etc/vigil/keys/vigil.key]
#   VIGIL_REASON  reason recorded with the seal [phase transition: <cmd>]
# Exit status: 0 done; 2 usage; otherwise the failing step's or vigil's.
set -eu

VIGIL=${VIGIL:-vigil}
VIGIL_CONFIG=${VIGIL_CONFIG:-/etc/vigil/vigil.toml}
VIGIL_DB=${VIGIL_DB:-/var/lib/vigil/vigil.db}
VIGIL_MARKER=${VIGIL_MARKER:-/etc/hypervisor/.phase2_hardened}
VIGIL_KEY=${VIGIL_KEY:-/etc/vigil/keys/vigil.key}
VIGIL_HARDEN_D=${VIGIL_HARDEN_D:-/etc/vigil/harden.d}

say() { echo "transition_phase: $*" >&2; logger -t vigil-phase -- "$*" 2>/dev/null || :; }

vig() { "$VIGIL" --config "$VIGIL_CONFIG" --db "$VIGIL_DB" "$@"; }

# seal takes the trusted baseline of the hardened host: a full baseline,
# signed, recorded in the audit log (a vigil without a seal command takes an
# unsigned full baseline and says so).
seal() {
	reason=${VIGIL_REASON:-"phase transition: $1"}
	if vig help seal >/dev/null 2>&1; then
		vig seal --key "$VIGIL_KEY" --reason "$reason"
	else
		say "this vigil has no seal command: taking an unsigned baseline (init --force)"
		vig init --force --reason "$reason"
	fi
}

case ${1:-} in
harden)
	if [ -d "$VIGIL_HARDEN_D" ]; then
		for step in "$VIGIL_HARDEN_D"/*; do
			[ -x "$step" ] || continue
			say "running $step"
			"$step"
		done
	fi
	mkdir -p "$(dirname "$VIGIL_MARKER")"
	date -u +%Y-%m-%dT%H:%M:%SZ >"$VIGIL_MARKER"
	say "hardened phase marker written: $VIGIL_MARKER"
	seal harden
	;;
seal)
	seal seal
	;;
setup)
	say "rollback to the setup phase by uid $(id -u) (${SUDO_USER:-$(id -un)}): removing $VIGIL_MARKER"
	rm -f "$VIGIL_MARKER"
	# vigil phase records the rollback in the audit log.
	if vig help phase >/dev/null 2>&1; then
		vig phase
	fi
	;;
*)
	echo "usage: transition_phase.sh harden|setup|seal" >&2
	exit 2
	;;
esac
