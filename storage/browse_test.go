package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
	"github.com/loupehq/loupe/storage"
)

const browseConfig = `title: Browse
overlap: 2
blocks:
  - type: text
    field: text
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
  - type: multichoice
    name: topics
    options: [food, travel, sport]
  - {type: flag, name: flag, reasons: [ambiguous, offensive]}
`

var browseWords = []string{"apple", "banana", "cherry", "damson", "elder", "fig", "grape"}

// browseItem is what the brute-force filter knows of an item.
type browseItem struct {
	id, ext   string
	seq       int64
	text      string
	state     string
	created   time.Time
	changed   time.Time
	labelers  []string
	sentiment []string
	topics    []string
	flagged   bool
}

// browseFixture imports n items in three batches at different times; two
// labelers answer most of them with varied values and flags.
func browseFixture(t *testing.T, n int) (*fixture, map[string]*browseItem, []*browseItem) {
	t.Helper()
	ctx := context.Background()
	f := newFixture(t, browseConfig, 0, 2)
	var all []*browseItem
	for batch := range 3 {
		var b strings.Builder
		for i := batch * n / 3; i < (batch+1)*n/3; i++ {
			text := fmt.Sprintf("note %d %s %s", i, browseWords[i%len(browseWords)], browseWords[(i/3)%len(browseWords)])
			fmt.Fprintf(&b, `{"id": "x%d", "data": {"text": %q}}`+"\n", i, text)
		}
		mustImport(t, f.db, f.project, b.String())
		f.clock.Add(time.Hour)
	}
	items, _, err := f.db.Items(ctx, f.project.ID, feedback.ItemsFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*browseItem{}
	for _, it := range items {
		bi := &browseItem{id: it.Item.ID, ext: it.Item.ExternalID, seq: it.Item.Seq, text: it.Item.Data["text"].(string),
			created: it.Item.CreatedAt, changed: it.Item.CreatedAt}
		byID[bi.id] = bi
		all = append(all, bi)
	}
	for li, u := range f.labelers {
		for k := 0; k < n*(3-li)/4; k++ {
			task, err := f.db.Next(ctx, f.project, u.ID)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			bi := byID[task.Item.ID]
			i := int(bi.seq) + li
			vals := map[string]json.RawMessage{}
			sent := []string{"positive", "negative", "neutral"}[i%3]
			vals["sentiment"] = json.RawMessage(strconv.Quote(sent))
			var topics []string
			if i%4 != 0 {
				topics = [][]string{{"food"}, {"travel", "sport"}, {"sport"}}[i%3]
				raw, _ := json.Marshal(topics)
				vals["topics"] = raw
			}
			if i%11 == 0 {
				vals["flag"] = json.RawMessage(`{"reason": "ambiguous"}`)
			}
			f.clock.Add(time.Minute)
			if _, _, err := f.db.Submit(ctx, f.project, f.access(u), &annotate.Submission{ItemID: bi.id, Values: vals, ClientID: uuid.NewString()}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			bi.labelers = append(bi.labelers, u.Name)
			bi.sentiment = append(bi.sentiment, sent)
			bi.topics = append(bi.topics, topics...)
			bi.flagged = bi.flagged || i%11 == 0
			bi.changed = f.clock.Now()
		}
	}
	items, _, err = f.db.Items(ctx, f.project.ID, feedback.ItemsFilter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		byID[it.Item.ID].state = it.State
	}
	return f, byID, all
}

// browseAll walks every page forward, checking that no page is longer
// than the limit, then walks back from the last page and checks it sees
// the same items.
func browseAll(t *testing.T, db *storage.DB, projectID string, q annotate.BrowseQuery) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	var last *annotate.Cursor
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("too many pages")
		}
		pg, err := db.Browse(ctx, projectID, q)
		if err != nil {
			t.Fatalf("Browse(%+v): %v", q, err)
		}
		if len(pg.Rows) > q.Limit {
			t.Fatalf("page of %d rows, limit %d", len(pg.Rows), q.Limit)
		}
		for _, r := range pg.Rows {
			ids = append(ids, r.Item.ID)
		}
		if pg.Next == nil {
			last = pg.Prev
			break
		}
		q.Cursor = pg.Next
	}
	// Backward: from the last page's Prev to the first page.
	var back []string
	if len(ids) > 0 {
		n := len(ids) % q.Limit
		if n == 0 {
			n = q.Limit
		}
		back = slices.Clone(ids[len(ids)-n:])
	}
	for q.Cursor = last; q.Cursor != nil; {
		pg, err := db.Browse(ctx, projectID, q)
		if err != nil {
			t.Fatalf("Browse back: %v", err)
		}
		var page []string
		for _, r := range pg.Rows {
			page = append(page, r.Item.ID)
		}
		back = append(page, back...)
		q.Cursor = pg.Prev
	}
	if !slices.Equal(back, ids) {
		t.Errorf("walking back gives %d items, forward %d (or another order)", len(back), len(ids))
	}
	return ids
}

