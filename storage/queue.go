package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

// Next gives the user the next item of the project's queue and holds it for
// them for the project's lease time. An item the user already holds is
// given again (with its lease renewed), so reloading the page takes no
// second item. Next come the user's answers a reviewer sent back to them
// (the task then carries their annotation and the reviewer's comment).
// Otherwise the first item in the project's order (import
// order, or by priority: see SetPriorities) is taken that
//   - still needs annotations (fewer than the overlap asks for),
//   - was never annotated or skipped by this user, and
//   - has a free slot: its annotations plus live leases of other labelers
//     are fewer than the overlap.
//
// Because every write goes through the one writer, two labelers can never
// be handed the last slot of an item. It returns annotate.ErrQueueEmpty
// when nothing is left for the user.
func (db *DB) Next(ctx context.Context, p *annotate.Project, userID string) (*annotate.Task, error) {
	var task *annotate.Task
	var itemID string
	lease := annotate.LeaseDuration(p.Config)
	err := db.update(ctx, func(tx *Tx) error {
		now := fmtTime(tx.now)
		until := tx.now.Add(lease)
		// The three places an item comes from, in order, in one statement:
		// UNION ALL runs its parts in turn and stops at the LIMIT, so a held
		// item costs one lookup and the queue is searched only when needed.
		// In the queue, the items other labelers hold are the ones skipped
		// most: the slot test, which rejects them, comes first.
		var from int
		err := tx.queryRow(`SELECT item_id, 0 FROM (SELECT item_id FROM assignments
				WHERE project_id = ?1 AND user_id = ?2 AND status = 'leased' AND leased_until > ?3
				ORDER BY updated_at DESC LIMIT 1)
			UNION ALL
			SELECT item_id, 1 FROM (SELECT item_id FROM annotations WHERE project_id = ?1 AND user_id = ?2 AND returned_by IS NOT NULL
				ORDER BY updated_at LIMIT 1)
			UNION ALL
			SELECT id, 2 FROM (SELECT i.id FROM items i
				WHERE i.project_id = ?1 AND i.complete = 0
				  AND i.done + (SELECT count(*) FROM assignments a
					WHERE a.item_id = i.id AND a.status = 'leased' AND a.leased_until > ?3 AND a.user_id != ?2) < ?4
				  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.item_id = i.id AND a.user_id = ?2 AND a.status != 'leased')
				ORDER BY `+queueOrder(p)+` LIMIT 1)
			LIMIT 1`, p.ID, userID, now, p.Config.Overlap).Scan(&itemID, &from)
		if errors.Is(err, sql.ErrNoRows) {
			return annotate.ErrQueueEmpty
		} else if err != nil {
			return err
		}
		if from == 1 {
			// An answer a reviewer sent back: the labeler edits it.
			task = &annotate.Task{Status: annotate.StatusDone}
			return nil
		}
		if _, err := tx.exec(`INSERT INTO assignments (item_id, user_id, project_id, status, leased_until, updated_at)
			VALUES (?, ?, ?, 'leased', ?, ?)
			ON CONFLICT (item_id, user_id) DO UPDATE SET status = 'leased', leased_until = excluded.leased_until, updated_at = excluded.updated_at`,
			itemID, userID, p.ID, fmtTime(until), now); err != nil {
			return err
		}
		task = &annotate.Task{Status: annotate.StatusLeased, LeaseUntil: until}
		return nil
	})
	if err != nil {
		if errors.Is(err, annotate.ErrQueueEmpty) {
			return nil, annotate.ErrQueueEmpty
		}
		return nil, fmt.Errorf("next item: %w", err)
	}
	// The item is read from the read pool, off the one writer: the lease
	// is what had to be decided in turn.
	if task.Item, err = db.Item(ctx, p.ID, itemID); err != nil {
		return nil, err
	}
	if task.Status == annotate.StatusDone {
		// A returned answer: the labeler edits their annotation, and sees
		// why it came back.
		if task.Annotation, err = db.Annotation(ctx, itemID, userID); err != nil {
			return nil, err
		}
		if task.Returned, err = db.returnedTo(ctx, itemID, userID); err != nil {
			return nil, err
		}
	}
	return task, nil
}

