package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"vigil/internal/config"
	"vigil/internal/engine"
	"vigil/internal/fleet"
	"vigil/store"
)

const fleetAbout = `The fleet: an off-host witness of every host's audit log on NATS JetStream
(the [fleet] section of --config gives the servers and credentials). Hosts
with a [fleet] section publish their state after every check, update, seal,
reseal and phase change; before trusting their database they require its
audit log to extend the checkpoint a quorum of fleet.witnesses cosigned, so
a database put back, a log cut or a kept checkpoint deleted is exit 8 even
when the host's own files agree with each other.

  vigil fleet init [--replicas N]
      create the buckets vigil_hosts, vigil_keys, vigil_witness,
      vigil_golden, the object store vigil_nodes and the
      streams VIGIL_FLEET (vigil.fleet.>) and VIGIL_EVENTS (vigil.events.>),
      N copies each (default 1; 3 on a cluster)
  vigil fleet enroll HOST --pubkey FILE [--replace]
      record HOST's verifier key (the key its seals are signed with)
  vigil fleet serve --key FILE
      run a witness with the signer key FILE (vigil keygen's vigil.key):
      verify every host update, cosign (C2SP cosignature/v1) what extends
      what it cosigned before, raise the fleet's events on vigil.fleet.HOST:
      rollback, fork, unknown_host, signature_invalid, host_silent,
      resolved, phase_changed, unsealed, check_failing, events_missing,
      record_deleted
  vigil fleet status [--json]
      one line per host: host, profile, phase, sealed root, witnessed
      checkpoint size, heartbeat age, state; --json one object per line
  vigil fleet log HOST [--json]
      HOST's witnessed history: its updates and the witnesses' decisions
  vigil fleet golden set PROFILE --from HOST --reason TEXT --key FILE
      promote HOST's sealed baseline to PROFILE's golden baseline: a
      statement of its portable root (taken from the host's signed
      statement), who and why, signed by one of fleet.golden_keys, in
      vigil_golden; two steps with --statement-out FILE, 'vigil sign', then
      --signature FILE
  vigil fleet golden log PROFILE [--json]
      PROFILE's promotions, each verified
  vigil fleet diff HOST HOST2 | HOST --golden [--json] [--verbose]
      the entries where two hosts differ (or a host and its golden
      baseline), in check's format and exit codes: a descent over the
      portable trees' manifests in vigil_nodes, fetching only the nodes
      that differ (it works while the hosts are offline)
  vigil fleet forget HOST
      remove every witness's record of HOST (a host rebuilt, or after
      'vigil init --force'): its next checkpoint is witnessed as a first
      one. The fleet operator's act: a host's NATS user must not be allowed
      to write vigil_witness (a record deleted behind the witness's back is
      a critical record_deleted)

Exit codes of status: 0 every host ok; 4 a host silent, unsealed, failing
its check, missing events or not witnessed yet; 8 a host rolled back,
forked, unknown, with a signature that does not verify or a witness record
deleted. Others: 15 usage, 17 configuration,
18 the fleet cannot be reached, 24 its buckets do not exist (fleet init).`

var fleetFlags = []flagDef{
	{name: "json", help: "status and log: one JSON object per line"},
	{name: "replicas", arg: "N", help: "init: copies of each bucket and stream (default 1)"},
	{name: "key", arg: "FILE", complete: "file", help: "serve: the witness's signer key (vigil keygen's vigil.key)"},
	{name: "pubkey", arg: "FILE", complete: "file", help: "enroll: the host's verifier key (vigil.pub)"},
	{name: "replace", help: "enroll: replace the key a host is enrolled with"},
	{name: "from", arg: "HOST", help: "golden set: the host whose sealed baseline is promoted"},
	{name: "reason", arg: "TEXT", help: "golden set: why (recorded in the signed statement)"},
	{name: "statement-out", arg: "FILE", complete: "file", help: "golden set: write the statement to sign elsewhere"},
	{name: "signature", arg: "FILE", complete: "file", help: "golden set: record a statement signed elsewhere"},
	{name: "golden", help: "diff: compare the host with its profile's golden baseline"},
	{name: "verbose", help: "diff: each changed entry's attributes, old and new"},
	{name: "listen", arg: "ADDR", help: "serve: serve the read-only web console on ADDR (loopback, or with console_token_file)"},
}

// fleetTimeout bounds the fleet commands' requests (not serve's run).
const fleetTimeout = 10 * time.Second

