package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe/annotate"
)

// randomPriority gives an item a fixed place in the random order: a hash of
// its id scaled into [0, 1).
func randomPriority(itemID string) float64 {
	h := fnv.New64a()
	h.Write([]byte(itemID))
	return float64(h.Sum64()>>11) / (1 << 53)
}

const predictionColumns = `id, project_id, item_id, block, value_json, score, model, model_version, source, input_hash, created_at`

func scanPrediction(row interface{ Scan(...any) error }) (annotate.Prediction, error) {
	var p annotate.Prediction
	var value, created string
	var score sql.NullFloat64
	if err := row.Scan(&p.ID, &p.ProjectID, &p.ItemID, &p.Block, &value, &score, &p.Model, &p.ModelVersion, &p.Source, &p.InputHash, &created); err != nil {
		return p, err
	}
	p.Value = json.RawMessage(value)
	if score.Valid {
		s := score.Float64
		p.Score = &s
	}
	p.CreatedAt = parseTime(created)
	return p, nil
}

// insertPrediction stores a prediction unless one is stored already for
// the same item, block, model, version and input; the first one wins.
func insertPrediction(tx *Tx, p *annotate.Prediction) error {
	if p.ID == "" {
		p.ID = uuid.Must(uuid.NewV7()).String()
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = tx.now
	}
	var score any
	if p.Score != nil {
		score = *p.Score
	}
	_, err := tx.exec(`INSERT INTO predictions (`+predictionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (item_id, block, model, model_version, input_hash) DO NOTHING`,
		p.ID, p.ProjectID, p.ItemID, p.Block, string(p.Value), score, p.Model, p.ModelVersion, p.Source, p.InputHash, fmtTime(p.CreatedAt))
	return err
}

// SavePredictions stores predictions in one transaction. A prediction
// already stored for the same item, block, model, version and input hash
// is kept, not replaced.
func (db *DB) SavePredictions(ctx context.Context, ps []annotate.Prediction) error {
	err := db.update(ctx, func(tx *Tx) error {
		for i := range ps {
			if err := insertPrediction(tx, &ps[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save predictions: %w", err)
	}
	return nil
}

// CachedPredictions returns the stored predictions of an item by a model at
// a version and input hash ("" is the item's own data).
func (db *DB) CachedPredictions(ctx context.Context, itemID, model, version, inputHash string) ([]annotate.Prediction, error) {
	return db.predictions(ctx, `SELECT `+predictionColumns+` FROM predictions
		WHERE item_id = ? AND model = ? AND model_version = ? AND input_hash = ? ORDER BY block`, itemID, model, version, inputHash)
}

// ItemPredictions returns every prediction of an item over its own data,
// newest first.
func (db *DB) ItemPredictions(ctx context.Context, itemID string) ([]annotate.Prediction, error) {
	return db.predictions(ctx, `SELECT `+predictionColumns+` FROM predictions
		WHERE item_id = ? AND input_hash = '' ORDER BY created_at DESC, id DESC`, itemID)
}

func (db *DB) predictions(ctx context.Context, query string, args ...any) ([]annotate.Prediction, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("predictions: %w", err)
	}
	defer rows.Close()
	var out []annotate.Prediction
	for rows.Next() {
		p, err := scanPrediction(rows)
		if err != nil {
			return nil, fmt.Errorf("predictions: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("predictions: %w", err)
	}
	return out, nil
}

// RecordCall notes one call to a live model. Calls older than a week are
// dropped as new ones come.
func (db *DB) RecordCall(ctx context.Context, c annotate.ModelCall) error {
	err := db.update(ctx, func(tx *Tx) error {
		at := c.At
		if at.IsZero() {
			at = tx.now
		}
		if _, err := tx.exec(`INSERT INTO model_calls (project_id, model, at, ok, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ProjectID, c.Model, fmtTime(at), c.OK, float64(c.Latency)/float64(time.Millisecond), c.Error); err != nil {
			return err
		}
		_, err := tx.exec(`DELETE FROM model_calls WHERE project_id = ? AND model = ? AND at < ?`,
			c.ProjectID, c.Model, fmtTime(tx.now.Add(-7*24*time.Hour)))
		return err
	})
	if err != nil {
		return fmt.Errorf("record model call: %w", err)
	}
	return nil
}

