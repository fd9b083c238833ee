// Package nix verifies a Nix store against the Nix database, as NixOS hosts
// keep it: every valid path's content against its NAR hash, every entry of
// the store directory against the database, every path's trust (a
// signature by a key of nix.conf's trusted-public-keys, a local build, or a
// content address that holds), and the system closure (what
// /run/current-system, /run/booted-system and the system profile's
// generations reach) against a sealed [Snapshot].
//
// [WriteNAR] is Nix's NAR serialization, written from the format: symlinks
// recorded and never followed, entries in byte order, only the executable
// bit of a file's mode; a FIFO, socket or device is refused by name
// without being opened. [HashPath] is its SHA-256, the hash the database
// records. [OpenDB] reads /nix/var/nix/db/db.sqlite read-only (SQLite's
// mode=ro, through the pure-Go modernc.org/sqlite: the binary keeps one cgo
// dependency); nothing here writes it. [Verify] checks a [Store]; with
// [Options.Known] (the states of a snapshot) a path whose files are all
// unchanged by inode, size, mtime, ctime, mode and link count is not
// rehashed, as the scanner's stat cache does per file. [Compare] reports
// what changed since a snapshot: database records, closure paths added
// (with the system generation that brought them) or removed.
//
// A [Store] has a Root: the directory its absolute paths are under, "/" on
// a host. Symlinks of the system roots are read, never followed on the
// host: a target /nix/store/x is looked up under Root.
//
// # Caveats
//
//   - A store path whose content differs is named, and so are the files in
//     it that are not in Nix's canonical state (mtime 1, no write
//     permission): a file written through the filesystem shows; a file
//     whose bytes were changed with its times set back does not, and then
//     only the store path is named.
//   - The Nix database is as trustworthy as root: a path and its database
//     row rewritten together verify. The snapshot (kept in a file the
//     sealed baseline attests, and as the leaves of the baseline's Nix
//     tree, internal/nixtree) is what catches that: the database record
//     changed since the seal ([DBChanged]), and a signature check, which
//     needs the signer's private key.
//   - The stat cache trusts a path whose stat digest is unchanged; root
//     can set times back. Options.Rehash (the engine's keyed sample, the
//     files' own) rehashes a rotating share anyway; Options.Full (check
//     --full) rehashes every path.
//   - fs-verity digests are not used yet.
package nix
