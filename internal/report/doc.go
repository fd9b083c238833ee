// Package report writes what vigil check and vigil update found: one line per
// change, per path that could not be checked, and a summary at the end, either
// for people or as NDJSON.
//
// # JSON
//
// With [Options.JSON] every change, error and the closing summary is one
// [alerts.Event] per line (NDJSON), in the schema the alerts package
// documents. The summary comes last.
//
// # Saved reports
//
// [ReadSaved] reads such a report back (a saved 'vigil check --json', as
// update --from and reseal --from take it): the summary, and the state of
// every entry each change shows, so that [Saved.Accept] accepts a change
// only in the state that was reviewed. A report whose summary is not a
// check's, or with a line that is not an event of it, is [ErrNotReport].
//
// # Human-readable lines
//
// Otherwise each change is one line:
//
//	~ C....smc..... file         /etc/passwd
//	│ │             │            └ path; "old -> new" for a move,
//	│ │             │              "path -> target" for a new symlink
//	│ │             └ file type (the old one for a deletion)
//	│ └ one column per attribute
//	└ what happened
//
// The first character says what happened:
//
//	mark  action
//	+     created
//	-     deleted
//	~     updated (content or type) or attributes_modified
//	>     moved (the same inode, same content, at a new path)
//	!     the path could not be checked; the line ends in the reason
//
// The attribute string has one column per attribute, in the order of
// [merkle.Attr]. A column shows its letter when that attribute changed and
// '.' when it did not; a created entry shows '+' in every column, a deleted
// one '-', an error line blanks:
//
//	C  content (hash; a device node's device number)
//	T  type
//	p  permission bits (mode)
//	u  owner (uid)
//	g  group (gid)
//	s  size
//	m  modification time
//	c  inode change time
//	i  inode number
//	n  hard link count
//	x  extended attributes
//	l  symlink target
//	f  inode flags (chattr)
//
// A note in parentheses follows the path when the content of an entry could
// not be verified: "(hash skipped)" for a file larger than the configured
// limit, "(hash unstable)" for one that kept changing while it was read, and
// "(error: ...)" with the reason an entry is incomplete. Then a change the
// classification table marks ([alerts.Classify]) ends in its tags and the
// ATT&CK sub-techniques they name, "(security: setuid_added; ATT&CK
// T1548.001)", and is bold red in colour.
//
// With [Options.Verbose] each changed attribute follows on a line of its
// own, old -> new; inode flags print as lsattr prints them
// ("----i---------e-------") and security.capability as getcap prints it
// ("cap_setuid=ep"), other extended attributes in hex.
//
// A paragraph closes the report: the counts, the number of files and bytes
// hashed, the duration, and the root hashes before and after, shortened to 16
// hex digits.
//
// # Hostile names
//
// A file name can hold any byte but '/' and NUL, including newlines and
// terminal escape sequences. A path (or symlink target, or error message) that
// is not valid UTF-8, holds a character that is not printable (control
// characters, ESC, DEL, C1 controls, bidirectional overrides, spaces other
// than U+0020), or holds " -> " or " (" is printed quoted, with Go escapes as
// [strconv.Quote] writes them: "/tmp/a\nb", "/tmp/\x1b[2J", "/tmp/\xff".
// A quoted path starts with '"' and an unquoted one with '/', so one change is
// always one line and no byte of a file name reaches the terminal
// uninterpreted.
//
// # Colour
//
// With [Options.Color] a line is green for created, red for deleted, yellow
// for updated or attributes_modified, cyan for moved and bold red for an
// error. The caller sets it when the output is a terminal and NO_COLOR is not
// set.
package report
