package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

const reviewedConfig = `title: Reviewed
overlap: 2
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
  - type: thumbs
    name: useful
review:
  policy: [disagreement, feedback]
  labelers_see_others: true
`

// reviewSetup is a project with overlap 2 and a disagreement policy, two
// labelers, a reviewer and an admin, each with an API token.
type reviewSetup struct {
	ts               *testServer
	p                *annotate.Project
	ann, bob, rev, a *client
}

func newReviewSetup(t *testing.T, config string, items int) *reviewSetup {
	t.Helper()
	ts := newTestServer(t, options{})
	for _, n := range []string{"ann", "bob", "rita"} {
		ts.user(n, loupe.RoleMember)
	}
	ts.user("admin", loupe.RoleAdmin)
	p := ts.project("r", config, nil)
	ts.importItems(p, reviews(items))
	ts.member(p, "ann", annotate.RoleLabeler)
	ts.member(p, "bob", annotate.RoleLabeler)
	ts.member(p, "rita", annotate.RoleReviewer)
	return &reviewSetup{ts: ts, p: p, ann: ts.tokenClient(ts.token("ann")), bob: ts.tokenClient(ts.token("bob")),
		rev: ts.tokenClient(ts.token("rita")), a: ts.tokenClient(ts.token("admin"))}
}

type taskResp struct {
	Item struct {
		ID string `json:"id"`
	} `json:"item"`
	Annotation *struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	} `json:"annotation"`
	Returned *struct {
		Reviewer string `json:"reviewer"`
		Comment  string `json:"comment"`
	} `json:"returned"`
}

// answer takes the client's next item through the API and answers it.
func answer(t *testing.T, c *client, slug, sentiment string) taskResp {
	t.Helper()
	r := c.get("/api/v1/projects/" + slug + "/next")
	wantStatus(t, r, http.StatusOK)
	task := decodeBody[taskResp](t, r)
	wantStatus(t, c.postJSON("/api/v1/projects/"+slug+"/items/"+task.Item.ID+"/annotations",
		map[string]any{"values": map[string]string{"sentiment": sentiment}}), http.StatusCreated)
	return task
}

