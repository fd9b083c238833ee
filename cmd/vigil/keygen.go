package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"
)

const keygenAbout = `Make a signing key pair: DIR/vigil.key (the signer key, mode 0600) and
DIR/vigil.pub (the verifier key, one line), both in the signed-note format
of golang.org/x/mod/sumdb/note (Ed25519). NAME names the key in every
signature. Refuses to overwrite either file. Keep vigil.key off the host
(see 'seal --statement-out' and 'sign'); pin vigil.pub with --pubkey or
trust.pubkey.`

func runKeygen(ctx context.Context, e *env, inv *invocation) int {
	name, dir := inv.str("name"), inv.str("out")
	if name == "" || dir == "" || len(inv.args) > 0 {
		return e.fail(&usageError{msg: "keygen needs --name NAME and --out DIR", cmd: inv.cmd})
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return e.fail(&usageError{msg: fmt.Sprintf("key name %q: %v", name, err), cmd: inv.cmd})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return e.fail(err)
	}
	keyPath, pubPath := filepath.Join(dir, "vigil.key"), filepath.Join(dir, "vigil.pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return e.fail(&usageError{msg: p + " exists already: keygen never overwrites a key", cmd: inv.cmd})
		}
	}
	if err := writeNew(keyPath, []byte(skey+"\n"), 0o600); err != nil {
		return e.fail(err)
	}
	if err := writeNew(pubPath, []byte(vkey+"\n"), 0o644); err != nil {
		return e.fail(err)
	}
	if !e.quiet {
		fmt.Fprintf(e.stdout, "signer key   %s (keep it secret, ideally off this host)\nverifier key %s\n%s\n", keyPath, pubPath, vkey)
	}
	return exitOK
}
