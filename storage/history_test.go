package storage_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
	"github.com/loupehq/loupe/feedback"
	"github.com/loupehq/loupe/storage"
)

const reviewedConfig = `title: Sentiment
overlap: 2
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
review:
  policy: [disagreement]
`

// newReviewFixture is a project with overlap 2, a disagreement policy, two
// labelers and a reviewer.
func newReviewFixture(t *testing.T, config string, items int) (*fixture, *loupe.User) {
	t.Helper()
	f := newFixture(t, config, items, 2)
	rev := mustUser(t, f.db, "rita", loupe.RoleMember)
	if err := f.db.SetMember(context.Background(), f.project.ID, rev.Name, annotate.RoleReviewer); err != nil {
		t.Fatal(err)
	}
	return f, rev
}

// label takes the user's next item and answers it.
func label(t *testing.T, f *fixture, u *loupe.User, value string) *annotate.Annotation {
	t.Helper()
	task, err := f.db.Next(context.Background(), f.project, u.ID)
	if err != nil {
		t.Fatalf("Next(%s): %v", u.Name, err)
	}
	a, _, err := submit(t, f, u, task.Item.ID, value, 0, "")
	if err != nil {
		t.Fatalf("Submit(%s): %v", u.Name, err)
	}
	return a
}

func state(t *testing.T, f *fixture, itemID string) string {
	t.Helper()
	var s string
	if err := f.db.QueryRowForTest(context.Background(), `SELECT state FROM items WHERE id = ?`, itemID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func kinds(events []*feedback.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}

// A reviewer rejects one labeler's answer; it comes back first in that
// labeler's queue with the comment; the fix sends the item back to review;
// the reviewer approves. Every step is in the item's events, in order.
func TestReviewRejectFixApprove(t *testing.T) {
	f, rev := newReviewFixture(t, reviewedConfig, 3)
	ctx := context.Background()
	a1 := label(t, f, f.labelers[0], "positive")
	item := a1.ItemID
	if got := state(t, f, item); got != feedback.StatePending {
		t.Fatalf("after one of two answers the state is %q, want pending", got)
	}
	label(t, f, f.labelers[1], "negative")
	if got := state(t, f, item); got != feedback.StateInReview {
		t.Fatalf("after disagreeing answers the state is %q, want in_review", got)
	}
	if _, err := f.db.NextReview(ctx, f.project, f.labelers[0].ID); !errors.Is(err, feedback.ErrReviewQueueEmpty) {
		t.Errorf("a labeler who answered the item got it to review: %v", err)
	}
	task, err := f.db.NextReview(ctx, f.project, rev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Item.ID != item || len(task.Answers) != 2 || !strings.Contains(task.Reason, "disagree") {
		t.Fatalf("review task = item %s, %d answers, reason %q", task.Item.ID, len(task.Answers), task.Reason)
	}
	// A second reviewer does not get the item the first one holds.
	rev2 := mustUser(t, f.db, "ruth", loupe.RoleMember)
	if _, err := f.db.NextReview(ctx, f.project, rev2.ID); !errors.Is(err, feedback.ErrReviewQueueEmpty) {
		t.Errorf("a second reviewer got the held item: %v", err)
	}

	_, err = f.db.SubmitReview(ctx, f.project, rev, &feedback.Review{ItemID: item, AnnotationID: a1.ID, Verdict: feedback.VerdictReject,
		Comment: "The reviewer says it is sarcastic: negative."}, task.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if got := state(t, f, item); got != feedback.StateRejected {
		t.Fatalf("after the rejection the state is %q", got)
	}
	back, err := f.db.Next(ctx, f.project, f.labelers[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if back.Item.ID != item || back.Returned == nil || !strings.Contains(back.Returned.Comment, "sarcastic") || back.Returned.Reviewer != "rita" || back.Annotation == nil {
		t.Fatalf("the labeler's next task = %+v, want the returned item with the comment", back)
	}
	if _, _, err := submit(t, f, f.labelers[0], item, "negative", back.Annotation.Version, ""); err != nil {
		t.Fatal(err)
	}
	if got := state(t, f, item); got != feedback.StateInReview {
		t.Fatalf("after the fix the state is %q, want in_review", got)
	}
	if task, err := f.db.Task(ctx, f.project, f.labelers[0].ID, item); err != nil || task.Returned != nil {
		t.Fatalf("the fixed annotation still shows as returned: %+v %v", task, err)
	}
	task, err = f.db.NextReview(ctx, f.project, rev.ID)
	if err != nil || task.Item.ID != item {
		t.Fatalf("NextReview after the fix: %v", err)
	}
	if _, err := f.db.SubmitReview(ctx, f.project, rev, &feedback.Review{ItemID: item, Verdict: feedback.VerdictApprove}, task.Revision); err != nil {
		t.Fatal(err)
	}
	if got := state(t, f, item); got != feedback.StateApproved {
		t.Fatalf("after approval the state is %q", got)
	}
	events, err := f.db.ItemEvents(ctx, item)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{feedback.KindAnnotationCreated, feedback.KindAnnotationCreated, feedback.KindReviewQueued, feedback.KindReviewRejected,
		feedback.KindAnnotationEdited, feedback.KindReviewQueued, feedback.KindReviewApproved}
	if got := kinds(events); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("item events:\n got %v\nwant %v", got, want)
	}
	rej := events[3]
	if rej.ActorName != "rita" || rej.AnnotationID != a1.ID || rej.AnnotationVersion != 1 || !strings.Contains(string(rej.Payload), "sarcastic") {
		t.Errorf("rejection event = %+v", rej)
	}
	if fix := events[4]; fix.ActorName != "labeler0" || fix.AnnotationVersion != 2 || !strings.Contains(string(fix.Payload), `"fixes_review"`) {
		t.Errorf("fix event = %+v %s", fix, fix.Payload)
	}
	reviews, err := f.db.Reviews(ctx, item)
	if err != nil || len(reviews) != 2 || reviews[0].Verdict != feedback.VerdictReject || reviews[1].ReviewerName != "rita" {
		t.Errorf("reviews = %+v %v", reviews, err)
	}
}

// A fix is a new version of the labeler's annotation made by the reviewer;
// an adjudication sets the item's final answer. Both approve the item.
func TestReviewFixAndAdjudicate(t *testing.T) {
	f, rev := newReviewFixture(t, reviewedConfig, 2)
	ctx := context.Background()
	a := label(t, f, f.labelers[0], "positive")
	label(t, f, f.labelers[1], "neutral")
	task, err := f.db.ReviewTask(ctx, f.project, a.ItemID)
	if err != nil {
		t.Fatal(err)
	}
	fix := map[string]json.RawMessage{"sentiment": json.RawMessage(`"neutral"`)}
	if _, err := f.db.SubmitReview(ctx, f.project, rev, &feedback.Review{ItemID: a.ItemID, AnnotationID: a.ID, Verdict: feedback.VerdictFix, Values: fix}, task.Revision); err != nil {
		t.Fatal(err)
	}
	versions, err := f.db.ItemVersions(ctx, a.ItemID)
	if err != nil {
		t.Fatal(err)
	}
	var last *annotate.Annotation
	for _, v := range versions {
		if v.ID == a.ID && v.Version == 2 {
			last = v
		}
	}
	if last == nil || last.ID != a.ID || last.Version != 2 || last.AuthorName != "rita" || string(last.Values["sentiment"]) != `"neutral"` || last.UserName != "labeler0" {
		t.Errorf("the fixed version = %+v", last)
	}
	if got := state(t, f, a.ItemID); got != feedback.StateApproved {
		t.Errorf("after a fix the state is %q", got)
	}
	// The revision the reviewer saw is now stale.
	_, err = f.db.SubmitReview(ctx, f.project, rev, &feedback.Review{ItemID: a.ItemID, Verdict: feedback.VerdictApprove}, task.Revision)
	if loupe.ErrorCode(err) != loupe.ECONFLICT {
		t.Errorf("a verdict on stale answers: %v, want ECONFLICT", err)
	}

	b := label(t, f, f.labelers[0], "positive")
	label(t, f, f.labelers[1], "negative")
	task, err = f.db.ReviewTask(ctx, f.project, b.ItemID)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]json.RawMessage{"sentiment": json.RawMessage(`"furious"`)}
	_, err = f.db.SubmitReview(ctx, f.project, rev, &feedback.Review{ItemID: b.ItemID, Verdict: feedback.VerdictAdjudicate, Values: bad}, task.Revision)
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(err.Error(), "sentiment") {
		t.Errorf("an invalid final answer: %v", err)
	}
	final := map[string]json.RawMessage{"sentiment": json.RawMessage(`"negative"`)}
	if _, err := f.db.SubmitReview(ctx, f.project, rev, &feedback.Review{ItemID: b.ItemID, Verdict: feedback.VerdictAdjudicate, Values: final}, task.Revision); err != nil {
		t.Fatal(err)
	}
	task, err = f.db.ReviewTask(ctx, f.project, b.ItemID)
	if err != nil || string(task.Final["sentiment"]) != `"negative"` || task.State != feedback.StateApproved {
		t.Errorf("after adjudication: final %v state %q err %v", task.Final, task.State, err)
	}
	// The export carries each item's state and the final answer.
	finals := map[string]string{}
	err = f.db.ExportRecords(ctx, f.project.ID, func(rec *export.Record) error {
		finals[rec.ItemID] = rec.State + " " + string(rec.Final)
		return nil
	})
	if err != nil || finals[b.ItemID] != `approved {"sentiment":"negative"}` || finals[a.ItemID] != "approved " {
		t.Errorf("exported states and finals: %v %v", finals, err)
	}
	for _, r := range []*feedback.Review{
		{ItemID: b.ItemID, Verdict: "maybe"},
		{ItemID: b.ItemID, Verdict: feedback.VerdictReject, AnnotationID: b.ID},
		{ItemID: b.ItemID, Verdict: feedback.VerdictFix, AnnotationID: "nope", Values: final},
	} {
		if _, err := f.db.SubmitReview(ctx, f.project, rev, r, task.Revision); loupe.ErrorCode(err) != loupe.EINVALID {
			t.Errorf("review %+v: %v, want EINVALID", r, err)
		}
	}
}

// Each policy picks the items it claims and no others.
func TestReviewPolicies(t *testing.T) {
	ctx := context.Background()
	base := `title: P
overlap: %d
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
    required: true
review:
%s`
	cases := []struct {
		name    string
		overlap int
		review  string
		answers [][]string // per item, each labeler's answer
		preds   []string   // per item, the model's prediction (JSONL line fields) or ""
		want    []string   // per item, the state
	}{
		{"all", 1, "  policy: [all]\n", [][]string{{"positive"}, {"negative"}}, nil,
			[]string{feedback.StateInReview, feedback.StateInReview}},
		{"none", 1, "", [][]string{{"positive"}}, nil, []string{feedback.StateAnnotated}},
		{"disagreement", 2, "  policy: [disagreement]\n", [][]string{{"positive", "positive"}, {"positive", "negative"}}, nil,
			[]string{feedback.StateAnnotated, feedback.StateInReview}},
		{"model_disagreement", 1, "  policy: [model_disagreement]\n", [][]string{{"positive"}, {"negative"}, {"neutral"}},
			[]string{`"positive"`, `"positive"`, ""},
			[]string{feedback.StateAnnotated, feedback.StateInReview, feedback.StateAnnotated}},
		{"low_confidence", 1, "  policy: [low_confidence]\n  low_confidence: 0.6\n", [][]string{{"positive"}, {"positive"}, {"positive"}},
			[]string{`"positive"|0.9`, `"positive"|0.4`, ""},
			[]string{feedback.StateAnnotated, feedback.StateInReview, feedback.StateAnnotated}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			review := c.review
			if review == "" {
				review = "  policy: [feedback]\n"
			}
			cfg := strings.Replace(strings.Replace(base, "%d", strconv.Itoa(c.overlap), 1), "%s", review, 1)
			f := newFixture(t, cfg, 0, c.overlap)
			var lines strings.Builder
			for i := range c.answers {
				pred := ""
				if i < len(c.preds) && c.preds[i] != "" {
					value, score, _ := strings.Cut(c.preds[i], "|")
					pred = `, "predictions": [{"model": "m", "values": {"sentiment": ` + value + `}`
					if score != "" {
						pred += `, "score": ` + score
					}
					pred += `}]`
				}
				lines.WriteString(`{"id": "i` + strconv.Itoa(i) + `", "data": {"review": "text ` + strconv.Itoa(i) + `"}` + pred + "}\n")
			}
			mustImport(t, f.db, f.project, lines.String())
			for i, answers := range c.answers {
				it, err := f.db.ItemByExternalID(ctx, f.project.ID, "i"+strconv.Itoa(i))
				if err != nil {
					t.Fatal(err)
				}
				for j, v := range answers {
					if _, err := f.db.Next(ctx, f.project, f.labelers[j].ID); err != nil {
						t.Fatal(err)
					}
					if _, _, err := submit(t, f, f.labelers[j], it.ID, v, 0, ""); err != nil {
						t.Fatal(err)
					}
				}
				if got := state(t, f, it.ID); got != c.want[i] {
					t.Errorf("item %d: state %q, want %q", i, got, c.want[i])
				}
			}
		})
	}
}

// The history tables refuse UPDATE and DELETE, through Loupe's own writer.
func TestHistoryAppendOnly(t *testing.T) {
	f, rev := newReviewFixture(t, reviewedConfig, 1)
	ctx := context.Background()
	a := label(t, f, f.labelers[0], "positive")
	label(t, f, f.labelers[1], "negative")
	task, _ := f.db.ReviewTask(ctx, f.project, a.ItemID)
	if _, err := f.db.SubmitReview(ctx, f.project, rev, &feedback.Review{ItemID: a.ItemID, Verdict: feedback.VerdictApprove}, task.Revision); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE events SET payload = '{}'`,
		`UPDATE events SET actor_name = 'someone else' WHERE kind = 'review.approved'`,
		`DELETE FROM events`,
		`DELETE FROM events WHERE kind = 'annotation.created'`,
		`UPDATE reviews SET verdict = 'reject'`,
		`DELETE FROM reviews`,
		`UPDATE annotation_versions SET values_json = '{}'`,
		`DELETE FROM annotation_versions`,
	} {
		err := f.db.ExecForTest(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want it refused as append-only", q, err)
		}
	}
	if rep := f.db.VerifyChain(ctx, f.project.ID); rep.Err != nil {
		t.Errorf("the chain does not verify after the refused writes: %v", rep.Err)
	}
}

// rawDB opens the database file behind Loupe's back, as someone with the
// file would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// The chain verifies; changing an event, removing one or reordering two
// behind Loupe's back (dropping the triggers first) is caught, naming the
// first event that does not match.
func TestChainCatchesTampering(t *testing.T) {
	ctx := context.Background()
	tamper := []struct {
		name  string
		sql   []string
		where string // what the error names
	}{
		{"edit payload", []string{`UPDATE events SET payload = replace(payload, 'negative', 'positive') WHERE kind = 'annotation.created' AND payload LIKE '%negative%'`}, "changed"},
		{"edit actor", []string{`UPDATE events SET actor_name = 'mallory' WHERE chain_seq = 3 AND chain != ''`}, "event 3"},
		{"delete middle", []string{`DELETE FROM events WHERE chain_seq = 4 AND chain != ''`}, "event 5"},
		{"rehash one", []string{`UPDATE events SET payload = '{}', hash = 'f00d' WHERE chain_seq = 2 AND chain != ''`}, "event 2"},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := newReviewFixture(t, reviewedConfig, 2)
			label(t, f, f.labelers[0], "positive")
			label(t, f, f.labelers[1], "negative")
			rep := f.db.VerifyChain(ctx, f.project.ID)
			if rep.Err != nil || rep.Events < 6 {
				t.Fatalf("before tampering: %d events, %v", rep.Events, rep.Err)
			}
			if rep := f.db.VerifyChain(ctx, feedback.ServerChain); rep.Err != nil || rep.Events != 4 {
				t.Fatalf("server chain: %d events (want 4 users created), %v", rep.Events, rep.Err)
			}
			path := f.db.Path()
			f.db.Close()
			raw := rawDB(t, path)
			for _, q := range append([]string{`DROP TRIGGER events_no_update`, `DROP TRIGGER events_no_delete`}, tc.sql...) {
				res, err := raw.Exec(q)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if n, _ := res.RowsAffected(); n == 0 && !strings.HasPrefix(q, "DROP") {
					t.Fatalf("%s changed nothing", q)
				}
			}
			raw.Close()
			db, err := storage.Open(path, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rep = db.VerifyChain(ctx, f.project.ID)
			if rep.Err == nil || !strings.Contains(rep.Err.Error(), tc.where) {
				t.Errorf("verify after %s: %v, want an error naming %q", tc.name, rep.Err, tc.where)
			}
		})
	}
}

// The audit log filters by user, kind, block and date, and pages by keyset
// without gaps or repeats.
func TestEventsFilterAndPages(t *testing.T) {
	f := newFixture(t, sentimentConfig, 30, 2)
	ctx := context.Background()
	for i := range 30 {
		u := f.labelers[i%2]
		label(t, f, u, []string{"positive", "negative", "neutral"}[i%3])
		f.clock.Add(time.Hour)
	}
	all := map[int64]bool{}
	var before int64
	pages := 0
	for {
		evs, next, err := f.db.Events(ctx, feedback.EventFilter{Chain: f.project.ID, Before: before, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for i, e := range evs {
			if all[e.Seq] {
				t.Fatalf("event %d on two pages", e.Seq)
			}
			if i > 0 && evs[i-1].Seq <= e.Seq {
				t.Fatalf("page not newest first")
			}
			all[e.Seq] = true
		}
		if next == 0 {
			break
		}
		before = next
	}
	// project.created, 1 import, 2 members added, 30 annotations.
	if len(all) != 34 || pages != 5 {
		t.Errorf("paged through %d events in %d pages, want 34 in 5", len(all), pages)
	}
	evs, _, err := f.db.Events(ctx, feedback.EventFilter{Chain: f.project.ID, Actor: "labeler1", Limit: 100})
	if err != nil || len(evs) != 15 {
		t.Errorf("labeler1's events: %d, %v", len(evs), err)
	}
	evs, _, err = f.db.Events(ctx, feedback.EventFilter{Chain: f.project.ID, Kind: feedback.KindMemberAdded})
	if err != nil || len(evs) != 2 {
		t.Errorf("member events: %d, %v", len(evs), err)
	}
	// The clock moved an hour after each annotation: hours 3 to 5 hold
	// annotations 3, 4 and 5.
	start := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	evs, _, err = f.db.Events(ctx, feedback.EventFilter{Chain: f.project.ID, From: start, To: start.Add(3 * time.Hour)})
	if err != nil || len(evs) != 3 {
		t.Fatalf("events from 12:00 to 15:00: %d, %v", len(evs), err)
	}
	for _, e := range evs {
		if e.At.Before(start) || !e.At.Before(start.Add(3*time.Hour)) {
			t.Errorf("event at %v outside the range", e.At)
		}
	}
	if evs, _, err := f.db.Events(ctx, feedback.EventFilter{Chain: f.project.ID, From: start.Add(1000 * time.Hour)}); err != nil || len(evs) != 0 {
		t.Errorf("events after the last: %d, %v", len(evs), err)
	}
	if evs, _, err := f.db.Events(ctx, feedback.EventFilter{Chain: f.project.ID, Actor: "nobody"}); err != nil || len(evs) != 0 {
		t.Errorf("events of an unknown actor: %d, %v", len(evs), err)
	}
}

// Administrative changes are recorded with their actor: config edits and
// members in the project's chain; users and tokens in the server's.
func TestAdministrativeEvents(t *testing.T) {
	f := newFixture(t, sentimentConfig, 0, 1)
	ctx := loupe.WithActor(context.Background(), &loupe.User{Name: "cli:ops"})
	if err := f.db.SetMember(ctx, f.project.ID, "labeler0", annotate.RoleReviewer); err != nil {
		t.Fatal(err)
	}
	if err := f.db.RemoveMember(ctx, f.project.ID, "labeler0"); err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetUserDisabled(ctx, "labeler0", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.CreateToken(ctx, "admin", "ci"); err != nil {
		t.Fatal(err)
	}
	evs, _, err := f.db.Events(ctx, feedback.EventFilter{Chain: f.project.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{feedback.KindMemberRemoved, feedback.KindMemberRoleChanged, feedback.KindMemberAdded, feedback.KindProjectCreated}
	if got := kinds(evs); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("project events %v, want %v", got, want)
	}
	if evs[0].ActorName != "cli:ops" || evs[3].ActorName != "admin" || !strings.Contains(string(evs[1].Payload), `"previous_role":"labeler"`) {
		t.Errorf("actors %q %q, payload %s", evs[0].ActorName, evs[3].ActorName, evs[1].Payload)
	}
	srv, _, err := f.db.Events(ctx, feedback.EventFilter{Chain: feedback.ServerChain, Limit: 2})
	if err != nil || strings.Join(kinds(srv), " ") != feedback.KindTokenCreated+" "+feedback.KindUserDisabled {
		t.Errorf("server events %v %v", kinds(srv), err)
	}
	if strings.Contains(string(srv[0].Payload), "loupe_") {
		t.Errorf("the token itself is in the history: %s", srv[0].Payload)
	}
}

// Suggestions that were only shown (the builtin learner's are not stored
// as predictions) count as the model's answer for the review policy.
func TestPolicyUsesShownSuggestions(t *testing.T) {
	cfg := strings.Replace(sentimentConfig, "overlap: 1\n", "overlap: 1\nreview:\n  policy: [model_disagreement, low_confidence]\n  low_confidence: 0.5\n", 1)
	f := newFixture(t, cfg, 3, 1)
	ctx := context.Background()
	u := f.labelers[0]
	for i, c := range []struct{ answer, shown, want string }{
		{"positive", `{"model":"learner","version":"1","value":"positive","score":0.9}`, feedback.StateAnnotated},
		{"negative", `{"model":"learner","version":"1","value":"positive","score":0.9}`, feedback.StateInReview},
		{"positive", `{"model":"learner","version":"1","value":"positive","score":0.3}`, feedback.StateInReview},
	} {
		task, err := f.db.Next(ctx, f.project, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = f.db.Submit(ctx, f.project, f.access(u), &annotate.Submission{ItemID: task.Item.ID,
			Values: map[string]json.RawMessage{"sentiment": json.RawMessage(strconv.Quote(c.answer))},
			Shown:  map[string]json.RawMessage{"sentiment": json.RawMessage(c.shown)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := state(t, f, task.Item.ID); got != c.want {
			t.Errorf("case %d: state %q, want %q", i, got, c.want)
		}
	}
}