type reviewTaskResp struct {
	Item struct {
		ID string `json:"id"`
	} `json:"item"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Revision string `json:"revision"`
	Answers  []struct {
		ID      string            `json:"id"`
		User    string            `json:"user"`
		Version int               `json:"version"`
		Values  map[string]string `json:"values"`
	} `json:"answers"`
	Feedback []struct {
		Kind    string          `json:"kind"`
		Payload json.RawMessage `json:"payload"`
	} `json:"feedback"`
}

// The review round trip through the JSON API: disagreeing answers go to
// review; the reviewer rejects one with a comment; its labeler gets it
// back first with the comment and fixes it; the reviewer approves; the
// timeline and the audit log hold every step.
func TestReviewAPIRoundTrip(t *testing.T) {
	s := newReviewSetup(t, reviewedConfig, 2)
	task := answer(t, s.ann, "r", "positive")
	answer(t, s.bob, "r", "negative")

	// Labelers may not review.
	wantStatus(t, s.ann.get("/api/v1/projects/r/review/next"), http.StatusForbidden)
	r := s.rev.get("/api/v1/projects/r/review/next")
	wantStatus(t, r, http.StatusOK)
	rt := decodeBody[reviewTaskResp](t, r)
	if rt.Item.ID != task.Item.ID || rt.State != "in_review" || len(rt.Answers) != 2 || !strings.Contains(rt.Reason, "sentiment") {
		t.Fatalf("review task = %+v", rt)
	}
	annID := rt.Answers[0].ID
	if rt.Answers[0].User != "ann" {
		annID = rt.Answers[1].ID
	}
	reviewURL := "/api/v1/projects/r/items/" + rt.Item.ID + "/reviews"
	// A rejection needs a comment; a stale revision is refused.
	r = s.rev.postJSON(reviewURL, map[string]any{"verdict": "reject", "annotation_id": annID, "revision": rt.Revision})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if e := decodeBody[apiError](t, r); e.Error.Field != "comment" {
		t.Errorf("rejection without comment: %+v", e)
	}
	wantStatus(t, s.rev.postJSON(reviewURL, map[string]any{"verdict": "approve", "revision": "stale"}), http.StatusConflict)
	wantStatus(t, s.rev.postJSON(reviewURL, map[string]any{"verdict": "reject", "annotation_id": annID, "revision": rt.Revision,
		"comment": "Read the last sentence again."}), http.StatusCreated)

	r = s.ann.get("/api/v1/projects/r/next")
	wantStatus(t, r, http.StatusOK)
	back := decodeBody[taskResp](t, r)
	if back.Item.ID != rt.Item.ID || back.Returned == nil || back.Returned.Comment != "Read the last sentence again." || back.Returned.Reviewer != "rita" || back.Annotation == nil {
		t.Fatalf("ann's next task = %+v", back)
	}
	wantStatus(t, s.ann.postJSON("/api/v1/projects/r/items/"+back.Item.ID+"/annotations",
		map[string]any{"values": map[string]string{"sentiment": "negative"}, "base_version": back.Annotation.Version}), http.StatusCreated)

	r = s.rev.get("/api/v1/projects/r/review/next")
	wantStatus(t, r, http.StatusOK)
	rt = decodeBody[reviewTaskResp](t, r)
	if rt.Item.ID != back.Item.ID || !strings.Contains(rt.Reason, "fixed") {
		t.Fatalf("after the fix the review task = %+v", rt)
	}
	wantStatus(t, s.rev.postJSON(reviewURL, map[string]any{"verdict": "approve", "revision": rt.Revision}), http.StatusCreated)
	wantStatus(t, s.rev.get("/api/v1/projects/r/review/next"), http.StatusNoContent)

	r = s.rev.get("/api/v1/projects/r/items/" + rt.Item.ID + "/timeline")
	wantStatus(t, r, http.StatusOK)
	var tl struct {
		State    string `json:"state"`
		Versions []struct {
			User    string `json:"user"`
			Version int    `json:"version"`
		} `json:"versions"`
		Events []struct {
			Kind  string `json:"kind"`
			Actor string `json:"actor"`
			Hash  string `json:"hash"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.Body), &tl); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tl.Events {
		got = append(got, e.Actor+":"+e.Kind)
	}
	want := "ann:annotation.created bob:annotation.created bob:review.queued rita:review.rejected ann:annotation.edited ann:review.queued rita:review.approved"
	if strings.Join(got, " ") != want || tl.State != "approved" || len(tl.Versions) != 3 {
		t.Errorf("timeline: state %s, %d versions, events\n got %s\nwant %s", tl.State, len(tl.Versions), strings.Join(got, " "), want)
	}

	// The audit log: filtered by user and kind, newest first.
	r = s.rev.get("/api/v1/projects/r/audit?user=rita")
	wantStatus(t, r, http.StatusOK)
	audit := decodeBody[struct {
		Events []struct {
			Kind string `json:"kind"`
		} `json:"events"`
	}](t, r)
	if len(audit.Events) != 2 || audit.Events[0].Kind != "review.approved" {
		t.Errorf("rita's events: %+v", audit.Events)
	}
	r = s.rev.get("/api/v1/projects/r/audit?kind=nonsense")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if e := decodeBody[apiError](t, r); e.Error.Field != "kind" {
		t.Errorf("bad kind: %+v", e)
	}
	wantStatus(t, s.ann.get("/api/v1/projects/r/audit"), http.StatusForbidden)
	wantStatus(t, s.ann.get("/api/v1/projects/r/items/"+rt.Item.ID+"/timeline"), http.StatusForbidden)
}

