// Package alerts defines the event vigil reports changes with, in the style of
// the Elastic Common Schema (ECS), and will hold the sinks that deliver them.
//
// Every machine-readable output of vigil (check --json today, alert sinks and
// logs later) uses [Event]. Marshalled with encoding/json it is one JSON object
// with ECS field sets as nested objects: "host.name" below means
// {"host":{"name":...}}. One event per line gives NDJSON that Filebeat, Elastic
// Agent, jq or a SIEM can read as is.
//
// # Change events
//
// [FromChange] turns a [merkle.Change] into an event:
//
//	@timestamp        RFC 3339 with nanoseconds, UTC
//	ecs.version       the ECS version the layout follows
//	host.name         the host the change was seen on (omitted when empty)
//	event.kind        "event"
//	event.category    ["file"]
//	event.type        ["creation"], ["deletion"] or ["change"]
//	event.action      created, deleted, updated, attributes_modified, moved
//	event.module      "vigil"
//	event.dataset     "vigil.fim"
//	file.path         absolute path (the new path of a move)
//	file.type         file, dir, symlink, fifo, socket, char_device, block_device
//	file.mode         permission bits in octal, "0644", "4755"
//	file.uid, .gid    numeric owner and group, as strings (as ECS defines them)
//	file.size         size in bytes
//	file.mtime, .ctime  RFC 3339 with nanoseconds, UTC
//	file.inode        inode number, as a string
//	file.target_path  a symlink's target
//	file.hash.blake3  hex BLAKE3-256 of the content, when it is known
//	error.message     why the entry is incomplete, when it is
//	vigil.changed     the attributes that differ, named as in [merkle.Attr.Names]
//	vigil.hash_state  skipped, unstable or failed when the content hash is unknown
//	vigil.xattrs      extended attributes, name to std base64 value
//	vigil.flags       inode flags (chattr) in hex, "0x00000010", when known
//	vigil.flags_text  the same as lsattr prints them, "----i---------e-------"
//	vigil.capabilities  security.capability as getcap prints it, "cap_setuid=ep"
//	                  (the raw value stays in vigil.xattrs)
//	vigil.nlink       hard link count
//	vigil.rdev        the device number a device node points to
//	vigil.security    the tags of the classification table, see [Classify]
//	vigil.accounts    on a change of /etc/passwd or /etc/group: the accounts
//	                  other than root with uid 0 and the members of wheel,
//	                  sudo and admin, as the file is now (see [Accounts]);
//	                  with the content kept, also what the diff adds
//	vigil.diff        a kept file's content diff (see [Event.SetDiff]):
//	                  unified (masked, bounded), lines_added, lines_removed,
//	                  truncated, omitted_lines, masked_lines, or not_kept
//	                  (why there is none); a sink with diff = false drops it
//	                  ([WithoutDiff])
//	threat.framework  "MITRE ATT&CK", when a row of the table names a technique
//	threat.technique.id, .name, .reference  the techniques ("T1548")
//	threat.technique.subtechnique.id, .name, .reference  their
//	                  sub-techniques ("T1548.001"), in the same order
//	vigil.previous    the old values of an updated, attributes_modified or
//	                  moved entry: the keys of file.* and of the vigil.* entry
//	                  fields above (hash.blake3, mode, ..., xattrs, flags);
//	                  path only for a move
//
// For created the file fields describe the new entry; for deleted they
// describe the old one, and there is no vigil.previous. Fields with no value
// are omitted.
//
// [ScanError] reports a path that could not be checked (event.type ["info"],
// event.action "scan_error", event.outcome "failure", error.message,
// file.path) and [SummaryEvent] closes a run (event.kind "metric",
// event.action "summary", event.duration in nanoseconds, the counts under
// vigil.summary).
//
// # Security classification
//
// One table in this package (security.go) says what a change means:
// [Classify] returns its tags (setuid_added, persistence, credentials, ...)
// and MITRE ATT&CK techniques. Rows match by what changed (a setuid bit
// that appears) or by path. Path patterns match the end of the absolute
// path at a name boundary, so a root mounted elsewhere (a container's
// /var/lib/machines/web, a test's temporary directory) is classified as
// the host's /etc is; "**" stands for any number of names. The human
// report uses the same table. [Event.SetPhase] raises a hardened-phase
// change with a technique to [SeverityCritical].
//
// # Names that are not UTF-8
//
// Linux file names are bytes; JSON strings cannot carry bytes that are not
// valid UTF-8. When a path is not valid UTF-8, file.path holds a readable form
// in which each invalid byte is replaced by U+FFFD, and vigil.path_base64
// holds the exact bytes in standard base64. The same holds for a symlink
// target (file.target_path, vigil.target_path_base64) and for the old path of
// a move (vigil.previous.path, vigil.previous.path_base64). Consumers that
// need the exact name use the base64 field whenever it is present. Names with
// newlines or other control characters are valid UTF-8 and are simply
// JSON-escaped ("\n", "\u001b").
//
// # Caveats
//
// Extended attribute names that are not valid UTF-8 appear in vigil.xattrs
// with invalid bytes replaced by U+FFFD, so two such names can collide; the
// change still shows in vigil.changed. The device holding a file is recorded
// by vigil but not reported: it can change across reboots with no change to
// the file. JSON strings may carry any valid Unicode, including C1 control
// characters and bidirectional overrides; a consumer that prints them to a
// terminal must escape them itself. Path patterns of the classification
// table also match deeper in a tree (/usr/share/doc/x/etc/passwd is
// tagged credentials). The account facts are read from the file when the
// event is made, not from the scan: a file changed again in between shows
// its newer accounts; only the last name is opened without following
// symlinks.
package alerts
