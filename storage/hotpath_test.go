package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
)

// testClock is a settable clock for the writer.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func openHotpath(t *testing.T, clock func() time.Time) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "h.db"), Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// appendOp is a write that appends one event of kind to the chain, then
// fails with fail when it is not nil.
func appendOp(chain, kind string, fail func(*Tx) error) func(*Tx) error {
	return func(tx *Tx) error {
		if err := tx.record(chain, kind, nil); err != nil {
			return err
		}
		if fail != nil {
			return fail(tx)
		}
		return nil
	}
}

// commitTogether runs the writes as one batch (one transaction, a savepoint
// each), on the writer goroutine, and returns their outcomes.
func commitTogether(t *testing.T, db *DB, fns ...func(*Tx) error) []error {
	t.Helper()
	ctx := context.Background()
	batch := make([]*writeOp, len(fns))
	for i, fn := range fns {
		batch[i] = &writeOp{ctx: ctx, fn: fn, err: make(chan error, 1)}
	}
	if err := db.direct(ctx, func(*sql.Conn) error {
		db.commit(batch)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(batch))
	for i, op := range batch {
		errs[i] = <-op.err
	}
	return errs
}

// chainKinds returns the kinds of the chain's events in order, and fails
// the test when the chain does not verify.
func chainKinds(t *testing.T, db *DB, chain string) []string {
	t.Helper()
	rep := db.VerifyChain(context.Background(), chain)
	if rep.Err != nil {
		t.Fatalf("chain %q does not verify: %v", chain, rep.Err)
	}
	var kinds []string
	err := db.ChainEvents(context.Background(), chain, func(ev *feedback.Event) error {
		kinds = append(kinds, ev.Kind)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(kinds)) != rep.Events {
		t.Fatalf("chain %q: %d events, %d verified", chain, len(kinds), rep.Events)
	}
	return kinds
}

func wantKinds(t *testing.T, db *DB, chain string, want ...string) {
	t.Helper()
	if got := chainKinds(t, db, chain); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("chain %q: %v, want %v", chain, got, want)
	}
}

// A submission settles the item in one write of its row: the done count,
// the complete flag, the project's complete count (once, when the count
// first reaches the overlap) and the state; an edit changes none of the
// counts.
func TestSubmitSettlesItem(t *testing.T) {
	db := openHotpath(t, nil)
	ctx := context.Background()
	admin, err := db.CreateUser(ctx, "admin", loupe.RoleAdmin, loupe.DummyPasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	src := "title: S\noverlap: 2\nblocks:\n  - type: text\n    field: review\n  - type: choice\n    name: sentiment\n    options: [positive, negative]\n"
	cfg, err := blocks.ParseConfig([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.CreateProject(ctx, "s", src, cfg, admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO items (id, project_id, seq, data, hash, created_at) VALUES ('it', ?, 1, '{"review": "r"}', 'h', ?)`, p.ID, fmtTime(tx.now))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var users []*loupe.User
	for _, name := range []string{"l1", "l2", "l3"} {
		u, err := db.CreateUser(ctx, name, loupe.RoleMember, loupe.DummyPasswordHash)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.SetMember(ctx, p.ID, name, annotate.RoleManager); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	check := func(step string, done int, complete bool, completeCount int, state string) {
		t.Helper()
		var gotDone, gotCount int
		var gotComplete bool
		var gotState string
		err := db.read.QueryRowContext(ctx, `SELECT done, complete, state, (SELECT complete_count FROM projects WHERE id = ?) FROM items WHERE id = 'it'`, p.ID).
			Scan(&gotDone, &gotComplete, &gotState, &gotCount)
		if err != nil {
			t.Fatal(err)
		}
		if gotDone != done || gotComplete != complete || gotCount != completeCount || gotState != state {
			t.Errorf("%s: done %d, complete %v, project complete %d, state %s; want %d, %v, %d, %s",
				step, gotDone, gotComplete, gotCount, gotState, done, complete, completeCount, state)
		}
	}
	submit := func(u *loupe.User, base int) {
		t.Helper()
		_, _, err := db.Submit(ctx, p, annotate.Access{User: u, Role: annotate.RoleManager}, &annotate.Submission{
			ItemID: "it", Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"positive"`)}, BaseVersion: base})
		if err != nil {
			t.Fatalf("submit by %s: %v", u.Name, err)
		}
	}
	check("before", 0, false, 0, feedback.StatePending)
	submit(users[0], 0)
	check("first answer", 1, false, 0, feedback.StatePending)
	submit(users[0], 1)
	check("an edit", 1, false, 0, feedback.StatePending)
	submit(users[1], 0)
	check("second answer", 2, true, 1, feedback.StateAnnotated)
	submit(users[2], 0)
	check("one more than the overlap", 3, true, 1, feedback.StateAnnotated)
	submit(users[1], 1)
	check("an edit of a complete item", 3, true, 1, feedback.StateAnnotated)
}

