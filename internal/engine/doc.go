// Package engine wires the scanner, the Merkle builder and the store into
// vigil's operations: [Init] takes a first baseline, [Check] compares the
// host with the current baseline, [Update] accepts the current state (of some
// subtrees, or all) as a new baseline.
//
// Each operation is one streaming pass: the scan, in path order, is merged
// with the stored baseline read in path order, so memory does not grow with
// the number of files. Changes reach the caller's [Reporter] as they
// are found, except created and deleted paths, which are held until the end
// to pair renames into moves.
//
// [Preflight] checks what Init needs before anything is created on disk
// (the paths exist, some root exists, the database lies outside the roots).
// [Options.Accept] lets Update accept only some changes (the entries an
// operator reviewed): a turned-down change keeps what was recorded.
// [KnownPaths] checks the PATHs a person gave to a scoped Check or Update:
// one neither recorded nor on disk is [ErrUnknownPath] (a typo would
// otherwise give a clean report); the daemon, whose paths come from
// events, does not call it. A seal that does not verify says why in words:
// [ErrUnsigned], [ErrForeignKey] (both [KindUnsigned], and
// [store.ErrTampered] to errors.Is).
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
//
// With [Options.SampleFile], whole checks and updates also reread a keyed
// sample of the files the stat cache trusts, chosen by the sample period
// the clock says, not by a counter the state file (or root) could set; what
// was done to the file is [Result.SampleAlert]. See [SampleState].
//
// # The engine and the trust decision
//
// [New] returns an [Engine]: the configuration and its compiled matcher,
// the database's path, the host's identity, the pinned verifier key and the
// kept checkpoint's file. The CLI builds one per command, the daemon one per
// configuration. [Engine.Open] opens the database; [Engine.Options] gives
// the options every operation starts from.
//
// [Engine.Trust] is the one trust decision: every caller (check, update,
// reseal, seal, restore, verify, phase, the daemon's verifier and its
// remediation) takes it before it compares the host with the current
// baseline or builds on it. Its [Verdict] holds the phase in force (what
// the audit log records: a seal records the hardened phase, and only a
// [PhaseStatement] signed by the pinned key moves the host back to setup),
// whether the baseline is sealed, why it must not be compared with
// (Untrusted: a broken seal, a rollback) and the findings an operator must
// hear of (a marker that disagrees with the recorded phase, a sealed
// baseline with no key pinned, a missing kept checkpoint, a setup phase
// outlasting phase.setup_max_age). [Engine.KeepCheckpoint] writes the kept
// checkpoint after an operation that appended to the audit log; nothing
// read-only writes it. With a [Witness] in [Settings] (the fleet's agent,
// internal/fleet), Trust also requires the audit log to extend the
// checkpoint the fleet's witnesses cosigned, whatever the kept checkpoint
// says; a fleet out of reach is a fleet_unreachable warning, bounded by
// [WitnessTimeout]. Errors carry a [Kind] ([KindOf]) that the CLI maps to
// exit codes in one table.
//
// # Caveats
//
//   - The kept checkpoint and the database are both files on the host: root
//     can rewrite both consistently. Only a witness off the host closes that
//     ([Witness]).
//   - A database from before the kept checkpoint existed (no audit record
//     names one) put back together with the kept checkpoint deleted is not
//     caught locally (a witnessed one is).
//   - Setup-phase moves recorded by older versions (unsigned "phase"
//     records) do not count: such a host stays hardened until a signed
//     'vigil phase setup'.
//   - The keyed sample's schedule is known to root (who can read its key)
//     and follows the clock: root who sets the clock, or times a change
//     between the periods a file is due in, evades it for up to
//     scan.reread_within periods. check --full does not depend on it.
package engine
