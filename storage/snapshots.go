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
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/export"
	"github.com/loupehq/loupe/feedback"
)

// Export runs an export of the project's records through the export
// pipeline. The project's current config describes the blocks.
func (db *DB) Export(ctx context.Context, p *annotate.Project, spec export.Spec, opt export.Target) (*export.Manifest, error) {
	if opt.Snapshot == "" {
		var m *export.Manifest
		err := db.ReadExport(ctx, p.ID, func(src export.Source) error {
			var err error
			m, err = export.Run(ctx, src, spec, projectMeta(p, p.Config.Interface(), p.ConfigVersion, db.now()), opt.Sink, export.Options{Progress: opt.Progress})
			return err
		})
		return m, err
	}
	return db.snapshot(ctx, p, spec, opt)
}

func projectMeta(p *annotate.Project, in *blocks.Interface, version int, at time.Time) *export.Meta {
	return &export.Meta{Project: p.Slug, Title: p.Title, Interface: in, ConfigVersion: version, CreatedAt: at.UTC().Truncate(time.Microsecond)}
}

// snapshot runs an export and pins what it saw, in batches beside the
// read, then records the manifest. A failed export leaves no snapshot.
func (db *DB) snapshot(ctx context.Context, p *annotate.Project, spec export.Spec, opt export.Target) (*export.Manifest, error) {
	if err := export.CheckSnapshotName(opt.Snapshot); err != nil {
		return nil, err
	}
	if _, err := spec.Check(p.Config.Interface()); err != nil {
		return nil, err
	}
	snap := &export.SnapshotInfo{ID: uuid.Must(uuid.NewV7()).String(), Name: opt.Snapshot, Spec: spec, ConfigVersion: p.ConfigVersion}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	err = db.update(ctx, func(tx *Tx) error {
		var status, created string
		err := tx.queryRow(`SELECT status, created_at FROM snapshots WHERE project_id = ? AND name = ?`, p.ID, opt.Snapshot).Scan(&status, &created)
		switch {
		case err == nil && (status == "done" || tx.now.Sub(parseTime(created)) < time.Hour):
			return &loupe.Error{Code: loupe.ECONFLICT, Field: "snapshot", Message: fmt.Sprintf("snapshot %q already exists in this project; export it again with its name alone, or choose another name", opt.Snapshot)}
		case err == nil: // a snapshot abandoned while it was written
			if _, err := tx.exec(`DELETE FROM snapshots WHERE project_id = ? AND name = ?`, p.ID, opt.Snapshot); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		snap.CreatedAt = tx.now.UTC().Truncate(time.Microsecond)
		if tx.actor != nil {
			snap.CreatedBy = tx.actor.Name
		}
		_, err = tx.exec(`INSERT INTO snapshots (id, project_id, name, status, spec_json, config_version, as_of, created_by, created_at) VALUES (?, ?, ?, 'writing', ?, ?, '', ?, ?)`,
			snap.ID, p.ID, snap.Name, string(specJSON), snap.ConfigVersion, snap.CreatedBy, fmtTime(snap.CreatedAt))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	m, err := db.pinExport(ctx, p, snap, spec, opt)
	if err != nil {
		db.update(context.WithoutCancel(ctx), func(tx *Tx) error {
			_, err := tx.exec(`DELETE FROM snapshots WHERE id = ?`, snap.ID)
			return err
		})
		return nil, err
	}
	return m, nil
}

type pin struct {
	seq      int64
	item     string
	state    string
	final    string
	versions string
}

func (db *DB) pinExport(ctx context.Context, p *annotate.Project, snap *export.SnapshotInfo, spec export.Spec, opt export.Target) (*export.Manifest, error) {
	var pins []pin
	flush := func() error {
		if len(pins) == 0 {
			return nil
		}
		batch := pins
		pins = nil
		return db.update(ctx, func(tx *Tx) error {
			for _, pn := range batch {
				if _, err := tx.exec(`INSERT INTO snapshot_items (snapshot_id, seq, item_id, state, final_json, versions) VALUES (?, ?, ?, ?, ?, ?)`,
					snap.ID, pn.seq, pn.item, pn.state, pn.final, pn.versions); err != nil {
					return err
				}
			}
			return nil
		})
	}
	var m *export.Manifest
	err := db.readExport(ctx, &exportSource{projectID: p.ID}, func(src export.Source) error {
		es := src.(*exportSource)
		// Everything the snapshot holds was written at or before the
		// latest time this read can see: rows committed later carry
		// later times (one writer, batches in turn).
		if err := es.tx.QueryRowContext(ctx, `SELECT coalesce(max(t), '') FROM (
			SELECT max(created_at) AS t FROM predictions WHERE project_id = ?1
			UNION ALL SELECT max(created_at) FROM reviews WHERE project_id = ?1
			UNION ALL SELECT (SELECT at FROM events WHERE chain = ?1 ORDER BY chain_seq DESC LIMIT 1))`, p.ID).Scan(&snap.AsOf); err != nil {
			return err
		}
		if snap.AsOf == "" {
			snap.AsOf = fmtTime(snap.CreatedAt)
		}
		es.asOf = snap.AsOf
		meta := projectMeta(p, p.Config.Interface(), snap.ConfigVersion, snap.CreatedAt)
		var err error
		m, err = export.Run(ctx, src, spec, meta, opt.Sink, export.Options{Progress: opt.Progress, OnRecord: func(rec *export.Record) error {
			versions := make([][2]any, len(rec.Annotations))
			for i, a := range rec.Annotations {
				versions[i] = [2]any{a.ID, a.Version}
			}
			vj, _ := json.Marshal(versions)
			pins = append(pins, pin{seq: rec.Seq, item: rec.ItemID, state: rec.State, final: string(rec.Final), versions: string(vj)})
			if len(pins) >= importBatch {
				return flush()
			}
			return nil
		}})
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	m.Snapshot = snap.Name
	mj, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	err = db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`UPDATE snapshots SET status = 'done', as_of = ?, manifest_json = ? WHERE id = ?`, snap.AsOf, string(mj), snap.ID); err != nil {
			return err
		}
		return tx.record(p.ID, feedback.KindExportMade, map[string]any{"what": "snapshot", "snapshot": snap.Name, "format": spec.Format,
			"items": m.Items, "rows": m.Rows, "files": m.Files})
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return m, nil
}

// SnapshotByName returns the project's finished snapshot of that name, or
// ENOTFOUND.
func (db *DB) SnapshotByName(ctx context.Context, projectID, name string) (*export.SnapshotInfo, error) {
	s := &export.SnapshotInfo{Name: name}
	var spec, manifest, created string
	err := db.queryRow(ctx, `SELECT id, spec_json, config_version, as_of, manifest_json, created_by, created_at FROM snapshots
		WHERE project_id = ? AND name = ? AND status = 'done'`, projectID, name).
		Scan(&s.ID, &spec, &s.ConfigVersion, &s.AsOf, &manifest, &s.CreatedBy, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, loupe.Errorf(loupe.ENOTFOUND, "no snapshot named %q in this project", name)
	} else if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", name, err)
	}
	if err := json.Unmarshal([]byte(spec), &s.Spec); err != nil {
		return nil, fmt.Errorf("snapshot %s spec: %w", name, err)
	}
	s.Manifest, s.CreatedAt = json.RawMessage(manifest), parseTime(created)
	return s, nil
}

// Snapshots lists the project's finished snapshots, newest first.
func (db *DB) Snapshots(ctx context.Context, projectID string) ([]*export.SnapshotInfo, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name FROM snapshots WHERE project_id = ? AND status = 'done' ORDER BY created_at DESC`, projectID)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	out := make([]*export.SnapshotInfo, 0, len(names))
	for _, n := range names {
		s, err := db.SnapshotByName(ctx, projectID, n)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ExportSnapshot writes a snapshot's files again: the records it pinned,
// through the spec and config version it recorded, stamped with its time,
// so that the files are the same bytes as the first time.
func (db *DB) ExportSnapshot(ctx context.Context, p *annotate.Project, name string, opt export.Target) (*export.Manifest, error) {
	s, err := db.SnapshotByName(ctx, p.ID, name)
	if err != nil {
		return nil, err
	}
	cc, err := db.config(ctx, p.ID, s.ConfigVersion)
	if err != nil {
		return nil, err
	}
	var m *export.Manifest
	err = db.readExport(ctx, &exportSource{projectID: p.ID, snapshotID: s.ID, asOf: s.AsOf}, func(src export.Source) error {
		meta := projectMeta(p, cc.cfg.Interface(), s.ConfigVersion, s.CreatedAt)
		var err error
		m, err = export.Run(ctx, src, s.Spec, meta, opt.Sink, export.Options{Progress: opt.Progress})
		return err
	})
	if err != nil {
		return nil, err
	}
	m.Snapshot = s.Name
	return m, nil
}

// SnapshotChange is one item that differs between two snapshots.
type SnapshotChange struct {
	Change     string `json:"change"` // added, removed, changed
	ItemID     string `json:"item_id"`
	ExternalID string `json:"external_id,omitempty"`
	What       string `json:"what,omitempty"` // for changed: annotations, state, final
}

// DiffSnapshots calls fn for each item added, removed or changed from
// snapshot a to snapshot b, in the project's order, and returns the
// counts by change.
func (db *DB) DiffSnapshots(ctx context.Context, projectID, a, b string, fn func(SnapshotChange) error) (map[string]int, error) {
	sa, err := db.SnapshotByName(ctx, projectID, a)
	if err != nil {
		return nil, err
	}
	sb, err := db.SnapshotByName(ctx, projectID, b)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, `SELECT coalesce(x.seq, y.seq) AS seq, coalesce(x.item_id, y.item_id), coalesce(i.external_id, ''),
			x.item_id IS NOT NULL, y.item_id IS NOT NULL,
			coalesce(x.versions, '') != coalesce(y.versions, ''), coalesce(x.state, '') != coalesce(y.state, ''), coalesce(x.final_json, '') != coalesce(y.final_json, '')
		FROM (SELECT * FROM snapshot_items WHERE snapshot_id = ?1) x
		FULL OUTER JOIN (SELECT * FROM snapshot_items WHERE snapshot_id = ?2) y ON x.seq = y.seq
		LEFT JOIN items i ON i.id = coalesce(x.item_id, y.item_id)
		ORDER BY seq`, sa.ID, sb.ID)
	if err != nil {
		return nil, fmt.Errorf("snapshot diff: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{"added": 0, "removed": 0, "changed": 0}
	for rows.Next() {
		var c SnapshotChange
		var seq int64
		var inA, inB, versions, state, final bool
		if err := rows.Scan(&seq, &c.ItemID, &c.ExternalID, &inA, &inB, &versions, &state, &final); err != nil {
			return nil, fmt.Errorf("snapshot diff: %w", err)
		}
		switch {
		case !inA:
			c.Change = "added"
		case !inB:
			c.Change = "removed"
		case versions || state || final:
			c.Change = "changed"
			var what []string
			if versions {
				what = append(what, "annotations")
			}
			if state {
				what = append(what, "state")
			}
			if final {
				what = append(what, "final")
			}
			c.What = strings.Join(what, ", ")
		default:
			continue
		}
		counts[c.Change]++
		if err := fn(c); err != nil {
			return nil, err
		}
	}
	return counts, rows.Err()
}
