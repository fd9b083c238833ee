// Package engine wires the scanner, the Merkle builder and the store into
// vigil's operations: [Init] takes a first baseline, [Check] compares the
// host with the current baseline, [Update] accepts the current state (of some
// subtrees, or all) as a new baseline.
//
// Each operation is one streaming pass: the scan, in path order, is merged
// with the stored baseline read in path order, so memory does not grow with
// the number of files. Changes reach the caller's [Options.Change] as they
// are found, except created and deleted paths, which are held until the end
// to pair renames into moves.
//
// [Preflight] checks what Init needs before anything is created on disk
// (the paths exist, some root exists, the database lies outside the roots).
// [Options.Accept] lets Update accept only some changes (the entries an
// operator reviewed): a turned-down change keeps what was recorded.
//
// [Prove] writes the proof of one path's recorded state with its baseline's
// signed statement ([ProofFile]); [VerifyProof] checks one anywhere, with
// nothing but the verifier keys: strict JSON in the one form Prove writes,
// the top-level values equal to the statement's ([ParseStatement]), the
// hashes up to its root. [CompareCopy] compares a file, or a copy of it
// made elsewhere, with a proven entry on what a copy keeps ([CopyAttrs]).
// Caveat: a proof shows that a path was recorded so, not that nothing
// else was; and a directory's size differs from one file system to another,
// so a copied directory may differ in size only.
//
// A directory that cannot be listed hides nothing: its recorded subtree is
// neither reported deleted (by Check) nor dropped (by Update), and the error
// is reported on the directory.
package engine
