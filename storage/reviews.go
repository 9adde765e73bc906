package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
)

// itemState is an item's place in the workflow, as a write read it.
type itemState struct {
	id       string
	state    string
	origin   string
	done     int
	complete bool
	returned int // its annotations a reviewer sent back
}

// settle brings an item up to date after its annotations changed, from
// its state as read at the start of the write (it, with the write's own
// changes to it applied), in at most one write of its row. With added, one more labeler
// annotated it: its done count grows, it becomes complete once that
// reaches the overlap, and it joins the project's complete count the first
// time it does. Then it moves to the state its annotations call for:
//   - an annotation sent back to its labeler keeps the item rejected;
//   - an item with fewer annotations than the overlap asks for is pending;
//   - an item in review stays there (the reviewer sees the new answers);
//   - a rejected item whose returned annotations were all fixed goes back
//     to review;
//   - otherwise the review policy decides between in review and annotated.
//
// Going to review appends a review.queued event with the reason.
func settle(tx *Tx, p *annotate.Project, it itemState, added bool) error {
	itemID, state, done, complete := it.id, it.state, it.done, it.complete
	// Only the columns that change are written, so that an index over a
	// column that keeps its value is not rewritten.
	var set []string
	var args []any
	if added {
		done++
		set, args = append(set, "done = ?"), append(args, done)
		if c := done >= p.Config.Overlap; c != complete {
			complete = c
			set, args = append(set, "complete = ?"), append(args, complete)
		}
		// An item joins complete_count once: when its count first reaches
		// the overlap. Labelers whose lease predates that may still add more.
		if done == p.Config.Overlap {
			if _, err := tx.exec(`UPDATE projects SET complete_count = complete_count + 1 WHERE id = ?`, p.ID); err != nil {
				return err
			}
		}
	}
	next, reason := state, ""
	switch {
	case it.returned > 0:
		next = feedback.StateRejected
	case !complete:
		next = feedback.StatePending
	case state == feedback.StateInReview:
	case state == feedback.StateRejected:
		next, reason = feedback.StateInReview, "the labeler fixed the rejected answer"
	default:
		next = feedback.StateAnnotated
		if rc := p.Config.Review; rc != nil {
			facts := feedback.Facts{ItemID: itemID, Predictions: map[string]feedback.Predicted{}, Feedback: it.origin == OriginFeedback}
			if needsFacts(rc) {
				var err error
				if facts, err = itemFacts(tx, itemID, it.origin); err != nil {
					return err
				}
			}
			if ok, why := feedback.Select(rc, p.Config.Interface(), facts); ok {
				next, reason = feedback.StateInReview, why
			}
		}
	}
	if next != state {
		set, args = append(set, "state = ?"), append(args, next)
		if next == feedback.StateInReview {
			set, args = append(set, "review_reason = ?"), append(args, reason)
		}
	}
	if len(set) > 0 {
		if _, err := tx.exec(`UPDATE items SET `+strings.Join(set, ", ")+` WHERE id = ?`, append(args, itemID)...); err != nil {
			return err
		}
	}
	if err := countStates(tx, p.ID, state, next, 1); err != nil {
		return err
	}
	if next != state && next == feedback.StateInReview {
		return queued(tx, p.ID, itemID, state, reason)
	}
	return nil
}

// needsFacts reports whether a review policy looks at the answers or the
// predictions; the others (all, sample, feedback) need only the item, and
// settle then skips reading them.
func needsFacts(rc *blocks.ReviewConfig) bool {
	for _, pol := range rc.Policy {
		switch pol {
		case blocks.PolicyAll, blocks.PolicySample, blocks.PolicyFeedback:
		default:
			return true
		}
	}
	return false
}

// setState changes an item's state, recording the move to review.
func setState(tx *Tx, projectID, itemID, from, to, reason string) error {
	if err := countStates(tx, projectID, from, to, 1); err != nil {
		return err
	}
	if to == feedback.StateInReview {
		if _, err := tx.exec(`UPDATE items SET state = ?, review_reason = ? WHERE id = ?`, to, reason, itemID); err != nil {
			return err
		}
		return queued(tx, projectID, itemID, from, reason)
	}
	_, err := tx.exec(`UPDATE items SET state = ? WHERE id = ?`, to, itemID)
	return err
}

