package storage_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/storage"
)

// clock is a settable time source for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)} }

// MustOpenDB opens a database in a temporary directory, closed at cleanup.
func MustOpenDB(tb testing.TB, opts storage.Options) *storage.DB {
	tb.Helper()
	db, err := storage.Open(filepath.Join(tb.TempDir(), "loupe.db"), opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

const sentimentConfig = `title: Sentiment
overlap: 1
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
`

// fixture is a database with one project, an admin and labelers.
type fixture struct {
	db       *storage.DB
	clock    *clock
	project  *annotate.Project
	admin    *loupe.User
	labelers []*loupe.User
}

func mustUser(tb testing.TB, db *storage.DB, name, role string) *loupe.User {
	tb.Helper()
	// A real hash is slow; storage does not care what the hash is.
	u, err := db.CreateUser(context.Background(), name, role, loupe.DummyPasswordHash)
	if err != nil {
		tb.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func mustProject(tb testing.TB, db *storage.DB, slug, src string, creator *loupe.User) *annotate.Project {
	tb.Helper()
	cfg, err := blocks.ParseConfig([]byte(src))
	if err != nil {
		tb.Fatalf("ParseConfig: %v", err)
	}
	p, err := db.CreateProject(context.Background(), slug, src, cfg, creator)
	if err != nil {
		tb.Fatalf("CreateProject: %v", err)
	}
	return p
}

func mustImport(tb testing.TB, db *storage.DB, p *annotate.Project, jsonl string) annotate.ImportResult {
	tb.Helper()
	res, err := db.ImportItems(context.Background(), p, annotate.NewItemDecoder(strings.NewReader(jsonl)), annotate.ImportOptions{})
	if err != nil {
		tb.Fatalf("ImportItems: %v", err)
	}
	return res
}

func reviews(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(`{"id": "r`)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(`", "data": {"review": "review number `)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(`"}}` + "\n")
	}
	return b.String()
}

func newFixture(tb testing.TB, config string, items, labelers int) *fixture {
	tb.Helper()
	c := newClock()
	db := MustOpenDB(tb, storage.Options{Now: c.Now})
	f := &fixture{db: db, clock: c, admin: mustUser(tb, db, "admin", loupe.RoleAdmin)}
	f.project = mustProject(tb, db, "sentiment", config, f.admin)
	if items > 0 {
		mustImport(tb, db, f.project, reviews(items))
	}
	for i := range labelers {
		u := mustUser(tb, db, "labeler"+strconv.Itoa(i), loupe.RoleMember)
		if err := db.SetMember(context.Background(), f.project.ID, u.Name, annotate.RoleLabeler); err != nil {
			tb.Fatal(err)
		}
		f.labelers = append(f.labelers, u)
	}
	return f
}

func (f *fixture) access(u *loupe.User) annotate.Access {
	return annotate.Access{User: u, Role: annotate.RoleLabeler}
}
