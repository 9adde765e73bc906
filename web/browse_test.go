package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

const browseWebConfig = `title: Browse
overlap: 2
blocks:
  - type: text
    field: text
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
  - {type: flag, name: flag, reasons: [ambiguous, offensive]}
`

type webBrowseItem struct {
	id, text  string
	seq       int
	changed   time.Time
	labelers  []string
	sentiment []string
	flagged   bool
}

// browseServer is a project of n items, most answered by two labelers.
func browseServer(t *testing.T, n int) (*testServer, []*webBrowseItem) {
	t.Helper()
	ts := newTestServer(t, options{})
	admin := ts.user("admin", loupe.RoleAdmin)
	p := ts.project("b", browseWebConfig, admin)
	var b strings.Builder
	words := []string{"apple", "banana", "cherry", "damson", "elder"}
	for i := range n {
		fmt.Fprintf(&b, `{"id": "x%d", "data": {"text": "note %d %s"}}`+"\n", i, i, words[i%len(words)])
	}
	ts.importItems(p, b.String())
	ids := ts.itemIDs(p)
	all := make([]*webBrowseItem, n)
	byID := map[string]*webBrowseItem{}
	for i, id := range ids {
		all[i] = &webBrowseItem{id: id, seq: i + 1, text: fmt.Sprintf("note %d %s", i, words[i%len(words)]), changed: ts.Clock.Now()}
		byID[id] = all[i]
	}
	ctx := context.Background()
	for li, name := range []string{"lab0", "lab1"} {
		u := ts.user(name, loupe.RoleMember)
		ts.member(p, name, annotate.RoleLabeler)
		for k := 0; k < n*(3-li)/4; k++ {
			task, err := ts.DB.Next(ctx, p, u.ID)
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			it := byID[task.Item.ID]
			j := it.seq + li
			sent := []string{"positive", "negative", "neutral"}[j%3]
			vals := map[string]json.RawMessage{"sentiment": json.RawMessage(strconv.Quote(sent))}
			if j%7 == 0 {
				vals["flag"] = json.RawMessage(`{"reason": "offensive"}`)
				it.flagged = true
			}
			ts.Clock.Add(time.Second)
			if _, _, err := ts.DB.Submit(ctx, p, annotate.Access{User: u, Role: annotate.RoleLabeler},
				&annotate.Submission{ItemID: it.id, Values: vals, ClientID: uuid.NewString()}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			it.labelers, it.sentiment, it.changed = append(it.labelers, name), append(it.sentiment, sent), ts.Clock.Now()
		}
	}
	return ts, all
}

type browseJSON struct {
	Items []struct {
		ID       string          `json:"id"`
		Preview  string          `json:"preview"`
		Labelers []string        `json:"labelers"`
		Block    string          `json:"block"`
		Value    json.RawMessage `json:"value"`
	} `json:"items"`
	Next string `json:"next_cursor"`
	Prev string `json:"prev_cursor"`
}

// walk follows next_cursor from the first page to the last.
func walk(t *testing.T, c *client, query url.Values) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatal("too many pages")
		}
		r := c.get("/api/v1/projects/b/items?" + query.Encode())
		wantStatus(t, r, http.StatusOK)
		var pg browseJSON
		if err := json.Unmarshal([]byte(r.Body), &pg); err != nil {
			t.Fatal(err)
		}
		for _, it := range pg.Items {
			if seen[it.ID] {
				t.Fatalf("item %s on two pages", it.ID)
			}
			seen[it.ID] = true
			ids = append(ids, it.ID)
		}
		if pg.Next == "" {
			return ids
		}
		query.Set("cursor", pg.Next)
	}
}

