package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loupehq/loupe/annotate"
)

// Hostile text in items, labelers' feedback, reviewers' comments and the
// feedback API reaches the review page, the timeline, the audit log and
// the items list escaped; their JSON escapes < and >.
func TestReviewPagesEscapeStoredXSS(t *testing.T) {
	t.Parallel()
	config := `title: X
overlap: 2
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
  - type: comment
    name: note
review:
  policy: [all, feedback]
`
	s := newReviewSetup(t, config, 0)
	var items strings.Builder
	for i, payload := range xssPayloads {
		items.WriteString(`{"id": "x` + itoa(i) + `", "data": {"review": ` + jsonString(payload) + `}}` + "\n")
	}
	s.ts.importItems(s.p, items.String())
	for i, payload := range xssPayloads {
		for _, c := range []*client{s.ann, s.bob} {
			r := c.get("/api/v1/projects/r/next")
			task := decodeBody[taskResp](t, r)
			wantStatus(t, c.postJSON("/api/v1/projects/r/items/"+task.Item.ID+"/annotations",
				map[string]any{"values": map[string]string{"sentiment": []string{"positive", "negative"}[i%2], "note": payload}}), http.StatusCreated)
		}
	}
	rt := decodeBody[reviewTaskResp](t, s.rev.get("/api/v1/projects/r/review/next"))
	wantStatus(t, s.rev.postJSON("/api/v1/projects/r/items/"+rt.Item.ID+"/reviews", map[string]any{"verdict": "reject",
		"annotation_id": rt.Answers[0].ID, "comment": xssPayloads[3] + xssPayloads[0], "revision": rt.Revision}), http.StatusCreated)
	wantStatus(t, s.ann.postJSON("/api/v1/projects/r/feedback", map[string]any{"input": map[string]string{"review": xssPayloads[1]},
		"output": map[string]string{"sentiment": "neutral"}, "model": xssPayloads[4], "comment": xssPayloads[0]}), http.StatusCreated)

	rev := s.ts.signIn("rita")
	ann := s.ts.signIn("ann")
	pages := []*response{
		rev.get("/projects/r"),
		rev.get("/projects/r/review"),
		rev.get("/projects/r/items"),
		rev.get("/projects/r/items?state=rejected"),
		rev.get("/projects/r/audit"),
		rev.get("/projects/r/audit?user=" + url.QueryEscape(xssPayloads[0])),
		rev.get("/projects/r/audit?kind=" + url.QueryEscape(xssPayloads[1])),
		rev.get("/projects/r/audit?from=" + url.QueryEscape(xssPayloads[4])),
		ann.get("/projects/r/label"),
	}
	for _, id := range s.ts.itemIDs(s.p) {
		pages = append(pages, rev.get("/projects/r/items/"+id+"/timeline"), rev.get("/projects/r/items/"+id+"/review"))
	}
	for _, r := range pages {
		if r.Status >= 500 {
			t.Errorf("%s: status %d", r, r.Status)
		}
		checkNoXSS(t, r)
		checkSecurityHeaders(t, r)
	}
	if !strings.Contains(pages[1].Body, "&lt;svg onload=alert(1)&gt;") {
		t.Errorf("the review page does not show the hostile text escaped")
	}
	ids := s.ts.itemIDs(s.p)
	for _, r := range []*response{
		s.rev.get("/api/v1/projects/r/items/" + ids[0] + "/timeline"),
		s.rev.get("/api/v1/projects/r/items/" + ids[0] + "/review"),
		s.rev.get("/api/v1/projects/r/audit"),
		s.rev.get("/api/v1/projects/r/items"),
		s.rev.get("/api/v1/projects/r/audit/export"),
	} {
		wantStatus(t, r, http.StatusOK)
		if strings.ContainsAny(r.Body, "<>") {
			t.Errorf("%s: body holds < or > unescaped:\n%s", r, abbrev(r.Body))
		}
	}
}

