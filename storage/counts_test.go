package storage_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/feedback"
)

// stateCountsByScan counts the project's items per state the slow way.
func stateCountsByScan(t *testing.T, f *fixture) map[string]int {
	t.Helper()
	rows, err := rawDB(t, f.db.Path()).Query(`SELECT state, count(*) FROM items WHERE project_id = ? GROUP BY state`, f.project.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// The kept state counts agree with a count of the items after labeling,
// review verdicts, a failed import, a successful one and one with answers.
func TestStateCountsKept(t *testing.T) {
	f, rita := newReviewFixture(t, reviewedConfig, 10)
	ctx := context.Background()
	check := func(when string) {
		t.Helper()
		got, err := f.db.StateCounts(ctx, f.project.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := stateCountsByScan(t, f); !maps.Equal(got, want) {
			t.Errorf("%s: kept counts %v, counted %v", when, got, want)
		}
	}
	check("after the import")
	for range 4 {
		label(t, f, f.labelers[0], "positive")
		label(t, f, f.labelers[1], "negative")
	}
	check("after labeling")
	for i := 0; i < 2; i++ {
		task, err := f.db.NextReview(ctx, f.project, rita.ID)
		if err != nil {
			t.Fatal(err)
		}
		verdict := feedback.Review{ItemID: task.Item.ID, Verdict: feedback.VerdictApprove}
		if i == 1 {
			verdict = feedback.Review{ItemID: task.Item.ID, Verdict: feedback.VerdictReject, AnnotationID: task.Answers[0].ID, Comment: "look again"}
		}
		if _, err := f.db.SubmitReview(ctx, f.project, rita, &verdict, task.Revision); err != nil {
			t.Fatal(err)
		}
	}
	check("after an approval and a rejection")
	bad := reviews(3000) + `{"id": "bad", "data": {"nope": 1}}` + "\n"
	if _, err := f.db.ImportItems(ctx, f.project, annotate.NewItemDecoder(strings.NewReader(bad)), annotate.ImportOptions{}); err == nil {
		t.Fatal("a file with a bad line imported")
	}
	check("after a failed import")
	mustImport(t, f.db, f.project, strings.ReplaceAll(reviews(30), `"id": "r`, `"id": "more-r`))
	check("after another import")
	// Items that come with answers: one answer of the two the overlap asks
	// for leaves an item pending; two make it annotated.
	mustImport(t, f.db, f.project, `{"id":"w1","data":{"review":"one answer"},"annotations":[{"user":"olga","values":{"sentiment":"positive"}}]}
{"id":"w2","data":{"review":"two answers"},"annotations":[{"user":"olga","values":{"sentiment":"positive"}},{"user":"piet","values":{"sentiment":"positive"}}]}
`)
	check("after importing answers")
	if got, _ := f.db.StateCounts(ctx, f.project.ID); got["annotated"] == 0 {
		t.Errorf("no annotated item after importing two answers to one: %v", got)
	}
}