func TestBrowseAPI(t *testing.T) {
	ts, all := browseServer(t, 150)
	c := ts.signIn("admin")
	byChanged := func(desc bool) func(a, b *webBrowseItem) int {
		return func(a, b *webBrowseItem) int {
			c := a.changed.Compare(b.changed)
			if c == 0 {
				c = a.seq - b.seq
			}
			if desc {
				return -c
			}
			return c
		}
	}
	bySeq := func(a, b *webBrowseItem) int { return a.seq - b.seq }
	for _, tc := range []struct {
		query string
		keep  func(*webBrowseItem) bool
		order func(a, b *webBrowseItem) int
	}{
		{"sort=seq", func(*webBrowseItem) bool { return true }, bySeq},
		{"sort=-changed", func(*webBrowseItem) bool { return true }, byChanged(true)},
		{"labeler=lab1&sort=changed", func(b *webBrowseItem) bool { return slices.Contains(b.labelers, "lab1") }, byChanged(false)},
		{"block=sentiment&value=neutral", func(b *webBrowseItem) bool { return slices.Contains(b.sentiment, "neutral") }, bySeq},
		{"flagged=yes&sort=-seq", func(b *webBrowseItem) bool { return b.flagged }, func(a, b *webBrowseItem) int { return b.seq - a.seq }},
		{"flagged=no", func(b *webBrowseItem) bool { return !b.flagged }, bySeq},
		// A flag is a feedback block: flagged items have feedback.
		{"has_feedback=true&sort=state", func(b *webBrowseItem) bool { return b.flagged }, nil},
		{"q=cherry", func(b *webBrowseItem) bool { return strings.HasSuffix(b.text, " cherry") }, bySeq},
		{"q=banana&labeler=lab0&sort=-changed", func(b *webBrowseItem) bool {
			return strings.HasSuffix(b.text, " banana") && slices.Contains(b.labelers, "lab0")
		}, byChanged(true)},
		{"q=note+42", func(b *webBrowseItem) bool { return strings.HasPrefix(b.text, "note 42 ") }, bySeq},
		{"q=kiwi", func(*webBrowseItem) bool { return false }, bySeq},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var want []string
			var kept []*webBrowseItem
			for _, b := range all {
				if tc.keep(b) {
					kept = append(kept, b)
				}
			}
			if tc.order == nil {
				// All these items have two answers (overlap 2): one state.
				tc.order = bySeq
			}
			slices.SortFunc(kept, tc.order)
			for _, b := range kept {
				want = append(want, b.id)
			}
			q, _ := url.ParseQuery(tc.query + "&limit=11")
			if got := walk(t, c, q); !slices.Equal(got, want) {
				t.Errorf("got %d items, want %d (or another order)", len(got), len(want))
			}
		})
	}

	// A row: preview, labelers, the majority value of the first block.
	r := c.get("/api/v1/projects/b/items?sort=seq&limit=1")
	var pg browseJSON
	if err := json.Unmarshal([]byte(r.Body), &pg); err != nil || len(pg.Items) != 1 {
		t.Fatalf("first page: %v %s", err, r.Body)
	}
	if it := pg.Items[0]; it.Preview != all[0].text || !slices.Equal(it.Labelers, all[0].labelers) || it.Block != "sentiment" ||
		string(it.Value) != strconv.Quote(all[0].sentiment[0]) {
		t.Errorf("first row %+v, want %s by %v", it, all[0].text, all[0].labelers)
	}
	// The older parameters still answer in the older shape.
	r = c.get("/api/v1/projects/b/items?limit=5&after=3")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, `"next_after"`) {
		t.Errorf("state/after/limit: %s", abbrev(r.Body))
	}
}

