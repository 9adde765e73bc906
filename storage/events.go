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
	ev.At = tx.now
	var last feedback.Event
	var lastAt string
	err := tx.queryRow(`SELECT chain_seq, hash, at FROM events WHERE chain = ? ORDER BY chain_seq DESC LIMIT 1`, ev.Chain).
		Scan(&last.ChainSeq, &last.Hash, &lastAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		ev.Seal(nil)
	case err != nil:
		return fmt.Errorf("event: %w", err)
	default:
		if t := parseTime(lastAt); ev.At.Before(t) {
			ev.At = t
		}
		ev.Seal(&last)
	}
	err = tx.queryRow(`INSERT INTO events (id, chain, chain_seq, at, actor_id, actor_name, kind, item_id, annotation_id,
			annotation_version, prediction_id, block, payload, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		ev.ID, ev.Chain, ev.ChainSeq, ev.At.Format(feedback.TimeLayout), ev.ActorID, ev.ActorName, ev.Kind, ev.ItemID, ev.AnnotationID,
		ev.AnnotationVersion, ev.PredictionID, ev.Block, string(ev.Payload), ev.PrevHash, ev.Hash).Scan(&ev.Seq)
	if err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
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
	where, args, err := db.eventWhere(ctx, f)
	if err != nil {
		return nil, 0, err
	}
	if f.Before > 0 {
		where, args = where+" AND seq < ?", append(args, f.Before)
	}
	st, err := db.readStmt(ctx, `SELECT `+eventColumns+` FROM events WHERE `+where+` ORDER BY seq DESC LIMIT ?`)
	if err != nil {
		return nil, 0, fmt.Errorf("events: %w", err)
	}
	rows, err := st.QueryContext(ctx, append(args, f.Limit+1)...)
	if err != nil {
		return nil, 0, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	var out []*feedback.Event
	for rows.Next() {
		ev := &feedback.Event{}
		if err := scanEvent(rows, ev); err != nil {
			return nil, 0, fmt.Errorf("events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("events: %w", err)
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
	where, args, err := db.eventWhere(ctx, f)
	if err != nil {
		return err
	}
	ev := &feedback.Event{}
	return db.eachEvent(ctx, `SELECT `+eventColumns+` FROM events WHERE `+where+` ORDER BY seq`, args, func(*feedback.Event) error {
		return fn(ev)
	}, ev)
}

// eventWhere turns a filter into SQL conditions. Each filter has its own
// index, and the date range becomes a range of positions (times never go
// backwards in a chain), so that a page costs the same at any depth of a
// large log.
func (db *DB) eventWhere(ctx context.Context, f feedback.EventFilter) (string, []any, error) {
	where, args := []string{"chain = ?"}, []any{f.Chain}
	if f.ItemID != "" {
		where, args = append(where, "item_id = ?"), append(args, f.ItemID)
	}
	if f.Actor != "" {
		// A user's events are found by id; actors without an account (the
		// command line) by name.
		var id string
		err := db.queryRow(ctx, `SELECT id FROM users WHERE name = ?`, f.Actor).Scan(&id)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", nil, fmt.Errorf("events: %w", err)
		}
		if id != "" {
			where, args = append(where, "actor_id = ?"), append(args, id)
		} else {
			where, args = append(where, "actor_id = '' AND actor_name = ?"), append(args, f.Actor)
		}
	}
	if f.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, f.Kind)
	}
	if f.Block != "" {
		where, args = append(where, "block = ?"), append(args, f.Block)
	}
	if !f.From.IsZero() {
		where = append(where, "seq >= (SELECT seq FROM events WHERE chain = ? AND at >= ? ORDER BY at, seq LIMIT 1)")
		args = append(args, f.Chain, fmtTime(f.From))
	}
	if !f.To.IsZero() {
		where = append(where, "seq < coalesce((SELECT seq FROM events WHERE chain = ? AND at >= ? ORDER BY at, seq LIMIT 1), 9223372036854775807)")
		args = append(args, f.Chain, fmtTime(f.To))
	}
	return strings.Join(where, " AND "), args, nil
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
