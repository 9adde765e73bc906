package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

// changedExpr is an item's last change: its creation or its latest
// annotation, whichever is later.
const changedExpr = `max(i.created_at, coalesce((SELECT max(a.updated_at) FROM annotations a WHERE a.item_id = i.id), ''))`

// browseKeys maps each sort of annotate.BrowseSorts (without its sign) to
// the SQL expression it orders by: the only way a sort reaches SQL.
var browseKeys = map[string]string{
	annotate.SortSeq:     `i.seq`,
	annotate.SortCreated: `i.created_at`,
	annotate.SortChanged: changedExpr,
	annotate.SortState:   `i.state`,
}

// Browse returns a page of the project's items for the data browser,
// filtered and sorted as q asks, with cursors to the pages either side.
// It returns EINVALID, naming the parameter, for a sort, date field or
// cursor it does not know.
func (db *DB) Browse(ctx context.Context, projectID string, q annotate.BrowseQuery) (annotate.BrowsePage, error) {
	var pg annotate.BrowsePage
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	if q.Sort == "" {
		q.Sort = annotate.SortSeq
	}
	if !slices.Contains(annotate.BrowseSorts, q.Sort) {
		return pg, loupe.FieldErrorf("sort", "sort %q is unknown; use one of %s", q.Sort, strings.Join(annotate.BrowseSorts, ", "))
	}
	desc := strings.HasPrefix(q.Sort, "-")
	field := strings.TrimPrefix(q.Sort, "-")
	key := browseKeys[field]
	if c := q.Cursor; c != nil {
		if err := checkCursor(c, q.Sort, field); err != nil {
			return pg, err
		}
	}

	where, args := []string{`i.project_id = ?`}, []any{projectID}
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	if q.State != "" {
		add(`i.state = ?`, q.State)
	}
	if q.Labeler != "" {
		add(`EXISTS (SELECT 1 FROM annotations a JOIN users u ON u.id = a.user_id WHERE a.item_id = i.id AND u.name = ?)`, q.Labeler)
	}
	if q.Block != "" && q.Value == "" {
		add(`EXISTS (SELECT 1 FROM annotations a JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version,
			json_each(v.values_json) j WHERE a.item_id = i.id AND j.key = ? AND j.type != 'null')`, q.Block)
	} else if q.Block != "" {
		// The block's value is a scalar or a list (multiple choices): a
		// scalar is made a list of one, so one test covers both. The block
		// is matched as a key, not spliced into a JSON path.
		add(`EXISTS (SELECT 1 FROM annotations a JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version,
			json_each(v.values_json) j, json_each(CASE j.type WHEN 'array' THEN j.value ELSE json_array(j.value) END) e
			WHERE a.item_id = i.id AND j.key = ? AND j.type != 'object' AND e.type NOT IN ('object', 'array', 'null') AND CAST(e.value AS TEXT) = ?)`,
			q.Block, q.Value)
	}
	if q.HasFeedback != nil {
		cond := `(i.origin = 'feedback' OR EXISTS (SELECT 1 FROM events e WHERE e.item_id = i.id AND e.kind = '` + feedback.KindFeedback + `'))`
		if !*q.HasFeedback {
			cond = `NOT ` + cond
		}
		add(cond)
	}
	if q.Flagged != nil {
		names, _ := json.Marshal(q.FlagBlocks)
		cond := `EXISTS (SELECT 1 FROM annotations a JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version,
			json_each(v.values_json) j WHERE a.item_id = i.id AND j.type != 'null' AND j.key IN (SELECT value FROM json_each(?)))`
		if !*q.Flagged {
			cond = `NOT ` + cond
		}
		add(cond, string(names))
	}
	dateExpr := `i.created_at`
	switch q.DateField {
	case "", annotate.DateCreated:
	case annotate.DateChanged:
		dateExpr = changedExpr
	default:
		return pg, loupe.FieldErrorf("date", "date %q is unknown; use created or changed", q.DateField)
	}
	if !q.From.IsZero() {
		add(dateExpr+` >= ?`, fmtTime(q.From))
	}
	if !q.To.IsZero() {
		add(dateExpr+` < ?`, fmtTime(q.To))
	}
	if m := ftsQuery(q.Search); m != "" {
		if err := db.indexPending(ctx); err != nil {
			return pg, err
		}
		add(`i.rowid IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)`, m)
	}

	// A page runs forward from the cursor, or backward from it (then it is
	// read in reverse and turned around).
	back := q.Cursor != nil && q.Cursor.Back
	asc := desc == back
	cmp, dir := ">", "ASC"
	if !asc {
		cmp, dir = "<", "DESC"
	}
	outer, outerArgs := "", []any(nil)
	if c := q.Cursor; c != nil {
		if field == annotate.SortSeq {
			outer, outerArgs = `WHERE seq `+cmp+` ?`, []any{c.Seq}
		} else {
			outer, outerArgs = `WHERE (k `+cmp+` ? OR (k = ? AND seq `+cmp+` ?))`, []any{c.Key, c.Key, c.Seq}
		}
	}
	query := `SELECT id, project_id, seq, ext, data, hash, created_at, state, final_json, k, changed FROM (
		SELECT i.id, i.project_id, i.seq, coalesce(i.external_id, '') AS ext, i.data, i.hash, i.created_at, i.state, i.final_json,
			` + key + ` AS k, ` + changedExpr + ` AS changed
		FROM items i WHERE ` + strings.Join(where, ` AND `) + `) ` + outer + `
		ORDER BY k ` + dir + `, seq ` + dir + ` LIMIT ?`
	args = append(append(args, outerArgs...), q.Limit+1)
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return pg, fmt.Errorf("browse: %w", err)
	}
	defer rows.Close()
	var keys []browseKey
	for rows.Next() {
		var it annotate.Item
		var r annotate.BrowseRow
		var data, created, final, changed string
		var k any
		if err := rows.Scan(&it.ID, &it.ProjectID, &it.Seq, &it.ExternalID, &data, &it.Hash, &created, &r.State, &final, &k, &changed); err != nil {
			return pg, fmt.Errorf("browse: %w", err)
		}
		if err := decodeData(data, &it.Data); err != nil {
			return pg, fmt.Errorf("item %s data: %w", it.ID, err)
		}
		it.CreatedAt, r.ChangedAt = parseTime(created), parseTime(changed)
		r.Item = &it
		pg.Rows = append(pg.Rows, r)
		keys = append(keys, browseKey{key: fmt.Sprint(k), final: final})
	}
	if err := rows.Err(); err != nil {
		return pg, fmt.Errorf("browse: %w", err)
	}
	rows.Close()
	more := len(pg.Rows) > q.Limit
	if more {
		pg.Rows, keys = pg.Rows[:q.Limit], keys[:q.Limit]
	}
	if back {
		slices.Reverse(pg.Rows)
		slices.Reverse(keys)
	}
	if n := len(pg.Rows); n > 0 {
		at := func(i int, back bool) *annotate.Cursor {
			return &annotate.Cursor{Sort: q.Sort, Key: keys[i].key, Seq: pg.Rows[i].Item.Seq, Back: back}
		}
		if (!back && more) || (back && q.Cursor != nil) {
			pg.Next = at(n-1, false)
		}
		if (back && more) || (!back && q.Cursor != nil) {
			pg.Prev = at(0, true)
		}
	}
	if err := db.browseAnswers(ctx, &pg, q.ShowBlock, keys); err != nil {
		return pg, err
	}
	return pg, nil
}

