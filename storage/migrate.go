package storage

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationNames returns the embedded migration files in the order they
// apply: by name, which starts with a zero-padded number.
func migrationNames() ([]string, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

// migrate applies every migration not yet recorded, each in its own
// transaction together with its record. Migrations only go forward.
func (db *DB) migrate(ctx context.Context) error {
	return db.migrateTo(ctx, -1)
}

// migrateTo applies migrations up to and including index last (-1: all).
func (db *DB) migrateTo(ctx context.Context, last int) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TEXT NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", describeOpenError(err))
	}
	names, err := migrationNames()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for i, name := range names {
		if last >= 0 && i > last {
			break
		}
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	src, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(src)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, fmtTime(db.now())); err != nil {
		return err
	}
	return tx.Commit()
}
