package nix

import (
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenDBReadOnly: the database is opened read-only: a write through
// the connection vigil holds is refused, and the file is left as it was.
func TestOpenDBReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	u := url.URL{Scheme: "file", Path: path}
	w, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"pragma journal_mode=wal",
		"create table ValidPaths (id integer primary key, path text unique not null, hash text not null, registrationTime integer not null, deriver text, narSize integer, ultimate integer, sigs text, ca text)",
		"create table Refs (referrer integer not null, reference integer not null, primary key (referrer, reference))",
		"insert into ValidPaths values (1, '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a', 'sha256:" + "00000000000000000000000000000000000000000000000000000000000000ff" + "', 1, null, 8, 1, 'k:sig', null)",
		"insert into ValidPaths values (2, '/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-b', 'sha256:" + "00000000000000000000000000000000000000000000000000000000000000fe" + "', 2, null, 9, null, null, null)",
		"insert into Refs values (1, 2), (1, 1)",
	} {
		if _, err := w.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	w.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	paths, err := d.Paths(t.Context())
	if err != nil {
		t.Fatalf("Paths: %v", err)
	}
	a := paths["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a"]
	if len(paths) != 2 || a == nil || !a.Ultimate || a.NARSize != 8 || len(a.Sigs) != 1 || len(a.Refs) != 2 ||
		a.Refs[0] != "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-a" {
		t.Fatalf("Paths() = %d paths, a = %+v", len(paths), a)
	}
	if _, err := d.db.Exec("delete from ValidPaths"); err == nil {
		t.Errorf("a delete through OpenDB's connection succeeded, want it refused")
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("%s changed while it was open read-only", path)
	}
}