// The review page: a reviewer sees the answers side by side, sends one
// back through the form, and a fix through the form becomes a version made
// by the reviewer. The timeline page shows it all; a labeler sees the
// comment on the labeling page.
func TestReviewPages(t *testing.T) {
	s := newReviewSetup(t, reviewedConfig, 2)
	answer(t, s.ann, "r", "positive")
	answer(t, s.bob, "r", "negative")
	rev := s.ts.signIn("rita")
	r := rev.get("/projects/r/review")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`id="answers"`, "ann", "bob", `class="disagree"`, "labelers disagree on sentiment", `name="revision"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("review page lacks %q", want)
		}
	}
	revision := hiddenField(t, r.Body, "revision")
	item := between(r.Body, `data-item="`, `"`)
	task := s.reviewTask(t, item)
	annID := task.answerOf("ann")
	form := url.Values{"revision": {revision}, "verdict": {"reject"}, "annotation": {annID}, "comment": {""}}
	r = rev.postForm("/projects/r/items/"+item+"/review", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(alertText(r.Body), "comment") {
		t.Errorf("reject without a comment: alert %q", alertText(r.Body))
	}
	form.Set("comment", "It is <b>sarcastic</b>.")
	r = rev.postForm("/projects/r/items/"+item+"/review", form)
	wantStatus(t, r, http.StatusSeeOther)

	ann := s.ts.signIn("ann")
	r = ann.get("/projects/r/label")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, `id="returned"`) || !strings.Contains(r.Body, "It is &lt;b&gt;sarcastic&lt;/b&gt;.") {
		t.Errorf("the labeling page does not show the comment, escaped:\n%s", abbrev(r.Body))
	}
	// labelers_see_others: once answered, the others' answers are shown.
	if !strings.Contains(r.Body, `id="others"`) {
		t.Errorf("labelers_see_others: the other answer is not shown")
	}

	// The reviewer fixes ann's answer instead of waiting.
	task = s.reviewTask(t, item)
	r = rev.postForm("/projects/r/items/"+item+"/review", url.Values{"revision": {task.Revision}, "verdict": {"fix"},
		"annotation": {annID}, "b.sentiment": {"negative"}})
	wantStatus(t, r, http.StatusSeeOther)
	task = s.reviewTask(t, item)
	if task.State != "approved" {
		t.Errorf("after a fix the state is %s", task.State)
	}
	r = rev.get("/projects/r/items/" + item + "/timeline")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{"rita", "fixed ann’s answer (version 2)", "<del>positive</del>", "<ins>negative</ins>", "sent ann’s answer back", "sarcastic", "imported"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
	// Items list filtered by state; audit page with filters and export.
	r = rev.get("/projects/r/items?state=approved")
	wantStatus(t, r, http.StatusOK)
	if strings.Count(r.Body, "/timeline\">history</a>") != 1 {
		t.Errorf("approved items: %d rows", strings.Count(r.Body, "/timeline\">history</a>"))
	}
	wantStatus(t, rev.get("/projects/r/items?state=lost"), http.StatusBadRequest)
	r = rev.get("/projects/r/audit?kind=review.rejected")
	wantStatus(t, r, http.StatusOK)
	if strings.Count(r.Body, "<code>review.rejected</code>") != 1 {
		t.Errorf("audit page filtered by kind:\n%s", abbrev(r.Body))
	}
	wantStatus(t, ann.get("/projects/r/review"), http.StatusForbidden)
	wantStatus(t, ann.get("/projects/r/audit"), http.StatusForbidden)
}

// between returns the text after start up to end.
func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		return s[:j]
	}
	return s
}

func (s *reviewSetup) reviewTask(t *testing.T, item string) reviewTaskResp {
	t.Helper()
	r := s.rev.get("/api/v1/projects/r/items/" + item + "/review")
	wantStatus(t, r, http.StatusOK)
	return decodeBody[reviewTaskResp](t, r)
}

func (rt reviewTaskResp) answerOf(user string) string {
	for _, a := range rt.Answers {
		if a.User == user {
			return a.ID
		}
	}
	return ""
}

// The audit log pages by keyset; its JSONL export is oldest first, carries
// each event's hash, and is itself recorded.
func TestAuditPagesAndExport(t *testing.T) {
	s := newReviewSetup(t, reviewedConfig, 60)
	for range 30 {
		answer(t, s.ann, "r", "positive")
	}
	rev := s.ts.signIn("rita")
	seen := map[string]bool{}
	path := "/projects/r/audit"
	pages := 0
	for path != "" {
		r := rev.get(path)
		wantStatus(t, r, http.StatusOK)
		pages++
		for _, h := range strings.Split(r.Body, `title="`)[1:] {
			h = h[:strings.Index(h, `"`)]
			if len(h) == 64 {
				if seen[h] {
					t.Fatalf("event %s on two pages", h)
				}
				seen[h] = true
			}
		}
		path = html_unescape(between(r.Body, `rel="next" id="older" href="`, `"`))
		if path == "" {
			path = html_unescape(between(r.Body, `<a class="button" href="`, `" rel="next" id="older"`))
		}
	}
	// project.created, import, 3 members, 30 annotations.
	if len(seen) != 35 || pages != 1 {
		// 100 a page: one page.
		t.Errorf("saw %d events on %d pages", len(seen), pages)
	}
	r := s.rev.get("/api/v1/projects/r/audit?limit=10")
	var page struct {
		Events []struct {
			Seq int64 `json:"seq"`
		} `json:"events"`
		Next int64 `json:"next_before"`
	}
	json.Unmarshal([]byte(r.Body), &page)
	if len(page.Events) != 10 || page.Next != page.Events[9].Seq {
		t.Errorf("API page: %d events, next %d", len(page.Events), page.Next)
	}

	r = rev.get("/projects/r/audit.jsonl?user=ann")
	wantStatus(t, r, http.StatusOK)
	lines := strings.Split(strings.TrimSpace(r.Body), "\n")
	if len(lines) != 30 {
		t.Fatalf("ann's events exported: %d lines", len(lines))
	}
	var first, last struct {
		ChainSeq int64  `json:"chain_seq"`
		Kind     string `json:"kind"`
		Hash     string `json:"hash"`
		PrevHash string `json:"prev_hash"`
	}
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if first.ChainSeq >= last.ChainSeq || first.Kind != "annotation.created" || len(first.Hash) != 64 || first.PrevHash == "" {
		t.Errorf("export not oldest first with hashes: first %+v last %+v", first, last)
	}
	if n := s.ts.count("events", "kind = 'export.made' AND actor_name = 'rita' AND payload LIKE '%\"what\":\"audit\"%'"); n != 1 {
		t.Errorf("audit export recorded %d times", n)
	}
	exportLines(t, s.a, "r")
	if n := s.ts.count("events", "kind = 'export.made' AND actor_name = 'admin' AND payload LIKE '%\"records\":%'"); n != 1 {
		t.Errorf("annotation export recorded %d times", n)
	}
}

