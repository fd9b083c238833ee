// Package textdiff turns two versions of a kept text file into a bounded
// unified diff with the lines that look like secrets masked: what vigil
// shows of a configuration file's content (check --verbose, diff
// --verbose, update, and vigil.diff in JSON events and at sinks).
//
// [Lines] computes a shortest edit script on lines (Myers' O(ND)
// algorithm, after trimming the common prefix and suffix; past
// [MaxEdits] edits the middle is shown replaced whole). [Unified] renders
// it as `diff -u` does, with [Options.Context] lines of context, at most
// [Options.MaxLines] lines (the rest counted in [Diff.Omitted]) of at most
// [MaxLineBytes] bytes each, every line masked (see [Mask]).
//
// [IsText] decides by content, never by name, whether a file may be kept:
// a NUL byte or invalid UTF-8 in the first block makes it binary.
// [HasPrivateKey] finds a PEM private key, which is never kept.
//
// # Masking
//
// A line is masked when it matches one of [Patterns] (documented in the
// README): assignments to names that mean a secret (password, passphrase,
// secret, token, api_key, private_key, credential, psk, bindpw, ...),
// crypt(3) hashes, credentials in URLs, Authorization headers, and every
// line of a PEM private key block. Masking keeps the name and replaces the
// value with "****", so that a diff still says a password changed, not
// what to.
//
// # Caveats
//
// Masking is by pattern: a secret under a name the list does not know is
// shown. Rules keep secrets out of the store in the first place (the
// default configuration keeps no shadow files, keys or keytabs, and no
// file that is not world-readable); masking is the second line.
package textdiff
