package storage_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

func score(f float64) *float64 { return &f }

func TestPredictionsStore(t *testing.T) {
	f := newFixture(t, sentimentConfig, 3, 1)
	ctx := context.Background()
	task, _ := f.db.Next(ctx, f.project, f.labelers[0].ID)
	item := task.Item.ID
	pred := func(model, version, value, input string) annotate.Prediction {
		return annotate.Prediction{ProjectID: f.project.ID, ItemID: item, Block: "sentiment", Value: json.RawMessage(value),
			Score: score(0.8), Model: model, ModelVersion: version, Source: annotate.SourceLive, InputHash: input}
	}
	if err := f.db.SavePredictions(ctx, []annotate.Prediction{pred("m", "1", `"positive"`, ""), pred("m", "2", `"negative"`, ""), pred("m", "1", `"negative"`, "abc")}); err != nil {
		t.Fatal(err)
	}
	// The same item, block, model, version and input again: the first stays.
	if err := f.db.SavePredictions(ctx, []annotate.Prediction{pred("m", "1", `"neutral"`, "")}); err != nil {
		t.Fatal(err)
	}
	got, err := f.db.CachedPredictions(ctx, item, "m", "1", "")
	if err != nil || len(got) != 1 || string(got[0].Value) != `"positive"` || *got[0].Score != 0.8 || got[0].Source != annotate.SourceLive {
		t.Fatalf("cached = %+v, %v", got, err)
	}
	if got, _ := f.db.CachedPredictions(ctx, item, "m", "1", "abc"); len(got) != 1 || string(got[0].Value) != `"negative"` {
		t.Errorf("cached with input = %+v", got)
	}
	all, _ := f.db.ItemPredictions(ctx, item)
	if len(all) != 2 {
		t.Errorf("item predictions (own data only) = %d, want 2", len(all))
	}
}