func html_unescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// The feedback endpoint creates the item and the prediction once, records
// each piece of feedback, sends the item to review, and refuses bad input
// naming the field, storing nothing.
func TestFeedbackAPI(t *testing.T) {
	s := newReviewSetup(t, reviewedConfig, 0)
	body := map[string]any{"input": map[string]any{"review": "The battery died after a week."}, "output": map[string]any{"sentiment": "positive"},
		"model": "sent-v2", "version": "2026-11-01", "rating": "down", "correction": map[string]any{"sentiment": "negative"},
		"comment": "Clearly negative."}
	r := s.ann.postJSON("/api/v1/projects/r/feedback", body)
	wantStatus(t, r, http.StatusCreated)
	var got struct {
		ItemID      string            `json:"item_id"`
		NewItem     bool              `json:"new_item"`
		Predictions map[string]string `json:"predictions"`
		EventID     string            `json:"event_id"`
		State       string            `json:"state"`
	}
	json.Unmarshal([]byte(r.Body), &got)
	if !got.NewItem || got.Predictions["sentiment"] == "" || got.State != "in_review" || got.EventID == "" {
		t.Fatalf("feedback answer: %s", r.Body)
	}
	// The same feedback again: the same item and prediction, a second event.
	r = s.ann.postJSON("/api/v1/projects/r/feedback", body)
	wantStatus(t, r, http.StatusOK)
	var again struct {
		ItemID      string            `json:"item_id"`
		Predictions map[string]string `json:"predictions"`
	}
	json.Unmarshal([]byte(r.Body), &again)
	if again.ItemID != got.ItemID || again.Predictions["sentiment"] != got.Predictions["sentiment"] {
		t.Errorf("second feedback: %s", r.Body)
	}
	if n := s.ts.count("predictions", "item_id = ?", got.ItemID); n != 1 {
		t.Errorf("%d predictions, want 1", n)
	}
	// A different answer of the model to the same input is another prediction.
	body["output"] = map[string]any{"sentiment": "neutral"}
	wantStatus(t, s.ann.postJSON("/api/v1/projects/r/feedback", body), http.StatusOK)
	if n := s.ts.count("predictions", "item_id = ?", got.ItemID); n != 2 {
		t.Errorf("%d predictions, want 2", n)
	}
	rt := s.reviewTask(t, got.ItemID)
	if len(rt.Feedback) != 3 || !strings.Contains(string(rt.Feedback[0].Payload), `"rating":"down"`) || !strings.Contains(rt.Reason, "feedback") {
		t.Errorf("review task of the feedback item: reason %q, feedback %+v", rt.Reason, rt.Feedback)
	}
	// The reviewer settles it with the correction as the final answer.
	wantStatus(t, s.rev.postJSON("/api/v1/projects/r/items/"+got.ItemID+"/reviews", map[string]any{"verdict": "adjudicate",
		"values": map[string]string{"sentiment": "negative"}, "revision": rt.Revision}), http.StatusCreated)

	before := s.ts.counts()
	events := s.ts.count("events", "")
	for _, tc := range []struct {
		body  string
		field string
	}{
		{`{"input": "text", "output": {"sentiment": "positive"}, "model": "m"}`, "input"},
		{`{"input": {"other": 1}, "output": {"sentiment": "positive"}, "model": "m"}`, "input"},
		{`{"input": {"review": "x"}, "output": {"sentiment": "furious"}, "model": "m"}`, "output.sentiment"},
		{`{"input": {"review": "x"}, "output": {"nosuch": 1}, "model": "m"}`, "output.nosuch"},
		{`{"input": {"review": "x"}, "output": {}, "model": "m"}`, "output"},
		{`{"input": {"review": "x"}, "output": {"sentiment": "positive"}}`, "model"},
		{`{"input": {"review": "x"}, "output": {"sentiment": "positive"}, "model": "m", "rating": 7}`, "rating"},
		{`{"input": {"review": "x"}, "output": {"sentiment": "positive"}, "model": "m", "correction": {"sentiment": 3}}`, "correction.sentiment"},
		{`{"input": {"review": "x"}, "output": {"sentiment": "positive"}, "model": "m", "extra": 1}`, "extra"},
	} {
		r := s.ann.postJSON("/api/v1/projects/r/feedback", tc.body)
		if r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d", tc.body, r.Status)
			continue
		}
		if e := decodeBody[apiError](t, r); e.Error.Field != tc.field {
			t.Errorf("%s: field %q (%s), want %q", tc.body, e.Error.Field, e.Error.Message, tc.field)
		}
	}
	sameCounts(t, "bad feedback", before, s.ts.counts())
	if n := s.ts.count("events", ""); n != events {
		t.Errorf("bad feedback appended %d events", n-events)
	}
	// Reviewers may not send feedback as if they were the app.
	wantStatus(t, s.rev.postJSON("/api/v1/projects/r/feedback", body), http.StatusForbidden)
}

