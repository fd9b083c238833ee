package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/alerts"
	"vigil/internal/config"
	"vigil/internal/console"
	"vigil/internal/engine"
	"vigil/internal/fleet"
	"vigil/internal/report"
	"vigil/merkle"
)

// fleetGolden runs fleet golden set|log.
func (e *env) fleetGolden(ctx context.Context, conn *fleet.Conn, inv *invocation, f config.Fleet, args []string) int {
	switch {
	case len(args) == 2 && args[0] == "set":
		return e.fleetGoldenSet(ctx, conn, inv, f, args[1])
	case len(args) == 2 && args[0] == "log":
		return e.fleetGoldenLog(ctx, conn, inv, f, args[1])
	}
	return e.fail(&usageError{msg: "fleet golden set PROFILE --from HOST --reason TEXT (--key FILE | --statement-out FILE | --signature FILE), or fleet golden log PROFILE", cmd: inv.cmd})
}

func (e *env) fleetGoldenSet(ctx context.Context, conn *fleet.Conn, inv *invocation, f config.Fleet, profile string) int {
	vs, err := fleet.GoldenVerifiers(f.GoldenKeys)
	if err != nil {
		return e.fail(&usageError{msg: err.Error(), cmd: inv.cmd})
	}
	var signed []byte
	switch key, out, sig := inv.str("key"), inv.str("statement-out"), inv.str("signature"); {
	case sig != "":
		// The second step: a statement signed elsewhere.
		if signed, err = os.ReadFile(sig); err != nil {
			return e.fail(err)
		}
	case key != "" || out != "":
		host, reason := inv.str("from"), inv.str("reason")
		if host == "" || reason == "" {
			return e.fail(&usageError{msg: "fleet golden set needs --from HOST and --reason TEXT", cmd: inv.cmd})
		}
		g, err := conn.Candidate(ctx, profile, host, who(), reason, time.Now())
		if err != nil {
			return e.fleetFail(err)
		}
		if out != "" {
			if err := os.WriteFile(out, []byte(g.Statement()), 0o644); err != nil {
				return e.fail(err)
			}
			fmt.Fprintf(e.stdout, "golden statement written to %s: sign it with 'vigil sign --key KEY %s' and record it with 'vigil fleet golden set %s --signature FILE'\n", out, out, profile)
			return exitOK
		}
		signer, err := readSigner(key)
		if err != nil {
			return e.fail(err)
		}
		if signed, err = note.Sign(&note.Note{Text: g.Statement()}, signer); err != nil {
			return e.fail(err)
		}
	default:
		return e.fail(&usageError{msg: "fleet golden set needs --key FILE, or --statement-out FILE then --signature FILE", cmd: inv.cmd})
	}
	g, err := conn.SetGolden(ctx, signed, vs)
	if err != nil {
		if errors.Is(err, fleet.ErrNotInitialized) {
			return e.fleetFail(err)
		}
		return e.fail(fmt.Errorf("%w: %w", engine.ErrForeignKey, err))
	}
	fmt.Fprintf(e.stdout, "golden baseline of profile %s: host %s, baseline %d, portable root %.16s (revision %d, signed by %s)\n",
		quote(g.Profile), quote(g.Host), g.Baseline, g.Portable, g.Revision, g.SignedBy)
	return exitOK
}

func (e *env) fleetGoldenLog(ctx context.Context, conn *fleet.Conn, inv *invocation, f config.Fleet, profile string) int {
	vs, err := fleet.GoldenVerifiers(f.GoldenKeys)
	if err != nil {
		return e.fail(&usageError{msg: err.Error(), cmd: inv.cmd})
	}
	log, err := conn.GoldenLog(ctx, profile, vs)
	if err != nil {
		return e.fleetFail(err)
	}
	enc := json.NewEncoder(e.stdout)
	for _, g := range log {
		if inv.bool("json") {
			if err := enc.Encode(g); err != nil {
				return e.fail(err)
			}
			continue
		}
		fmt.Fprintf(e.stdout, "#%d %s %s promoted %s baseline %d, portable root %.16s, signed by %s: %s\n", g.Revision,
			g.Time.Format(time.RFC3339), orDash(quote(g.User)), quote(g.Host), g.Baseline, g.Portable, g.SignedBy, quote(g.Reason))
	}
	return exitOK
}

