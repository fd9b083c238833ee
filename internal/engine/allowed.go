package engine

// AllowedOperations lists the commands that change the baseline or the
// phase which phase allows, as a console or another program shows them
// (the web console's /api/v1/phase). In setup a host is changed freely and
// sealed at the end; in hardened the only ways to accept a change or to
// loosen the policy carry a signature, and everything else that would
// write a baseline is refused (exit 15). Checking, proving, diffing and
// restoring from a trusted snapshot are allowed in both.
func AllowedOperations(phase string) []string {
	if phase == PhaseHardened {
		return []string{"check", "restore", "reseal --key", "phase setup --signature"}
	}
	return []string{"check", "restore", "init", "update", "seal"}
}
