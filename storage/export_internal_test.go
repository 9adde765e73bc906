package storage

import (
	"context"
)

// ExecForTest runs a statement on the writer connection, outside the
// writer goroutine, to probe what the schema allows.
func (db *DB) ExecForTest(ctx context.Context, query string, args ...any) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(query, args...)
		return err
	})
}