// browseKey is what a page row keeps besides its item: its sort key, as
// text for the cursor, and its final values.
type browseKey struct {
	key   string
	final string
}

// browseAnswers fills in each row's labelers and the final or majority
// value of the block shown, in one query for the page.
func (db *DB) browseAnswers(ctx context.Context, pg *annotate.BrowsePage, block string, keys []browseKey) error {
	if len(pg.Rows) == 0 {
		return nil
	}
	ids := make([]string, len(pg.Rows))
	at := map[string]int{}
	for i, r := range pg.Rows {
		ids[i], at[r.Item.ID] = r.Item.ID, i
	}
	idsJSON, _ := json.Marshal(ids)
	st, err := db.readStmt(ctx, `SELECT a.item_id, u.name, v.values_json FROM annotations a JOIN users u ON u.id = a.user_id
		JOIN annotation_versions v ON v.annotation_id = a.id AND v.version = a.version
		WHERE a.item_id IN (SELECT value FROM json_each(?)) ORDER BY a.created_at, a.id`)
	if err != nil {
		return fmt.Errorf("browse answers: %w", err)
	}
	rows, err := st.QueryContext(ctx, string(idsJSON))
	if err != nil {
		return fmt.Errorf("browse answers: %w", err)
	}
	defer rows.Close()
	answers := make([][]json.RawMessage, len(pg.Rows))
	for rows.Next() {
		var itemID, name, raw string
		if err := rows.Scan(&itemID, &name, &raw); err != nil {
			return fmt.Errorf("browse answers: %w", err)
		}
		i := at[itemID]
		pg.Rows[i].Labelers = append(pg.Rows[i].Labelers, name)
		if block != "" {
			var vals map[string]json.RawMessage
			if json.Unmarshal([]byte(raw), &vals) == nil {
				answers[i] = append(answers[i], vals[block])
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("browse answers: %w", err)
	}
	if block == "" {
		return nil
	}
	for i := range pg.Rows {
		var final json.RawMessage
		if f := keys[i].final; f != "" {
			var vals map[string]json.RawMessage
			if json.Unmarshal([]byte(f), &vals) == nil {
				final = vals[block]
			}
		}
		pg.Rows[i].Value = annotate.Majority(final, answers[i])
	}
	return nil
}

// checkCursor refuses a cursor made for another sort or holding a key
// that sort cannot give: cursors come from the URL.
func checkCursor(c *annotate.Cursor, sort, field string) error {
	bad := loupe.FieldErrorf("cursor", "cursor does not belong to this sort; start from the first page")
	if c.Sort != sort {
		return bad
	}
	switch field {
	case annotate.SortSeq:
		if c.Key != strconv.FormatInt(c.Seq, 10) {
			return bad
		}
	case annotate.SortCreated, annotate.SortChanged:
		if _, err := time.Parse(timeFormat, c.Key); err != nil || len(c.Key) != len(timeFormat) {
			return bad
		}
	case annotate.SortState:
		if !slices.Contains(feedback.States, c.Key) {
			return bad
		}
	}
	return nil
}

// ftsChunk is how many items one write adds to the full-text index: a
// large import is indexed in several writes, so that labelers' writes are
// not held up.
const ftsChunk = 5000

// indexPending adds the items above the index's mark (see migration 0007)
// to the full-text index, so that a search sees every item. Each chunk is
// one INSERT … SELECT, which FTS5 writes as one segment; OR REPLACE
// because a lowered mark may index a row again.
func (db *DB) indexPending(ctx context.Context) error {
	for {
		var behind bool
		if err := db.queryRow(ctx, `SELECT coalesce((SELECT max(rowid) FROM items), 0) > (SELECT upto FROM items_fts_state)`).Scan(&behind); err != nil {
			return fmt.Errorf("index items: %w", err)
		}
		if !behind {
			return nil
		}
		err := db.update(ctx, func(tx *Tx) error {
			var upto int64
			if err := tx.queryRow(`SELECT upto FROM items_fts_state`).Scan(&upto); err != nil {
				return err
			}
			if _, err := tx.exec(`INSERT OR REPLACE INTO items_fts (rowid, text)
				SELECT i.rowid, coalesce((SELECT group_concat(value, ' ') FROM json_tree(i.data) WHERE type = 'text'), '')
				FROM items i WHERE i.rowid > ? AND i.rowid <= ?`, upto, upto+ftsChunk); err != nil {
				return err
			}
			_, err := tx.exec(`UPDATE items_fts_state SET upto = min(?, coalesce((SELECT max(rowid) FROM items), 0))`, upto+ftsChunk)
			return err
		})
		if err != nil {
			return fmt.Errorf("index items: %w", err)
		}
	}
}

// ftsQuery turns what a user typed into an FTS5 query that cannot be a
// syntax error: each word quoted, all of them required. It returns ""
// when there is no word.
func ftsQuery(s string) string {
	words := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) > 32 {
		words = words[:32]
	}
	for i, w := range words {
		words[i] = `"` + w + `"`
	}
	return strings.Join(words, " ")
}
