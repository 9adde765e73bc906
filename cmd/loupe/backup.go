package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// runBackup writes a consistent copy of the database (VACUUM INTO) while
// it may be in use by loupe serve. The copy appears under its name only
// once complete; an existing file is never replaced.
func runBackup(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("backup", "backup --out FILE [--db FILE]", env)
	db := dbFlag(fs)
	out := fs.String("out", "", "the `file` to write the copy to; it must not exist")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: --out is required", errUsage)
	}
	// Opening would create a missing database: a mistyped --db would
	// back up an empty one.
	if _, err := os.Stat(*db); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	d, err := openDB(*db)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Backup(ctx, *out); err != nil {
		return err
	}
	abs, _ := filepath.Abs(*out)
	fmt.Fprintf(env.Stdout, "Backed up %s to %s\n", *db, abs)
	return nil
}
