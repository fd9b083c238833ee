package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"vigil/internal/fimtest"
	"vigil/merkle"
)

// sealedProofSetup seals a tree holding bin/su (setuid, with an xattr,
// owned by uid 1234 when run as root) and writes the proof of bin/su as
// vigil proof prints it.
func sealedProofSetup(t *testing.T) (s sealSetup, proof string) {
	t.Helper()
	s = newSealSetup(t, fimtest.Tree{"bin/su": fimtest.File("ELF su").Mode(0o4755), "etc/hosts": fimtest.File("h")})
	su := s.path("bin/su")
	if os.Geteuid() == 0 {
		if err := os.Lchown(su, 1234, 1234); err != nil {
			t.Fatal(err)
		}
		if err := unix.Chmod(su, 0o4755); err != nil { // chown cleared setuid
			t.Fatal(err)
		}
	}
	if err := unix.Lsetxattr(su, "user.vigil-test", []byte("v"), 0); err != nil {
		t.Fatalf("setxattr %s: %v", su, err)
	}
	mustRun(t, 0, s.args("init")...)
	s.harden(t)
	mustRun(t, 0, s.args("seal", "--key", s.key, "--reason", "proof test")...)
	proof = filepath.Join(t.TempDir(), "su.proof.json")
	if err := os.WriteFile(proof, []byte(mustRun(t, 0, s.args("proof", su)...).stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, proof
}

// verifyProof runs the vigil binary's verify-proof in another directory
// with an empty environment, as a verifier off the host would.
func verifyProof(t *testing.T, pub, proof string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(buildVigil(t), append([]string{"verify-proof", proof, "--pubkey", pub}, args...)...)
	cmd.Dir, cmd.Env = t.TempDir(), []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("verify-proof %s: %v", proof, err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestVerifyProofEditsCLI: the vigil binary refuses (exit 8) one-character
// edits of a sealed proof at a sample of positions spread over the whole
// file, and at every value a person reads in it; engine's
// TestVerifyProofEveryEdit tries every position through the function.
func TestVerifyProofEditsCLI(t *testing.T) {
	t.Parallel()
	s, proof := sealedProofSetup(t)
	raw, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	code, out := verifyProof(t, s.pub, proof)
	if code != exitOK || !strings.Contains(out, "valid: ") || !strings.Contains(out, "mode=4755") {
		t.Fatalf("verify-proof of a fresh proof exited %d: %s", code, out)
	}
	var positions []int
	for i := 0; i < len(raw)-1; i += len(raw) / 40 {
		positions = append(positions, i)
	}
	for _, v := range []string{`"baseline":`, `"host":"`, `"root":"`, `"mode":`, `"uid":`, `"size":`, `"hash":"`, `"path":"`, `"index":`, `"count":`} {
		if i := bytes.Index(raw, []byte(v)); i >= 0 {
			positions = append(positions, i+len(v), i+1) // the value, the key
		} else {
			t.Errorf("proof has no %s: %s", v, raw)
		}
	}
	edited := filepath.Join(t.TempDir(), "edited.json")
	for n, i := range positions {
		e := append([]byte(nil), raw...)
		switch c := e[i]; {
		case n%3 == 0:
			e = append(e[:i], e[i+1:]...)
		case c >= '0' && c <= '8':
			e[i] = c + 1
		case c == '9':
			e[i] = '0'
		case n%3 == 1:
			e[i] = c ^ 0x20
		case c != 'x':
			e[i] = 'x'
		default:
			e[i] = 'y'
		}
		if bytes.Equal(e, raw) {
			t.Fatalf("the edit at %d changed nothing", i)
		}
		if err := os.WriteFile(edited, e, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := verifyProof(t, s.pub, edited); code != exitTampered {
			t.Errorf("verify-proof of the proof edited at %d (%q) exited %d, want 8: %s", i, e[max(0, i-15):min(len(e), i+15)], code, out)
		}
	}
}

// TestVerifyProofAgainstCopy: --against compares a copy made elsewhere on
// what a copy can keep: a 'cp -a' copy matches; a plain 'cp' copy has the
// content but not the mode (setuid dropped), owner or xattrs; a changed
// byte is a mismatch.
func TestVerifyProofAgainstCopy(t *testing.T) {
	t.Parallel()
	s, proof := sealedProofSetup(t)
	dir := t.TempDir()
	archive, plain := filepath.Join(dir, "su-archive"), filepath.Join(dir, "su-plain")
	fimtest.Command(t, "cp", "-a", s.path("bin/su"), archive)
	fimtest.Command(t, "cp", s.path("bin/su"), plain)

	code, out := verifyProof(t, s.pub, proof, "--against", archive)
	if code != exitOK || !strings.Contains(out, "content and attested mode match") || !strings.Contains(out, "mtime: matches too") ||
		!strings.Contains(out, "not compared (a copy cannot keep them): ctime,inode,nlink") {
		t.Errorf("verify-proof --against a cp -a copy exited %d:\n%s\nwant 0, content and attested mode match, mtime matching, ctime,inode,nlink not compared", code, out)
	}

	code, out = verifyProof(t, s.pub, proof, "--against", plain)
	wantDiffer := "mode,xattrs differ"
	if os.Geteuid() == 0 {
		wantDiffer = "mode,uid,gid,xattrs differ"
	}
	if code != exitChanged || !strings.Contains(out, "does NOT match the sealed state: "+wantDiffer+" (content,") ||
		!strings.Contains(out, "mtime: differs") {
		t.Errorf("verify-proof --against a plain cp copy exited %d:\n%s\nwant 4, %q with the content matching, mtime differing", code, out, wantDiffer)
	}

	f, err := os.OpenFile(archive, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("F"), 1); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	code, out = verifyProof(t, s.pub, proof, "--against", archive)
	if code != exitChanged || !strings.Contains(out, "does NOT match the sealed state: content") {
		t.Errorf("verify-proof --against a copy with one byte changed exited %d:\n%s\nwant 4, content differing", code, out)
	}

	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	code, out = verifyProof(t, s.pub, proof, "--against", filepath.Join(link, "su-plain"))
	if code != exitIO || !strings.Contains(out, link+" above it is a symbolic link") {
		t.Errorf("verify-proof --against a copy below a symlinked directory exited %d: %s; want 18, naming the link", code, out)
	}

	code, out = verifyProof(t, s.pub, proof, "--against", filepath.Join(dir, "gone"))
	if code != exitIO || !strings.Contains(out, filepath.Join(dir, "gone")) {
		t.Errorf("verify-proof --against a missing file exited %d: %s; want 18, an error naming it", code, out)
	}
}

// TestProofOutput: vigil proof prints one JSON object with the fields
// verify-proof requires, the directories above the root carry none of
// the attributes the hashes do not attest, and no proof comes from a
// baseline the trust decision refuses.
func TestProofOutput(t *testing.T) {
	t.Parallel()
	s, proof := sealedProofSetup(t)
	raw, err := os.ReadFile(proof)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Baseline  *uint64
		Host      *string
		Root      *string
		Statement *string
		Proof     struct {
			Steps []struct {
				Dir map[string]any `json:"dir"`
			} `json:"steps"`
		} `json:"proof"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Baseline == nil || doc.Host == nil || doc.Root == nil || doc.Statement == nil || *doc.Statement == "" {
		t.Fatalf("vigil proof printed %s (%v), want baseline, host, root and a signed statement", raw, err)
	}
	above := 0
	for _, st := range doc.Proof.Steps {
		p, _ := st.Dir["path"].(string)
		if merkle.Within(p, s.root) {
			continue
		}
		above++
		for _, k := range []string{"size", "mtime_ns", "ctime_ns", "nlink"} {
			if _, ok := st.Dir[k]; ok {
				t.Errorf("vigil proof: directory %s above the root carries %s, which is not attested", p, k)
			}
		}
	}
	if above == 0 {
		t.Errorf("vigil proof of %s has no directory above the root %s: %s", s.path("bin/su"), s.root, raw)
	}

	// proof takes check's trust decision: a baseline not signed by the
	// pinned key gives no proof.
	keys := filepath.Join(t.TempDir(), "keys")
	mustRun(t, 0, s.args("keygen", "--name", "other", "--out", keys)...)
	other, err := os.ReadFile(filepath.Join(keys, "vigil.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.pub, other, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, exitTampered, s.args("proof", s.path("bin/su"))...); out.stdout != "" {
		t.Errorf("vigil proof of a baseline the pinned key did not sign printed %q, want nothing", out.stdout)
	}
}
