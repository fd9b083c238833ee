package main

import (
	"context"
	"encoding/json"
	"time"

	"vigil/alerts"
	"vigil/internal/engine"
	"vigil/internal/posture"
	"vigil/internal/report"
)

const postureAbout = `Collect the host's security posture (sysctls, loaded modules, the kernel
command line, lockdown, Secure Boot, the LSM stack, SELinux and AppArmor
modes, listening sockets and their programs, the nftables ruleset's digest,
the mount options of /, /boot, /tmp, /var/tmp, /dev/shm and /home, uid-0
accounts, login shells and empty passwords, systemd-analyze security
exposure of the configured units; with --lynis or posture.lynis, lynis's
hardening index and warnings) and check it against a profile: each
check with its status (pass, fail, changed since the baseline, unavailable
here), the expected and current values, why it matters and the recommended
change (a sysctl line, a NixOS option, a unit override).

--profile chooses the profile (default: posture.profile, else server);
profiles are data: the embedded file (vigil posture --profiles prints it)
extended by posture.profile_file. --baseline also compares with the
posture the current baseline recorded (posture.enable = true records it with
every whole init, seal, update and reseal), after check's trust decision (a
broken seal or a rollback: exit 8); changes to keys no check covers (a new
listening socket, a module loaded) are listed as drift. --json prints the
report as one JSON object.

Exit codes, a bitmask as check's: 1 posture entries added since the
baseline, 2 removed, 4 a check fails or a value changed, 8 the baseline
cannot be vouched for; 15 an unknown profile.`

// runPosture is vigil posture.
func runPosture(ctx context.Context, e *env, inv *invocation) int {
	eng, err := e.engine(inv)
	if err != nil {
		return e.fail(err)
	}
	if inv.bool("profiles") {
		_, err := e.stdout.Write([]byte(posture.DefaultProfilesText()))
		return e.failIf(err)
	}
	profile := inv.str("profile")
	if profile == "" {
		profile = eng.Config().PostureProfile()
	}
	checks, err := engine.PostureChecks(eng.Config(), profile)
	if err != nil {
		if inv.str("profile") != "" {
			return e.fail(&usageError{msg: err.Error(), cmd: inv.cmd})
		}
		return e.fail(err)
	}
	var recorded []posture.Item
	if inv.bool("baseline") {
		_, db, _, err := e.trusted(inv, true)
		if err != nil {
			return e.fail(err)
		}
		recorded, _, err = eng.RecordedPosture(db)
		db.Close()
		if err != nil {
			return e.fail(err)
		}
		if recorded == nil {
			e.log.Warn().Msg("the current baseline records no posture (posture.enable): nothing to compare with")
		}
	}
	items, err := eng.CollectPosture(ctx, inv.bool("lynis"))
	if err != nil {
		return e.fail(err)
	}
	r := posture.Evaluate(profile, checks, items, recorded)
	if inv.bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.WriteText(e.stdout)
	}
	if err != nil {
		return e.fail(err)
	}
	return r.ExitCode()
}

// failIf is fail for a non-nil err, exitOK otherwise.
func (e *env) failIf(err error) int {
	if err != nil {
		return e.fail(err)
	}
	return exitOK
}

// reportPosture reports the posture changes a check found (or an update
// accepted): one event each, "~ posture KEY OLD -> NEW (SEVERITY)", and
// returns their exit bits (1 added, 2 removed, 4 changed).
func (e *env) reportPosture(w *report.Writer, res engine.Result, host string) (int, error) {
	code := 0
	marks := map[posture.Action]string{posture.Added: "+", posture.Removed: "-", posture.Changed: "~"}
	for _, c := range res.Posture {
		switch c.Action {
		case posture.Added:
			code |= exitAdded
		case posture.Removed:
			code |= exitRemoved
		default:
			code |= exitChanged
		}
		ev := alerts.Posture(alerts.PostureChange{Key: c.Key, Action: string(c.Action), Old: c.Old, New: c.New},
			c.Severity, host, time.Now())
		line := marks[c.Action] + " posture " + quote(c.Key) + " " + posture.ChangeText(c) + " (" + c.Severity + ")"
		if err := w.Event(ev, line); err != nil {
			return code, err
		}
	}
	return code, nil
}
