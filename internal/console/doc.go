// Package console is vigil's read-only web console: server-rendered pages
// (html/template, whose contextual escaping is the only way a value reaches
// a page), a pinned htmx vendored as one file for the parts that refresh,
// and a stylesheet, all in the binary (go:embed). No Node toolchain, no
// inline script or style: every response carries a strict
// Content-Security-Policy that allows only the console's own script and
// stylesheet.
//
// The console shows what a [Source] gives it and changes nothing: there is
// no form that acts, and promotion, sealing and every other act that
// changes trust stays a signed command on the command line (a page shows
// the command to run, never runs it). vigil watch serves it for its one
// host; vigil fleet serve (issue 19) for the fleet, through the same Source.
//
// Pages:
//
//	/                  the fleet: every host with profile, phase, seal, last heartbeat, drift, open alerts
//	/host/{name}       one host: its phase and history, baselines, audit log, standing alerts with who made them
//	/api/v1/phase      the serving host's phase as JSON (phase, since, allowed operations)
//
// Access: a console bound to a loopback address is open to the host's own
// users; bound to any other address it requires a token (Options.Token),
// sent as "Authorization: Bearer TOKEN" or once as ?token=TOKEN, which sets
// an HttpOnly, SameSite=Strict cookie. [Listen] refuses a non-loopback
// address without a token.
package console