// ModelCalls returns the calls to a project's model since a time, newest
// first, at most limit.
func (db *DB) ModelCalls(ctx context.Context, projectID, model string, since time.Time, limit int) ([]annotate.ModelCall, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT at, ok, latency_ms, error FROM model_calls
		WHERE project_id = ? AND model = ? AND at >= ? ORDER BY at DESC, id DESC LIMIT ?`, projectID, model, fmtTime(since), limit)
	if err != nil {
		return nil, fmt.Errorf("model calls: %w", err)
	}
	defer rows.Close()
	var out []annotate.ModelCall
	for rows.Next() {
		c := annotate.ModelCall{ProjectID: projectID, Model: model}
		var at string
		var ms float64
		if err := rows.Scan(&at, &c.OK, &ms, &c.Error); err != nil {
			return nil, fmt.Errorf("model calls: %w", err)
		}
		c.At, c.Latency = parseTime(at), time.Duration(ms*float64(time.Millisecond))
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("model calls: %w", err)
	}
	return out, nil
}

// OpenItems returns up to limit open (not complete) items of the project
// after the given sequence number, in order: for background rescoring.
func (db *DB) OpenItems(ctx context.Context, projectID string, afterSeq int64, limit int) ([]*annotate.Item, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+itemColumns+` FROM items
		WHERE project_id = ? AND complete = 0 AND seq > ? ORDER BY seq LIMIT ?`, projectID, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("open items: %w", err)
	}
	defer rows.Close()
	var out []*annotate.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("open items: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("open items: %w", err)
	}
	return out, nil
}

// SetPriorities sets the queue priority (lower first) of items, in one
// short write: callers send a batch at a time, so next-item never waits
// long behind a rescoring.
func (db *DB) SetPriorities(ctx context.Context, projectID string, priorities map[string]float64) error {
	err := db.update(ctx, func(tx *Tx) error {
		for id, p := range priorities {
			if _, err := tx.exec(`UPDATE items SET priority = ? WHERE id = ? AND project_id = ?`, p, id, projectID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set priorities: %w", err)
	}
	return nil
}

// Upcoming returns up to n items the queue would give the user next after
// the one they hold, without leasing them: for prefetching predictions.
func (db *DB) Upcoming(ctx context.Context, p *annotate.Project, userID string, n int) ([]*annotate.Item, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+itemColumns+` FROM items i
		WHERE i.project_id = ?1 AND i.complete = 0
		  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = ?2)
		ORDER BY `+queueOrder(p)+` LIMIT ?3`, p.ID, userID, n)
	if err != nil {
		return nil, fmt.Errorf("upcoming items: %w", err)
	}
	defer rows.Close()
	var out []*annotate.Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("upcoming items: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("upcoming items: %w", err)
	}
	return out, nil
}

// queueOrder is the ORDER BY of the queue for the project's order setting.
func queueOrder(p *annotate.Project) string {
	if p.Config.Order == "" || p.Config.Order == "sequential" {
		return "i.seq"
	}
	return "i.priority, i.seq"
}

// LoadLearner returns the stored snapshot of a project's builtin model for
// a block, or ENOTFOUND.
func (db *DB) LoadLearner(ctx context.Context, projectID, model, block string) (*annotate.LearnerState, error) {
	s := &annotate.LearnerState{ProjectID: projectID, Model: model, Block: block}
	var updated string
	err := db.queryRow(ctx, `SELECT config_version, state, upto, examples, updated_at FROM learner_state
		WHERE project_id = ? AND model = ? AND block = ?`, projectID, model, block).Scan(&s.ConfigVersion, &s.State, &s.Upto, &s.Examples, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("no learner snapshot")
	} else if err != nil {
		return nil, fmt.Errorf("load learner: %w", err)
	}
	s.UpdatedAt = parseTime(updated)
	return s, nil
}

// SaveLearner stores a snapshot of a project's builtin model for a block.
func (db *DB) SaveLearner(ctx context.Context, s *annotate.LearnerState) error {
	err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO learner_state (project_id, model, block, config_version, state, upto, examples, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (project_id, model, block) DO UPDATE SET config_version = excluded.config_version, state = excluded.state,
				upto = excluded.upto, examples = excluded.examples, updated_at = excluded.updated_at`,
			s.ProjectID, s.Model, s.Block, s.ConfigVersion, s.State, s.Upto, s.Examples, fmtTime(tx.now))
		return err
	})
	if err != nil {
		return fmt.Errorf("save learner: %w", err)
	}
	return nil
}

