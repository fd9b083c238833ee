package main

import (
	"bytes"
	"context"
	"os"
	"vigil/internal/engine"

	"golang.org/x/mod/sumdb/note"
)

const signAbout = `Sign a statement written by 'vigil seal --statement-out', 'vigil reseal
--statement-out' or 'vigil phase setup --statement-out' with the signer key
(on another machine: the key need not live on the host); the signed note
goes to standard output, for the same command's --signature FILE.`

func runSign(ctx context.Context, e *env, inv *invocation) int {
	if len(inv.args) != 1 {
		return e.fail(&usageError{msg: "sign needs the statement file", cmd: inv.cmd})
	}
	signer, err := readSigner(inv.str("key"))
	if err != nil {
		return e.fail(err)
	}
	text, err := os.ReadFile(inv.args[0])
	if err != nil {
		return e.fail(err)
	}
	if !bytes.HasPrefix(text, []byte("vigil baseline statement ")) && !engine.IsPhaseStatement(text) {
		return e.fail(&usageError{msg: inv.args[0] + " is not a vigil baseline or phase statement", cmd: inv.cmd})
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return e.fail(err)
	}
	_, err = e.stdout.Write(signed)
	if err != nil {
		return e.fail(err)
	}
	return exitOK
}
