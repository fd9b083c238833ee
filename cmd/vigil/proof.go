package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"vigil/internal/engine"
	"vigil/merkle"
)

const proofAbout = `Print the proof that PATH's recorded state is part of a baseline (the
current one, or --baseline ID), as one JSON object: the baseline's id,
host and root, its signed statement, and the proof: the entry with
exactly its attested attributes (those its rule monitors; the others are
absent, not zero) and, for each directory above it up to /, the
directory's attested attributes and the audit path through its children.
'vigil verify-proof' checks it offline, with nothing but the proof and the
verifier key. As check does, proof first takes the trust decision: a
database whose seal is broken or that was put back gives no proof (exit
8). A proof of an unsigned baseline has an empty statement and does not
verify.` + nixProofAbout

const verifyProofAbout = `Check a proof made by 'vigil proof' offline: it must be one JSON object
with exactly the fields and the form vigil proof writes (white space
aside: an unknown, missing or repeated field is refused), its statement
signed by the verifier key, the baseline, host and root it shows the ones
the statement signs, and its hashes must lead from the entry up to that
root. Every value it carries is then attested. Exit 0 if valid, 8 if not.

With --against LOCALPATH, also read the local file (a symlink is not
followed) and compare it with the proven entry as a copy can be compared:
content, type, mode, owner, group, size, xattrs and symlink target, where
attested. Inode, ctime, link count and inode flags are not compared (a
copy cannot keep them); mtime is shown as matching or not but decides
nothing. Exit 4 if a compared attribute differs.` + nixProofAbout

func runProof(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) != 1 {
		return e.fail(&usageError{msg: "proof needs one PATH", cmd: inv.cmd})
	}
	paths, err := absPaths(inv.args)
	if err != nil {
		return e.fail(err)
	}
	// The same trust decision as check's: no proof comes from a database
	// that must not be compared with (a broken seal, a rollback).
	_, db, _, err := e.trusted(inv, true)
	if err != nil {
		return e.fail(err)
	}
	defer db.Close()
	b, err := db.Current()
	if spec := inv.str("baseline"); spec != "" {
		b, err = db.Resolve(spec)
	}
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	var pf *engine.ProofFile
	if inv.bool("nix") {
		pf, err = e.proveNix(b, inv.args[0])
	} else {
		pf, err = engine.Prove(b, paths[0])
	}
	if err != nil {
		return e.fail(dbError(db.Path(), err))
	}
	if pf.Statement == "" {
		e.log.Warn().Uint64("baseline", pf.Baseline).
			Msg("the baseline is not signed: verify-proof will refuse this proof (seal it: vigil seal --key FILE)")
	}
	return e.printJSON(pf)
}

func runVerifyProof(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) != 1 || inv.str("pubkey") == "" {
		return e.fail(&usageError{msg: "verify-proof needs the proof FILE and --pubkey KEY", cmd: inv.cmd})
	}
	v, err := engine.ReadVerifier(inv.str("pubkey"))
	if err != nil {
		return e.fail(err)
	}
	raw, err := os.ReadFile(inv.args[0])
	if err != nil {
		return e.fail(err)
	}
	vp, err := engine.VerifyProof(raw, note.VerifierList(v))
	if err != nil {
		return e.fail(fmt.Errorf("%s: %w", inv.args[0], err))
	}
	if vp.Nix != nil {
		return e.printNixProof(vp, inv.str("against"))
	}
	want := vp.File.Proof.Entry
	fmt.Fprintf(e.stdout, "valid: %s is recorded in baseline %d of host %s (root %x), signed by %s\n",
		quote(want.Path), vp.File.Baseline, quote(vp.File.Host), vp.File.Root[:8], vp.SignedBy)
	fmt.Fprintf(e.stdout, "attested: %s\n", strings.Join(attested(want), " "))
	local := inv.str("against")
	if local == "" {
		return exitOK
	}
	c, err := engine.CompareCopy(ctx, want, local)
	if err != nil {
		return e.fail(err)
	}
	if c.Differ != 0 {
		verb := "differ"
		if len(c.Differ.Names()) == 1 {
			verb = "differs"
		}
		fmt.Fprintf(e.stdout, "%s does NOT match the sealed state: %s %s", quote(local), c.Differ, verb)
		if same := c.Compared &^ c.Differ; same != 0 {
			fmt.Fprintf(e.stdout, " (%s match)", same)
		}
		fmt.Fprintln(e.stdout)
	} else {
		fmt.Fprintf(e.stdout, "%s matches the sealed state: content and attested mode match (compared: %s)\n", quote(local), c.Compared)
	}
	switch {
	case !c.MtimeAttested:
		fmt.Fprintln(e.stdout, "mtime: not attested")
	case c.MtimeMatches:
		fmt.Fprintln(e.stdout, "mtime: matches too")
	default:
		fmt.Fprintln(e.stdout, "mtime: differs (a copy need not keep it; not compared)")
	}
	if c.Ignored != 0 {
		fmt.Fprintf(e.stdout, "not compared (a copy cannot keep them): %s\n", c.Ignored)
	}
	if c.Differ != 0 {
		return exitChanged
	}
	return exitOK
}

// attested lists the attested attributes of a proven entry as name=value
// words, in [merkle.Attr] order.
func attested(e *merkle.Entry) []string {
	out := []string{"type=" + e.Type.String()}
	mask := e.Attrs | merkle.AttrType
	add := func(a merkle.Attr, format string, args ...any) {
		if mask.Has(a) {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	switch {
	case e.Type == merkle.TypeFile && e.HashState == merkle.HashOK:
		add(merkle.AttrContent, "blake3=%x", e.Hash)
	case e.Type == merkle.TypeFile:
		add(merkle.AttrContent, "content=%s", e.HashState)
	case e.Type == merkle.TypeCharDev || e.Type == merkle.TypeBlockDev:
		add(merkle.AttrContent, "rdev=%d", e.Rdev)
	}
	add(merkle.AttrMode, "mode=%04o", e.Perm)
	add(merkle.AttrUID, "uid=%d", e.UID)
	add(merkle.AttrGID, "gid=%d", e.GID)
	add(merkle.AttrSize, "size=%d", e.Size)
	add(merkle.AttrMtime, "mtime=%s", time.Unix(0, e.Mtime).UTC().Format(time.RFC3339Nano))
	add(merkle.AttrCtime, "ctime=%s", time.Unix(0, e.Ctime).UTC().Format(time.RFC3339Nano))
	add(merkle.AttrInode, "inode=%d", e.Inode)
	add(merkle.AttrNlink, "nlink=%d", e.Nlink)
	if mask.Has(merkle.AttrXattrs) {
		var names []string
		for _, x := range e.Xattrs {
			names = append(names, quote(x.Name))
		}
		out = append(out, "xattrs=["+strings.Join(names, ",")+"]")
	}
	if e.Type == merkle.TypeSymlink || e.Target != "" {
		add(merkle.AttrTarget, "target=%q", e.Target)
	}
	if mask.Has(merkle.AttrFlags) && e.HasFlags {
		out = append(out, fmt.Sprintf("flags=%#x", e.Flags))
	} else if mask.Has(merkle.AttrFlags) {
		out = append(out, "flags=unknown")
	}
	return out
}
