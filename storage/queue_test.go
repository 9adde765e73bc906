package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/export"
)

func submit(t testing.TB, f *fixture, u *loupe.User, itemID, value string, base int, clientID string) (*annotate.Annotation, bool, error) {
	t.Helper()
	return f.db.Submit(context.Background(), f.project, f.access(u), &annotate.Submission{
		ItemID: itemID, Values: map[string]json.RawMessage{"sentiment": json.RawMessage(strconv.Quote(value))},
		BaseVersion: base, ClientID: clientID,
	})
}

// With overlap 1 and 32 labelers asking at once, no item goes to two.
func TestNextExclusive(t *testing.T) {
	f := newFixture(t, sentimentConfig, 100, 32)
	ctx := context.Background()
	var mu sync.Mutex
	given := map[string]string{}
	var wg sync.WaitGroup
	for _, u := range f.labelers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				task, err := f.db.Next(ctx, f.project, u.ID)
				if err != nil {
					t.Errorf("Next: %v", err)
					return
				}
				mu.Lock()
				if other, ok := given[task.Item.ID]; ok && other != u.Name {
					t.Errorf("item %s given to %s and %s", task.Item.ID, other, u.Name)
				}
				given[task.Item.ID] = u.Name
				mu.Unlock()
				if _, _, err := submit(t, f, u, task.Item.ID, "positive", 0, ""); err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(given) != 96 {
		t.Errorf("%d items given, want 96", len(given))
	}
	// 4 items remain: exactly four labelers get one, the rest hear "none left".
	var got, empty int
	for _, u := range f.labelers {
		_, err := f.db.Next(ctx, f.project, u.ID)
		switch {
		case err == nil:
			got++
		case errors.Is(err, annotate.ErrQueueEmpty):
			empty++
		default:
			t.Fatal(err)
		}
	}
	if got != 4 || empty != 28 {
		t.Errorf("got %d items and %d empty queues, want 4 and 28", got, empty)
	}
}

// With overlap n, each item gets exactly n distinct labelers.
func TestNextOverlap(t *testing.T) {
	cfg := `title: Three each
overlap: 3
blocks:
  - {type: text, field: review}
  - {type: choice, name: sentiment, options: [positive, negative]}
`
	f := newFixture(t, cfg, 20, 8)
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, u := range f.labelers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				task, err := f.db.Next(ctx, f.project, u.ID)
				if errors.Is(err, annotate.ErrQueueEmpty) {
					return
				} else if err != nil {
					t.Error(err)
					return
				}
				if _, _, err := submit(t, f, u, task.Item.ID, "positive", 0, ""); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := 0
	err := f.db.ExportRecords(ctx, f.project.ID, func(r *export.Record) error {
		n++
		users := map[string]bool{}
		for _, a := range r.Annotations {
			users[a.User] = true
		}
		if len(r.Annotations) != 3 || len(users) != 3 {
			t.Errorf("item %s: %d annotations by %d labelers, want 3 and 3", r.ExternalID, len(r.Annotations), len(users))
		}
		return nil
	})
	if err != nil || n != 20 {
		t.Errorf("export: %d items, err %v", n, err)
	}
	p, _ := f.db.ProjectBySlug(ctx, "sentiment")
	if p.CompleteCount != 20 || p.ItemCount != 20 {
		t.Errorf("counts = %d/%d, want 20/20", p.CompleteCount, p.ItemCount)
	}
}

