package nix

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strings"

	_ "modernc.org/sqlite" // pure-Go SQLite: the binary keeps one cgo dependency (btrfs)
)

// PathInfo is one row of the Nix database's ValidPaths, with its
// references from Refs.
type PathInfo struct {
	ID               int64
	Path             string // full store path, /nix/store/<hash>-<name>
	Hash             string // as the database writes it, "sha256:<hex>"
	RegistrationTime int64  // seconds since the epoch
	Deriver          string
	NARSize          int64
	Ultimate         bool     // built on this host (trusted without a signature)
	Sigs             []string // "keyname:base64", as in narinfo files
	CA               string   // content-address assertion, "" if none
	Refs             []string // full store paths, sorted
}

// DB is the Nix database, open read-only.
type DB struct {
	path string
	db   *sql.DB
}

// OpenDB opens the Nix database at path (normally
// /nix/var/nix/db/db.sqlite) read-only: SQLite's mode=ro, so that nothing
// vigil does can write it, and a WAL Nix has not checkpointed yet is read
// (immutable=1 would ignore it). Nothing is read until [DB.Paths].
func OpenDB(path string) (*DB, error) {
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(10000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open nix database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return &DB{path: path, db: db}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Paths returns every valid path with its references, keyed by full store
// path, read in one transaction (one consistent snapshot of the database).
func (d *DB) Paths(ctx context.Context) (map[string]*PathInfo, error) {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read nix database %s: %w", d.path, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to undo
	out, err := readPaths(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("read nix database %s: %w", d.path, err)
	}
	return out, nil
}

func readPaths(ctx context.Context, tx *sql.Tx) (map[string]*PathInfo, error) {
	rows, err := tx.QueryContext(ctx, `select id, path, hash, registrationTime,
		coalesce(deriver, ''), coalesce(narSize, 0), coalesce(ultimate, 0),
		coalesce(sigs, ''), coalesce(ca, '') from ValidPaths`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*PathInfo{}
	byID := map[int64]*PathInfo{}
	for rows.Next() {
		var p PathInfo
		var sigs string
		var ultimate int64
		if err := rows.Scan(&p.ID, &p.Path, &p.Hash, &p.RegistrationTime, &p.Deriver,
			&p.NARSize, &ultimate, &sigs, &p.CA); err != nil {
			return nil, err
		}
		p.Ultimate = ultimate != 0
		p.Sigs = strings.Fields(sigs)
		out[p.Path] = &p
		byID[p.ID] = &p
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := readRefs(ctx, tx, byID); err != nil {
		return nil, err
	}
	for _, p := range out {
		slices.Sort(p.Refs)
	}
	return out, nil
}

func readRefs(ctx context.Context, tx *sql.Tx, byID map[int64]*PathInfo) error {
	rows, err := tx.QueryContext(ctx, `select referrer, reference from Refs order by referrer, reference`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var from, to int64
		if err := rows.Scan(&from, &to); err != nil {
			return err
		}
		f, t := byID[from], byID[to]
		if f == nil || t == nil {
			return fmt.Errorf("row (%d, %d) of Refs names no valid path", from, to)
		}
		f.Refs = append(f.Refs, t.Path)
	}
	return rows.Err()
}
