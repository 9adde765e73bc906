package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

// ImportItems reads items from dec into the project in one transaction:
// either every item is imported or, when any line is bad, none is. Items
// already present with the same data are counted as unchanged, so that
// importing a file twice adds nothing; an id already present with other
// data is an error. Bad lines are reported (up to annotate.MaxImportErrors)
// in one EINVALID error, each with its line number.
//
// The decoder is read inside the write transaction: give it a local file or
// a spooled upload, never a slow network stream.
func (db *DB) ImportItems(ctx context.Context, p *annotate.Project, dec *annotate.ItemDecoder) (annotate.ImportResult, error) {
	var res annotate.ImportResult
	in := p.Config.Interface()
	err := db.update(ctx, func(tx *Tx) error {
		res = annotate.ImportResult{}
		var seq int64
		if err := tx.queryRow(`SELECT coalesce(max(seq), 0) FROM items WHERE project_id = ?`, p.ID).Scan(&seq); err != nil {
			return err
		}
		insert, err := tx.prepare(`INSERT INTO items (id, project_id, seq, external_id, data, hash, created_at, priority) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		byID, err := tx.prepare(`SELECT id, hash FROM items WHERE project_id = ? AND external_id = ?`)
		if err != nil {
			return err
		}
		byHash, err := tx.prepare(`SELECT id FROM items WHERE project_id = ? AND hash = ? AND external_id IS NULL LIMIT 1`)
		if err != nil {
			return err
		}

		var problems []string
		bad := func(line int, format string, args ...any) {
			problems = append(problems, fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
		}
		idLines := map[string]int{}
		hashLines := map[string]int{}
		now := fmtTime(tx.now)
		for len(problems) < annotate.MaxImportErrors {
			rec, err := dec.Next()
			if errors.Is(err, io.EOF) {
				break
			} else if loupe.ErrorCode(err) == loupe.EINVALID {
				problems = append(problems, loupe.ErrorMessage(err))
				continue
			} else if err != nil {
				return err
			}
			if err := in.CheckData(rec.Data); err != nil {
				bad(rec.Line, "%s", loupe.ErrorMessage(err))
				continue
			}
			if err := rec.ResolvePredictions(in); err != nil {
				problems = append(problems, loupe.ErrorMessage(err))
				continue
			}
			// Predictions are stored for new items and for items already
			// present (a file imported again adds none twice).
			keep := func(itemID string) error {
				if len(problems) > 0 {
					return nil
				}
				n, err := storeImportedPredictions(tx, p.ID, itemID, rec.Predictions)
				res.Predictions += n
				return err
			}
			var extID any
			if rec.ExternalID != "" {
				if first, dup := idLines[rec.ExternalID]; dup {
					bad(rec.Line, "id %q is also on line %d", rec.ExternalID, first)
					continue
				}
				idLines[rec.ExternalID] = rec.Line
				var have, hash string
				err := byID.QueryRowContext(tx.ctx, p.ID, rec.ExternalID).Scan(&have, &hash)
				switch {
				case err == nil && hash == rec.Hash:
					res.Unchanged++
					if err := keep(have); err != nil {
						return err
					}
					continue
				case err == nil:
					bad(rec.Line, "an item with id %q already exists with other data", rec.ExternalID)
					continue
				case !errors.Is(err, sql.ErrNoRows):
					return err
				}
				extID = rec.ExternalID
			} else {
				if _, dup := hashLines[rec.Hash]; dup {
					res.Unchanged++
					continue
				}
				hashLines[rec.Hash] = rec.Line
				var have string
				err := byHash.QueryRowContext(tx.ctx, p.ID, rec.Hash).Scan(&have)
				if err == nil {
					res.Unchanged++
					if err := keep(have); err != nil {
						return err
					}
					continue
				} else if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			if len(problems) > 0 {
				continue // the import fails anyway: only look for more problems
			}
			seq++
			id := uuid.Must(uuid.NewV7()).String()
			if _, err := insert.ExecContext(tx.ctx, id, p.ID, seq, extID, string(rec.DataJSON), rec.Hash, now, randomPriority(id)); err != nil {
				return fmt.Errorf("line %d: %w", rec.Line, err)
			}
			res.Added++
			if err := keep(id); err != nil {
				return err
			}
		}
		if len(problems) > 0 {
			return importFailed(problems)
		}
		if res.Added == 0 && res.Predictions == 0 {
			return nil
		}
		if _, err = tx.exec(`UPDATE projects SET item_count = item_count + ? WHERE id = ?`, res.Added, p.ID); err != nil {
			return err
		}
		payload := map[string]any{"added": res.Added, "unchanged": res.Unchanged, "predictions": res.Predictions}
		if res.Added > 0 {
			payload["first_seq"], payload["last_seq"] = seq-int64(res.Added)+1, seq
		}
		return tx.record(p.ID, feedback.KindItemsImported, payload)
	})
	if err != nil {
		return annotate.ImportResult{}, fmt.Errorf("import items: %w", err)
	}
	return res, nil
}

const itemColumns = `id, project_id, seq, coalesce(external_id, ''), data, hash, created_at`

func scanItem(row interface{ Scan(...any) error }) (*annotate.Item, error) {
	var it annotate.Item
	var data, created string
	if err := row.Scan(&it.ID, &it.ProjectID, &it.Seq, &it.ExternalID, &data, &it.Hash, &created); err != nil {
		return nil, err
	}
	if err := decodeData(data, &it.Data); err != nil {
		return nil, fmt.Errorf("item %s data: %w", it.ID, err)
	}
	it.CreatedAt = parseTime(created)
	return &it, nil
}

func decodeData(s string, into *map[string]any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(into)
}

// Item returns the item with the id in the project, or ENOTFOUND (also when
// the id belongs to another project).
func (db *DB) Item(ctx context.Context, projectID, itemID string) (*annotate.Item, error) {
	it, err := scanItem(db.queryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE id = ? AND project_id = ?`, itemID, projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("item not found")
	} else if err != nil {
		return nil, fmt.Errorf("item: %w", err)
	}
	return it, nil
}

// SampleItem returns the first item of the project in import order, for
// previews, or ENOTFOUND when the project has none.
func (db *DB) SampleItem(ctx context.Context, projectID string) (*annotate.Item, error) {
	it, err := scanItem(db.queryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE project_id = ? ORDER BY seq LIMIT 1`, projectID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("the project has no items")
	} else if err != nil {
		return nil, fmt.Errorf("sample item: %w", err)
	}
	return it, nil
}

// storeImportedPredictions stores an item's imported predictions, one row
// per block; a prediction already stored (same model, version and block)
// is kept. It returns how many rows were new.
func storeImportedPredictions(tx *Tx, projectID, itemID string, preds []annotate.PredictionRecord) (int, error) {
	n := 0
	for _, pr := range preds {
		for block, v := range pr.Values {
			pred := annotate.Prediction{ProjectID: projectID, ItemID: itemID, Block: block, Value: v, Score: pr.Score,
				Model: pr.Model, ModelVersion: pr.Version, Source: annotate.SourceImport}
			before, err := tx.changes()
			if err != nil {
				return n, err
			}
			if err := insertPrediction(tx, &pred); err != nil {
				return n, err
			}
			after, err := tx.changes()
			if err != nil {
				return n, err
			}
			n += int(after - before)
		}
	}
	return n, nil
}

// ImportPredictions reads a predictions file (loupe import --predictions)
// into the project in one transaction: each line's predictions attach to
// the item with its external id, and are validated against the interface
// and that item. Any bad line (an unknown id, an unknown block, an invalid
// value) fails the whole file with its line number, and nothing is stored.
func (db *DB) ImportPredictions(ctx context.Context, p *annotate.Project, dec *annotate.PredictionDecoder) (annotate.ImportResult, error) {
	var res annotate.ImportResult
	in := p.Config.Interface()
	err := db.update(ctx, func(tx *Tx) error {
		res = annotate.ImportResult{}
		var problems []string
		for len(problems) < annotate.MaxImportErrors {
			line, err := dec.Next()
			if errors.Is(err, io.EOF) {
				break
			} else if loupe.ErrorCode(err) == loupe.EINVALID {
				problems = append(problems, loupe.ErrorMessage(err))
				continue
			} else if err != nil {
				return err
			}
			var itemID, data string
			err = tx.queryRow(`SELECT id, data FROM items WHERE project_id = ? AND external_id = ?`, p.ID, line.ExternalID).Scan(&itemID, &data)
			if errors.Is(err, sql.ErrNoRows) {
				problems = append(problems, fmt.Sprintf("line %d: no item has id %q in this project", line.Line, line.ExternalID))
				continue
			} else if err != nil {
				return err
			}
			var itemData map[string]any
			if err := decodeData(data, &itemData); err != nil {
				return err
			}
			if err := line.Resolve(in, itemData); err != nil {
				problems = append(problems, loupe.ErrorMessage(err))
				continue
			}
			if len(problems) > 0 {
				continue
			}
			n, err := storeImportedPredictions(tx, p.ID, itemID, line.Predictions)
			if err != nil {
				return err
			}
			res.Added++
			res.Predictions += n
		}
		if len(problems) > 0 {
			return importFailed(problems)
		}
		if res.Predictions == 0 {
			return nil
		}
		return tx.record(p.ID, feedback.KindPredictionsImported, map[string]any{"items": res.Added, "predictions": res.Predictions})
	})
	if err != nil {
		return annotate.ImportResult{}, fmt.Errorf("import predictions: %w", err)
	}
	return res, nil
}

// importFailed reports an import's problems, one a line.
func importFailed(problems []string) error {
	msg := "nothing was imported: "
	if len(problems) == 1 {
		msg += problems[0]
	} else {
		msg += fmt.Sprintf("%d problems:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	if len(problems) >= annotate.MaxImportErrors {
		msg += fmt.Sprintf("\n(stopped after %d problems)", annotate.MaxImportErrors)
	}
	return loupe.Errorf(loupe.EINVALID, "%s", msg)
}

// ItemByExternalID returns the project's item with the external id, or
// ENOTFOUND.
func (db *DB) ItemByExternalID(ctx context.Context, projectID, externalID string) (*annotate.Item, error) {
	it, err := scanItem(db.queryRow(ctx, `SELECT `+itemColumns+` FROM items WHERE project_id = ? AND external_id = ?`, projectID, externalID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("no item has id %q", externalID)
	} else if err != nil {
		return nil, fmt.Errorf("item by external id: %w", err)
	}
	return it, nil
}
