package main

import (
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"vigil/internal/fimtest"
)

// TestWaitsForWriter: a check that finds another process writing the
// database waits for it, says so, and then checks, rather than failing.
func TestWaitsForWriter(t *testing.T) {
	s := newSetup(t, fimtest.Tree{"f": fimtest.File("x")})
	mustRun(t, exitOK, s.args("init")...)
	writer, err := bolt.Open(s.db, 0o600, nil) // holds the exclusive lock, as an update would
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(1500 * time.Millisecond) // past the first 1 s attempt
		writer.Close()
		close(released)
	}()
	out := vigil(t, "--config", s.config, "check")
	<-released
	if out.code != exitOK {
		t.Fatalf("check while another writer held the database exited %d, want %d\nstderr:\n%s", out.code, exitOK, out.stderr)
	}
	if !strings.Contains(out.stderr, "waiting") {
		t.Errorf("check stderr = %q, want it to say it is waiting for the database", out.stderr)
	}
}