func TestBrowseMatchesBruteForce(t *testing.T) {
	f, _, all := browseFixture(t, 240)
	yes, no := true, false
	mid := all[100].created
	words := func(s string) []string { return strings.Fields(s) }
	filters := []struct {
		name string
		q    annotate.BrowseQuery
		keep func(*browseItem) bool
	}{
		{"all", annotate.BrowseQuery{}, func(*browseItem) bool { return true }},
		{"state", annotate.BrowseQuery{State: feedback.StateAnnotated}, func(b *browseItem) bool { return b.state == feedback.StateAnnotated }},
		{"state pending", annotate.BrowseQuery{State: feedback.StatePending}, func(b *browseItem) bool { return b.state == feedback.StatePending }},
		{"labeler", annotate.BrowseQuery{Labeler: "labeler1"}, func(b *browseItem) bool { return slices.Contains(b.labelers, "labeler1") }},
		{"labeler any case", annotate.BrowseQuery{Labeler: "LABELER0"}, func(b *browseItem) bool { return slices.Contains(b.labelers, "labeler0") }},
		{"value", annotate.BrowseQuery{Block: "sentiment", Value: "negative"}, func(b *browseItem) bool { return slices.Contains(b.sentiment, "negative") }},
		{"value in list", annotate.BrowseQuery{Block: "topics", Value: "sport"}, func(b *browseItem) bool { return slices.Contains(b.topics, "sport") }},
		{"block any value", annotate.BrowseQuery{Block: "topics"}, func(b *browseItem) bool { return len(b.topics) > 0 }},
		{"value none", annotate.BrowseQuery{Block: "topics", Value: "negative"}, func(b *browseItem) bool { return false }},
		{"flagged", annotate.BrowseQuery{Flagged: &yes, FlagBlocks: []string{"flag"}}, func(b *browseItem) bool { return b.flagged }},
		{"not flagged", annotate.BrowseQuery{Flagged: &no, FlagBlocks: []string{"flag"}}, func(b *browseItem) bool { return !b.flagged }},
		// Flags are feedback blocks: a flag is feedback.
		{"feedback", annotate.BrowseQuery{HasFeedback: &yes}, func(b *browseItem) bool { return b.flagged }},
		{"no feedback", annotate.BrowseQuery{HasFeedback: &no}, func(b *browseItem) bool { return !b.flagged }},
		{"created from", annotate.BrowseQuery{From: mid}, func(b *browseItem) bool { return !b.created.Before(mid) }},
		{"created to", annotate.BrowseQuery{To: mid}, func(b *browseItem) bool { return b.created.Before(mid) }},
		{"changed range", annotate.BrowseQuery{DateField: annotate.DateChanged, From: mid.Add(90 * time.Minute), To: mid.Add(4 * time.Hour)},
			func(b *browseItem) bool {
				return !b.changed.Before(mid.Add(90*time.Minute)) && b.changed.Before(mid.Add(4*time.Hour))
			}},
		{"search", annotate.BrowseQuery{Search: "Cherry"}, func(b *browseItem) bool { return slices.Contains(words(b.text), "cherry") }},
		{"search two words", annotate.BrowseQuery{Search: "cherry, fig"}, func(b *browseItem) bool {
			return slices.Contains(words(b.text), "cherry") && slices.Contains(words(b.text), "fig")
		}},
		{"search number", annotate.BrowseQuery{Search: "17"}, func(b *browseItem) bool { return slices.Contains(words(b.text), "17") }},
		{"search absent", annotate.BrowseQuery{Search: "kiwi"}, func(*browseItem) bool { return false }},
		{"search key", annotate.BrowseQuery{Search: "text"}, func(*browseItem) bool { return false }},
		// Operators are words like any other: "or" and "near" appear nowhere.
		{"search syntax", annotate.BrowseQuery{Search: `"fig" OR NEAR(`}, func(*browseItem) bool { return false }},
		{"combined", annotate.BrowseQuery{Labeler: "labeler0", Block: "sentiment", Value: "positive", Search: "apple"}, func(b *browseItem) bool {
			return slices.Contains(b.labelers, "labeler0") && slices.Contains(b.sentiment, "positive") && slices.Contains(words(b.text), "apple")
		}},
	}
	sorts := map[string]func(a, b *browseItem) int{
		"seq":     func(a, b *browseItem) int { return 0 },
		"created": func(a, b *browseItem) int { return a.created.Compare(b.created) },
		"changed": func(a, b *browseItem) int { return a.changed.Compare(b.changed) },
		"state":   func(a, b *browseItem) int { return strings.Compare(a.state, b.state) },
	}
	for _, sort := range annotate.BrowseSorts {
		desc := strings.HasPrefix(sort, "-")
		cmpKey := sorts[strings.TrimPrefix(sort, "-")]
		for _, tc := range filters {
			if sort != "seq" && tc.name != "all" && tc.name != "labeler" && tc.name != "search" {
				continue
			}
			t.Run(sort+"/"+tc.name, func(t *testing.T) {
				var want []string
				var kept []*browseItem
				for _, b := range all {
					if tc.keep(b) {
						kept = append(kept, b)
					}
				}
				slices.SortFunc(kept, func(a, b *browseItem) int {
					c := cmpKey(a, b)
					if c == 0 {
						c = int(a.seq - b.seq)
					}
					if desc {
						c = -c
					}
					return c
				})
				for _, b := range kept {
					want = append(want, b.id)
				}
				q := tc.q
				q.Sort, q.Limit = sort, 13
				got := browseAll(t, f.db, f.project.ID, q)
				if !slices.Equal(got, want) {
					t.Errorf("got %d items %v…, want %d %v…", len(got), head(got), len(want), head(want))
				}
			})
		}
	}
}

