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
	var clientID any
	if sub.ClientID != "" {
		clientID = sub.ClientID
	}
	err = db.update(ctx, func(tx *Tx) error {
		out, replayed = nil, false
		cur, err := currentAnnotation(tx, item.ID, user.ID, clientID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("item not found")
		} else if err != nil {
			return err
		}
		if cur.clientUsed {
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
		if cur.status == "" && !access.CanManage() {
			return loupe.Errorf(loupe.EFORBIDDEN, "this item was not given to you; take items from the queue")
		}
		if err := annotate.CheckBase(cur.ann, sub.BaseVersion); err != nil {
			return err
		}
		a := &annotate.Annotation{ProjectID: p.ID, ItemID: item.ID, UserID: user.ID, UserName: user.Name,
			ConfigVersion: p.ConfigVersion, Values: sub.Values, ClientID: sub.ClientID, LeadMS: sub.LeadMS, UpdatedAt: tx.now}
		now := fmtTime(tx.now)
		if cur.ann == nil {
			a.ID, a.Version, a.CreatedAt = uuid.Must(uuid.NewV7()).String(), 1, tx.now
			if _, err := tx.exec(`INSERT INTO annotations (id, project_id, item_id, user_id, version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)`,
				a.ID, p.ID, item.ID, user.ID, now, now); err != nil {
				return err
			}
			if _, err := tx.exec(`INSERT INTO assignments (item_id, user_id, project_id, status, leased_until, updated_at) VALUES (?1, ?2, ?3, 'done', ?4, ?4)
				ON CONFLICT (item_id, user_id) DO UPDATE SET status = 'done', updated_at = excluded.updated_at`, item.ID, user.ID, p.ID, now); err != nil {
				return err
			}
		} else {
			a.ID, a.Version, a.CreatedAt = cur.ann.ID, cur.ann.Version+1, cur.ann.CreatedAt
			// A new version answers the review that sent the annotation
			// back, if any (recordAnnotation says which): the return ends.
			if _, err := tx.exec(`UPDATE annotations SET version = ?, updated_at = ?, returned_by = NULL WHERE id = ?`, a.Version, now, a.ID); err != nil {
				return err
			}
			if cur.returnedBy != "" {
				cur.item.returned--
			}
		}
		if _, err := tx.exec(`INSERT INTO annotation_versions (annotation_id, version, values_json, config_version, client_id, lead_ms, created_at, shown_json, author_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.Version, string(values), p.ConfigVersion, clientID, sub.LeadMS, now, shown, user.ID); err != nil {
			return err
		}
		if err := recordAnnotation(tx, p, a, cur, sub, user); err != nil {
			return err
		}
		out = a
		// A first annotation is one more labeler done with the item: settle
		// counts it in the same write as the item's new state.
		return settle(tx, p, cur.item, cur.ann == nil)
	})
	if err != nil {
		return nil, false, fmt.Errorf("submit: %w", err)
	}
	return out, replayed, nil
}

// current is what Submit knows before it writes: the item, and the user's
// annotation of it.
type current struct {
	item       itemState
	status     string               // the user's assignment of the item; "" when it was never given to them
	ann        *annotate.Annotation // the annotation at its current version (id, version, creation); nil when none
	values     string               // its current version's values_json
	returnedBy string               // the review that sent it back; "" when none
	clientUsed bool                 // the submission's client id is already stored
}

// currentAnnotation reads, in one statement, everything Submit checks and
// then writes from: the item's state, the user's assignment and
// annotation of it, the annotation's current values and the review that
// sent it back, and whether the client id (nil for none) was used. It
// returns sql.ErrNoRows when the item is gone.
func currentAnnotation(tx *Tx, itemID, userID string, clientID any) (current, error) {
	c := current{item: itemState{id: itemID}}
	var status, id, created, values, returnedBy sql.NullString
	var version sql.NullInt64
	err := tx.queryRow(`SELECT i.state, i.done, i.complete, i.origin,
			(SELECT count(*) FROM annotations WHERE item_id = ?1 AND returned_by IS NOT NULL),
			(SELECT status FROM assignments WHERE item_id = ?1 AND user_id = ?2),
			a.id, a.version, a.created_at, a.returned_by, v.values_json,
			EXISTS (SELECT 1 FROM annotation_versions WHERE client_id = ?3)
		FROM items i
		LEFT JOIN annotations a ON a.item_id = i.id AND a.user_id = ?2
		LEFT JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version
		WHERE i.id = ?1`, itemID, userID, clientID).
		Scan(&c.item.state, &c.item.done, &c.item.complete, &c.item.origin, &c.item.returned,
			&status, &id, &version, &created, &returnedBy, &values, &c.clientUsed)
	if err != nil {
		return c, err
	}
	c.status, c.values, c.returnedBy = status.String, values.String, returnedBy.String
	if id.Valid {
		c.ann = &annotate.Annotation{ID: id.String, ItemID: itemID, UserID: userID, Version: int(version.Int64), CreatedAt: parseTime(created.String)}
	}
	return c, nil
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
// says which review it answers.
func recordAnnotation(tx *Tx, p *annotate.Project, a *annotate.Annotation, cur current, sub *annotate.Submission, user *loupe.User) error {
	var prev map[string]json.RawMessage
	payload := map[string]any{"values": a.Values, "config_version": a.ConfigVersion, "lead_ms": a.LeadMS}
	kind := feedback.KindAnnotationCreated
	if cur.ann != nil {
		kind = feedback.KindAnnotationEdited
		if err := json.Unmarshal([]byte(cur.values), &prev); err != nil {
			return fmt.Errorf("annotation %s version %d: %w", cur.ann.ID, cur.ann.Version, err)
		}
		if cur.returnedBy != "" {
			payload["fixes_review"] = cur.returnedBy
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
