package storage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/loupehq/loupe/export"
)

// ExportRecords calls fn for each item of the project that has annotations
// (or a final answer from an adjudication), in import order, with every
// labeler's current annotation, the item's state and its final answer. It reads one
// consistent snapshot, streaming row by row, so memory does not grow with
// the project; writes go on meanwhile. The record passed to fn is reused:
// fn must not keep it.
func (db *DB) ExportRecords(ctx context.Context, projectID string, fn func(*export.Record) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT i.id, coalesce(i.external_id, ''), i.data, i.state, i.final_json,
			coalesce(a.id, ''), coalesce(u.name, ''), coalesce(a.version, 0), coalesce(v.config_version, 0), coalesce(v.values_json, '{}'),
			coalesce(v.lead_ms, 0), coalesce(a.created_at, ''), coalesce(a.updated_at, '')
		FROM items i
		LEFT JOIN annotations a ON a.item_id = i.id
		LEFT JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version
		LEFT JOIN users u ON u.id = a.user_id
		WHERE i.project_id = ? AND (a.id IS NOT NULL OR i.final_json != '')
		ORDER BY i.seq, a.created_at, a.id`, projectID)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	rec := &export.Record{}
	var itemID, extID, state string
	var data, final, values []byte
	var created, updated string
	for rows.Next() {
		var a export.Annotation
		if err := rows.Scan(&itemID, &extID, &data, &state, &final, &a.ID, &a.User, &a.Version, &a.ConfigVersion, &values, &a.LeadMS, &created, &updated); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if itemID != rec.ItemID {
			if rec.ItemID != "" {
				if err := fn(rec); err != nil {
					return err
				}
			}
			rec.ItemID, rec.ExternalID, rec.State = itemID, extID, state
			rec.Data = append(rec.Data[:0], data...)
			rec.Final = append(rec.Final[:0], final...)
			rec.Annotations = rec.Annotations[:0]
		}
		if a.ID == "" {
			continue // an item with only a final answer
		}
		a.Values = append([]byte(nil), values...)
		a.CreatedAt, a.UpdatedAt = parseTime(created), parseTime(updated)
		rec.Annotations = append(rec.Annotations, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if rec.ItemID != "" {
		return fn(rec)
	}
	return nil
}
