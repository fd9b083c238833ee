// Package posture turns the host's live security state into posture
// entries (key, value) that vigil seals with its file baseline, compares
// with a profile of expected values, and reports on.
//
// # Design
//
// A posture entry is an [Item]: a key in a reserved namespace of its own,
// "collector:name" (sysctl:kernel.kptr_restrict, module:ext4,
// socket:tcp:0.0.0.0:22, mount:/tmp, systemd:sshd.service:exposure,
// accounts:uid0, ...), and its value as canonical text. Posture entries are
// not entries of the file tree: they form a second Merkle tree, built with
// the merkle package's own [merkle.Builder] over one directory ("/") whose
// children are the items, each a leaf whose name is the escaped key
// ([LeafName]: '/' and '%' percent-encoded, so that a key is always one
// name) and whose content hash is BLAKE3 over the value. [Root] is that
// tree's root. So the file tree's hashing is unchanged (old baselines keep
// their roots and verify as before), a key can never collide with a file
// path (the two trees are apart), and the merkle package stays free of
// I/O: this package builds entries, merkle hashes them. A proof of one item
// is merkle's [merkle.Proof] of one child of the tree's root ([Prove],
// checked with the value by [VerifyItem]).
//
// The store keeps a baseline's items with its metadata (store.Info's
// Posture: the root and the items); a baseline's signed statement carries
// a line "posture ROOT" when it has posture (statements of baselines
// without one stay byte for byte what they were), so the items are signed
// with the rest: the engine recomputes the root from the stored items on
// every read and fails the check as tampered when it differs.
//
// [Compare] diffs two states as check does files: added, removed and
// changed items with old -> new values, and a severity from the profile's
// check for the key (a rising systemd exposure score is an alert, a
// falling one is informational). A collector that cannot run here (no
// systemd-analyze, no nft, no securityfs) is recorded as unavailable
// ("unavailable:NAME" items, left out of every comparison), and its keys
// are compared only where it ran on both sides: unavailable is never a
// change.
//
// # Collectors
//
// Every collector reads /proc and /sys only, never follows a symlink it
// scans (it reads links as text), opens no FIFO or device, and logs
// nothing; systemd-analyze and nft are run (read-only) where present. The
// network collectors read /proc/thread-self, so a thread in another
// network namespace sees that namespace's sysctls and sockets. Values of
// account files are reduced to names (which accounts have uid 0, a login
// shell or an empty password): no hash or password ever leaves the file.
//
// # Profiles
//
// A [Profile] is data: the embedded profiles.toml lists the checks, each
// with a key pattern, the expected value per profile ("server",
// "workstation"), a severity, why it matters and the fix as a sysctl line,
// a NixOS option or a unit override. A configuration adds checks from its
// own file of the same format ([ParseProfiles]). [Evaluate] turns a state
// (and, optionally, the baseline's) into a [Report].
//
// # Caveats
//
//   - Root on the host can change what /proc reports only by changing the
//     state itself; it can, however, run a rootkit that lies in /proc. The
//     posture is evidence of configuration drift, not of a clean kernel.
//   - systemd-analyze's exposure scores differ between systemd versions:
//     an upgrade of systemd moves scores without a change of the units.
//     Scores are cached by the unit file's content hash (and the
//     systemd-analyze binary's), for the life of the [Collector].
//   - Listening sockets are matched to their program by the socket inode
//     in /proc/PID/fd: a socket whose owner exited (or that sits in a
//     namespace no process of this PID namespace holds) has no program.
package posture
