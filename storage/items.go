package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
)

// importBatch is how many items an import writes per transaction: large
// enough that the per-commit cost fades, small enough that labelers'
// writes, queued behind it on the single writer, wait a few milliseconds.
const importBatch = 2000

// ImportItems reads items from r into the project. Lines are checked in
// Go, outside the writer; good items are written in batches of their own
// transactions, so that labelers' writes go on between them. The items of
// an import in progress stay out of the queue, and the annotations that
// came with them wait in a staging table, until the last batch: then one
// transaction makes the import visible. When any line is bad, nothing is
// imported: the batches written are removed, and the error lists each bad
// line (up to annotate.MaxImportErrors, then a count).
//
// Items already present are counted as unchanged (opt.Dedupe says how
// they are matched), so that importing a file twice adds nothing.
func (db *DB) ImportItems(ctx context.Context, p *annotate.Project, r annotate.ItemReader, opt annotate.ImportOptions) (annotate.ImportResult, error) {
	if opt.Dedupe == "" {
		opt.Dedupe = annotate.DedupeID
	}
	imp := &importRun{db: db, p: p, in: p.Config.Interface(), opt: opt, id: uuid.Must(uuid.NewV7()).String()}
	if err := db.DropAbandonedImports(ctx); err != nil {
		return annotate.ImportResult{}, fmt.Errorf("import items: %w", err)
	}
	if err := db.update(ctx, func(tx *Tx) error {
		now := fmtTime(tx.now)
		var by, since string
		err := tx.queryRow(`SELECT created_by, started_at FROM imports WHERE project_id = ? AND status = 'running'`, p.ID).Scan(&by, &since)
		if err == nil {
			if by == "" {
				by = "someone"
			}
			return &loupe.Error{Code: loupe.ECONFLICT, Message: fmt.Sprintf("another import into this project is running (started by %s at %s); try again when it is done", by, since)}
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.queryRow(`SELECT coalesce(max(seq), 0) FROM items WHERE project_id = ?`, p.ID).Scan(&imp.seq); err != nil {
			return err
		}
		imp.base = imp.seq
		_, err = tx.exec(`INSERT INTO imports (id, project_id, status, base_seq, format, created_by, started_at, updated_at) VALUES (?, ?, 'running', ?, ?, ?, ?, ?)`,
			imp.id, p.ID, imp.base, opt.Format, actorName(tx.actor), now, now)
		return err
	}); err != nil {
		return annotate.ImportResult{}, fmt.Errorf("import items: %w", err)
	}
	res, err := imp.run(ctx, r)
	if err != nil {
		// Remove what the batches wrote, even when ctx is done.
		if cerr := db.dropImport(context.WithoutCancel(ctx), imp.id, p.ID, imp.base); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return annotate.ImportResult{}, fmt.Errorf("import items: %w", err)
	}
	return res, nil
}

// importRun is one import in progress.
type importRun struct {
	db       *DB
	p        *annotate.Project
	in       *blocks.Interface
	opt      annotate.ImportOptions
	id       string
	seq      int64 // the last item seq taken
	base     int64 // the project's last seq when the import started: its items come after
	firstSeq int64 // the seq of the first item added
	res      annotate.ImportResult
	lines    atomic.Int64 // records read

	mu       sync.Mutex // guards problems and more: the reader and the writer add to them
	problems []string
	more     int // bad lines past MaxImportErrors
	staged   int64
}

func (imp *importRun) bad(msg string) {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	if len(imp.problems) < annotate.MaxImportErrors {
		imp.problems = append(imp.problems, msg)
	} else {
		imp.more++
	}
}

// failed reports whether a bad line was found.
func (imp *importRun) failed() bool {
	imp.mu.Lock()
	defer imp.mu.Unlock()
	return len(imp.problems) > 0
}

// run reads and checks records while a second goroutine writes the
// batches already checked, so that parsing and writing overlap.
func (imp *importRun) run(ctx context.Context, r annotate.ItemReader) (annotate.ImportResult, error) {
	batches := make(chan []*annotate.ItemRecord, 1)
	written := make(chan error, 1)
	go func() {
		var err error
		for b := range batches {
			if err == nil && !imp.failed() {
				err = imp.write(ctx, b)
			}
		}
		written <- err
	}()
	err := imp.read(ctx, r, batches)
	close(batches)
	if werr := <-written; err == nil {
		err = werr
	}
	if err != nil {
		return imp.res, err
	}
	if imp.failed() {
		return imp.res, importFailed(sortByLine(imp.problems), imp.more)
	}
	if err := imp.finish(ctx); err != nil {
		return imp.res, err
	}
	if imp.opt.Progress != nil {
		imp.opt.Progress(int(imp.lines.Load()), imp.res.Added)
	}
	return imp.res, nil
}

// read checks the records of r and sends them to the writer in batches.
func (imp *importRun) read(ctx context.Context, r annotate.ItemReader, batches chan<- []*annotate.ItemRecord) error {
	batch := make([]*annotate.ItemRecord, 0, importBatch)
	inBatch := map[string]int{} // dedupe key → line, within the batch
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if loupe.ErrorCode(err) == loupe.EINVALID {
			imp.bad(loupe.ErrorMessage(err))
			continue
		} else if err != nil {
			return err
		}
		imp.lines.Add(1)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := rec.Resolve(imp.in); err != nil {
			imp.bad(loupe.ErrorMessage(err))
			continue
		}
		if imp.failed() {
			continue // the import fails anyway: only look for more problems
		}
		if key := imp.key(rec); key != "" {
			if first, dup := inBatch[key]; dup && rec.ExternalID != "" && imp.opt.Dedupe != annotate.DedupeHash {
				imp.bad(fmt.Sprintf("line %d: id %q is also on line %d", rec.Line, rec.ExternalID, first))
				continue
			}
			inBatch[key] = rec.Line
		}
		batch = append(batch, rec)
		if len(batch) == importBatch {
			select {
			case batches <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch, inBatch = make([]*annotate.ItemRecord, 0, importBatch), map[string]int{}
		}
	}
	if !imp.failed() && len(batch) > 0 {
		batches <- batch
	}
	return nil
}

// sortByLine orders problems by the line number they start with; others
// keep their place at the end.
func sortByLine(problems []string) []string {
	line := func(s string) int {
		var n int
		if _, err := fmt.Sscanf(s, "line %d:", &n); err != nil {
			return math.MaxInt
		}
		return n
	}
	sort.SliceStable(problems, func(i, j int) bool { return line(problems[i]) < line(problems[j]) })
	return problems
}

// key is what dedupe matches an item by: "id:EXT" or "hash:HASH"; "" with
// dedupe none.
func (imp *importRun) key(rec *annotate.ItemRecord) string {
	switch {
	case imp.opt.Dedupe == annotate.DedupeNone:
		return ""
	case imp.opt.Dedupe == annotate.DedupeID && rec.ExternalID != "":
		return "id:" + rec.ExternalID
	default:
		return "hash:" + rec.Hash
	}
}

// write stores one batch of checked records in one transaction: new items
// (hidden until the import finishes), their predictions, and their
// annotations into the staging table.
func (imp *importRun) write(ctx context.Context, batch []*annotate.ItemRecord) error {
	p := imp.p
	before := imp.res
	seq, staged := imp.seq, imp.staged
	err := imp.db.update(ctx, func(tx *Tx) error {
		imp.res, imp.seq, imp.staged = before, seq, staged // a retried batch starts again
		// Items may have arrived meanwhile (the feedback API, another
		// import): number this batch after them.
		var last int64
		if err := tx.queryRow(`SELECT coalesce(max(seq), 0) FROM items WHERE project_id = ?`, p.ID).Scan(&last); err != nil {
			return err
		}
		imp.seq = max(imp.seq, last)
		insert, err := tx.prepare(`INSERT INTO items (id, project_id, seq, external_id, data, hash, created_at, priority, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
			ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		byID, err := tx.prepare(`SELECT id, hash, seq > ? AND complete = 1 AND done = 0 FROM items WHERE project_id = ? AND external_id = ?`)
		if err != nil {
			return err
		}
		byHash, err := tx.prepare(`SELECT id FROM items WHERE project_id = ? AND hash = ? AND (external_id IS NULL OR ?) LIMIT 1`)
		if err != nil {
			return err
		}
		stage, err := tx.prepare(`INSERT INTO import_annotations (import_id, seq, item_id, user_name, values_json, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		now := fmtTime(tx.now)
		for _, rec := range batch {
			itemID := ""
			byExternalID := imp.opt.Dedupe == annotate.DedupeID && rec.ExternalID != ""
			if !byExternalID && imp.opt.Dedupe != annotate.DedupeNone {
				var have string
				err := byHash.QueryRowContext(tx.ctx, p.ID, rec.Hash, imp.opt.Dedupe == annotate.DedupeHash).Scan(&have)
				if err == nil {
					itemID = have
				} else if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			if itemID == "" {
				// Insert first: a new id (the common case) costs no
				// lookup; an id already present is a conflict, looked
				// up then.
				imp.seq++
				itemID = uuid.Must(uuid.NewV7()).String()
				var extID any
				if rec.ExternalID != "" {
					extID = rec.ExternalID
				}
				res, err := insert.ExecContext(tx.ctx, itemID, p.ID, imp.seq, extID, string(rec.DataJSON), rec.Hash, now, randomPriority(itemID))
				if err != nil {
					return fmt.Errorf("line %d: %w", rec.Line, err)
				}
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n == 1 {
					imp.res.Added++
					if imp.res.Added == 1 {
						imp.firstSeq = imp.seq
					}
				} else {
					imp.seq--
					var hash string
					var ours bool
					err := byID.QueryRowContext(tx.ctx, imp.base, p.ID, rec.ExternalID).Scan(&itemID, &hash, &ours)
					switch {
					case errors.Is(err, sql.ErrNoRows):
						return fmt.Errorf("line %d: the item was refused and no item with id %q is found", rec.Line, rec.ExternalID)
					case err != nil:
						return err
					case ours:
						imp.bad(fmt.Sprintf("line %d: id %q is also on an earlier line", rec.Line, rec.ExternalID))
						continue
					case hash != rec.Hash:
						imp.bad(fmt.Sprintf("line %d: an item with id %q already exists with other data", rec.Line, rec.ExternalID))
						continue
					case !byExternalID:
						imp.bad(fmt.Sprintf("line %d: an item with id %q already exists", rec.Line, rec.ExternalID))
						continue
					}
					imp.res.Unchanged++
				}
			} else {
				imp.res.Unchanged++
			}
			n, err := storeImportedPredictions(tx, p.ID, itemID, rec.Predictions)
			if err != nil {
				return err
			}
			imp.res.Predictions += n
			for _, a := range rec.Annotations {
				values, err := json.Marshal(a.Values)
				if err != nil {
					return err
				}
				at := now
				if !a.CreatedAt.IsZero() {
					at = fmtTime(a.CreatedAt)
				}
				imp.staged++
				if _, err := stage.ExecContext(tx.ctx, imp.id, imp.staged, itemID, importUserName(a.User), string(values), at); err != nil {
					return err
				}
			}
		}
		if err := countStates(tx, p.ID, "", feedback.StatePending, imp.res.Added-before.Added); err != nil {
			return err
		}
		_, err = tx.exec(`UPDATE imports SET updated_at = ? WHERE id = ?`, now, imp.id)
		return err
	})
	if err == nil && imp.opt.Progress != nil {
		imp.opt.Progress(int(imp.lines.Load()), imp.res.Added)
	}
	return err
}

// actorName names who started an import.
func actorName(u *loupe.User) string {
	if u == nil {
		return ""
	}
	return u.Name
}

// importUserName is the user an imported annotation is attributed to.
func importUserName(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return "imported"
	}
	return name
}

// finish makes the import visible in one transaction: the staged
// annotations become annotations (each with its event), the items enter
// the queue, the counters and the history record the import.
func (imp *importRun) finish(ctx context.Context) error {
	p := imp.p
	return imp.db.update(ctx, func(tx *Tx) error {
		rows, err := tx.query(`SELECT item_id, user_name, values_json, created_at FROM import_annotations WHERE import_id = ? ORDER BY seq`, imp.id)
		if err != nil {
			return err
		}
		type staged struct{ item, user, values, at string }
		var all []staged
		for rows.Next() {
			var s staged
			if err := rows.Scan(&s.item, &s.user, &s.values, &s.at); err != nil {
				rows.Close()
				return err
			}
			all = append(all, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// The import's items enter the queue; the annotations below
		// then count towards their overlap.
		if _, err := tx.exec(`UPDATE items SET complete = 0 WHERE project_id = ? AND seq > ? AND complete = 1 AND done = 0`, p.ID, imp.base); err != nil {
			return err
		}
		imp.res.Annotations = 0
		nowComplete := 0 // items the imported annotations completed
		users := map[string]*loupe.User{}
		for _, s := range all {
			u := users[strings.ToLower(s.user)]
			if u == nil {
				if u, err = importUser(tx, s.user); err != nil {
					return err
				}
				users[strings.ToLower(s.user)] = u
			}
			added, completed, err := importAnnotation(tx, p, s.item, u, json.RawMessage(s.values), s.at)
			if err != nil {
				return err
			}
			if added {
				imp.res.Annotations++
			}
			if completed {
				nowComplete++
			}
		}
		// Items the imported annotations completed are annotated now
		// (counted once here: one statement per item would cost a large
		// import dearly).
		if err := countStates(tx, p.ID, feedback.StatePending, feedback.StateAnnotated, nowComplete); err != nil {
			return err
		}
		if _, err := tx.exec(`UPDATE projects SET item_count = item_count + ?, complete_count = complete_count + ? WHERE id = ?`,
			imp.res.Added, nowComplete, p.ID); err != nil {
			return err
		}
		if _, err := tx.exec(`DELETE FROM import_annotations WHERE import_id = ?`, imp.id); err != nil {
			return err
		}
		result, _ := json.Marshal(imp.res)
		if _, err := tx.exec(`UPDATE imports SET status = 'done', updated_at = ?, result_json = ? WHERE id = ?`, fmtTime(tx.now), string(result), imp.id); err != nil {
			return err
		}
		if imp.res.Added == 0 && imp.res.Predictions == 0 && imp.res.Annotations == 0 {
			return nil
		}
		payload := map[string]any{"added": imp.res.Added, "unchanged": imp.res.Unchanged, "predictions": imp.res.Predictions,
			"annotations": imp.res.Annotations, "import": imp.id}
		if imp.opt.Format != "" {
			payload["format"] = imp.opt.Format
		}
		if imp.res.Added > 0 {
			payload["first_seq"], payload["last_seq"] = imp.firstSeq, imp.seq
		}
		return tx.record(p.ID, feedback.KindItemsImported, payload)
	})
}

// importUser returns the user of that name, making a disabled account
// (no password: it cannot sign in) when there is none, so that imported
// annotations keep who made them.
func importUser(tx *Tx, name string) (*loupe.User, error) {
	u := &loupe.User{Name: name}
	err := tx.queryRow(`SELECT id, name FROM users WHERE name = ?`, name).Scan(&u.ID, &u.Name)
	if err == nil {
		return u, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	u.ID = uuid.Must(uuid.NewV7()).String()
	if _, err := tx.exec(`INSERT INTO users (id, name, role, password_hash, disabled, created_at) VALUES (?, ?, 'member', '', 1, ?)`,
		u.ID, name, fmtTime(tx.now)); err != nil {
		return nil, err
	}
	return u, tx.record(feedback.ServerChain, feedback.KindUserCreated, map[string]any{"user": name, "user_id": u.ID, "role": "member", "imported": true, "disabled": true})
}

// importAnnotation stores an annotation that came with an imported item,
// unless the user already annotated the item: then the import keeps
// theirs (importing a file twice adds nothing). completed reports that the
// annotation brought the item to its overlap.
func importAnnotation(tx *Tx, p *annotate.Project, itemID string, u *loupe.User, values json.RawMessage, at string) (added, completed bool, err error) {
	var n int
	if err := tx.queryRow(`SELECT count(*) FROM annotations WHERE item_id = ? AND user_id = ?`, itemID, u.ID).Scan(&n); err != nil || n > 0 {
		return false, false, err
	}
	id := uuid.Must(uuid.NewV7()).String()
	if _, err := tx.exec(`INSERT INTO annotations (id, project_id, item_id, user_id, version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)`,
		id, p.ID, itemID, u.ID, at, at); err != nil {
		return false, false, err
	}
	if _, err := tx.exec(`INSERT INTO annotation_versions (annotation_id, version, values_json, config_version, created_at, author_id) VALUES (?, 1, ?, ?, ?, ?)`,
		id, string(values), p.ConfigVersion, at, u.ID); err != nil {
		return false, false, err
	}
	if _, err := tx.exec(`INSERT INTO assignments (item_id, user_id, project_id, status, leased_until, updated_at) VALUES (?1, ?2, ?3, 'done', ?4, ?4)
		ON CONFLICT (item_id, user_id) DO UPDATE SET status = 'done'`, itemID, u.ID, p.ID, at); err != nil {
		return false, false, err
	}
	// No RETURNING: it makes SQLite keep a statement journal, and in the
	// import's one large final transaction truncating that journal after
	// each statement grows with everything written before it.
	if _, err := tx.exec(`UPDATE items SET done = done + 1, complete = (done + 1 >= ?1), state = CASE WHEN state = 'pending' AND done + 1 >= ?1 THEN 'annotated' ELSE state END WHERE id = ?2`,
		p.Config.Overlap, itemID); err != nil {
		return false, false, err
	}
	var done int
	if err := tx.queryRow(`SELECT done FROM items WHERE id = ?`, itemID).Scan(&done); err != nil {
		return false, false, err
	}
	var vals map[string]json.RawMessage
	json.Unmarshal(values, &vals)
	ev := newEvent(p.ID, feedback.KindAnnotationCreated, map[string]any{"values": vals, "config_version": p.ConfigVersion, "imported": true})
	ev.ActorID, ev.ActorName = u.ID, u.Name
	ev.ItemID, ev.AnnotationID, ev.AnnotationVersion = itemID, id, 1
	return true, done == p.Config.Overlap, tx.appendEvent(ev)
}

// dropImport removes an import that failed: its items (with their
// predictions), which come after base and are the only items that can be
// complete without an annotation, and its staged annotations, in batches.
func (db *DB) dropImport(ctx context.Context, importID, projectID string, base int64) error {
	for {
		var n int64
		err := db.update(ctx, func(tx *Tx) error {
			res, err := tx.exec(`DELETE FROM items WHERE rowid IN (SELECT rowid FROM items WHERE project_id = ? AND seq > ? AND complete = 1 AND done = 0 LIMIT ?)`,
				projectID, base, importBatch*5)
			if err != nil {
				return err
			}
			if n, err = res.RowsAffected(); err != nil {
				return err
			}
			return countStates(tx, projectID, feedback.StatePending, "", int(n))
		})
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	return db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`DELETE FROM import_annotations WHERE import_id = ?`, importID); err != nil {
			return err
		}
		_, err := tx.exec(`UPDATE imports SET status = 'failed', updated_at = ? WHERE id = ?`, fmtTime(tx.now), importID)
		return err
	})
}

// DropAbandonedImports removes imports that stopped without finishing (the
// process was killed) and have written nothing for an hour; loupe serve
// and loupe import call it when they start.
func (db *DB) DropAbandonedImports(ctx context.Context) error {
	rows, err := db.read.QueryContext(ctx, `SELECT id, project_id, base_seq FROM imports WHERE status = 'running' AND updated_at < ?`, fmtTime(db.now().Add(-time.Hour)))
	if err != nil {
		return err
	}
	type abandoned struct {
		id, project string
		base        int64
	}
	var all []abandoned
	for rows.Next() {
		var a abandoned
		if err := rows.Scan(&a.id, &a.project, &a.base); err != nil {
			rows.Close()
			return err
		}
		all = append(all, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, a := range all {
		if err := db.dropImport(ctx, a.id, a.project, a.base); err != nil {
			return err
		}
	}
	return nil
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
			return importFailed(problems, 0)
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
func importFailed(problems []string, more int) error {
	msg := "nothing was imported: "
	if len(problems) == 1 && more == 0 {
		msg += problems[0]
	} else {
		msg += fmt.Sprintf("%d problems:\n%s", len(problems)+more, strings.Join(problems, "\n"))
	}
	if more > 0 {
		msg += fmt.Sprintf("\n… and %d more bad lines", more)
	} else if len(problems) >= annotate.MaxImportErrors {
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
