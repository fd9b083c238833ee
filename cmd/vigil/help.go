package main

import (
	"os"
	"strconv"
	"unicode/utf8"
)

const helpText = `vigil: file integrity monitor

Usage:
  vigil [--config FILE] [--db FILE] [--quiet] COMMAND [ARGS]

Commands:
  init [--force] [PATH...]            take the baseline of PATHs or the configured roots
  check [--json] [--full] [PATH...]   compare the host with the baseline
  update [--json] [--full] [PATH...]  accept the current state as the new baseline
  status [--json]                     show the current baseline
  verify                              check the database's consistency and hashes
  diff [--json] [A [B]]               differences between two stored baselines
  log [--json]                        list the stored baselines, newest first
  compact                             rewrite the database file to shrink it
  migrate                             convert a database of an older vigil
  config default|check                print the default config / validate a config
  help                                this text
  version                             print the version

Global flags:
  --config FILE   configuration file (default: the embedded default config)
  --db FILE       database file (default: the config's "database", /var/lib/vigil/vigil.db)
  --quiet         no progress display, no informational messages

Run 'vigil help COMMAND' for a command's details.

Exit codes:
  0    no differences (check), success (other commands)
  1    paths added          } a bitmask: 3 = added and removed, 7 = all three;
  2    paths removed        } a move counts as added and removed
  4    paths changed        } (and paths that could not be verified)
  8    the baseline failed its integrity check (may be combined with 1, 2, 4)
  14   internal error
  15   bad argument (incl. init over an existing baseline without --force)
  17   configuration error
  18   I/O error
  19   database schema version mismatch (an older one: run 'vigil migrate')
  24   database error (missing, locked, corrupt, no baseline)
  130  interrupted
Codes 14 and up are not a bitmask: test for them first.

`

// hostname returns the host's name, or "" if it has none.
func hostname() string {
	h, _ := os.Hostname()
	return h
}

// quote makes a name safe to print on one line.
func quote(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return strconv.Quote(s)
		}
	}
	return s
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = quote(s)
	}
	return out
}
