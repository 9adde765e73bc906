package storage

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

// schema returns the database's schema as sorted "type name sql" rows.
func schema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// Migrations apply from an empty file and from every earlier version, and
// end in the same schema.
func TestMigrateFromEveryVersion(t *testing.T) {
	names, err := migrationNames()
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v %v", names, err)
	}
	fresh, err := Open(filepath.Join(t.TempDir(), "fresh.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := schema(t, fresh.read)
	fresh.Close()
	for k := range names {
		path := filepath.Join(t.TempDir(), "partial.db")
		raw, err := sql.Open("sqlite", dsn(path, SyncFull, false))
		if err != nil {
			t.Fatal(err)
		}
		raw.SetMaxOpenConns(1)
		old := &DB{write: raw, now: fresh.now}
		if err := old.migrateTo(context.Background(), k); err != nil {
			t.Fatalf("migrate to %d: %v", k, err)
		}
		var applied int
		raw.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&applied)
		if applied != k+1 {
			t.Fatalf("applied %d migrations, want %d", applied, k+1)
		}
		raw.Close()
		up, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("open at version %d: %v", k, err)
		}
		if got := schema(t, up.read); !reflect.DeepEqual(got, want) {
			t.Errorf("schema after upgrade from %d differs:\n got %v\nwant %v", k, got, want)
		}
		up.Close()
	}
}

// Every pooled connection, reader or writer, has the pragmas.
func TestPragmasOnEveryConnection(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "p.db"), Options{Readers: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var conns []*sql.Conn
	for range 3 {
		c, err := db.read.Conn(ctx) // held, so each is a distinct connection
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var fk, sync, busy, queryOnly int
		var mode string
		c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
		c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
		c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
		c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		c.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly)
		if fk != 1 || sync != 2 || busy != 10000 || mode != "wal" {
			t.Errorf("conn %d: foreign_keys=%d synchronous=%d busy_timeout=%d journal_mode=%s; want 1, 2 (FULL), 10000, wal", i, fk, sync, busy, mode)
		}
		if queryOnly != 1 {
			t.Errorf("reader %d: query_only=%d, want 1", i, queryOnly)
		}
		c.Close()
	}
	// The writer's connection belongs to the writer goroutine: ask it.
	err = db.direct(ctx, func(c *sql.Conn) error {
		var fk, sync, busy, queryOnly, temp int
		var mode string
		c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk)
		c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
		c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
		c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
		c.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly)
		c.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&temp)
		if fk != 1 || sync != 2 || busy != 10000 || mode != "wal" || queryOnly != 0 || temp != 2 {
			t.Errorf("writer: foreign_keys=%d synchronous=%d busy_timeout=%d journal_mode=%s query_only=%d temp_store=%d", fk, sync, busy, mode, queryOnly, temp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Writes that share a commit are isolated: a failing one leaves nothing
// behind and does not undo the others.
func TestGroupCommitIsolation(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "g.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`CREATE TABLE t (n INTEGER PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 200)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.update(ctx, func(tx *Tx) error {
				if _, err := tx.exec(`INSERT INTO t (n) VALUES (?)`, i); err != nil {
					return err
				}
				switch i % 4 {
				case 1:
					return boom // after a write: the write must be undone
				case 2:
					panic("bad write") // the writer survives
				}
				return nil
			})
		}()
	}
	wg.Wait()
	var n int
	db.read.QueryRow(`SELECT count(*) FROM t WHERE n % 4 IN (1, 2)`).Scan(&n)
	if n != 0 {
		t.Errorf("%d rows of failed writes were committed", n)
	}
	db.read.QueryRow(`SELECT count(*) FROM t`).Scan(&n)
	if n != 100 {
		t.Errorf("rows = %d, want 100", n)
	}
	for i, err := range errs {
		switch i % 4 {
		case 1:
			if !errors.Is(err, boom) {
				t.Errorf("write %d: err = %v, want boom", i, err)
			}
		case 2:
			if err == nil {
				t.Errorf("write %d: panic not reported", i)
			}
		default:
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		}
	}
}