// A reviewer of one project reaches nothing of another through ids: items,
// annotations and events of project B stay out of project A's routes, and
// nothing is stored.
func TestReviewCrossProject(t *testing.T) {
	t.Parallel()
	s := newReviewSetup(t, reviewedConfig, 2)
	answer(t, s.ann, "r", "positive")
	answer(t, s.bob, "r", "negative")
	other := s.ts.project("other", reviewedConfig, nil)
	s.ts.importItems(other, reviews(1))
	s.ts.member(other, "ann", annotate.RoleLabeler)
	s.ts.member(other, "bob", annotate.RoleLabeler)
	answer(t, s.ann, "other", "positive")
	answer(t, s.bob, "other", "neutral")
	otherItem := s.ts.itemIDs(other)[0]
	admin := s.a
	otherTask := decodeBody[reviewTaskResp](t, admin.get("/api/v1/projects/other/items/"+otherItem+"/review"))

	// rita reviews project r only.
	for _, path := range []string{
		"/api/v1/projects/r/items/" + otherItem + "/review",
		"/api/v1/projects/r/items/" + otherItem + "/timeline",
		"/api/v1/projects/other/review/next",
		"/api/v1/projects/other/audit",
	} {
		if r := s.rev.get(path); r.Status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, r.Status)
		}
	}
	before := s.ts.counts()
	r := s.rev.postJSON("/api/v1/projects/r/items/"+otherItem+"/reviews", map[string]any{"verdict": "approve", "revision": otherTask.Revision})
	wantStatus(t, r, http.StatusNotFound)
	// An annotation of project other named on an item of project r.
	mine := decodeBody[reviewTaskResp](t, s.rev.get("/api/v1/projects/r/review/next"))
	r = s.rev.postJSON("/api/v1/projects/r/items/"+mine.Item.ID+"/reviews", map[string]any{"verdict": "reject",
		"annotation_id": otherTask.Answers[0].ID, "comment": "no", "revision": mine.Revision})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	// The audit log of r filtered by an item of other is empty.
	audit := decodeBody[struct {
		Events []struct{} `json:"events"`
	}](t, s.rev.get("/api/v1/projects/r/audit?item="+otherItem))
	if len(audit.Events) != 0 {
		t.Errorf("project r's audit log shows %d events of project other", len(audit.Events))
	}
	sameCounts(t, "cross-project reviews", before, s.ts.counts())
}

// The audit log's filters are bound values or allowlisted: SQL in them
// finds nothing and breaks nothing.
func TestAuditFilterInjection(t *testing.T) {
	t.Parallel()
	s := newReviewSetup(t, reviewedConfig, 1)
	answer(t, s.ann, "r", "positive")
	for _, q := range []string{
		"user=" + url.QueryEscape(`' OR 1=1 --`),
		"user=" + url.QueryEscape(`ann" OR "1"="1`),
		"block=" + url.QueryEscape(`sentiment' OR '1'='1`),
		"block=" + url.QueryEscape(`x; DROP TABLE events; --`),
		"item=" + url.QueryEscape(`1) OR (1=1`),
	} {
		r := s.rev.get("/api/v1/projects/r/audit?" + q)
		wantStatus(t, r, http.StatusOK)
		if got := decodeBody[struct {
			Events []struct{} `json:"events"`
		}](t, r); len(got.Events) != 0 {
			t.Errorf("%s: %d events, want none", q, len(got.Events))
		}
	}
	for _, q := range []string{"kind=" + url.QueryEscape(`feedback' OR '1'='1`), "before=" + url.QueryEscape("1 OR 1=1"),
		"from=" + url.QueryEscape("2026-01-01' --"), "limit=-1"} {
		wantStatus(t, s.rev.get("/api/v1/projects/r/audit?"+q), http.StatusUnprocessableEntity)
	}
	for _, q := range []string{"state=" + url.QueryEscape(`approved' OR '1'='1`), "after=x"} {
		wantStatus(t, s.rev.get("/api/v1/projects/r/items?"+q), http.StatusUnprocessableEntity)
	}
	if n := s.ts.count("events", ""); n == 0 {
		t.Fatal("the events table is empty")
	}
}

// Cross-site posts of a verdict or of feedback are refused and store
// nothing.
func TestReviewCSRF(t *testing.T) {
	t.Parallel()
	s := newReviewSetup(t, reviewedConfig, 1)
	answer(t, s.ann, "r", "positive")
	answer(t, s.bob, "r", "negative")
	rev := s.ts.signIn("rita")
	ann := s.ts.signIn("ann")
	rt := decodeBody[reviewTaskResp](t, s.rev.get("/api/v1/projects/r/review/next"))
	before := s.ts.counts()
	r := rev.postForm("/projects/r/items/"+rt.Item.ID+"/review", url.Values{"verdict": {"approve"}, "revision": {rt.Revision}},
		"Sec-Fetch-Site", "cross-site")
	wantStatus(t, r, http.StatusForbidden)
	r = ann.postJSON("/api/v1/projects/r/feedback", `{"input": {"review": "x"}, "output": {"sentiment": "positive"}, "model": "m"}`,
		"Origin", "http://evil.example")
	wantStatus(t, r, http.StatusForbidden)
	sameCounts(t, "cross-site review and feedback", before, s.ts.counts())
	// The same verdict from the page itself goes through.
	wantStatus(t, rev.postForm("/projects/r/items/"+rt.Item.ID+"/review", url.Values{"verdict": {"approve"}, "revision": {rt.Revision}},
		"Sec-Fetch-Site", "same-origin"), http.StatusSeeOther)
}
