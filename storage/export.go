package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/loupehq/loupe/export"
	"github.com/loupehq/loupe/feedback"
)

// ReadExport opens one read transaction on the project and hands fn a
// Source of its records: every item with an annotation or a final answer,
// in import order, with every labeler's current annotation, the
// predictions, reviews and feedback of the item, its state and final
// answer. The Source may be read more than once and gives the same records
// each time; writes go on meanwhile. Memory does not grow with the
// project: rows stream from four cursors merged by item.
func (db *DB) ReadExport(ctx context.Context, projectID string, fn func(export.Source) error) error {
	return db.readExport(ctx, &exportSource{projectID: projectID}, fn)
}

func (db *DB) readExport(ctx context.Context, src *exportSource, fn func(export.Source) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer tx.Rollback()
	src.tx = tx
	return fn(src)
}

// ExportRecords calls fn for each record of the project, as ReadExport's
// Source gives them. The record passed to fn is reused: fn must not keep
// it.
func (db *DB) ExportRecords(ctx context.Context, projectID string, fn func(*export.Record) error) error {
	return db.ReadExport(ctx, projectID, func(src export.Source) error { return src.Each(ctx, fn) })
}

// exportSource reads records in a read transaction. With a snapshot, it
// reads what the snapshot pinned: its items, their annotations at the
// versions it saw, their state and final answer then, and predictions,
// reviews and feedback made up to its time.
type exportSource struct {
	tx         *sql.Tx
	projectID  string
	snapshotID string
	asOf       string // with a snapshot: its time
}

const (
	// liveRecords: the items with an annotation or a final answer, each
	// with its labelers' current versions.
	liveRecords = `SELECT i.seq, i.id, coalesce(i.external_id, ''), i.data, i.state, i.final_json,
			coalesce(a.id, ''), coalesce(u.name, ''), coalesce(v.version, 0), coalesce(v.config_version, 0), coalesce(v.values_json, '{}'),
			coalesce(v.shown_json, '{}'), coalesce(v.lead_ms, 0), coalesce(a.created_at, ''), coalesce(v.created_at, ''),
			coalesce((SELECT name FROM users WHERE id = v.author_id AND v.author_id != a.user_id), '')
		FROM items i
		LEFT JOIN annotations a ON a.item_id = i.id
		LEFT JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version
		LEFT JOIN users u ON u.id = a.user_id
		WHERE i.project_id = ?1 AND (a.id IS NOT NULL OR i.final_json != '')
		ORDER BY i.seq, a.created_at, a.id`
	// pinnedRecords: a snapshot's items at the versions it saw.
	pinnedRecords = `SELECT s.seq, i.id, coalesce(i.external_id, ''), i.data, s.state, s.final_json,
			coalesce(a.id, ''), coalesce(u.name, ''), coalesce(v.version, 0), coalesce(v.config_version, 0), coalesce(v.values_json, '{}'),
			coalesce(v.shown_json, '{}'), coalesce(v.lead_ms, 0), coalesce(a.created_at, ''), coalesce(v.created_at, ''),
			coalesce((SELECT name FROM users WHERE id = v.author_id AND v.author_id != a.user_id), '')
		FROM snapshot_items s
		JOIN items i ON i.id = s.item_id
		LEFT JOIN json_each(s.versions) j
		LEFT JOIN annotations a ON a.id = j.value ->> 0
		LEFT JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = j.value ->> 1
		LEFT JOIN users u ON u.id = a.user_id
		WHERE s.snapshot_id = ?2
		ORDER BY s.seq, a.created_at, a.id`
	recordPredictions = `SELECT i.seq, p.id, p.block, p.model, p.model_version, p.score, p.value_json, p.source, p.created_at
		FROM items i JOIN predictions p ON p.item_id = i.id
		WHERE i.project_id = ?1 AND (?3 = '' OR p.created_at <= ?3)
		ORDER BY i.seq, p.created_at, p.id`
	recordReviews = `SELECT i.seq, r.id, coalesce(u.name, ''), r.verdict, coalesce(r.annotation_id, ''), r.comment, r.values_json, r.created_at
		FROM items i JOIN reviews r ON r.item_id = i.id LEFT JOIN users u ON u.id = r.reviewer_id
		WHERE i.project_id = ?1 AND (?3 = '' OR r.created_at <= ?3)
		ORDER BY i.seq, r.created_at, r.id`
	recordFeedback = `SELECT i.seq, e.id, e.payload, e.at
		FROM items i JOIN events e ON e.item_id = i.id
		WHERE i.project_id = ?1 AND e.chain = ?1 AND e.kind = '` + feedback.KindFeedback + `' AND (?3 = '' OR e.at <= ?3)
		ORDER BY i.seq, e.seq`
)

