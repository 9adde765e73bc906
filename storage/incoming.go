package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

// RecordFeedback stores feedback sent through the feedback API, in one
// transaction: the item (found by external id, or by its data; created when
// new), the model's output as predictions (one per block; the same output
// sent again is the same prediction), and a feedback event with the
// rating, correction and comment. When the project's review policy takes
// feedback, the item goes to review. in must be resolved (Incoming.Resolve).
func (db *DB) RecordFeedback(ctx context.Context, p *annotate.Project, in *feedback.Incoming) (*feedback.Received, error) {
	if in.Item == nil {
		return nil, fmt.Errorf("record feedback: the feedback is not resolved")
	}
	rec := in.Item
	var out *feedback.Received
	err := db.update(ctx, func(tx *Tx) error {
		out = &feedback.Received{Predictions: map[string]string{}}
		var hash string
		var err error
		if rec.ExternalID != "" {
			err = tx.queryRow(`SELECT id, hash FROM items WHERE project_id = ? AND external_id = ?`, p.ID, rec.ExternalID).Scan(&out.ItemID, &hash)
			if err == nil && hash != rec.Hash {
				return loupe.FieldErrorf("input", "an item with id %q already exists with other data", rec.ExternalID)
			}
		} else {
			err = tx.queryRow(`SELECT id FROM items WHERE project_id = ? AND hash = ? AND external_id IS NULL LIMIT 1`, p.ID, rec.Hash).Scan(&out.ItemID)
		}
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := insertFeedbackItem(tx, p, rec, out); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.exec(`UPDATE items SET origin = ? WHERE id = ?`, OriginFeedback, out.ItemID); err != nil {
				return err
			}
		}
		var first string
		for _, block := range in.Blocks() {
			pred := annotate.Prediction{ProjectID: p.ID, ItemID: out.ItemID, Block: block, Value: in.Output[block], Score: in.Score,
				Model: in.Model, ModelVersion: in.Version, Source: annotate.SourceFeedback, InputHash: feedback.OutputHash(in.Output[block])}
			if err := insertPrediction(tx, &pred); err != nil {
				return err
			}
			// The same output sent before keeps its first prediction.
			var id string
			if err := tx.queryRow(`SELECT id FROM predictions WHERE item_id = ? AND block = ? AND model = ? AND model_version = ? AND input_hash = ?`,
				out.ItemID, block, in.Model, in.Version, pred.InputHash).Scan(&id); err != nil {
				return err
			}
			out.Predictions[block] = id
			if first == "" {
				first = id
			}
		}
		payload := map[string]any{"source": "api", "model": in.Model, "version": in.Version, "output": in.Output, "predictions": out.Predictions}
		if out.NewItem {
			payload["new_item"] = true
		}
		if in.Rating != nil {
			payload["rating"], payload["rating_block"] = in.Rating, in.RatingBlock
		}
		if len(in.Correction) > 0 {
			payload["correction"] = in.Correction
		}
		if in.Comment != "" {
			payload["comment"] = in.Comment
		}
		ev := newEvent(p.ID, feedback.KindFeedback, payload)
		ev.ItemID, ev.PredictionID, ev.Block = out.ItemID, first, in.RatingBlock
		if err := tx.appendEvent(ev); err != nil {
			return err
		}
		out.EventID = ev.ID
		if err := tx.queryRow(`SELECT state FROM items WHERE id = ?`, out.ItemID).Scan(&out.State); err != nil {
			return err
		}
		if p.Config.Review.Has("feedback") && out.State != feedback.StateInReview && out.State != feedback.StateRejected {
			if err := setState(tx, p.ID, out.ItemID, out.State, feedback.StateInReview, "it got feedback through the feedback API"); err != nil {
				return err
			}
			out.State = feedback.StateInReview
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record feedback: %w", err)
	}
	return out, nil
}

// insertFeedbackItem adds the item feedback came with, at the end of the
// project's order.
func insertFeedbackItem(tx *Tx, p *annotate.Project, rec *annotate.ItemRecord, out *feedback.Received) error {
	var seq int64
	if err := tx.queryRow(`SELECT coalesce(max(seq), 0) + 1 FROM items WHERE project_id = ?`, p.ID).Scan(&seq); err != nil {
		return err
	}
	var extID any
	if rec.ExternalID != "" {
		extID = rec.ExternalID
	}
	id := uuid.Must(uuid.NewV7()).String()
	if _, err := tx.exec(`INSERT INTO items (id, project_id, seq, external_id, data, hash, created_at, priority, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, p.ID, seq, extID, string(rec.DataJSON), rec.Hash, fmtTime(tx.now), randomPriority(id), OriginFeedback); err != nil {
		return err
	}
	if _, err := tx.exec(`UPDATE projects SET item_count = item_count + 1 WHERE id = ?`, p.ID); err != nil {
		return err
	}
	out.ItemID, out.NewItem = id, true
	return countStates(tx, p.ID, "", feedback.StatePending, 1)
}