// A lease holds an item for its labeler, is renewed on reload, and frees
// the slot once it expires.
func TestNextLease(t *testing.T) {
	f := newFixture(t, sentimentConfig, 2, 2)
	ctx := context.Background()
	a, b := f.labelers[0], f.labelers[1]
	t1, err := f.db.Next(ctx, f.project, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.db.Next(ctx, f.project, a.ID)
	if err != nil || again.Item.ID != t1.Item.ID {
		t.Fatalf("reload gave %v, %v; want the held item", again, err)
	}
	t2, err := f.db.Next(ctx, f.project, b.ID)
	if err != nil || t2.Item.ID == t1.Item.ID {
		t.Fatalf("b got %v, %v; want the other item", t2, err)
	}
	c := mustUser(t, f.db, "late", loupe.RoleMember)
	if _, err := f.db.Next(ctx, f.project, c.ID); !errors.Is(err, annotate.ErrQueueEmpty) {
		t.Fatalf("third labeler: err = %v, want ErrQueueEmpty while both items are held", err)
	}
	f.clock.Add(31 * time.Minute) // past the 30 minute lease
	t3, err := f.db.Next(ctx, f.project, c.ID)
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if t3.Item.ID != t1.Item.ID {
		t.Errorf("after expiry got %s, want the first abandoned item %s", t3.Item.ExternalID, t1.Item.ExternalID)
	}
	// a's lease expired and c holds the item now; a's late submit is still
	// kept, since it was given to them: work is never thrown away.
	if _, _, err := submit(t, f, a, t1.Item.ID, "negative", 0, ""); err != nil {
		t.Errorf("late submit: %v", err)
	}
}

func TestSkip(t *testing.T) {
	f := newFixture(t, sentimentConfig, 3, 1)
	ctx := context.Background()
	u := f.labelers[0]
	t1, _ := f.db.Next(ctx, f.project, u.ID)
	if err := f.db.Skip(ctx, f.project, u.ID, t1.Item.ID); err != nil {
		t.Fatal(err)
	}
	t2, _ := f.db.Next(ctx, f.project, u.ID)
	if t2.Item.ID == t1.Item.ID {
		t.Fatal("skipped item offered again")
	}
	submit(t, f, u, t2.Item.ID, "neutral", 0, "")
	if err := f.db.Skip(ctx, f.project, u.ID, t2.Item.ID); loupe.ErrorCode(err) != loupe.ECONFLICT {
		t.Errorf("skip of annotated item: %v, want conflict", err)
	}
	pr, err := f.db.Progress(ctx, f.project, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := annotate.Progress{MyDone: 1, MySkipped: 1, MyTotal: 2, ProjectDone: 1, ProjectTotal: 3}
	if pr != want {
		t.Errorf("progress = %+v, want %+v", pr, want)
	}
}

// Edits append versions; a stale edit is refused; a retried submit is
// stored once.
func TestSubmitVersions(t *testing.T) {
	f := newFixture(t, sentimentConfig, 2, 2)
	ctx := context.Background()
	u := f.labelers[0]
	task, _ := f.db.Next(ctx, f.project, u.ID)
	id := task.Item.ID

	a1, replay, err := submit(t, f, u, id, "positive", 0, "c-1")
	if err != nil || a1.Version != 1 || replay {
		t.Fatalf("first submit: %+v %v %v", a1, replay, err)
	}
	again, replay, err := submit(t, f, u, id, "positive", 0, "c-1")
	if err != nil || !replay || again.ID != a1.ID || again.Version != 1 {
		t.Fatalf("retried submit: %+v %v %v; want a replay of version 1", again, replay, err)
	}
	if _, _, err := submit(t, f, u, id, "negative", 0, "c-1"); loupe.ErrorCode(err) != loupe.ECONFLICT || loupe.ErrorField(err) != "client_id" {
		t.Errorf("used client id with other values: err = %v, want a client_id conflict", err)
	}
	if _, _, err := submit(t, f, u, id, "negative", 0, ""); loupe.ErrorCode(err) != loupe.ECONFLICT {
		t.Errorf("second first-annotation: err = %v, want conflict", err)
	}
	a2, _, err := submit(t, f, u, id, "negative", 1, "c-2")
	if err != nil || a2.Version != 2 || a2.ID != a1.ID {
		t.Fatalf("edit: %+v %v", a2, err)
	}
	if _, _, err := submit(t, f, u, id, "neutral", 1, ""); loupe.ErrorCode(err) != loupe.ECONFLICT {
		t.Errorf("stale edit: err = %v, want conflict", err)
	}
	if _, _, err := submit(t, f, u, id, "happy", 2, ""); loupe.ErrorField(err) != "values.sentiment" {
		t.Errorf("invalid value: err = %v, want field values.sentiment", err)
	}
	// Another labeler cannot reuse a client id, nor submit for an item the
	// queue never gave them.
	v := f.labelers[1]
	if _, _, err := submit(t, f, v, id, "positive", 0, "c-1"); loupe.ErrorCode(err) != loupe.EFORBIDDEN && loupe.ErrorCode(err) != loupe.ECONFLICT {
		t.Errorf("client id reuse: %v", err)
	}
	if _, _, err := submit(t, f, v, id, "positive", 0, ""); loupe.ErrorCode(err) != loupe.EFORBIDDEN {
		t.Errorf("unassigned submit: err = %v, want forbidden", err)
	}
	versions, err := f.db.AnnotationVersions(ctx, id, u.ID)
	if err != nil || len(versions) != 2 {
		t.Fatalf("versions = %d, %v", len(versions), err)
	}
	if string(versions[0].Values["sentiment"]) != `"positive"` || string(versions[1].Values["sentiment"]) != `"negative"` {
		t.Errorf("versions hold %s, %s", versions[0].Values["sentiment"], versions[1].Values["sentiment"])
	}
	cur, err := f.db.Annotation(ctx, id, u.ID)
	if err != nil || cur.Version != 2 {
		t.Errorf("current = %+v, %v", cur, err)
	}
	// The version rows cannot be changed, even with raw SQL through Loupe's pool.
	if err := f.db.ExecForTest(ctx, `UPDATE annotation_versions SET values_json = '{}'`); err == nil {
		t.Error("annotation_versions accepted an UPDATE")
	}
}

func TestNeighbors(t *testing.T) {
	f := newFixture(t, sentimentConfig, 5, 1)
	ctx := context.Background()
	u := f.labelers[0]
	var ids []string
	for range 3 {
		task, _ := f.db.Next(ctx, f.project, u.ID)
		submit(t, f, u, task.Item.ID, "positive", 0, "")
		ids = append(ids, task.Item.ID)
		f.clock.Add(time.Second)
	}
	prev, next, _ := f.db.Neighbors(ctx, f.project.ID, u.ID, "")
	if prev != ids[2] || next != "" {
		t.Errorf("from the queue: prev %s next %s", prev, next)
	}
	prev, next, _ = f.db.Neighbors(ctx, f.project.ID, u.ID, ids[1])
	if prev != ids[0] || next != ids[2] {
		t.Errorf("from the middle: prev %s next %s", prev, next)
	}
	prev, next, _ = f.db.Neighbors(ctx, f.project.ID, u.ID, ids[0])
	if prev != "" || next != ids[1] {
		t.Errorf("from the first: prev %s next %s", prev, next)
	}
}

// A new config version becomes current: annotations record it, a changed
// overlap reopens or completes items, and a config that shows a field the
// items lack is refused.
func TestUpdateConfig(t *testing.T) {
	f := newFixture(t, sentimentConfig, 3, 2)
	ctx := context.Background()
	u := f.labelers[0]
	task, _ := f.db.Next(ctx, f.project, u.ID)
	if _, _, err := submit(t, f, u, task.Item.ID, "positive", 0, ""); err != nil {
		t.Fatal(err)
	}
	two := strings.Replace(sentimentConfig, "overlap: 1", "overlap: 2", 1)
	cfg, err := blocks.ParseConfig([]byte(two))
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.db.UpdateConfig(ctx, f.project.ID, two, cfg, nil)
	if err != nil || v != 2 {
		t.Fatalf("UpdateConfig = %d, %v; want version 2", v, err)
	}
	p, _ := f.db.ProjectBySlug(ctx, f.project.Slug)
	if p.ConfigVersion != 2 || p.Config.Overlap != 2 || p.CompleteCount != 0 {
		t.Errorf("after overlap 2: version %d overlap %d complete %d; want 2, 2, 0", p.ConfigVersion, p.Config.Overlap, p.CompleteCount)
	}
	// The item annotated once is open again, for the second labeler.
	v2 := f.labelers[1]
	t2, err := f.db.Next(ctx, p, v2.ID)
	if err != nil || t2.Item.ID != task.Item.ID {
		t.Fatalf("second labeler got %v, %v; want the reopened item", t2, err)
	}
	a, _, err := f.db.Submit(ctx, p, f.access(v2), &annotate.Submission{ItemID: t2.Item.ID,
		Values: map[string]json.RawMessage{"sentiment": json.RawMessage(`"negative"`)}})
	if err != nil || a.ConfigVersion != 2 {
		t.Fatalf("submit under version 2: %+v, %v", a, err)
	}
	p, _ = f.db.ProjectBySlug(ctx, f.project.Slug)
	if p.CompleteCount != 1 {
		t.Errorf("complete = %d, want 1", p.CompleteCount)
	}
	// Back to overlap 1: items with one annotation count as complete.
	cfg1, _ := blocks.ParseConfig([]byte(sentimentConfig))
	if _, err := f.db.UpdateConfig(ctx, f.project.ID, sentimentConfig, cfg1, f.admin); err != nil {
		t.Fatal(err)
	}
	p, _ = f.db.ProjectBySlug(ctx, f.project.Slug)
	if p.ConfigVersion != 3 || p.CompleteCount != 1 {
		t.Errorf("after overlap 1: version %d complete %d; want 3, 1", p.ConfigVersion, p.CompleteCount)
	}
	bad := strings.Replace(sentimentConfig, "field: review", `field: "ti\"tle"`, 1)
	cfgBad, err := blocks.ParseConfig([]byte(bad))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.db.UpdateConfig(ctx, f.project.ID, bad, cfgBad, f.admin)
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), `3 items lack the field "ti\"tle"`) {
		t.Errorf("missing field: %v", err)
	}
	if p, _ = f.db.ProjectBySlug(ctx, f.project.Slug); p.ConfigVersion != 3 {
		t.Errorf("a refused config changed the version to %d", p.ConfigVersion)
	}
}