func TestBrowseRefusesBadParameters(t *testing.T) {
	ts, _ := browseServer(t, 20)
	c := ts.signIn("admin")
	before := ts.counts()
	forged := (&annotate.Cursor{Sort: "created", Key: "x' OR 1=1 --", Seq: 1}).Encode()
	other := (&annotate.Cursor{Sort: "seq", Key: "1", Seq: 1}).Encode()
	for _, tc := range []struct{ query, param string }{
		{"sort=" + url.QueryEscape("seq;DROP TABLE items"), "sort"},
		{"sort=" + url.QueryEscape("seq DESC, (SELECT 1)"), "sort"},
		{"sort=seq&state=" + url.QueryEscape("pending' OR '1'='1"), "state"},
		{"block=" + url.QueryEscape(`sentiment"); DROP TABLE items; --`) + "&value=x", "block"},
		{"value=positive", "block"},
		{"flagged=maybe", "flagged"},
		{"has_feedback=" + url.QueryEscape("1;DROP"), "has_feedback"},
		{"date=rowid", "date"},
		{"from=yesterday", "from"},
		{"to=" + url.QueryEscape("2026-01-01' OR 1=1"), "to"},
		{"cursor=not-a-cursor!", "cursor"},
		{"cursor=" + url.QueryEscape("eyJvIjoic2VxIn0; DROP TABLE items"), "cursor"},
		{"sort=created&cursor=" + forged, "cursor"},
		{"sort=created&cursor=" + other, "cursor"},
		{"sort=seq&limit=-1", "limit"},
	} {
		for _, path := range []string{"/api/v1/projects/b/items?", "/projects/b/browse?"} {
			r := c.get(path + tc.query)
			wantStatus(t, r, http.StatusBadRequest)
			if !strings.Contains(r.Body, tc.param) {
				t.Errorf("%s%s: the answer does not name %s: %s", path, tc.query, tc.param, abbrev(r.Body))
			}
		}
	}
	// The older parameters alone keep their older answer (422, see
	// TestAuditFilterInjection); the browser does not read after (its
	// cursor replaces it) and refuses a bad state with 400.
	wantStatus(t, c.get("/api/v1/projects/b/items?state=lost"), http.StatusUnprocessableEntity)
	wantStatus(t, c.get("/api/v1/projects/b/items?sort=seq&after=-1"), http.StatusOK)
	// A raw semicolon never reaches the handler's parameters either.
	wantStatus(t, c.get("/api/v1/projects/b/items?sort=seq;DROP%20TABLE%20items"), http.StatusBadRequest)
	// Bound, not spliced: these find nothing and break nothing.
	for _, q := range []string{"labeler=" + url.QueryEscape("x' OR 1=1; DROP TABLE items; --"), "q=" + url.QueryEscape(`") OR 1=1; DROP TABLE items; --`)} {
		r := c.get("/api/v1/projects/b/items?" + q)
		wantStatus(t, r, http.StatusOK)
		if !strings.Contains(r.Body, `"items":[]`) {
			t.Errorf("%s: %s", q, abbrev(r.Body))
		}
	}
	if after := ts.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("rows changed: before %v, after %v", before, after)
	}
}

func TestBrowsePage(t *testing.T) {
	ts, _ := browseServer(t, 60)
	c := ts.signIn("admin")
	r := c.get("/projects/b")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, `href="/projects/b/browse"`) {
		t.Errorf("the project page does not link to the browser")
	}
	r = c.get("/projects/b/browse?q=cherry&sort=-seq&limit=5")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`name="q" value="cherry"`, `id="next"`, `aria-sort="descending"`, "note 57 cherry", "lab0"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("browse page lacks %q", want)
		}
	}
	if strings.Contains(r.Body, `id="prev"`) || strings.Contains(r.Body, "banana") {
		t.Errorf("first page of cherry has a previous link or other items")
	}
	next := strings.ReplaceAll(between(r.Body, `class="button" href="/projects/b/browse?`, `" rel="next"`), "&amp;", "&")
	r2 := c.get("/projects/b/browse?" + next)
	wantStatus(t, r2, http.StatusOK)
	if !strings.Contains(r2.Body, `id="prev"`) || !strings.Contains(r2.Body, "note 32 cherry") || strings.Contains(r2.Body, "note 57 cherry") {
		t.Errorf("second page:\n%s", abbrev(r2.Body))
	}
}
