package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe/feedback"
)

// SystemActor is the actor of events that no user caused.
const SystemActor = "loupe"

// newEvent starts an event of the chain (a project's id, or
// feedback.ServerChain) with its payload.
func newEvent(chain, kind string, payload any) *feedback.Event {
	ev := &feedback.Event{Chain: chain, Kind: kind}
	if payload != nil {
		ev.Payload = feedback.Payload(payload)
	}
	return ev
}

// appendEvent stores ev as the next event of its chain, in the write's
// transaction: it succeeds or fails with the change it records. The actor
// is the write's (see loupe.WithActor) unless ev names one. Event times
// never go backwards within a chain, so that a date range is a range of
// positions.
func (tx *Tx) appendEvent(ev *feedback.Event) error {
	if ev.ID == "" {
		ev.ID = uuid.Must(uuid.NewV7()).String()
	}
	if ev.ActorID == "" && ev.ActorName == "" {
		ev.ActorName = SystemActor
		if tx.actor != nil {
			ev.ActorID, ev.ActorName = tx.actor.ID, tx.actor.Name
		}
	}
	if len(ev.Payload) == 0 {
		ev.Payload = json.RawMessage(`{}`)
	}
	for fresh := false; ; fresh = true {
		last, cached, err := tx.lastEvent(ev.Chain, fresh)
		if err != nil {
			return fmt.Errorf("event: %w", err)
		}
		ev.At = tx.now
		if last.seq == 0 {
			ev.Seal(nil)
		} else {
			if ev.At.Before(last.at) {
				ev.At = last.at
			}
			ev.Seal(&feedback.Event{ChainSeq: last.seq, Hash: last.hash})
		}
		// The position comes from last_insert_rowid, which the driver
		// reads with the result: RETURNING would make SQLite buffer it.
		var res sql.Result
		res, err = tx.exec(`INSERT INTO events (id, chain, chain_seq, at, actor_id, actor_name, kind, item_id, annotation_id,
				annotation_version, prediction_id, block, payload, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ev.ID, ev.Chain, ev.ChainSeq, ev.At.Format(feedback.TimeLayout), ev.ActorID, ev.ActorName, ev.Kind, ev.ItemID, ev.AnnotationID,
			ev.AnnotationVersion, ev.PredictionID, ev.Block, string(ev.Payload), ev.PrevHash, ev.Hash)
		if err == nil {
			ev.Seq, err = res.LastInsertId()
		}
		if err == nil {
			break
		}
		if cached && !fresh && isUnique(err) {
			// The chain grew behind the cache's back (a statement that
			// inserted events itself): its position is taken. Read the
			// chain's end from the table and link to that instead.
			continue
		}
		return fmt.Errorf("event: %w", err)
	}
	if tx.heads == nil {
		tx.heads = map[string]chainHead{}
	}
	tx.heads[ev.Chain] = chainHead{seq: ev.ChainSeq, hash: ev.Hash, at: ev.At}
	return nil
}

// chainHead is the last event of a chain: what the next one links to.
type chainHead struct {
	seq  int64 // its chain_seq; 0 when the chain is empty
	hash string
	at   time.Time
}

// lastEvent returns the chain's last event: as this write appended it, as
// the writer's cache has it, or read from the table (cached false). With
// fresh, the caches are not trusted.
func (tx *Tx) lastEvent(chain string, fresh bool) (h chainHead, cached bool, err error) {
	if fresh {
		delete(tx.heads, chain)
		tx.db.heads.forget(chain)
	}
	if h, ok := tx.heads[chain]; ok {
		return h, true, nil
	}
	if h, ok, err := tx.db.heads.lookup(tx, chain); err != nil || ok {
		return h, ok, err
	}
	var at string
	err = tx.queryRow(`SELECT chain_seq, hash, at FROM events WHERE chain = ? ORDER BY chain_seq DESC LIMIT 1`, chain).
		Scan(&h.seq, &h.hash, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return chainHead{}, false, nil
	} else if err != nil {
		return h, false, err
	}
	h.at = parseTime(at)
	return h, false, nil
}

// heads caches each chain's last event for the writer, so that appending
// an event does not first read the chain's end back: on the hot path that
// read is one of the costliest statements of a write. Only the writer
// goroutine uses it, in step with its transactions (see DB.commit):
//   - a write's own appends stay on its Tx until its savepoint is released
//     (a write rolled back leaves nothing here);
//   - released appends wait in batch until the transaction commits;
//   - a transaction that rolls back drops them; one that fails (its
//     savepoint or commit lost) forgets everything, committed heads too.
//
// The committed heads are trusted only while no other connection has
// written to the database (PRAGMA data_version, checked once per
// transaction); and an append whose cached position turns out to be taken
// reads the chain's end again (see appendEvent).
type heads struct {
	committed map[string]chainHead
	batch     map[string]chainHead
	version   int64 // data_version under which committed was last trusted
	checked   bool  // version was checked in the open transaction
}

// begin starts a transaction.
func (h *heads) begin() {
	h.checked = false
	h.rollback()
}

// release takes in the appends of a write whose savepoint was released.
func (h *heads) release(m map[string]chainHead) {
	if len(m) == 0 {
		return
	}
	if h.batch == nil {
		h.batch = map[string]chainHead{}
	}
	for chain, head := range m {
		h.batch[chain] = head
	}
}

// commit makes the transaction's appends the committed heads.
func (h *heads) commit() {
	if len(h.batch) == 0 {
		return
	}
	if h.committed == nil {
		h.committed = map[string]chainHead{}
	}
	for chain, head := range h.batch {
		h.committed[chain] = head
	}
	clear(h.batch)
}

// rollback drops the transaction's appends.
func (h *heads) rollback() {
	clear(h.batch)
}

// reset forgets every head, after a transaction failed: what is committed
// is then read back from the table.
func (h *heads) reset() {
	clear(h.committed)
	clear(h.batch)
}

// forget drops one chain's head.
func (h *heads) forget(chain string) {
	delete(h.committed, chain)
	delete(h.batch, chain)
}

// lookup returns the chain's cached head, if any, inside the writer's
// transaction.
func (h *heads) lookup(tx *Tx, chain string) (chainHead, bool, error) {
	if head, ok := h.batch[chain]; ok {
		return head, true, nil
	}
	if len(h.committed) == 0 {
		return chainHead{}, false, nil
	}
	if !h.checked {
		// data_version changes when another connection commits (another
		// process, or a tool on the file): what it wrote is unknown here.
		var v int64
		if err := tx.queryRow(`PRAGMA data_version`).Scan(&v); err != nil {
			return chainHead{}, false, err
		}
		if v != h.version {
			clear(h.committed)
			h.version = v
		}
		h.checked = true
	}
	head, ok := h.committed[chain]
	return head, ok, nil
}

// record appends an event of the chain with its payload.
func (tx *Tx) record(chain, kind string, payload any) error {
	return tx.appendEvent(newEvent(chain, kind, payload))
}

const eventColumns = `seq, id, chain, chain_seq, at, actor_id, actor_name, kind, item_id, annotation_id,
	annotation_version, prediction_id, block, payload, prev_hash, hash`

func scanEvent(row interface{ Scan(...any) error }, ev *feedback.Event) error {
	var at, payload string
	if err := row.Scan(&ev.Seq, &ev.ID, &ev.Chain, &ev.ChainSeq, &at, &ev.ActorID, &ev.ActorName, &ev.Kind, &ev.ItemID,
		&ev.AnnotationID, &ev.AnnotationVersion, &ev.PredictionID, &ev.Block, &payload, &ev.PrevHash, &ev.Hash); err != nil {
		return err
	}
	t, err := time.Parse(feedback.TimeLayout, at)
	if err != nil {
		// Kept as zero: the hash check then reports the event as changed.
		t = time.Time{}
	}
	ev.At = t
	ev.Payload = json.RawMessage(payload)
	return nil
}

// Events returns a page of events, newest first, and the cursor for the
// next page (0 when this is the last). Each filter has its own index, and
// the date range becomes a range of positions (times never go backwards in
// a chain), so that a page costs the same at any depth of a large log.
func (db *DB) Events(ctx context.Context, f feedback.EventFilter) ([]*feedback.Event, int64, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	var out []*feedback.Event
	err := db.readEvents(ctx, f, true, func(ev *feedback.Event) error {
		out = append(out, ev)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

// EachEvent calls fn with every event the filter selects, oldest first,
// streaming from one consistent snapshot (Before and Limit are ignored).
// The event passed to fn is reused.
func (db *DB) EachEvent(ctx context.Context, f feedback.EventFilter, fn func(*feedback.Event) error) error {
	f.Before = 0
	return db.readEvents(ctx, f, false, fn)
}

// readEvents calls fn with the events the filter selects, from one
// snapshot: a page (newest first, f.Limit+1 of them, before f.Before)
// or, without page, all of them oldest first into one reused event.
func (db *DB) readEvents(ctx context.Context, f feedback.EventFilter, page bool, fn func(*feedback.Event) error) error {
	rt := &readTx{db: db, ctx: ctx}
	defer rt.close()
	query, args, none, err := db.eventsQuery(ctx, rt, f, page)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	if none {
		return nil
	}
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	rows, err := rt.stmt(st).QueryContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	reuse := &feedback.Event{}
	for rows.Next() {
		ev := reuse
		if page {
			ev = &feedback.Event{}
		}
		if err := scanEvent(rows, ev); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

// eventsQuery returns the query for the events the filter selects, and
// its arguments: a page (see readEvents) or all of them, oldest first.
// none says that nothing can match.
func (db *DB) eventsQuery(ctx context.Context, rt *readTx, f feedback.EventFilter, page bool) (string, []any, bool, error) {
	q, err := db.eventWhere(ctx, rt, f)
	if err != nil {
		return "", nil, false, err
	}
	query := `SELECT ` + eventColumns + ` FROM events WHERE ` + q.where + ` ORDER BY ` + q.order
	if page {
		return query + ` DESC LIMIT ?`, append(q.args, f.Limit+1), q.none, nil
	}
	return query, q.args, q.none, nil
}

// eventQuery is a filter turned into SQL: its conditions with their
// arguments, and the column its events are read in order of. A filter with
// an index of its own (item, actor, block, a kind other than the
// commonest) reads it in seq order; the chain as a whole, or its
// annotation.created events, are read through the chain's unique key in
// chain_seq order, which is the same order within a chain. Either way a
// page costs the same at any depth of a large log.
type eventQuery struct {
	where string
	args  []any
	order string // "seq" or "chain_seq"
	none  bool   // nothing can match: the range starts after the last event
}

// eventWhere turns a filter into an eventQuery. Bounds (the date range,
// the cursor in chain order) are looked up first, in the read's
// transaction, and become plain positions: times never go backwards in a
// chain.
func (db *DB) eventWhere(ctx context.Context, rt *readTx, f feedback.EventFilter) (eventQuery, error) {
	where, args := []string{"chain = ?"}, []any{f.Chain}
	q := eventQuery{order: "chain_seq"}
	if f.ItemID != "" {
		where, args, q.order = append(where, "item_id = ?"), append(args, f.ItemID), "seq"
	}
	if f.Actor != "" {
		// A user's events are found by id; actors without an account (the
		// command line) by name.
		var id string
		err := db.queryRow(ctx, `SELECT id FROM users WHERE name = ?`, f.Actor).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return q, err
		}
		if id != "" {
			where, args = append(where, "actor_id = ?"), append(args, id)
		} else {
			where, args = append(where, "actor_id = '' AND actor_name = ?"), append(args, f.Actor)
		}
		q.order = "seq"
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
		if f.Kind != feedback.KindAnnotationCreated {
			// The kind index leaves out the commonest kind (see
			// 0005_hotpath.sql); this term lets SQLite use it.
			where, q.order = append(where, "kind != '"+feedback.KindAnnotationCreated+"'"), "seq"
		}
	}
	if f.Block != "" {
		// The block index holds only events with a block.
		where, args, q.order = append(where, "block = ? AND block != ''"), append(args, f.Block), "seq"
	}
	// bound keeps the events from (op ">=") or before (op "<") the chain's
	// first event whose col (at or seq) is at least v.
	bound := func(col string, v any, op string) error {
		if col == "seq" && q.order == "seq" {
			where, args = append(where, "seq "+op+" ?"), append(args, v)
			return nil
		}
		var pos int64
		var seq sql.NullInt64
		err := sql.ErrNoRows
		if col == "seq" {
			// A cursor is an event of the chain, whose position never
			// changes: it needs no snapshot of its own. Any other cursor is
			// placed by bisection.
			err = db.queryRow(ctx, `SELECT chain_seq, seq FROM events WHERE seq = ? AND chain = ?`, v, f.Chain).Scan(&pos, &seq)
		}
		if errors.Is(err, sql.ErrNoRows) {
			err = rt.queryRow(bisects[col], f.Chain, v).Scan(&pos, &seq)
		}
		if err != nil {
			return err
		}
		switch {
		case q.order == "chain_seq":
			where, args = append(where, "chain_seq "+op+" ?"), append(args, pos)
		case seq.Valid:
			where, args = append(where, "seq "+op+" ?"), append(args, seq.Int64)
		case op == ">=":
			q.none = true // no event is at or after the start
		}
		return nil
	}
	if !f.From.IsZero() {
		if err := bound("at", fmtTime(f.From), ">="); err != nil {
			return q, err
		}
	}
	if !f.To.IsZero() {
		if err := bound("at", fmtTime(f.To), "<"); err != nil {
			return q, err
		}
	}
	if f.Before > 0 {
		if err := bound("seq", f.Before, "<"); err != nil {
			return q, err
		}
	}
	q.where, q.args = strings.Join(where, " AND "), args
	return q, nil
}

// bisect returns the query for the first position (chain_seq) of a chain
// whose col is at least a value, and that event's seq: one past the last
// position and NULL when there is none. Its two parameters are the chain
// and the value. col is at or seq: within a chain neither goes backwards
// as positions grow (see appendEvent), so the search bisects the
// positions through the chain's unique key, in about 2×log2(n) index
// lookups, instead of reading an index on col that every append would have
// to update. Each step reads the first event at or after the middle
// position, so that a gap in the positions (a chain tampered with) cannot
// lead it astray.
//
// bisect(c, v, lo, hi, ge): the answer is in [lo, hi]; ge says whether
// the event at the middle of [lo, hi) has col at least v.
func bisect(col string) string {
	probe := func(mid string) string {
		return `(SELECT ` + col + ` FROM events WHERE chain = c AND chain_seq >= ` + mid + ` ORDER BY chain_seq LIMIT 1) >= v`
	}
	return `WITH RECURSIVE bisect(c, v, lo, hi, ge) AS (
		SELECT c, v, 1, n + 1, ` + probe(`(n + 2) / 2`) + `
		FROM (SELECT c, v, coalesce((SELECT chain_seq FROM events WHERE chain = c ORDER BY chain_seq DESC LIMIT 1), 0) AS n
			FROM (SELECT ? AS c, ? AS v))
		UNION ALL
		SELECT c, v, iif(ge, lo, (lo + hi) / 2 + 1), iif(ge, (lo + hi) / 2, hi),
			` + probe(`(iif(ge, lo, (lo + hi) / 2 + 1) + iif(ge, (lo + hi) / 2, hi)) / 2`) + `
		FROM bisect WHERE lo < hi)
	SELECT lo, (SELECT seq FROM events WHERE chain = c AND chain_seq >= lo ORDER BY chain_seq LIMIT 1)
	FROM bisect WHERE lo >= hi`
}

var bisects = map[string]string{"at": bisect("at"), "seq": bisect("seq")}

// readTx is a read transaction begun on first use: a query and the bounds
// looked up for it then read one snapshot, and a query with nothing to
// look up runs on its own.
type readTx struct {
	db  *DB
	ctx context.Context
	tx  *sql.Tx
}

// queryRow runs a one-row query in the transaction, through the read
// pool's prepared statement.
func (rt *readTx) queryRow(query string, args ...any) row {
	if rt.tx == nil {
		tx, err := rt.db.read.BeginTx(rt.ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return row{err: err}
		}
		rt.tx = tx
	}
	st, err := rt.db.readStmt(rt.ctx, query)
	if err != nil {
		return row{err: err}
	}
	return row{Row: rt.tx.StmtContext(rt.ctx, st).QueryRowContext(rt.ctx, args...)}
}

// stmt returns st in the transaction, if one was begun.
func (rt *readTx) stmt(st *sql.Stmt) *sql.Stmt {
	if rt.tx == nil {
		return st
	}
	return rt.tx.StmtContext(rt.ctx, st)
}

func (rt *readTx) close() {
	if rt.tx != nil {
		rt.tx.Rollback()
	}
}

// ItemEvents returns every event about an item, oldest first.
func (db *DB) ItemEvents(ctx context.Context, itemID string) ([]*feedback.Event, error) {
	var out []*feedback.Event
	err := db.eachEvent(ctx, `SELECT `+eventColumns+` FROM events WHERE item_id = ? ORDER BY seq`, []any{itemID}, func(ev *feedback.Event) error {
		out = append(out, ev)
		return nil
	})
	return out, err
}

// ChainEvents calls fn with each event of the chain, oldest first, from one
// consistent snapshot; memory stays flat however long the chain. The event
// passed to fn is reused.
func (db *DB) ChainEvents(ctx context.Context, chain string, fn func(*feedback.Event) error) error {
	ev := &feedback.Event{}
	return db.eachEvent(ctx, `SELECT `+eventColumns+` FROM events WHERE chain = ? ORDER BY chain_seq`, []any{chain}, func(*feedback.Event) error {
		return fn(ev)
	}, ev)
}

// eachEvent streams the events a query selects in one read transaction.
// With reuse, every row is scanned into that one event.
func (db *DB) eachEvent(ctx context.Context, query string, args []any, fn func(*feedback.Event) error, reuse ...*feedback.Event) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		ev := &feedback.Event{}
		if len(reuse) > 0 {
			ev = reuse[0]
		}
		if err := scanEvent(rows, ev); err != nil {
			return fmt.Errorf("events: %w", err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

// Chains returns every chain that has events: the server's ("") and each
// project's id, sorted.
func (db *DB) Chains(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT chain FROM events ORDER BY chain`)
	if err != nil {
		return nil, fmt.Errorf("chains: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("chains: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ChainReport is the outcome of verifying one chain.
type ChainReport struct {
	Chain    string
	Events   int64  // events that verified
	LastHash string // the hash of the last event that verified
	Err      error  // the first event that does not verify; nil when all do
}

// VerifyChain walks a chain from its first event and reports the first
// that does not verify: one changed, removed or put out of place. Removing
// events from the end of a chain leaves a shorter valid chain: compare
// LastHash with one recorded earlier to catch that.
func (db *DB) VerifyChain(ctx context.Context, chain string) ChainReport {
	var v feedback.Verifier
	rep := ChainReport{Chain: chain}
	var bad error
	err := db.ChainEvents(ctx, chain, func(ev *feedback.Event) error {
		if err := v.Check(ev); err != nil {
			bad = err
			return err
		}
		rep.LastHash = ev.Hash
		return nil
	})
	rep.Events = v.Count()
	switch {
	case bad != nil:
		rep.Err = bad
	case err != nil:
		rep.Err = err
	}
	return rep
}

// actorID returns the write's actor's id ("" for none), for rows that keep who made them.
func (tx *Tx) actorID() string {
	if tx.actor == nil {
		return ""
	}
	return tx.actor.ID
}