func head(ids []string) []string { return ids[:min(len(ids), 3)] }

func TestBrowseRows(t *testing.T) {
	f, byID, _ := browseFixture(t, 30)
	pg, err := f.db.Browse(context.Background(), f.project.ID, annotate.BrowseQuery{ShowBlock: "sentiment", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(pg.Rows) != 30 || pg.Next != nil || pg.Prev != nil {
		t.Fatalf("got %d rows, next %v, prev %v; want 30 and no cursors", len(pg.Rows), pg.Next, pg.Prev)
	}
	for _, r := range pg.Rows {
		b := byID[r.Item.ID]
		if !slices.Equal(r.Labelers, b.labelers) {
			t.Errorf("%s: labelers %v, want %v", b.ext, r.Labelers, b.labelers)
		}
		if r.State != b.state || !r.ChangedAt.Equal(b.changed) || r.Item.ExternalID != b.ext {
			t.Errorf("%s: state %s changed %v, want %s %v", b.ext, r.State, r.ChangedAt, b.state, b.changed)
		}
		var want json.RawMessage
		if len(b.sentiment) > 0 {
			// Two labelers disagreeing: the first answer wins the tie.
			want = json.RawMessage(strconv.Quote(b.sentiment[0]))
		}
		if string(r.Value) != string(want) {
			t.Errorf("%s: value %s, want %s", b.ext, r.Value, want)
		}
	}
}

func TestBrowseRefuses(t *testing.T) {
	f, _, _ := browseFixture(t, 20)
	ctx := context.Background()
	forge := func(c annotate.Cursor) *annotate.Cursor { return &c }
	for _, tc := range []struct {
		name  string
		q     annotate.BrowseQuery
		field string
	}{
		{"sort injection", annotate.BrowseQuery{Sort: "seq;DROP TABLE items"}, "sort"},
		{"sort expression", annotate.BrowseQuery{Sort: "(SELECT 1)"}, "sort"},
		{"date field", annotate.BrowseQuery{DateField: "created_at OR 1=1"}, "date"},
		{"cursor of another sort", annotate.BrowseQuery{Sort: "created", Cursor: forge(annotate.Cursor{Sort: "seq", Key: "3", Seq: 3})}, "cursor"},
		{"cursor key injection", annotate.BrowseQuery{Sort: "created", Cursor: forge(annotate.Cursor{Sort: "created", Key: "x' OR 1=1 --", Seq: 3})}, "cursor"},
		{"cursor state", annotate.BrowseQuery{Sort: "state", Cursor: forge(annotate.Cursor{Sort: "state", Key: "zzz", Seq: 3})}, "cursor"},
		{"cursor seq key", annotate.BrowseQuery{Cursor: forge(annotate.Cursor{Sort: "seq", Key: "1); DROP TABLE items; --", Seq: 3})}, "cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.db.Browse(ctx, f.project.ID, tc.q)
			var le *loupe.Error
			if !errors.As(err, &le) || le.Code != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), tc.field) {
				t.Errorf("got %v, want EINVALID naming %s", err, tc.field)
			}
		})
	}
	// Values that reach SQL as bound parameters find nothing and change nothing.
	for _, q := range []annotate.BrowseQuery{
		{State: "pending' OR '1'='1"},
		{Labeler: "x' OR 1=1; DROP TABLE items; --"},
		{Block: `sentiment"); DROP TABLE items; --`, Value: "x' OR 1=1"},
		{Search: `kiwi") OR 1=1; DROP TABLE items; --`},
	} {
		pg, err := f.db.Browse(ctx, f.project.ID, q)
		if err != nil || len(pg.Rows) != 0 {
			t.Errorf("Browse(%+v) = %d rows, %v; want none", q, len(pg.Rows), err)
		}
	}
	pg, err := f.db.Browse(ctx, f.project.ID, annotate.BrowseQuery{Limit: 500})
	if err != nil || len(pg.Rows) != 20 {
		t.Errorf("after the attempts: %d items, %v; want 20", len(pg.Rows), err)
	}
}

