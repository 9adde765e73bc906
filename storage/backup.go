package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/loupehq/loupe"
)

// Backup writes a consistent copy of the database to path with VACUUM
// INTO, while the database stays in use. The copy is made in one read
// transaction (a snapshot of the last commit before it began; writes go
// on meanwhile, since WAL lets a reader and the writer run side by side),
// into a temporary file beside path that is synced and only then given
// path's name, so that path never names an incomplete copy. It returns
// ECONFLICT when path already exists.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); err == nil {
		return loupe.Errorf(loupe.ECONFLICT, "backup: %s already exists", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	f.Close()
	// VACUUM INTO wants a file that does not exist (or is empty); the
	// temporary name was only reserved.
	os.Remove(tmp)
	defer os.Remove(tmp)
	defer os.Remove(tmp + "-journal")

	// A connection of its own: the read pool's connections are
	// query_only, which refuses the writes VACUUM INTO makes to its
	// output, and the writer would hold labelers' writes back for the
	// whole copy. VACUUM INTO takes only a read transaction on the source.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(FULL)")
	src, err := sql.Open("sqlite", "file:"+(&url.URL{Path: db.path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer src.Close()
	src.SetMaxOpenConns(1)
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// A hard link does not replace a file that appeared meanwhile;
	// where links are not supported, rename.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return loupe.Errorf(loupe.ECONFLICT, "backup: %s already exists", path)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	if err := syncFile(dir); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// syncFile flushes a file (or a directory's entries) to stable storage.
func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
