package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/storage"
)

// TestBackupWhileWriting copies the database while a goroutine keeps
// writing: the copy opens, passes integrity_check, and holds every write
// acknowledged before the backup began.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t, storage.Options{})
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := db.CreateUser(ctx, fmt.Sprintf("user%d", i), loupe.RoleMember, loupe.DummyPasswordHash); err != nil {
				t.Errorf("CreateUser: %v", err)
				return
			}
			acked.Add(1)
		}
	}()
	for acked.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	before := acked.Load()
	out := filepath.Join(t.TempDir(), "copy.db")
	err := db.Backup(ctx, out)
	after := acked.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if after == before {
		t.Logf("no write was acknowledged during the backup (it was quick); the test proves less than it could")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".copy.db.tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	raw, err := sql.Open("sqlite", out)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v; want ok", check, err)
	}
	raw.Close()
	cp, err := storage.Open(out, storage.Options{})
	if err != nil {
		t.Fatalf("Open(copy): %v", err)
	}
	defer cp.Close()
	n, err := cp.CountUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int64(n) < before {
		t.Errorf("the copy holds %d users, want at least the %d acknowledged before the backup", n, before)
	}

	// An existing file is never replaced.
	if err := db.Backup(ctx, out); loupe.ErrorCode(err) != loupe.ECONFLICT {
		t.Errorf("Backup onto an existing file = %v, want ECONFLICT", err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the existing copy: %v", err)
	}
}

func TestBackupMissingDir(t *testing.T) {
	db := MustOpenDB(t, storage.Options{})
	err := db.Backup(context.Background(), filepath.Join(t.TempDir(), "no", "such", "copy.db"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Backup into a missing folder = %v, want a not-exist error", err)
	}
}

func TestQueueMetrics(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sentimentConfig, 5, 2)
	open, err := f.db.OpenItemsByProject(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := open["sentiment"]; got != 5 {
		t.Errorf("open items = %d, want 5", got)
	}
	if _, err := f.db.Next(ctx, f.project, f.labelers[0].ID); err != nil {
		t.Fatal(err)
	}
	held, expired, err := f.db.LeasesByProject(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if held["sentiment"] != 1 || expired["sentiment"] != 0 {
		t.Errorf("leases = held %d expired %d, want 1 and 0", held["sentiment"], expired["sentiment"])
	}
	f.clock.Add(24 * time.Hour)
	if held, expired, err = f.db.LeasesByProject(ctx); err != nil {
		t.Fatal(err)
	}
	if held["sentiment"] != 0 || expired["sentiment"] != 1 {
		t.Errorf("a day later, leases = held %d expired %d, want 0 and 1", held["sentiment"], expired["sentiment"])
	}
}

func TestObserveWrites(t *testing.T) {
	var mu sync.Mutex
	var batches []int
	db := MustOpenDB(t, storage.Options{Observe: func(n int, d time.Duration) {
		mu.Lock()
		batches = append(batches, n)
		mu.Unlock()
	}})
	mustUser(t, db, "someone", loupe.RoleMember)
	// The writer tells Observe after it answered the write: wait a little.
	for range 100 {
		mu.Lock()
		n := len(batches)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(batches) == 0 || batches[len(batches)-1] != 1 {
		t.Errorf("observed batches %v, want the last of 1 write", batches)
	}
}