func TestModelCalls(t *testing.T) {
	f := newFixture(t, sentimentConfig, 0, 0)
	ctx := context.Background()
	for i := range 5 {
		f.clock.Add(time.Minute)
		c := annotate.ModelCall{ProjectID: f.project.ID, Model: "llm", OK: i%2 == 0, Latency: time.Duration(i+1) * 100 * time.Millisecond}
		if !c.OK {
			c.Error = "status 500"
		}
		if err := f.db.RecordCall(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	calls, err := f.db.ModelCalls(ctx, f.project.ID, "llm", f.clock.Now().Add(-time.Hour), 3)
	if err != nil || len(calls) != 3 {
		t.Fatalf("calls = %d, %v", len(calls), err)
	}
	if !calls[0].OK || calls[0].Latency != 500*time.Millisecond || calls[1].Error != "status 500" {
		t.Errorf("newest calls = %+v", calls)
	}
	// A week later the old calls are dropped as new ones come.
	f.clock.Add(8 * 24 * time.Hour)
	f.db.RecordCall(ctx, annotate.ModelCall{ProjectID: f.project.ID, Model: "llm", OK: true})
	calls, _ = f.db.ModelCalls(ctx, f.project.ID, "llm", time.Time{}, 100)
	if len(calls) != 1 {
		t.Errorf("after a week: %d calls, want 1", len(calls))
	}
}

// With a priority order the queue gives the lowest priority first; the
// prefetch list follows the same order.
func TestQueuePriority(t *testing.T) {
	src := strings.Replace(sentimentConfig, "overlap: 1", "overlap: 1\norder: random", 1)
	f := newFixture(t, src, 5, 1)
	ctx := context.Background()
	items, err := f.db.OpenItems(ctx, f.project.ID, 0, 10)
	if err != nil || len(items) != 5 {
		t.Fatalf("open items = %d, %v", len(items), err)
	}
	prio := map[string]float64{}
	for i, it := range items {
		prio[it.ID] = float64(5 - i) // reverse import order
	}
	if err := f.db.SetPriorities(ctx, f.project.ID, prio); err != nil {
		t.Fatal(err)
	}
	u := f.labelers[0]
	up, err := f.db.Upcoming(ctx, f.project, u.ID, 2)
	if err != nil || len(up) != 2 || up[0].ID != items[4].ID || up[1].ID != items[3].ID {
		t.Fatalf("upcoming = %v, %v", up, err)
	}
	task, err := f.db.Next(ctx, f.project, u.ID)
	if err != nil || task.Item.ID != items[4].ID {
		t.Fatalf("next = %v, %v; want the lowest priority", task, err)
	}
	// Sequential projects ignore priorities.
	g := newFixture(t, sentimentConfig, 3, 1)
	its, _ := g.db.OpenItems(ctx, g.project.ID, 0, 10)
	g.db.SetPriorities(ctx, g.project.ID, map[string]float64{its[0].ID: 9, its[1].ID: 1, its[2].ID: 0})
	if task, _ := g.db.Next(ctx, g.project, g.labelers[0].ID); task.Item.ID != its[0].ID {
		t.Errorf("sequential project followed priorities")
	}
}

func TestLearnerSnapshotsAndVersions(t *testing.T) {
	f := newFixture(t, sentimentConfig, 3, 1)
	ctx := context.Background()
	if _, err := f.db.LoadLearner(ctx, f.project.ID, "learner", "sentiment"); loupe.ErrorCode(err) != loupe.ENOTFOUND {
		t.Fatalf("no snapshot yet: %v", err)
	}
	u := f.labelers[0]
	var ids []string
	for _, v := range []string{"positive", "negative"} {
		task, _ := f.db.Next(ctx, f.project, u.ID)
		if _, _, err := submit(t, f, u, task.Item.ID, v, 0, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.Item.ID)
		f.clock.Add(time.Second)
	}
	if _, _, err := submit(t, f, u, ids[0], "neutral", 1, ""); err != nil {
		t.Fatal(err)
	}
	all, err := f.db.VersionsAfter(ctx, f.project.ID, "", 10)
	if err != nil || len(all) != 3 {
		t.Fatalf("versions = %d, %v", len(all), err)
	}
	if string(all[2].Values["sentiment"]) != `"neutral"` || string(all[2].Previous["sentiment"]) != `"positive"` || all[2].Data["review"] == nil {
		t.Errorf("the edit = %+v", all[2])
	}
	if all[0].Previous != nil {
		t.Errorf("a first version has a previous: %+v", all[0])
	}
	rest, _ := f.db.VersionsAfter(ctx, f.project.ID, all[0].Position, 10)
	if len(rest) != 2 || rest[0].Position != all[1].Position {
		t.Errorf("after the first: %d versions", len(rest))
	}
	s := &annotate.LearnerState{ProjectID: f.project.ID, Model: "learner", Block: "sentiment", ConfigVersion: 1, State: []byte{1, 2, 3}, Upto: all[2].Position, Examples: 2}
	if err := f.db.SaveLearner(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.State, s.Examples = []byte{4}, 3
	f.db.SaveLearner(ctx, s)
	got, err := f.db.LoadLearner(ctx, f.project.ID, "learner", "sentiment")
	if err != nil || string(got.State) != "\x04" || got.Examples != 3 || got.Upto != all[2].Position {
		t.Errorf("snapshot = %+v, %v", got, err)
	}
}

// An annotation keeps the suggestions it was shown.
func TestSubmitShown(t *testing.T) {
	f := newFixture(t, sentimentConfig, 1, 1)
	ctx := context.Background()
	u := f.labelers[0]
	task, _ := f.db.Next(ctx, f.project, u.ID)
	shown := map[string]json.RawMessage{"sentiment": json.RawMessage(`{"model":"learner","version":"n3","score":0.7,"value":"positive"}`)}
	_, _, err := f.db.Submit(ctx, f.project, f.access(u), &annotate.Submission{ItemID: task.Item.ID,
		Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"negative"`)}, Shown: shown})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	f.db.QueryRowForTest(ctx, `SELECT shown_json FROM annotation_versions`).Scan(&got)
	if !strings.Contains(got, `"model":"learner"`) || !strings.Contains(got, `"value":"positive"`) {
		t.Errorf("shown_json = %s", got)
	}
}

func TestShownOutcomes(t *testing.T) {
	f := newFixture(t, sentimentConfig, 3, 1)
	ctx := context.Background()
	u := f.labelers[0]
	shown := func(v string) map[string]json.RawMessage {
		return map[string]json.RawMessage{"sentiment": json.RawMessage(`{"block":"sentiment","model":"learner","version":"n1","value":"` + v + `","score":0.9}`)}
	}
	sub := func(item, value string, base int, sh map[string]json.RawMessage) {
		t.Helper()
		vals := map[string]json.RawMessage{}
		if value != "" {
			vals["sentiment"] = json.RawMessage(`"` + value + `"`)
		}
		if _, _, err := f.db.Submit(ctx, f.project, f.access(u), &annotate.Submission{ItemID: item, Values: vals, BaseVersion: base, Shown: sh}); err != nil {
			t.Fatal(err)
		}
	}
	var items []string
	for range 3 {
		task, _ := f.db.Next(ctx, f.project, u.ID)
		items = append(items, task.Item.ID)
		switch len(items) {
		case 1:
			sub(task.Item.ID, "positive", 0, shown("positive")) // accepted
		case 2:
			sub(task.Item.ID, "negative", 0, shown("positive")) // edited
		case 3:
			f.db.Skip(ctx, f.project, u.ID, task.Item.ID)
		}
	}
	// The accepted one is later changed: its suggestion was not the final label.
	sub(items[0], "neutral", 1, nil)
	outs, err := f.db.ShownOutcomes(ctx, f.project.ID)
	if err != nil || len(outs) != 2 {
		t.Fatalf("outcomes = %d, %v", len(outs), err)
	}
	q := annotate.SummariseQuality(outs)
	if len(q) != 1 || q[0].Shown != 2 || q[0].Accepted != 1 || q[0].Edited != 1 || q[0].Judged != 2 || q[0].Correct != 0 {
		t.Errorf("quality = %+v", q)
	}
}