// The project page shows item states, the agreement table and a heat map
// to reviewers and managers; labelers see none of it.
func TestProjectPageAgreement(t *testing.T) {
	s := newReviewSetup(t, reviewedConfig, 4)
	for _, v := range []string{"positive", "negative", "neutral", "positive"} {
		answer(t, s.ann, "r", v)
	}
	for _, v := range []string{"positive", "negative", "neutral", "negative"} {
		answer(t, s.bob, "r", v)
	}
	rev := s.ts.signIn("rita")
	r := rev.get("/projects/r")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`id="agreement-table"`, "75.0%", `<svg`, "ann × bob", `id="state-counts"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("project page lacks %q", want)
		}
	}
	r = s.rev.get("/api/v1/projects/r/agreement")
	wantStatus(t, r, http.StatusOK)
	var rep struct {
		Blocks []struct {
			Block            string   `json:"block"`
			PercentAgreement *float64 `json:"percent_agreement"`
		} `json:"blocks"`
	}
	json.Unmarshal([]byte(r.Body), &rep)
	if len(rep.Blocks) != 1 || rep.Blocks[0].Block != "sentiment" || rep.Blocks[0].PercentAgreement == nil || *rep.Blocks[0].PercentAgreement != 0.75 {
		t.Errorf("agreement API: %s", r.Body)
	}
	ann := s.ts.signIn("ann")
	r = ann.get("/projects/r")
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(r.Body, `id="agreement"`) || strings.Contains(r.Body, `id="state-counts"`) {
		t.Errorf("a labeler sees the review figures")
	}
	wantStatus(t, s.ann.get("/api/v1/projects/r/agreement"), http.StatusForbidden)
}

// Blind by default: a labeler never sees other labelers' answers, even
// after answering, unless the project says so.
func TestBlindByDefault(t *testing.T) {
	blind := strings.Replace(reviewedConfig, "  labelers_see_others: true\n", "", 1)
	s := newReviewSetup(t, blind, 1)
	task := answer(t, s.ann, "r", "positive")
	answer(t, s.bob, "r", "negative")
	ann := s.ts.signIn("ann")
	r := ann.get("/projects/r/items/" + task.Item.ID)
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(r.Body, `id="others"`) || strings.Contains(r.Body, "bob") {
		t.Errorf("a blind labeler sees the other answer")
	}
	r = s.ann.get("/api/v1/projects/r/items/" + task.Item.ID)
	if strings.Contains(r.Body, "bob") {
		t.Errorf("the API shows a blind labeler the other answer: %s", r.Body)
	}
}
