package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
)

// Submit stores a user's annotation of an item: version 1 the first time,
// a new version for each edit. It returns the annotation at its new version
// and whether the submission was a replay: a retry with a client id already
// stored returns what that first submission stored and writes nothing.
//
// Errors: ENOTFOUND for an item not in the project; EINVALID (naming the
// field) for invalid values; ECONFLICT for an edit based on a stale version
// or a client id used for something else; EFORBIDDEN when a labeler submits
// for an item the queue never gave them.
func (db *DB) Submit(ctx context.Context, p *annotate.Project, access annotate.Access, sub *annotate.Submission) (*annotate.Annotation, bool, error) {
	item, err := db.Item(ctx, p.ID, sub.ItemID)
	if err != nil {
		return nil, false, err
	}
	// Validation is pure and may be slow for large values: do it before
	// taking the writer.
	if err := sub.Validate(p.Config, item); err != nil {
		return nil, false, err
	}
	values, err := json.Marshal(sub.Values)
	if err != nil {
		return nil, false, fmt.Errorf("submit: %w", err)
	}
	shown := "{}"
	if len(sub.Shown) > 0 {
		b, err := json.Marshal(sub.Shown)
		if err != nil {
			return nil, false, fmt.Errorf("submit: %w", err)
		}
		shown = string(b)
	}
	user := access.User
	var out *annotate.Annotation
	var replayed bool
	err = db.update(ctx, func(tx *Tx) error {
		out, replayed = nil, false
		if sub.ClientID != "" {
			prev, err := annotationByClientID(tx, sub.ClientID)
			if err != nil {
				return err
			}
			if prev != nil {
				if prev.UserID != user.ID || prev.ItemID != item.ID {
					return &loupe.Error{Code: loupe.ECONFLICT, Field: "client_id", Message: "client_id was already used for another submission"}
				}
				// A retry repeats its values; other values under a used id are
				// new work, and must not be dropped silently.
				if stored, _ := json.Marshal(prev.Values); string(stored) != string(values) {
					return &loupe.Error{Code: loupe.ECONFLICT, Field: "client_id", Message: "client_id was already used for a submission with other values; send a new client_id"}
				}
				prev.UserName = user.Name
				out, replayed = prev, true
				return nil
			}
		}
		var status string
		err := tx.queryRow(`SELECT status FROM assignments WHERE item_id = ? AND user_id = ?`, item.ID, user.ID).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) && !access.CanManage() {
			return loupe.Errorf(loupe.EFORBIDDEN, "this item was not given to you; take items from the queue")
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		cur, err := currentAnnotation(tx, item.ID, user.ID)
		if err != nil {
			return err
		}
		if err := annotate.CheckBase(cur, sub.BaseVersion); err != nil {
			return err
		}
		a := &annotate.Annotation{ProjectID: p.ID, ItemID: item.ID, UserID: user.ID, UserName: user.Name,
			ConfigVersion: p.ConfigVersion, Values: sub.Values, ClientID: sub.ClientID, LeadMS: sub.LeadMS, UpdatedAt: tx.now}
		now := fmtTime(tx.now)
		if cur == nil {
			a.ID, a.Version, a.CreatedAt = uuid.Must(uuid.NewV7()).String(), 1, tx.now
			if _, err := tx.exec(`INSERT INTO annotations (id, project_id, item_id, user_id, version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)`,
				a.ID, p.ID, item.ID, user.ID, now, now); err != nil {
				return err
			}
			if err := markDone(tx, p, item.ID, user.ID); err != nil {
				return err
			}
		} else {
			a.ID, a.Version, a.CreatedAt = cur.ID, cur.Version+1, cur.CreatedAt
			if _, err := tx.exec(`UPDATE annotations SET version = ?, updated_at = ? WHERE id = ?`, a.Version, now, a.ID); err != nil {
				return err
			}
		}
		var clientID any
		if sub.ClientID != "" {
			clientID = sub.ClientID
		}
		if _, err := tx.exec(`INSERT INTO annotation_versions (annotation_id, version, values_json, config_version, client_id, lead_ms, created_at, shown_json, author_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.Version, string(values), p.ConfigVersion, clientID, sub.LeadMS, now, shown, user.ID); err != nil {
			return err
		}
		if err := recordAnnotation(tx, p, a, cur, sub, user); err != nil {
			return err
		}
		out = a
		return settle(tx, p, item.ID)
	})
	if err != nil {
		return nil, false, fmt.Errorf("submit: %w", err)
	}
	return out, replayed, nil
}

// markDone records that the user annotated the item: their assignment is
// done, the item counts one more labeler, and it becomes complete when it
// has as many as the overlap asks for.
func markDone(tx *Tx, p *annotate.Project, itemID, userID string) error {
	now := fmtTime(tx.now)
	if _, err := tx.exec(`INSERT INTO assignments (item_id, user_id, project_id, status, leased_until, updated_at) VALUES (?1, ?2, ?3, 'done', ?4, ?4)
		ON CONFLICT (item_id, user_id) DO UPDATE SET status = 'done', updated_at = excluded.updated_at`, itemID, userID, p.ID, now); err != nil {
		return err
	}
	var done int
	if err := tx.queryRow(`UPDATE items SET done = done + 1, complete = (done + 1 >= ?) WHERE id = ? RETURNING done`,
		p.Config.Overlap, itemID).Scan(&done); err != nil {
		return err
	}
	// An item joins complete_count once: when its count first reaches the
	// overlap. Labelers whose lease predates that may still add more.
	if done == p.Config.Overlap {
		if _, err := tx.exec(`UPDATE projects SET complete_count = complete_count + 1 WHERE id = ?`, p.ID); err != nil {
			return err
		}
	}
	return nil
}

func currentAnnotation(tx *Tx, itemID, userID string) (*annotate.Annotation, error) {
	a := &annotate.Annotation{ItemID: itemID, UserID: userID}
	var created string
	err := tx.queryRow(`SELECT id, project_id, version, created_at FROM annotations WHERE item_id = ? AND user_id = ?`, itemID, userID).
		Scan(&a.ID, &a.ProjectID, &a.Version, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	a.CreatedAt = parseTime(created)
	return a, nil
}

const annotationSelect = `SELECT a.id, a.project_id, a.item_id, a.user_id, u.name, v.version, v.config_version, v.values_json,
	coalesce(v.client_id, ''), v.lead_ms, a.created_at, v.created_at,
	coalesce((SELECT name FROM users WHERE id = v.author_id AND v.author_id != a.user_id), '')
	FROM annotations a JOIN annotation_versions v ON v.annotation_id = a.id JOIN users u ON u.id = a.user_id`

func scanAnnotation(row interface{ Scan(...any) error }) (*annotate.Annotation, error) {
	var a annotate.Annotation
	var values, created, updated string
	if err := row.Scan(&a.ID, &a.ProjectID, &a.ItemID, &a.UserID, &a.UserName, &a.Version, &a.ConfigVersion, &values,
		&a.ClientID, &a.LeadMS, &created, &updated, &a.AuthorName); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(values), &a.Values); err != nil {
		return nil, fmt.Errorf("annotation %s values: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = parseTime(created), parseTime(updated)
	return &a, nil
}

func annotationByClientID(tx *Tx, clientID string) (*annotate.Annotation, error) {
	a, err := scanAnnotation(tx.queryRow(annotationSelect+` WHERE v.client_id = ?`, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return a, err
}

// Annotation returns the user's annotation of the item at its current
// version, or ENOTFOUND.
func (db *DB) Annotation(ctx context.Context, itemID, userID string) (*annotate.Annotation, error) {
	a, err := scanAnnotation(db.queryRow(ctx, annotationSelect+` AND v.version = a.version WHERE a.item_id = ? AND a.user_id = ?`, itemID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("annotation not found")
	} else if err != nil {
		return nil, fmt.Errorf("annotation: %w", err)
	}
	return a, nil
}

// AnnotationVersions returns every version of the user's annotation of the
// item, oldest first.
func (db *DB) AnnotationVersions(ctx context.Context, itemID, userID string) ([]*annotate.Annotation, error) {
	rows, err := db.read.QueryContext(ctx, annotationSelect+` WHERE a.item_id = ? AND a.user_id = ? ORDER BY v.version`, itemID, userID)
	if err != nil {
		return nil, fmt.Errorf("annotation versions: %w", err)
	}
	defer rows.Close()
	var out []*annotate.Annotation
	for rows.Next() {
		a, err := scanAnnotation(rows)
		if err != nil {
			return nil, fmt.Errorf("annotation versions: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("annotation versions: %w", err)
	}
	return out, nil
}

// Progress counts the user's work and the project's in one read.
func (db *DB) Progress(ctx context.Context, p *annotate.Project, userID string) (annotate.Progress, error) {
	var pr annotate.Progress
	var openTouched int
	err := db.queryRow(ctx, `SELECT
		(SELECT item_count FROM projects WHERE id = ?1),
		(SELECT complete_count FROM projects WHERE id = ?1),
		(SELECT count(*) FROM annotations WHERE project_id = ?1 AND user_id = ?2),
		(SELECT count(*) FROM assignments WHERE project_id = ?1 AND user_id = ?2 AND status = 'skipped'),
		(SELECT count(*) FROM assignments a JOIN items i ON i.id = a.item_id
			WHERE a.project_id = ?1 AND a.user_id = ?2 AND a.status != 'leased' AND i.complete = 0)`,
		p.ID, userID).Scan(&pr.ProjectTotal, &pr.ProjectDone, &pr.MyDone, &pr.MySkipped, &openTouched)
	if err != nil {
		return pr, fmt.Errorf("progress: %w", err)
	}
	pr.MyTotal = pr.MyDone + max(0, pr.ProjectTotal-pr.ProjectDone-openTouched)
	return pr, nil
}

// recordAnnotation appends the events of a stored annotation version: the
// version itself, and one feedback event for each feedback block whose
// value it sets or changes. A version that fixes a returned annotation
// says which review it answers, and ends the return.
func recordAnnotation(tx *Tx, p *annotate.Project, a *annotate.Annotation, cur *annotate.Annotation, sub *annotate.Submission, user *loupe.User) error {
	var prev map[string]json.RawMessage
	payload := map[string]any{"values": a.Values, "config_version": a.ConfigVersion, "lead_ms": a.LeadMS}
	kind := feedback.KindAnnotationCreated
	if cur != nil {
		kind = feedback.KindAnnotationEdited
		var raw string
		if err := tx.queryRow(`SELECT values_json FROM annotation_versions WHERE annotation_id = ? AND version = ?`, cur.ID, cur.Version).Scan(&raw); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(raw), &prev); err != nil {
			return fmt.Errorf("annotation %s version %d: %w", cur.ID, cur.Version, err)
		}
		var returnedBy sql.NullString
		if err := tx.queryRow(`SELECT returned_by FROM annotations WHERE id = ?`, a.ID).Scan(&returnedBy); err != nil {
			return err
		}
		if returnedBy.Valid {
			payload["fixes_review"] = returnedBy.String
			if _, err := tx.exec(`UPDATE annotations SET returned_by = NULL WHERE id = ?`, a.ID); err != nil {
				return err
			}
		}
	}
	if len(sub.Shown) > 0 {
		payload["shown"] = sub.Shown
	}
	ev := newEvent(p.ID, kind, payload)
	ev.ActorID, ev.ActorName = user.ID, user.Name
	ev.ItemID, ev.AnnotationID, ev.AnnotationVersion = a.ItemID, a.ID, a.Version
	if err := tx.appendEvent(ev); err != nil {
		return err
	}
	for _, v := range p.Config.Interface().Valuers() {
		name := v.Common().Name
		if k, _ := blocks.LookupKind(v.Common().Type); k.Category != blocks.CategoryFeedback {
			continue
		}
		val, ok := a.Values[name]
		if !ok || string(val) == "null" || string(val) == string(prev[name]) {
			continue
		}
		fe := newEvent(p.ID, feedback.KindFeedback, map[string]any{"type": v.Common().Type, "value": val})
		fe.ActorID, fe.ActorName = user.ID, user.Name
		fe.ItemID, fe.AnnotationID, fe.AnnotationVersion, fe.Block = a.ItemID, a.ID, a.Version, name
		fe.PredictionID = shownPrediction(sub.Shown, v)
		if err := tx.appendEvent(fe); err != nil {
			return err
		}
	}
	return nil
}

// shownPrediction returns the id of the prediction a feedback block judges:
// the suggestion shown in a verdict's target block, if any.
func shownPrediction(shown map[string]json.RawMessage, v blocks.Valuer) string {
	vd, ok := v.(*blocks.Verdict)
	if !ok || vd.Target == "" {
		return ""
	}
	var sg struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(shown[vd.Target], &sg) != nil {
		return ""
	}
	return sg.ID
}