func TestCursorToken(t *testing.T) {
	c := &annotate.Cursor{Sort: "-changed", Key: "2026-11-24T09:00:00.000000Z", Seq: 42, Back: true}
	got, err := annotate.DecodeCursor(c.Encode())
	if err != nil || *got != *c {
		t.Errorf("round trip: got %+v, %v; want %+v", got, err, c)
	}
	for _, tok := range []string{"", "!!", "bm90IGpzb24", "eyJ4IjoxfQ", "eyJzIjotMX0"} {
		if _, err := annotate.DecodeCursor(tok); !errors.Is(err, annotate.ErrBadCursor) {
			t.Errorf("DecodeCursor(%q) = %v, want ErrBadCursor", tok, err)
		}
	}
}

// TestBrowseSearchKeepsUp checks that items imported after a search are
// found by the next one, and that a search stays within its project.
func TestBrowseSearchKeepsUp(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sentimentConfig, 0, 0)
	other := mustProject(t, f.db, "other", sentimentConfig, f.admin)
	mustImport(t, f.db, f.project, `{"id": "a", "data": {"review": "the quick fox"}}`+"\n")
	mustImport(t, f.db, other, `{"id": "o", "data": {"review": "a quick hare"}}`+"\n")
	find := func(p *annotate.Project, words string) []string {
		t.Helper()
		pg, err := f.db.Browse(ctx, p.ID, annotate.BrowseQuery{Search: words})
		if err != nil {
			t.Fatal(err)
		}
		var ext []string
		for _, r := range pg.Rows {
			ext = append(ext, r.Item.ExternalID)
		}
		return ext
	}
	if got := find(f.project, "quick"); !slices.Equal(got, []string{"a"}) {
		t.Errorf("quick: %v, want [a]", got)
	}
	mustImport(t, f.db, f.project, `{"id": "b", "data": {"review": "Quick, the QUÍCK brown dog"}}`+"\n"+`{"id": "c", "data": {"review": "slow"}}`+"\n")
	if got := find(f.project, "quick"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("quick after a second import: %v, want [a b]", got)
	}
	if got := find(f.project, "review"); len(got) != 0 {
		t.Errorf("a field name matches %v", got)
	}
	if got := find(other, "quick hare"); !slices.Equal(got, []string{"o"}) {
		t.Errorf("other project: %v, want [o]", got)
	}
}

// BenchmarkBrowseSearch imports -import-rows items, then times the first
// search (which indexes them all: the cost moved out of the import) and a
// search after that.
func BenchmarkBrowseSearch(b *testing.B) {
	ctx := context.Background()
	n := *importRows
	for range b.N {
		f := newFixture(b, sentimentConfig, 0, 0)
		if _, err := f.db.ImportItems(ctx, f.project, annotate.NewItemDecoder(itemsFile("s", n)), annotate.ImportOptions{}); err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"first-ms", "next-ms"} {
			start := time.Now()
			if _, err := f.db.Browse(ctx, f.project.ID, annotate.BrowseQuery{Search: "number 4711"}); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/1000, name)
		}
	}
}

// BenchmarkBrowse times one page of the data browser per sort and filter
// over -import-rows items (none annotated), first page and a later one.
func BenchmarkBrowse(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, sentimentConfig, 0, 0)
	if _, err := f.db.ImportItems(ctx, f.project, annotate.NewItemDecoder(itemsFile("s", *importRows)), annotate.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	yes := true
	for _, tc := range []struct {
		name string
		q    annotate.BrowseQuery
	}{
		{"seq", annotate.BrowseQuery{}},
		{"-seq", annotate.BrowseQuery{Sort: "-seq"}},
		{"created", annotate.BrowseQuery{Sort: "created"}},
		{"changed", annotate.BrowseQuery{Sort: "-changed"}},
		{"state", annotate.BrowseQuery{Sort: "state"}},
		{"search", annotate.BrowseQuery{Search: "number 4711"}},
		{"labeler", annotate.BrowseQuery{Labeler: "nobody"}},
		{"flagged", annotate.BrowseQuery{Flagged: &yes, FlagBlocks: []string{"flag"}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				q := tc.q
				pg, err := f.db.Browse(ctx, f.project.ID, q)
				if err != nil {
					b.Fatal(err)
				}
				if pg.Next != nil {
					q.Cursor = pg.Next
					if _, err := f.db.Browse(ctx, f.project.ID, q); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