// The writer caches each chain's last event; the cache follows the
// savepoints and the transaction: a write rolled back, or a batch whose
// transaction is lost, leaves no stale head behind, and the next event
// links to what was committed.
func TestChainHeadsFollowTransactions(t *testing.T) {
	db := openHotpath(t, nil)
	boom := errors.New("boom")

	// One batch: the middle write appends to both chains and fails.
	errs := commitTogether(t, db,
		appendOp("c", "a", nil),
		appendOp("c", "b", func(tx *Tx) error {
			if err := tx.record("d", "b", nil); err != nil {
				return err
			}
			return boom
		}),
		appendOp("c", "c", nil),
		appendOp("d", "c", nil),
	)
	if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil || errs[3] != nil {
		t.Fatalf("outcomes %v, want nil, boom, nil, nil", errs)
	}
	wantKinds(t, db, "c", "a", "c")
	wantKinds(t, db, "d", "c")

	// A write that panics after appending.
	errs = commitTogether(t, db,
		appendOp("c", "d", nil),
		appendOp("c", "x", func(*Tx) error { panic("bad write") }),
	)
	if errs[0] != nil || errs[1] == nil {
		t.Fatalf("outcomes %v, want nil and a panic", errs)
	}
	if err := db.update(context.Background(), appendOp("c", "e", nil)); err != nil {
		t.Fatal(err)
	}
	wantKinds(t, db, "c", "a", "c", "d", "e")

	// A write that ends the transaction itself: its savepoint is gone, the
	// whole batch fails, and nothing of it may stay in the cache.
	errs = commitTogether(t, db,
		appendOp("c", "y", nil),
		appendOp("d", "y", nil),
		appendOp("c", "z", func(tx *Tx) error {
			_, err := tx.exec("ROLLBACK")
			return err
		}),
	)
	for i, err := range errs {
		if err == nil {
			t.Errorf("write %d of a lost transaction reported success", i)
		}
	}
	for _, chain := range []string{"c", "d"} {
		if err := db.update(context.Background(), appendOp(chain, "f", nil)); err != nil {
			t.Fatal(err)
		}
	}
	wantKinds(t, db, "c", "a", "c", "d", "e", "f")
	wantKinds(t, db, "d", "c", "f")
}

// insertSealed appends a correctly sealed event after the chain's last
// through q, as another writer would: behind the writer's cache.
func insertSealed(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, chain, kind string, at time.Time) error {
	var last feedback.Event
	if err := q.QueryRowContext(ctx, `SELECT chain_seq, hash FROM events WHERE chain = ? ORDER BY chain_seq DESC LIMIT 1`, chain).
		Scan(&last.ChainSeq, &last.Hash); err != nil {
		return err
	}
	ev := &feedback.Event{ID: fmt.Sprintf("raw-%s-%d", chain, last.ChainSeq+1), Chain: chain, Kind: kind, At: at,
		ActorName: "someone", Payload: []byte(`{}`)}
	ev.Seal(&last)
	_, err := q.ExecContext(ctx, `INSERT INTO events (id, chain, chain_seq, at, actor_id, actor_name, kind, item_id, annotation_id,
			annotation_version, prediction_id, block, payload, prev_hash, hash)
		VALUES (?, ?, ?, ?, '', ?, ?, '', '', 0, '', '', ?, ?, ?)`,
		ev.ID, ev.Chain, ev.ChainSeq, ev.At.Format(feedback.TimeLayout), ev.ActorName, ev.Kind, string(ev.Payload), ev.PrevHash, ev.Hash)
	return err
}