// queued records that an item went to review, and why.
func queued(tx *Tx, projectID, itemID, from, reason string) error {
	ev := newEvent(projectID, feedback.KindReviewQueued, map[string]any{"reason": reason, "from": from})
	ev.ItemID = itemID
	return tx.appendEvent(ev)
}

// itemFacts gathers what the review policy looks at: each labeler's
// current answer, and per block the latest stored prediction or, for a
// block without one (the builtin learner's suggestions are not stored),
// the suggestion the labelers were shown.
func itemFacts(tx *Tx, itemID, origin string) (feedback.Facts, error) {
	f := feedback.Facts{ItemID: itemID, Predictions: map[string]feedback.Predicted{}, Feedback: origin == OriginFeedback}
	shown := map[string]feedback.Predicted{}
	rows, err := tx.query(`SELECT v.values_json, v.shown_json FROM annotations a JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version
		WHERE a.item_id = ? ORDER BY a.created_at, a.id`, itemID)
	if err != nil {
		return f, err
	}
	for rows.Next() {
		var raw, rawShown string
		var vals map[string]json.RawMessage
		var sgs map[string]struct {
			Value json.RawMessage `json:"value"`
			Score *float64        `json:"score"`
		}
		if err := rows.Scan(&raw, &rawShown); err != nil {
			rows.Close()
			return f, err
		}
		if err := json.Unmarshal([]byte(raw), &vals); err != nil {
			rows.Close()
			return f, err
		}
		f.Answers = append(f.Answers, vals)
		if json.Unmarshal([]byte(rawShown), &sgs) == nil {
			for block, sg := range sgs {
				if len(sg.Value) > 0 {
					shown[block] = feedback.Predicted{Value: sg.Value, Score: sg.Score}
				}
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return f, err
	}
	// Predictions over edited inputs answer another question; those sent
	// with feedback are the model's answer to the item as it is.
	rows, err = tx.query(`SELECT block, value_json, score FROM predictions WHERE item_id = ? AND (input_hash = '' OR source = 'feedback')
		ORDER BY created_at, id`, itemID)
	if err != nil {
		return f, err
	}
	defer rows.Close()
	for rows.Next() {
		var block, value string
		var score sql.NullFloat64
		if err := rows.Scan(&block, &value, &score); err != nil {
			return f, err
		}
		pr := feedback.Predicted{Value: json.RawMessage(value)}
		if score.Valid {
			pr.Score = &score.Float64
		}
		f.Predictions[block] = pr
	}
	if err := rows.Err(); err != nil {
		return f, err
	}
	for block, p := range shown {
		if _, ok := f.Predictions[block]; !ok {
			f.Predictions[block] = p
		}
	}
	return f, nil
}

// Item origins.
const (
	OriginImport   = "import"
	OriginFeedback = "feedback"
)

// NextReview gives the reviewer the next item waiting for review and holds
// it for them for the project's lease time, so that two reviewers do not
// review the same item at once. An item they already hold is given again.
// Items the reviewer annotated themselves are left to other reviewers. It
// returns feedback.ErrReviewQueueEmpty when nothing waits.
func (db *DB) NextReview(ctx context.Context, p *annotate.Project, userID string) (*feedback.ReviewTask, error) {
	var itemID string
	lease := annotate.LeaseDuration(p.Config)
	err := db.update(ctx, func(tx *Tx) error {
		now := fmtTime(tx.now)
		err := tx.queryRow(`SELECT l.item_id FROM review_leases l JOIN items i ON i.id = l.item_id
			WHERE l.project_id = ? AND l.user_id = ? AND l.leased_until > ? AND i.state = 'in_review' LIMIT 1`, p.ID, userID, now).Scan(&itemID)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.queryRow(`SELECT i.id FROM items i
				WHERE i.project_id = ?1 AND i.state = 'in_review'
				  AND NOT EXISTS (SELECT 1 FROM review_leases l WHERE l.item_id = i.id AND l.user_id != ?2 AND l.leased_until > ?3)
				  AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.item_id = i.id AND a.user_id = ?2)
				ORDER BY i.seq LIMIT 1`, p.ID, userID, now).Scan(&itemID)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return feedback.ErrReviewQueueEmpty
		} else if err != nil {
			return err
		}
		_, err = tx.exec(`INSERT INTO review_leases (item_id, project_id, user_id, leased_until) VALUES (?, ?, ?, ?)
			ON CONFLICT (item_id) DO UPDATE SET user_id = excluded.user_id, leased_until = excluded.leased_until`,
			itemID, p.ID, userID, fmtTime(tx.now.Add(lease)))
		return err
	})
	if errors.Is(err, feedback.ErrReviewQueueEmpty) {
		return nil, feedback.ErrReviewQueueEmpty
	} else if err != nil {
		return nil, fmt.Errorf("next review: %w", err)
	}
	return db.ReviewTask(ctx, p, itemID)
}

// ReviewTask loads an item as a reviewer sees it. It returns ENOTFOUND for
// an item not in the project.
func (db *DB) ReviewTask(ctx context.Context, p *annotate.Project, itemID string) (*feedback.ReviewTask, error) {
	it, err := db.Item(ctx, p.ID, itemID)
	if err != nil {
		return nil, err
	}
	t := &feedback.ReviewTask{Item: it}
	var final, until string
	err = db.queryRow(ctx, `SELECT i.state, i.review_reason, i.origin, i.final_json, coalesce(l.leased_until, '')
		FROM items i LEFT JOIN review_leases l ON l.item_id = i.id WHERE i.id = ?`, itemID).
		Scan(&t.State, &t.Reason, &t.Origin, &final, &until)
	if err != nil {
		return nil, fmt.Errorf("review task: %w", err)
	}
	if until != "" {
		t.LeaseUntil = parseTime(until)
	}
	if final != "" {
		if err := json.Unmarshal([]byte(final), &t.Final); err != nil {
			return nil, fmt.Errorf("review task: final values: %w", err)
		}
	}
	if t.Answers, err = db.ItemAnnotations(ctx, itemID); err != nil {
		return nil, err
	}
	t.Revision = feedback.Revision(t.Answers)
	if t.Predictions, err = db.ItemPredictions(ctx, itemID); err != nil {
		return nil, err
	}
	if t.Reviews, err = db.Reviews(ctx, itemID); err != nil {
		return nil, err
	}
	if t.Feedback, _, err = db.Events(ctx, feedback.EventFilter{Chain: p.ID, ItemID: itemID, Kind: feedback.KindFeedback, Limit: 1000}); err != nil {
		return nil, err
	}
	slices.Reverse(t.Feedback)
	return t, nil
}

// ItemAnnotations returns every labeler's current annotation of the item,
// in the order they were first made.
func (db *DB) ItemAnnotations(ctx context.Context, itemID string) ([]*annotate.Annotation, error) {
	return db.annotations(ctx, annotationSelect+` AND v.version = a.version WHERE a.item_id = ? ORDER BY a.created_at, a.id`, itemID)
}

// ItemVersions returns every version of every annotation of the item, in
// the order they were made, each with who made it.
func (db *DB) ItemVersions(ctx context.Context, itemID string) ([]*annotate.Annotation, error) {
	return db.annotations(ctx, annotationSelect+` WHERE a.item_id = ? ORDER BY v.created_at, a.id, v.version`, itemID)
}

func (db *DB) annotations(ctx context.Context, query string, args ...any) ([]*annotate.Annotation, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("annotations: %w", err)
	}
	defer rows.Close()
	var out []*annotate.Annotation
	for rows.Next() {
		a, err := scanAnnotation(rows)
		if err != nil {
			return nil, fmt.Errorf("annotations: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("annotations: %w", err)
	}
	return out, nil
}

// Reviews returns the item's reviews, oldest first.
func (db *DB) Reviews(ctx context.Context, itemID string) ([]*feedback.Review, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT r.id, r.project_id, r.item_id, coalesce(r.annotation_id, ''), r.reviewer_id, u.name,
			r.verdict, r.comment, r.values_json, r.created_at
		FROM reviews r JOIN users u ON u.id = r.reviewer_id WHERE r.item_id = ? ORDER BY r.created_at, r.id`, itemID)
	if err != nil {
		return nil, fmt.Errorf("reviews: %w", err)
	}
	defer rows.Close()
	var out []*feedback.Review
	for rows.Next() {
		r := &feedback.Review{}
		var values, created string
		if err := rows.Scan(&r.ID, &r.ProjectID, &r.ItemID, &r.AnnotationID, &r.ReviewerID, &r.ReviewerName,
			&r.Verdict, &r.Comment, &values, &created); err != nil {
			return nil, fmt.Errorf("reviews: %w", err)
		}
		if err := json.Unmarshal([]byte(values), &r.Values); err != nil {
			return nil, fmt.Errorf("review %s values: %w", r.ID, err)
		}
		if len(r.Values) == 0 {
			r.Values = nil
		}
		r.CreatedAt = parseTime(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SubmitReview stores a reviewer's verdict on an item and moves the item
// on, in one transaction with its event:
//   - approve: the item is approved (any annotation sent back is no longer);
//   - reject: the named annotation goes back to its labeler with the
//     comment, and the item is rejected until they fix it;
//   - fix: the reviewer's values become a new version of the named
//     annotation, made by the reviewer, and the item is approved;
//   - adjudicate: the reviewer's values become the item's final answer,
//     and the item is approved.
//
// revision is the feedback.Revision of the answers the reviewer saw; when
// they changed since, the verdict is refused with ECONFLICT. Values are
// validated against the interface and the item (EINVALID naming the
// block).
func (db *DB) SubmitReview(ctx context.Context, p *annotate.Project, reviewer *loupe.User, r *feedback.Review, revision string) (*feedback.Review, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if revision == "" {
		return nil, loupe.FieldErrorf("revision", "revision is required: send the revision of the answers you reviewed")
	}
	item, err := db.Item(ctx, p.ID, r.ItemID)
	if err != nil {
		return nil, err
	}
	values := "{}"
	if r.Verdict == feedback.VerdictFix || r.Verdict == feedback.VerdictAdjudicate {
		vals, err := p.Config.Interface().ValidateValues(r.Values, item.Data)
		if err != nil {
			return nil, err
		}
		r.Values = vals
		b, err := json.Marshal(vals)
		if err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		values = string(b)
	} else {
		r.Values = nil
	}
	r.ID, r.ProjectID, r.ReviewerID, r.ReviewerName = uuid.Must(uuid.NewV7()).String(), p.ID, reviewer.ID, reviewer.Name
	err = db.update(ctx, func(tx *Tx) error {
		var state string
		if err := tx.queryRow(`SELECT state FROM items WHERE id = ?`, item.ID).Scan(&state); err != nil {
			return err
		}
		answers, err := currentVersions(tx, item.ID)
		if err != nil {
			return err
		}
		if len(answers) == 0 && state != feedback.StateInReview {
			// Items from the feedback API go to review before anyone
			// annotates them; others have nothing to review yet.
			return loupe.Errorf(loupe.ECONFLICT, "nobody has annotated this item yet: there is nothing to review")
		}
		if feedback.Revision(answers) != revision {
			return &loupe.Error{Code: loupe.ECONFLICT, Field: "revision", Message: "the answers changed since you opened this item; reload it and review again"}
		}
		var target *annotate.Annotation
		if r.AnnotationID != "" {
			for _, a := range answers {
				if a.ID == r.AnnotationID {
					target = a
				}
			}
			if target == nil {
				return loupe.FieldErrorf("annotation", "annotation %q is not an annotation of this item", r.AnnotationID)
			}
		}
		r.CreatedAt = tx.now
		var annID any
		if target != nil {
			annID = target.ID
		}
		if _, err := tx.exec(`INSERT INTO reviews (id, project_id, item_id, annotation_id, reviewer_id, verdict, comment, values_json, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, p.ID, item.ID, annID, reviewer.ID, r.Verdict, r.Comment, values, fmtTime(tx.now)); err != nil {
			return err
		}
		ev := &feedback.Event{Chain: p.ID, ItemID: item.ID, ActorID: reviewer.ID, ActorName: reviewer.Name}
		payload := map[string]any{"review_id": r.ID, "from": state}
		if r.Comment != "" {
			payload["comment"] = r.Comment
		}
		next := feedback.StateApproved
		switch r.Verdict {
		case feedback.VerdictApprove:
			ev.Kind = feedback.KindReviewApproved
			if _, err := tx.exec(`UPDATE annotations SET returned_by = NULL WHERE item_id = ? AND returned_by IS NOT NULL`, item.ID); err != nil {
				return err
			}
		case feedback.VerdictReject:
			ev.Kind, next = feedback.KindReviewRejected, feedback.StateRejected
			ev.AnnotationID, ev.AnnotationVersion = target.ID, target.Version
			payload["labeler"] = target.UserName
			if _, err := tx.exec(`UPDATE annotations SET returned_by = ? WHERE id = ?`, r.ID, target.ID); err != nil {
				return err
			}
		case feedback.VerdictFix:
			ev.Kind = feedback.KindReviewFixed
			version := target.Version + 1
			ev.AnnotationID, ev.AnnotationVersion = target.ID, version
			payload["labeler"], payload["values"] = target.UserName, r.Values
			if _, err := tx.exec(`INSERT INTO annotation_versions (annotation_id, version, values_json, config_version, lead_ms, created_at, author_id)
				VALUES (?, ?, ?, ?, 0, ?, ?)`, target.ID, version, values, p.ConfigVersion, fmtTime(tx.now), reviewer.ID); err != nil {
				return err
			}
			if _, err := tx.exec(`UPDATE annotations SET version = ?, updated_at = ?, returned_by = NULL WHERE id = ?`,
				version, fmtTime(tx.now), target.ID); err != nil {
				return err
			}
			if _, err := tx.exec(`UPDATE annotations SET returned_by = NULL WHERE item_id = ? AND returned_by IS NOT NULL`, item.ID); err != nil {
				return err
			}
		case feedback.VerdictAdjudicate:
			ev.Kind = feedback.KindReviewAdjudicated
			payload["values"] = r.Values
			if _, err := tx.exec(`UPDATE items SET final_json = ? WHERE id = ?`, values, item.ID); err != nil {
				return err
			}
			if _, err := tx.exec(`UPDATE annotations SET returned_by = NULL WHERE item_id = ? AND returned_by IS NOT NULL`, item.ID); err != nil {
				return err
			}
		}
		ev.Payload = feedback.Payload(payload)
		if err := tx.appendEvent(ev); err != nil {
			return err
		}
		if _, err := tx.exec(`DELETE FROM review_leases WHERE item_id = ?`, item.ID); err != nil {
			return err
		}
		return setState(tx, p.ID, item.ID, state, next, "")
	})
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	return r, nil
}

