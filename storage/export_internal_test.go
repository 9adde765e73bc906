package storage

import (
	"context"
	"database/sql"
)

// ExecForTest runs a statement on the writer connection, outside the
// writer goroutine, to probe what the schema allows.
func (db *DB) ExecForTest(ctx context.Context, query string, args ...any) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(query, args...)
		return err
	})
}

// QueryRowForTest runs a query on the read pool.
func (db *DB) QueryRowForTest(ctx context.Context, query string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, query, args...)
}