func runFleet(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) == 0 {
		return e.fail(&usageError{msg: "fleet needs a subcommand: init, enroll, serve, status, log, golden, diff or forget", cmd: inv.cmd})
	}
	cfg, err := e.config()
	if err != nil {
		return e.fail(err)
	}
	if !cfg.Fleet.Enabled() {
		return e.fail(&usageError{msg: fmt.Sprintf("%s has no [fleet] url: the fleet commands need one", cfg.Source), cmd: inv.cmd})
	}
	return e.fleetSub(ctx, inv, cfg.Fleet)
}

// fleetFail reports err: the fleet's missing buckets are exit 24, as a
// missing database is.
func (e *env) fleetFail(err error) int {
	code := e.fail(err)
	if errors.Is(err, fleet.ErrNotInitialized) {
		return exitDatabase
	}
	return code
}

func (e *env) fleetSub(ctx context.Context, inv *invocation, f config.Fleet) int {
	sub, args := inv.args[0], inv.args[1:]
	cctx, cancel := context.WithTimeout(ctx, fleetTimeout)
	defer cancel()
	conn, err := fleet.Connect(cctx, f, "vigil fleet "+sub)
	if err != nil {
		return e.fail(err)
	}
	defer conn.Close()
	switch {
	case sub == "init" && len(args) == 0:
		return e.fleetInit(cctx, conn, inv)
	case sub == "enroll" && len(args) == 1:
		return e.fleetEnroll(cctx, conn, inv, args[0])
	case sub == "status" && len(args) == 0:
		return e.fleetStatus(cctx, conn, inv)
	case sub == "log" && len(args) == 1:
		return e.fleetLog(cctx, conn, inv, args[0])
	case sub == "forget" && len(args) == 1:
		if err := conn.Forget(cctx, args[0]); err != nil {
			return e.fleetFail(err)
		}
		e.log.Info().Str("host", quote(args[0])).Msg("the witnesses' records of the host removed: its next checkpoint is witnessed as a first one")
		return exitOK
	case sub == "serve" && len(args) == 0:
		return e.fleetServe(ctx, conn, inv, f)
	case sub == "golden":
		return e.fleetGolden(cctx, conn, inv, f, args)
	case sub == "diff":
		dctx, cancel := context.WithTimeout(ctx, 10*fleetTimeout)
		defer cancel()
		return e.fleetDiff(dctx, conn, inv, f, args)
	}
	return e.fail(&usageError{msg: fmt.Sprintf("fleet %s: unknown subcommand or wrong arguments", strings.Join(inv.args, " ")), cmd: inv.cmd})
}

func (e *env) fleetInit(ctx context.Context, conn *fleet.Conn, inv *invocation) int {
	n := 1
	if s := inv.str("replicas"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > 5 {
			return e.fail(&usageError{msg: fmt.Sprintf("--replicas %q: want 1 to 5", s), cmd: inv.cmd})
		}
	}
	if err := conn.Init(ctx, n); err != nil {
		return e.fleetFail(err)
	}
	e.log.Info().Int("replicas", n).Msg("fleet buckets and streams ready")
	return exitOK
}