// Skip marks the item as passed over by the user: it is not offered to them
// again, and its slot is free for others. It returns ENOTFOUND for an item
// not in the project and ECONFLICT for an item the user already annotated.
func (db *DB) Skip(ctx context.Context, p *annotate.Project, userID, itemID string) error {
	err := db.update(ctx, func(tx *Tx) error {
		var one int
		if err := tx.queryRow(`SELECT 1 FROM items WHERE id = ? AND project_id = ?`, itemID, p.ID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return notFound("item not found")
		} else if err != nil {
			return err
		}
		var status string
		err := tx.queryRow(`INSERT INTO assignments (item_id, user_id, project_id, status, leased_until, updated_at)
			VALUES (?1, ?2, ?3, 'skipped', ?4, ?4)
			ON CONFLICT (item_id, user_id) DO UPDATE SET status = 'skipped', updated_at = excluded.updated_at WHERE status != 'done'
			RETURNING status`, itemID, userID, p.ID, fmtTime(tx.now)).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return loupe.Errorf(loupe.ECONFLICT, "you already annotated this item; it cannot be skipped")
		} else if err != nil {
			return err
		}
		ev := newEvent(p.ID, feedback.KindItemSkipped, nil)
		ev.ItemID = itemID
		return tx.appendEvent(ev)
	})
	if err != nil {
		return fmt.Errorf("skip: %w", err)
	}
	return nil
}

// Task returns the item with the user's state and current annotation of it,
// for revisiting. It returns ENOTFOUND for an item not in the project.
func (db *DB) Task(ctx context.Context, p *annotate.Project, userID, itemID string) (*annotate.Task, error) {
	it, err := db.Item(ctx, p.ID, itemID)
	if err != nil {
		return nil, err
	}
	t := &annotate.Task{Item: it}
	var until sql.NullString
	err = db.queryRow(ctx, `SELECT status, leased_until FROM assignments WHERE item_id = ? AND user_id = ?`, itemID, userID).Scan(&t.Status, &until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("task: %w", err)
	}
	if t.Status == annotate.StatusLeased {
		t.LeaseUntil = parseTime(until.String)
	}
	if t.Annotation, err = db.Annotation(ctx, itemID, userID); loupe.ErrorCode(err) == loupe.ENOTFOUND {
		t.Annotation = nil
	} else if err != nil {
		return nil, err
	}
	if t.Annotation != nil {
		if t.Returned, err = db.returnedTo(ctx, itemID, userID); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// Neighbors returns the items the user annotated just before and just after
// the given one, in the order of their first annotation: what the back and
// forward keys move to. itemID "" means "after the last": prev is then the
// most recent annotation. An empty result means there is none.
func (db *DB) Neighbors(ctx context.Context, projectID, userID, itemID string) (prev, next string, err error) {
	var created, annID string
	if itemID != "" {
		err = db.queryRow(ctx, `SELECT created_at, id FROM annotations WHERE item_id = ? AND user_id = ?`, itemID, userID).Scan(&created, &annID)
		if errors.Is(err, sql.ErrNoRows) {
			itemID = "" // not annotated yet: it comes after everything annotated
		} else if err != nil {
			return "", "", fmt.Errorf("neighbors: %w", err)
		}
	}
	if itemID == "" {
		err = db.queryRow(ctx, `SELECT item_id FROM annotations WHERE project_id = ? AND user_id = ?
			ORDER BY created_at DESC, id DESC LIMIT 1`, projectID, userID).Scan(&prev)
	} else {
		err = db.queryRow(ctx, `SELECT item_id FROM annotations WHERE project_id = ? AND user_id = ? AND (created_at, id) < (?, ?)
			ORDER BY created_at DESC, id DESC LIMIT 1`, projectID, userID, created, annID).Scan(&prev)
		if err == nil || errors.Is(err, sql.ErrNoRows) {
			err = db.queryRow(ctx, `SELECT item_id FROM annotations WHERE project_id = ? AND user_id = ? AND (created_at, id) > (?, ?)
				ORDER BY created_at, id LIMIT 1`, projectID, userID, created, annID).Scan(&next)
		}
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("neighbors: %w", err)
	}
	return prev, next, nil
}