// Events appended behind the cache's back, by another connection (another
// process) or by a statement of Loupe's own writer that inserts events
// itself, are seen: the next event links to them.
func TestChainHeadsSeeOtherWriters(t *testing.T) {
	db := openHotpath(t, nil)
	ctx := context.Background()
	for _, kind := range []string{"a", "b"} {
		if err := db.update(ctx, appendOp("c", kind, nil)); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", dsn(db.Path(), SyncFull, false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := insertSealed(ctx, raw, "c", "other-process", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.update(ctx, appendOp("c", "c", nil)); err != nil {
		t.Fatal(err)
	}
	if err := db.update(ctx, func(tx *Tx) error {
		return insertSealed(ctx, rawTx{tx}, "c", "same-writer", tx.now)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.update(ctx, appendOp("c", "d", nil)); err != nil {
		t.Fatal(err)
	}
	wantKinds(t, db, "c", "a", "b", "other-process", "c", "same-writer", "d")
}

// Another connection that rewrites the chain's end (here: replaces its
// last event, as a repair tool might) is seen as well: the next event links
// to the chain as it is in the table, never to a cached event that is gone.
func TestChainHeadsSeeRewrites(t *testing.T) {
	db := openHotpath(t, nil)
	ctx := context.Background()
	for _, kind := range []string{"a", "b"} {
		if err := db.update(ctx, appendOp("c", kind, nil)); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", dsn(db.Path(), SyncFull, false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`DROP TRIGGER events_no_delete`, `DELETE FROM events WHERE chain = 'c' AND chain_seq = 2`} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := insertSealed(ctx, raw, "c", "replaced", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := db.update(ctx, appendOp("c", "c", nil)); err != nil {
		t.Fatal(err)
	}
	wantKinds(t, db, "c", "a", "replaced", "c")
}

// rawTx runs statements on the writer's transaction, bypassing appendEvent.
type rawTx struct{ tx *Tx }

func (r rawTx) QueryRowContext(_ context.Context, q string, args ...any) *sql.Row {
	st, err := r.tx.prepare(q)
	if err != nil {
		panic(err)
	}
	return st.QueryRowContext(r.tx.ctx, args...)
}

func (r rawTx) ExecContext(_ context.Context, q string, args ...any) (sql.Result, error) {
	return r.tx.exec(q, args...)
}

// A date range finds the same events by bisecting the chain's positions as
// a scan of every event does, with times that repeat, a clock that goes
// back (appendEvent keeps times in order) and a position missing from the
// chain.
func TestEventsDateRange(t *testing.T) {
	clock := &testClock{}
	db := openHotpath(t, clock.Now)
	ctx := context.Background()
	start := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	// Minutes of the events: repeats, and a clock set back at 40.
	var minutes []int
	for i := range 60 {
		minutes = append(minutes, i/2*3)
	}
	minutes[40] = 5
	for i, m := range minutes {
		clock.Set(start.Add(time.Duration(m) * time.Minute))
		kind := "even"
		if i%2 == 1 {
			kind = "odd"
		}
		// Another chain in between, so that positions and seq differ.
		if err := db.update(ctx, appendOp("other", kind, nil)); err != nil {
			t.Fatal(err)
		}
		if err := db.update(ctx, appendOp("c", kind, nil)); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string) {
		t.Helper()
		var all []*feedback.Event
		if err := db.ChainEvents(ctx, "c", func(ev *feedback.Event) error {
			cp := *ev
			all = append(all, &cp)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for from := -1; from <= 95; from += 4 {
			for _, span := range []int{0, 1, 3, 10, 200} {
				for _, kind := range []string{"", "odd"} {
					f := feedback.EventFilter{Chain: "c", Kind: kind, Limit: 1000}
					var lo, hi time.Time
					if from >= 0 {
						lo = start.Add(time.Duration(from) * time.Minute)
						f.From = lo
					}
					if span < 200 {
						hi = start.Add(time.Duration(from+span) * time.Minute)
						f.To = hi
					}
					var want []int64
					for i := len(all) - 1; i >= 0; i-- {
						ev := all[i]
						if (kind == "" || ev.Kind == kind) && (lo.IsZero() || !ev.At.Before(lo)) && (hi.IsZero() || ev.At.Before(hi)) {
							want = append(want, ev.Seq)
						}
					}
					evs, _, err := db.Events(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					var got []int64
					for _, ev := range evs {
						got = append(got, ev.Seq)
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s: from %d for %d min, kind %q: %v, want %v", name, from, span, kind, got, want)
					}
				}
			}
		}
	}
	check("whole chain")

	// Remove an event behind Loupe's back (the chain no longer verifies):
	// the bisection still finds the first event at or after a time.
	raw, err := sql.Open("sqlite", dsn(db.Path(), SyncFull, false))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`DROP TRIGGER events_no_delete`, `DELETE FROM events WHERE chain = 'c' AND chain_seq BETWEEN 20 AND 27`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	check("with a gap")
}

// A page before any position is the newest events before it, whether the
// cursor is an event of the chain (as Events returns) or not: the chain
// as a whole is read in chain_seq order, and a cursor from elsewhere is
// placed by bisection.
func TestEventsBeforeAnyPosition(t *testing.T) {
	db := openHotpath(t, nil)
	ctx := context.Background()
	kinds := []string{feedback.KindAnnotationCreated, feedback.KindFeedback, feedback.KindAnnotationCreated}
	for i := range 40 {
		if err := db.update(ctx, appendOp("c", kinds[i%3], nil)); err != nil {
			t.Fatal(err)
		}
		for range i % 3 {
			if err := db.update(ctx, appendOp("other", kinds[i%3], nil)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var all []*feedback.Event
	if err := db.ChainEvents(ctx, "c", func(ev *feedback.Event) error {
		cp := *ev
		all = append(all, &cp)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	last, err := db.LastEvent(ctx, "c")
	if err != nil || last != all[len(all)-1].Seq {
		t.Errorf("LastEvent = %d, %v; want %d", last, err, all[len(all)-1].Seq)
	}
	for before := int64(1); before <= all[len(all)-1].Seq+2; before++ {
		for _, kind := range []string{"", feedback.KindAnnotationCreated, feedback.KindFeedback} {
			var want []int64
			for i := len(all) - 1; i >= 0 && len(want) < 5; i-- {
				if all[i].Seq < before && (kind == "" || all[i].Kind == kind) {
					want = append(want, all[i].Seq)
				}
			}
			evs, _, err := db.Events(ctx, feedback.EventFilter{Chain: "c", Kind: kind, Before: before, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, ev := range evs {
				got = append(got, ev.Seq)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("before %d, kind %q: %v, want %v", before, kind, got, want)
			}
		}
	}
}

// Each audit log filter reads its own index (or the chain's key), never
// the whole table: a page costs the same at any depth of a large log.
func TestEventsQueriesUseIndexes(t *testing.T) {
	db := openHotpath(t, nil)
	ctx := context.Background()
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	for _, f := range []feedback.EventFilter{
		{},
		{Before: 10},
		{Kind: feedback.KindReviewApproved, Before: 10},
		{Kind: feedback.KindAnnotationCreated, Before: 10},
		{Actor: "loupe", Before: 10},
		{Block: "sentiment", Before: 10},
		{ItemID: "i", Kind: feedback.KindFeedback},
		{From: at, To: at.Add(time.Hour)},
		{Kind: feedback.KindFeedback, From: at, To: at.Add(time.Hour)},
	} {
		f.Chain = "c"
		f.Limit = 100
		rt := &readTx{db: db, ctx: ctx}
		query, args, _, err := db.eventsQuery(ctx, rt, f, true)
		rt.close()
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.read.QueryContext(ctx, `EXPLAIN QUERY PLAN `+query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		checkPlan(t, fmt.Sprintf("filter %+v", f), plan)
	}
	for col, q := range bisects {
		rows, err := db.read.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, "c", 1)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		checkPlan(t, "bisect by "+col, plan)
	}
}

// checkPlan fails the test when a query plan reads the whole events table
// or sorts.
func checkPlan(t *testing.T, what string, plan []string) {
	t.Helper()
	for _, step := range plan {
		if strings.HasPrefix(step, "SCAN events") || strings.Contains(step, "TEMP B-TREE") {
			t.Errorf("%s: %s\n%s", what, step, strings.Join(plan, "\n"))
		}
	}
}