// fleetDiff is fleet diff HOST [HOST2 | --golden]: the entries where two
// hosts' portable trees (or a host's and its profile's golden one) differ,
// found by descent over the manifests in the fleet: it works while the
// hosts are offline.
func (e *env) fleetDiff(ctx context.Context, conn *fleet.Conn, inv *invocation, f config.Fleet, args []string) int {
	if len(args) < 1 || len(args) > 2 || (len(args) == 2) == inv.bool("golden") {
		return e.fail(&usageError{msg: "fleet diff HOST HOST2, or fleet diff HOST --golden", cmd: inv.cmd})
	}
	host := args[0]
	b, err := conn.PortableRoot(ctx, host)
	if err != nil {
		return e.fleetFail(err)
	}
	var a merkle.Hash
	from := ""
	if inv.bool("golden") {
		vs, err := fleet.GoldenVerifiers(f.GoldenKeys)
		if err != nil {
			return e.fail(&usageError{msg: err.Error(), cmd: inv.cmd})
		}
		profile, err := conn.ProfileOf(ctx, host)
		if err != nil {
			return e.fleetFail(err)
		}
		g, err := conn.Golden(ctx, profile, vs)
		if err != nil {
			return e.fleetFail(err)
		}
		if a, err = g.GoldenRoot(); err != nil {
			return e.fleetFail(err)
		}
		from = "golden " + profile
	} else {
		if a, err = conn.PortableRoot(ctx, args[1]); err != nil {
			return e.fleetFail(err)
		}
		from = args[1]
		host, from = from, host // the first host is the old side: HOST HOST2 reads as "from HOST to HOST2"
		a, b = b, a
	}
	jsonOut := inv.bool("json")
	w := report.New(e.stdout, report.Options{JSON: jsonOut, Color: !jsonOut && useColor(e.stdout), Host: host, Verbose: inv.bool("verbose")})
	start := time.Now()
	var s alerts.Summary
	code := exitOK
	nodes, err := conn.DiffRoots(ctx, a, b, func(c merkle.Change) error {
		switch c.Action {
		case merkle.Created:
			s.Added++
			code |= exitAdded
		case merkle.Deleted:
			s.Removed++
			code |= exitRemoved
		default:
			s.Changed++
			code |= exitChanged
		}
		return w.Change(c)
	})
	if err != nil {
		return e.fleetFail(err)
	}
	s.Command, s.Method, s.Duration, s.ExitCode = "fleet diff", "manifests", time.Since(start), code
	s.Scope = []string{from, host}
	if err := w.Summary(s); err != nil {
		return e.fail(err)
	}
	e.log.Info().Int("nodes_fetched", nodes.Fetched).Int64("bytes_read", nodes.Bytes).Msg("fleet diff by descent")
	return code
}

// fleetConsole serves the fleet's read-only web console on addr until
// stop: loopback, or any address with the token of
// fleet.console_token_file.
func (e *env) fleetConsole(ctx context.Context, conn *fleet.Conn, f config.Fleet, addr string) (stop func(), err error) {
	var opts console.Options
	if f.ConsoleTokenFile != "" {
		raw, err := os.ReadFile(f.ConsoleTokenFile)
		if err != nil {
			return nil, err
		}
		if opts.Token = strings.TrimSpace(string(raw)); len(opts.Token) < 16 {
			return nil, fmt.Errorf("%s: a console token of at least 16 characters is needed", f.ConsoleTokenFile)
		}
	}
	src := &fleet.ConsoleSource{Conn: conn}
	if len(f.GoldenKeys) > 0 {
		if src.Golden, err = fleet.GoldenVerifiers(f.GoldenKeys); err != nil {
			return nil, err
		}
	}
	c, err := console.New(src, opts)
	if err != nil {
		return nil, err
	}
	ln, err := console.Listen(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error().Err(err).Msg("console")
		}
	}()
	e.log.Info().Str("address", ln.Addr().String()).Bool("token", opts.Token != "").Msg("web console")
	return func() { srv.Close() }, nil
}