// Each calls fn for each record; the record is reused between calls.
func (s *exportSource) Each(ctx context.Context, fn func(*export.Record) error) error {
	args := []any{s.projectID, s.snapshotID, s.asOf}
	main := liveRecords
	if s.snapshotID != "" {
		main = pinnedRecords
	}
	rows, err := s.tx.QueryContext(ctx, main, args...)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	var sides []*sideCursor
	defer func() {
		for _, c := range sides {
			c.close()
		}
	}()
	for _, q := range []struct {
		query  string
		decode func(*sql.Rows) (int64, func(*export.Record), error)
	}{{recordPredictions, decodePrediction}, {recordReviews, decodeReview}, {recordFeedback, decodeFeedback}} {
		c, err := newSideCursor(ctx, s.tx, q.query, args, q.decode)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		sides = append(sides, c)
	}

	rec := &export.Record{}
	var seq int64
	var itemID, extID, state, annID string
	var data, final, values, shown []byte
	var created, updated string
	emit := func() error {
		for _, c := range sides {
			if err := c.fill(rec); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		return fn(rec)
	}
	for rows.Next() {
		var a export.Annotation
		if err := rows.Scan(&seq, &itemID, &extID, &data, &state, &final, &annID, &a.User, &a.Version, &a.ConfigVersion, &values, &shown, &a.LeadMS, &created, &updated, &a.Author); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if itemID != rec.ItemID {
			if rec.ItemID != "" {
				if err := emit(); err != nil {
					return err
				}
			}
			rec.ItemID, rec.ExternalID, rec.State, rec.Seq = itemID, extID, state, seq
			rec.Data = append(rec.Data[:0], data...)
			rec.Final = append(rec.Final[:0], final...)
			if len(rec.Final) == 0 {
				rec.Final = nil
			}
			rec.Annotations, rec.Predictions, rec.Reviews, rec.Feedback = rec.Annotations[:0], rec.Predictions[:0], rec.Reviews[:0], rec.Feedback[:0]
		}
		if annID == "" {
			continue // an item with only a final answer
		}
		a.ID = annID
		a.Values = append(json.RawMessage(nil), values...)
		if string(shown) != "{}" {
			a.Shown = append(json.RawMessage(nil), shown...)
		}
		a.CreatedAt, a.UpdatedAt = parseTime(created), parseTime(updated)
		rec.Annotations = append(rec.Annotations, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if rec.ItemID != "" {
		return emit()
	}
	return nil
}

// sideCursor walks the predictions, reviews or feedback of the items in
// seq order, alongside the main rows, one row read ahead.
type sideCursor struct {
	rows    *sql.Rows
	decode  func(*sql.Rows) (int64, func(*export.Record), error)
	seq     int64
	pending func(*export.Record)
	done    bool
}

func newSideCursor(ctx context.Context, tx *sql.Tx, query string, args []any, decode func(*sql.Rows) (int64, func(*export.Record), error)) (*sideCursor, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return &sideCursor{rows: rows, decode: decode}, nil
}

func (c *sideCursor) close() { c.rows.Close() }

// fill adds the rows of rec's item to rec, skipping the rows of earlier
// items (items the export leaves out).
func (c *sideCursor) fill(rec *export.Record) error {
	for {
		if c.pending == nil {
			if c.done || !c.rows.Next() {
				c.done = true
				return c.rows.Err()
			}
			seq, apply, err := c.decode(c.rows)
			if err != nil {
				return err
			}
			c.seq, c.pending = seq, apply
		}
		if c.seq > rec.Seq {
			return nil
		}
		if c.seq == rec.Seq {
			c.pending(rec)
		}
		c.pending = nil
	}
}

func decodePrediction(r *sql.Rows) (int64, func(*export.Record), error) {
	var seq int64
	var p export.Prediction
	var score sql.NullFloat64
	var value []byte
	var at string
	if err := r.Scan(&seq, &p.ID, &p.Block, &p.Model, &p.ModelVersion, &score, &value, &p.Source, &at); err != nil {
		return 0, nil, err
	}
	if score.Valid {
		p.Score = &score.Float64
	}
	p.Value, p.CreatedAt = value, parseTime(at)
	return seq, func(rec *export.Record) { rec.Predictions = append(rec.Predictions, p) }, nil
}

func decodeReview(r *sql.Rows) (int64, func(*export.Record), error) {
	var seq int64
	var v export.Review
	var value []byte
	var at string
	if err := r.Scan(&seq, &v.ID, &v.Reviewer, &v.Verdict, &v.AnnotationID, &v.Comment, &value, &at); err != nil {
		return 0, nil, err
	}
	v.Values, v.CreatedAt = value, parseTime(at)
	return seq, func(rec *export.Record) { rec.Reviews = append(rec.Reviews, v) }, nil
}

func decodeFeedback(r *sql.Rows) (int64, func(*export.Record), error) {
	var seq int64
	var f export.Feedback
	var payload []byte
	var at string
	if err := r.Scan(&seq, &f.ID, &payload, &at); err != nil {
		return 0, nil, err
	}
	var p struct {
		Model       string          `json:"model"`
		Version     string          `json:"version"`
		RatingBlock string          `json:"rating_block"`
		Rating      json.RawMessage `json:"rating"`
		Correction  json.RawMessage `json:"correction"`
		Comment     string          `json:"comment"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return 0, nil, fmt.Errorf("event %s: %w", f.ID, err)
	}
	f.Model, f.Version, f.RatingBlock, f.Rating, f.Correction, f.Comment = p.Model, p.Version, p.RatingBlock, p.Rating, p.Correction, p.Comment
	f.CreatedAt = parseTime(at)
	return seq, func(rec *export.Record) { rec.Feedback = append(rec.Feedback, f) }, nil
}
