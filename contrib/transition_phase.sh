#!/bin/sh
# transition_phase.sh: vigil's hook in a host's phase transition.
#
#   transition_phase.sh harden   run the hardening steps, seal the baseline
#                                (vigil seal), then write the hardened-phase
#                                marker
#   transition_phase.sh setup    record a signed rollback to the setup phase
#                                (vigil phase setup: asks for the reason,
#                                records the login name), then remove the
#                                marker
#   transition_phase.sh seal     seal a host that is not sealed yet (what the
#                                NixOS module's vigil-seal.service runs when
#                                the marker exists); a sealed host is left
#                                alone: planned changes are accepted by
#                                'vigil reseal', after review
#
# The phase in force is what vigil's audit log records, not the marker: a
# seal records the hardened phase, and only a record signed by the key
# leaves it. The marker is the operator's request; one that disagrees with
# the record is a critical finding of vigil check and vigil watch.
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
#   VIGIL_PUBKEY  verifier key, if the configuration pins none (trust.pubkey)
#   VIGIL_REASON  reason recorded with the seal [phase transition: <cmd>];
#                 for setup it is required: asked for on a terminal
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

pubkey() { [ -n "${VIGIL_PUBKEY:-}" ] && printf '%s\n' --pubkey "$VIGIL_PUBKEY"; return 0; }

# sealed says whether the audit log records the hardened phase with a
# sealed baseline.
sealed() {
	# shellcheck disable=SC2046
	st=$(vig phase --json $(pubkey) 2>/dev/null || :)
	case $st in
	*'"phase":"hardened"'*'"sealed":true'* | *'"sealed":true'*'"phase":"hardened"'*) return 0 ;;
	esac
	return 1
}

# seal takes the trusted baseline of the hardened host: a full baseline,
# signed, recorded in the audit log, which from then on records the
# hardened phase. A host sealed already is left alone: a seal would accept
# whatever changed meanwhile.
seal() {
	if sealed; then
		say "the host is sealed already: nothing to do (accept planned changes with vigil reseal, after review)"
		return 0
	fi
	reason=${VIGIL_REASON:-"phase transition: $1"}
	vig seal --key "$VIGIL_KEY" --reason "$reason"
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
	seal harden
	mkdir -p "$(dirname "$VIGIL_MARKER")"
	date -u +%Y-%m-%dT%H:%M:%SZ >"$VIGIL_MARKER"
	say "hardened phase marker written: $VIGIL_MARKER"
	;;
seal)
	seal seal
	;;
setup)
	reason=${VIGIL_REASON:-}
	if [ -z "$reason" ] && [ -t 0 ]; then
		printf 'Why does this host leave the hardened phase? ' >&2
		read -r reason
	fi
	if [ -z "$reason" ]; then
		echo "transition_phase.sh setup: a reason is required (VIGIL_REASON, or answer on a terminal)" >&2
		exit 2
	fi
	login=${SUDO_USER:-$(logname 2>/dev/null || id -un)}
	say "rollback to the setup phase by uid $(id -u) ($login): $reason"
	# The signed record comes first: the marker goes only once vigil has
	# recorded the move (vigil names the uid and the sudo user itself).
	# shellcheck disable=SC2046
	vig phase setup --key "$VIGIL_KEY" --reason "$reason (by $login)" $(pubkey)
	rm -f "$VIGIL_MARKER"
	;;
*)
	echo "usage: transition_phase.sh harden|setup|seal" >&2
	exit 2
	;;
esac