// currentVersions lists the item's annotations at their current version
// (id, version and labeler only), inside a write.
func currentVersions(tx *Tx, itemID string) ([]*annotate.Annotation, error) {
	rows, err := tx.query(`SELECT a.id, a.version, a.user_id, u.name FROM annotations a JOIN users u ON u.id = a.user_id WHERE a.item_id = ?`, itemID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*annotate.Annotation
	for rows.Next() {
		a := &annotate.Annotation{ItemID: itemID}
		if err := rows.Scan(&a.ID, &a.Version, &a.UserID, &a.UserName); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// returnedTo finds the user's annotation of the item that a reviewer sent
// back to them, or nil.
func (db *DB) returnedTo(ctx context.Context, itemID, userID string) (*annotate.Return, error) {
	ret := &annotate.Return{}
	var at string
	err := db.queryRow(ctx, `SELECT r.id, u.name, r.comment, r.created_at FROM annotations a
		JOIN reviews r ON r.id = a.returned_by JOIN users u ON u.id = r.reviewer_id
		WHERE a.item_id = ? AND a.user_id = ?`, itemID, userID).Scan(&ret.ReviewID, &ret.Reviewer, &ret.Comment, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("returned annotation: %w", err)
	}
	ret.At = parseTime(at)
	return ret, nil
}

// StateCounts counts the project's items in each state.
func (db *DB) StateCounts(ctx context.Context, projectID string) (map[string]int, error) {
	// Kept by the writes that move items (countStates): a few rows.
	rows, err := db.read.QueryContext(ctx, `SELECT state, n FROM item_state_counts WHERE project_id = ? AND n != 0`, projectID)
	if err != nil {
		return nil, fmt.Errorf("state counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("state counts: %w", err)
		}
		out[state] = n
	}
	return out, rows.Err()
}

// AgreementItems calls fn with the labelers' answers to each item that at
// least two labelers annotated, in import order, streaming from one
// consistent snapshot. Each labeler's answer is the last version they made
// themselves: a reviewer's fix does not count as the labeler agreeing.
// Labelers are keyed by name.
func (db *DB) AgreementItems(ctx context.Context, projectID string, fn func(feedback.ItemAnswers) error) error {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("agreement: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT i.id, u.name, v.values_json
		FROM items i
		JOIN annotations a ON a.item_id = i.id
		JOIN users u ON u.id = a.user_id
		JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = (SELECT max(version) FROM annotation_versions
			WHERE annotation_id = a.id AND author_id IN ('', a.user_id))
		WHERE i.project_id = ? AND i.done >= 2
		ORDER BY i.seq, a.id`, projectID)
	if err != nil {
		return fmt.Errorf("agreement: %w", err)
	}
	defer rows.Close()
	cur := feedback.ItemAnswers{}
	for rows.Next() {
		var itemID, name, raw string
		if err := rows.Scan(&itemID, &name, &raw); err != nil {
			return fmt.Errorf("agreement: %w", err)
		}
		if itemID != cur.Item {
			if cur.Item != "" {
				if err := fn(cur); err != nil {
					return err
				}
			}
			cur = feedback.ItemAnswers{Item: itemID, ByLabeler: map[string]map[string]json.RawMessage{}}
		}
		var vals map[string]json.RawMessage
		if err := json.Unmarshal([]byte(raw), &vals); err != nil {
			return fmt.Errorf("agreement: item %s: %w", itemID, err)
		}
		cur.ByLabeler[name] = vals
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("agreement: %w", err)
	}
	if cur.Item != "" {
		return fn(cur)
	}
	return nil
}

// RecordExport appends an export.made event: what was exported, in which
// format, how many records. Exports stream from a snapshot while writes go
// on, so the event is recorded once the export is written.
func (db *DB) RecordExport(ctx context.Context, projectID string, what map[string]any) error {
	err := db.update(ctx, func(tx *Tx) error {
		return tx.record(projectID, feedback.KindExportMade, what)
	})
	if err != nil {
		return fmt.Errorf("record export: %w", err)
	}
	return nil
}

// LastEvent returns the position of the chain's last event (0 when none):
// anything derived from the chain's history is current while it stays the
// same.
func (db *DB) LastEvent(ctx context.Context, chain string) (int64, error) {
	var seq int64
	err := db.queryRow(ctx, `SELECT coalesce((SELECT seq FROM events WHERE chain = ? ORDER BY chain_seq DESC LIMIT 1), 0)`, chain).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("last event: %w", err)
	}
	return seq, nil
}

// Items returns a page of the project's items in import order, with their
// states, and the cursor for the next page (0 when this is the last).
func (db *DB) Items(ctx context.Context, projectID string, f feedback.ItemsFilter) ([]feedback.ItemStatus, int64, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, 500)
	query := `SELECT ` + itemColumns + `, state, review_reason, origin, done FROM items WHERE project_id = ? AND seq > ?`
	args := []any{projectID, f.After}
	if f.State != "" {
		query += ` AND state = ?`
		args = append(args, f.State)
	}
	query += ` ORDER BY seq LIMIT ?`
	args = append(args, f.Limit+1)
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return nil, 0, fmt.Errorf("items: %w", err)
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("items: %w", err)
	}
	defer rows.Close()
	var out []feedback.ItemStatus
	for rows.Next() {
		var s feedback.ItemStatus
		var it annotate.Item
		var data, created string
		if err := rows.Scan(&it.ID, &it.ProjectID, &it.Seq, &it.ExternalID, &data, &it.Hash, &created, &s.State, &s.Reason, &s.Origin, &s.Done); err != nil {
			return nil, 0, fmt.Errorf("items: %w", err)
		}
		if err := decodeData(data, &it.Data); err != nil {
			return nil, 0, fmt.Errorf("item %s data: %w", it.ID, err)
		}
		it.CreatedAt = parseTime(created)
		s.Item = &it
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("items: %w", err)
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].Item.Seq
	}
	return out, next, nil
}