func (e *env) fleetEnroll(ctx context.Context, conn *fleet.Conn, inv *invocation, host string) int {
	path := inv.str("pubkey")
	if path == "" {
		return e.fail(&usageError{msg: "fleet enroll needs --pubkey FILE", cmd: inv.cmd})
	}
	v, err := engine.ReadVerifier(path)
	if err != nil {
		return e.fail(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return e.fail(err)
	}
	if err := conn.Enroll(ctx, host, string(raw), inv.bool("replace")); err != nil {
		if errors.Is(err, fleet.ErrEnrolled) {
			return e.fail(&usageError{msg: err.Error(), cmd: inv.cmd})
		}
		return e.fleetFail(err)
	}
	e.log.Info().Str("host", quote(host)).Str("key", v.Name()).Msg("enrolled")
	return exitOK
}

func (e *env) fleetStatus(ctx context.Context, conn *fleet.Conn, inv *invocation) int {
	hosts, err := conn.Status(ctx, time.Now())
	if err != nil {
		return e.fleetFail(err)
	}
	code := exitOK
	enc := json.NewEncoder(e.stdout)
	for _, h := range hosts {
		switch h.State {
		case fleet.StateOK:
		case fleet.StateRollback, fleet.StateFork, fleet.StateUnknownHost, fleet.StateBadSignature, fleet.StateRecordDeleted:
			code = exitTampered
		default:
			code = max(code, exitChanged)
		}
		if inv.bool("json") {
			if err := enc.Encode(h); err != nil {
				return e.fail(err)
			}
			continue
		}
		fmt.Fprintln(e.stdout, statusLine(h))
	}
	return code
}

// statusLine is one host's line of fleet status.
func statusLine(h fleet.HostStatus) string {
	root := h.Root
	if len(root) > 12 {
		root = root[:12]
	}
	if root == "" {
		root = "-"
	}
	if !h.Sealed {
		root += "(unsealed)"
	}
	witnessed := "-"
	if h.Witnessed >= 0 {
		witnessed = strconv.FormatInt(h.Witnessed, 10)
	}
	line := fmt.Sprintf("%-20s %-12s %-9s %-22s %8s %8s  %s", quote(h.Host), orDash(quote(h.Profile)), orDash(h.Phase), root,
		witnessed, (time.Duration(h.HeartbeatAge) * time.Second).String(), h.State)
	if h.Problem != "" {
		line += ": " + quote(h.Problem)
	}
	return line
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *env) fleetLog(ctx context.Context, conn *fleet.Conn, inv *invocation, host string) int {
	entries, err := conn.Log(ctx, host)
	if err != nil {
		return e.fleetFail(err)
	}
	enc := json.NewEncoder(e.stdout)
	for _, l := range entries {
		if inv.bool("json") {
			if err := enc.Encode(l); err != nil {
				return e.fail(err)
			}
			continue
		}
		at := l.Time.Format(time.RFC3339)
		switch l.Kind {
		case "update":
			sealed := "unsealed"
			if l.Sealed {
				sealed = "sealed"
			}
			fmt.Fprintf(e.stdout, "%s update   #%d size %d baseline %d %s root %s phase %s\n", at, l.Revision, l.Size, l.Baseline, sealed, orDash(l.Root), orDash(l.Phase.Phase))
		default:
			line := fmt.Sprintf("%s decision #%d by %s on update #%d: %s, witnessed size %d", at, l.Revision, quote(l.Witness), l.HostRevision, l.State, l.Size)
			if l.Problem != "" {
				line += ": " + quote(l.Problem)
			}
			fmt.Fprintln(e.stdout, line)
		}
	}
	return exitOK
}

func (e *env) fleetServe(ctx context.Context, conn *fleet.Conn, inv *invocation, f config.Fleet) int {
	path := inv.str("key")
	if path == "" {
		return e.fail(&usageError{msg: "fleet serve needs --key FILE (the witness's signer key)", cmd: inv.cmd})
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return e.fail(err)
	}
	w, err := fleet.NewWitness(conn, string(raw), f.TOFU)
	if err != nil {
		return e.fail(fmt.Errorf("%s: %w: %w", path, engine.ErrKey, err))
	}
	w.OnDecision = func(host string, rec fleet.Record, events []string) {
		ev := e.log.Info()
		if rec.State != fleet.StateOK {
			ev = e.log.Warn()
		}
		ev.Str("host", quote(host)).Str("state", rec.State).Int64("witnessed_size", rec.Size).Strs("events", events).Str("problem", rec.Problem).Msg("decision")
	}
	if len(f.GoldenKeys) > 0 {
		if err := w.SetGoldenKeys(f.GoldenKeys); err != nil {
			return e.fail(err)
		}
	}
	if addr := inv.str("listen"); addr != "" {
		stop, err := e.fleetConsole(ctx, conn, f, addr)
		if err != nil {
			return e.fail(err)
		}
		defer stop()
	}
	e.log.Info().Str("witness", w.Name()).Bool("tofu", f.TOFU).Bool("golden", len(f.GoldenKeys) > 0).Msg("witness serving")
	if err := w.Run(ctx, time.Second); err != nil {
		return e.fleetFail(err)
	}
	return exitOK
}

// fleetAgent returns the host's fleet agent (nil without a [fleet]
// section), made once per command.
func (e *env) fleetAgent(cfg *config.Config) (*fleet.Agent, error) {
	if !cfg.Fleet.Enabled() {
		return nil, nil
	}
	if e.agent == nil {
		a, err := fleet.NewAgent(cfg.Fleet, hostname(), version)
		if err != nil {
			return nil, err
		}
		e.agent = a
	}
	return e.agent, nil
}

// publishFleet publishes the host's state to the fleet after an operation
// that added to the audit log, or a check (with its summary): within
// engine.WitnessTimeout; a fleet out of reach is a warning, never a
// failure of the operation.
func (e *env) publishFleet(eng *engine.Engine, db *store.DB, check *fleet.CheckSummary) {
	a, err := e.fleetAgent(eng.Config())
	if a == nil || err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), engine.WitnessTimeout)
	defer cancel()
	if err := a.Publish(ctx, eng, db, check); err != nil {
		e.log.Warn().Err(err).Msg("the host's state could not be published to the fleet")
	}
}