// VersionsAfter returns, in the order they were made, up to limit
// annotation versions of the project made after the position after
// ("" = from the start), each with the version it replaced (for
// unlearning) and its item's data: the stream the builtin learner trains
// on.
func (db *DB) VersionsAfter(ctx context.Context, projectID, after string, limit int) ([]annotate.VersionChange, error) {
	createdAt, annID, version := "", "", 0
	if after != "" {
		parts := strings.Split(after, "|")
		if len(parts) != 3 {
			return nil, fmt.Errorf("versions after: bad position %q", after)
		}
		createdAt, annID = parts[0], parts[1]
		fmt.Sscanf(parts[2], "%d", &version)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT v.created_at, v.annotation_id, v.version, v.values_json,
			coalesce((SELECT p.values_json FROM annotation_versions p WHERE p.annotation_id = v.annotation_id AND p.version = v.version - 1), ''),
			i.data
		FROM annotation_versions v INDEXED BY annotation_versions_made
		JOIN annotations a ON a.id = v.annotation_id JOIN items i ON i.id = a.item_id
		WHERE (v.created_at, v.annotation_id, v.version) > (?2, ?3, ?4) AND a.project_id = ?1
		ORDER BY v.created_at, v.annotation_id, v.version LIMIT ?5`, projectID, createdAt, annID, version, limit)
	if err != nil {
		return nil, fmt.Errorf("versions after: %w", err)
	}
	defer rows.Close()
	var out []annotate.VersionChange
	for rows.Next() {
		var c annotate.VersionChange
		var created, annotationID, values, prev, data string
		var v int
		if err := rows.Scan(&created, &annotationID, &v, &values, &prev, &data); err != nil {
			return nil, fmt.Errorf("versions after: %w", err)
		}
		c.Position = fmt.Sprintf("%s|%s|%d", created, annotationID, v)
		if err := json.Unmarshal([]byte(values), &c.Values); err != nil {
			return nil, fmt.Errorf("versions after: %w", err)
		}
		if prev != "" {
			if err := json.Unmarshal([]byte(prev), &c.Previous); err != nil {
				return nil, fmt.Errorf("versions after: %w", err)
			}
		}
		if err := decodeData(data, &c.Data); err != nil {
			return nil, fmt.Errorf("versions after: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("versions after: %w", err)
	}
	return out, nil
}

// ShownOutcomes returns every suggestion shown on the project's annotation
// versions with what the labeler submitted for its block and the block's
// final value (the annotation's current version), oldest first.
func (db *DB) ShownOutcomes(ctx context.Context, projectID string) ([]annotate.ShownOutcome, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT v.shown_json, v.values_json, cv.values_json, v.created_at
		FROM annotation_versions v
		JOIN annotations a ON a.id = v.annotation_id
		JOIN annotation_versions cv ON cv.annotation_id = a.id AND cv.version = a.version
		WHERE a.project_id = ? AND v.shown_json != '{}'
		ORDER BY v.created_at`, projectID)
	if err != nil {
		return nil, fmt.Errorf("shown outcomes: %w", err)
	}
	defer rows.Close()
	var out []annotate.ShownOutcome
	for rows.Next() {
		var shownJSON, valuesJSON, finalJSON, created string
		if err := rows.Scan(&shownJSON, &valuesJSON, &finalJSON, &created); err != nil {
			return nil, fmt.Errorf("shown outcomes: %w", err)
		}
		var shown map[string]annotate.Suggestion
		var values, final map[string]json.RawMessage
		if json.Unmarshal([]byte(shownJSON), &shown) != nil || json.Unmarshal([]byte(valuesJSON), &values) != nil || json.Unmarshal([]byte(finalJSON), &final) != nil {
			continue // a row Loupe did not write; skip rather than fail the page
		}
		for block, s := range shown {
			out = append(out, annotate.ShownOutcome{Block: block, Model: s.Model, Version: s.Version, Shown: s.Value,
				Submitted: values[block], Final: final[block], At: parseTime(created)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("shown outcomes: %w", err)
	}
	return out, nil
}
