package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
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

// exportDir runs an export (or, with snapshot set and spec nil, the
// snapshot's re-export) into a new folder and returns its files' bytes.
func exportDir(t *testing.T, f *fixture, spec *export.Spec, snapshot string) (map[string][]byte, *export.Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	sink, err := export.NewDirSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	var m *export.Manifest
	if spec == nil {
		m, err = f.db.ExportSnapshot(context.Background(), f.project, snapshot, export.Target{Sink: sink})
	} else {
		m, err = f.db.Export(context.Background(), f.project, *spec, export.Target{Sink: sink, Snapshot: snapshot})
	}
	if err != nil {
		sink.Abort()
		t.Fatalf("export: %v", err)
	}
	if err := sink.Commit(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, file := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, file.Name))
		if err != nil {
			t.Fatal(err)
		}
		files[file.Name] = b
	}
	return files, m
}

func TestSnapshotReexportIsByteIdentical(t *testing.T) {
	f, rita := newReviewFixture(t, reviewedConfig, 12)
	for range 4 {
		label(t, f, f.labelers[0], "positive")
		label(t, f, f.labelers[1], "negative")
		f.clock.Add(time.Minute)
	}
	spec := export.Spec{Format: "jsonl", Split: &export.Split{Parts: []export.SplitPart{{Name: "train", Ratio: 0.75}, {Name: "test", Ratio: 0.25}}, Seed: 7}}
	first, m1 := exportDir(t, f, &spec, "v1")
	if m1.Items == 0 || m1.Snapshot != "v1" || len(first) != 2 {
		t.Fatalf("snapshot v1: %+v, files %d", m1, len(first))
	}

	// The project moves on: new answers, an edit, a review.
	f.clock.Add(time.Hour)
	label(t, f, f.labelers[0], "neutral")
	label(t, f, f.labelers[1], "neutral")
	task, err := f.db.NextReview(context.Background(), f.project, rita.ID)
	if err != nil {
		t.Fatalf("NextReview: %v", err)
	}
	if _, err := f.db.SubmitReview(context.Background(), f.project, rita, &feedback.Review{ItemID: task.Item.ID, Verdict: feedback.VerdictApprove}, task.Revision); err != nil {
		t.Fatal(err)
	}

	again, m2 := exportDir(t, f, nil, "v1")
	if len(again) != len(first) {
		t.Fatalf("re-export has %d files, want %d", len(again), len(first))
	}
	for name, b := range first {
		if !bytes.Equal(again[name], b) {
			t.Errorf("%s differs on re-export:\nfirst %s\nagain %s", name, b, again[name])
		}
	}
	if m2.Items != m1.Items || m2.Rows != m1.Rows {
		t.Errorf("manifests differ: %+v vs %+v", m1, m2)
	}

	// A live export now holds more, and a second snapshot differs.
	_, live := exportDir(t, f, &export.Spec{Format: "jsonl"}, "")
	if live.Items <= m1.Items {
		t.Errorf("live export holds %d items, the snapshot %d: want more", live.Items, m1.Items)
	}
	exportDir(t, f, &export.Spec{Format: "jsonl"}, "v2")
	var changes []string
	counts, err := f.db.DiffSnapshots(context.Background(), f.project.ID, "v1", "v2", func(c storage.SnapshotChange) error {
		changes = append(changes, c.Change+" "+c.ExternalID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts["added"] != live.Items-m1.Items || counts["removed"] != 0 {
		t.Errorf("diff v1 → v2: %v (%q); want %d added", counts, changes, live.Items-m1.Items)
	}

	// The name is taken; an unknown snapshot is not found.
	if _, err := f.db.Export(context.Background(), f.project, spec, export.Target{Sink: export.NewStreamSink(new(bytes.Buffer)), Snapshot: "v1"}); loupe.ErrorCode(err) != loupe.ECONFLICT {
		t.Errorf("snapshot v1 again: %v, want ECONFLICT", err)
	}
	if _, err := f.db.ExportSnapshot(context.Background(), f.project, "nope", export.Target{Sink: export.NewStreamSink(new(bytes.Buffer))}); loupe.ErrorCode(err) != loupe.ENOTFOUND {
		t.Errorf("unknown snapshot: %v, want ENOTFOUND", err)
	}
}

func TestImportIsAtomicAcrossBatches(t *testing.T) {
	f := newFixture(t, sentimentConfig, 0, 1)
	// 5,000 good lines (more than two batches), then a bad one.
	var b strings.Builder
	b.WriteString(reviews(5000))
	b.WriteString(`{"id": "bad", "data": {"other": "no review field"}}` + "\n")
	_, err := f.db.ImportItems(context.Background(), f.project, annotate.NewItemDecoder(strings.NewReader(b.String())), annotate.ImportOptions{})
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), "line 5001:") {
		t.Fatalf("import with a bad last line: %v", err)
	}
	p, err := f.db.ProjectBySlug(context.Background(), f.project.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if p.ItemCount != 0 {
		t.Errorf("after a failed import the project counts %d items", p.ItemCount)
	}
	if task, err := f.db.Next(context.Background(), f.project, f.labelers[0].ID); err == nil && task != nil {
		t.Errorf("after a failed import the queue gives %v", task.Item.ExternalID)
	}
	// The same file without the bad line imports whole, and again adds nothing.
	res := mustImport(t, f.db, f.project, reviews(5000))
	if res.Added != 5000 {
		t.Errorf("import: %+v", res)
	}
	if res := mustImport(t, f.db, f.project, reviews(5000)); res.Added != 0 || res.Unchanged != 5000 {
		t.Errorf("second import: %+v", res)
	}
	if task, err := f.db.Next(context.Background(), f.project, f.labelers[0].ID); err != nil || task == nil {
		t.Errorf("after the import the queue gives nothing: %v", err)
	}
}

func TestImportedAnnotationsKeepTheirLabelers(t *testing.T) {
	f := newFixture(t, sentimentConfig, 0, 0)
	const file = `{"id":"x1","data":{"review":"fine"},"annotations":[{"user":"olga","values":{"sentiment":"positive"},"created_at":"2026-01-02T03:04:05Z"},{"user":"piet","values":{"sentiment":"negative"}}]}
{"id":"x2","data":{"review":"meh"},"annotations":[{"user":"olga","values":{"sentiment":"neutral"}}]}
`
	res := mustImport(t, f.db, f.project, file)
	if res.Added != 2 || res.Annotations != 3 {
		t.Fatalf("import: %+v", res)
	}
	if res := mustImport(t, f.db, f.project, file); res.Annotations != 0 || res.Unchanged != 2 {
		t.Errorf("import again: %+v, want nothing new", res)
	}
	// With an overlap of 1 both items are complete: out of the queue and counted.
	if p, err := f.db.ProjectBySlug(context.Background(), f.project.Slug); err != nil || p.ItemCount != 2 || p.CompleteCount != 2 {
		t.Errorf("project counts %d items, %d complete (%v); want 2 and 2", p.ItemCount, p.CompleteCount, err)
	}
	var lines []string
	err := f.db.ExportRecords(context.Background(), f.project.ID, func(r *export.Record) error {
		var who []string
		for _, a := range r.Annotations {
			who = append(who, a.User+"="+string(a.Values))
		}
		lines = append(lines, r.ExternalID+": "+strings.Join(who, " "))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`x1: olga={"sentiment":"positive"} piet={"sentiment":"negative"}`, `x2: olga={"sentiment":"neutral"}`}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("exported:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if u, err := f.db.UserByName(context.Background(), "olga"); err != nil || !u.Disabled {
		t.Errorf("olga: %+v, %v; want a disabled account", u, err)
	}
	if rep := f.db.VerifyChain(context.Background(), f.project.ID); rep.Err != nil {
		t.Errorf("chain: %v", rep.Err)
	}
}

// pausingReader gives n items, stopping after the first `pause` until
// resume is closed.
type pausingReader struct {
	n, pause, i int
	paused      chan struct{}
	resume      chan struct{}
}

func (r *pausingReader) Next() (*annotate.ItemRecord, error) {
	if r.i == r.pause {
		close(r.paused)
		<-r.resume
	}
	if r.i == r.n {
		return nil, io.EOF
	}
	r.i++
	return annotate.ParseItemLine([]byte(`{"id":"p`+strconv.Itoa(r.i)+`","data":{"review":"paused import `+strconv.Itoa(r.i)+`"}}`), r.i)
}

// While an import runs, its items stay out of the queue and the counts,
// labelers go on, and a second import into the project is refused.
func TestImportInProgressIsHidden(t *testing.T) {
	f := newFixture(t, sentimentConfig, 3, 1)
	ctx := context.Background()
	r := &pausingReader{n: 5000, pause: 4500, paused: make(chan struct{}), resume: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := f.db.ImportItems(ctx, f.project, r, annotate.ImportOptions{})
		done <- err
	}()
	<-r.paused // two batches (4,000 items) are written by now
	for i := range 3 {
		task, err := f.db.Next(ctx, f.project, f.labelers[0].ID)
		if err != nil {
			t.Fatalf("Next %d during the import: %v", i, err)
		}
		if strings.HasPrefix(task.Item.ExternalID, "p") {
			t.Fatalf("Next gave %s, an item of the import in progress", task.Item.ExternalID)
		}
		if _, _, err := submit(t, f, f.labelers[0], task.Item.ID, "positive", 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.db.Next(ctx, f.project, f.labelers[0].ID); !errors.Is(err, annotate.ErrQueueEmpty) {
		t.Errorf("Next after the 3 visible items: %v, want the queue empty", err)
	}
	_, err := f.db.ImportItems(ctx, f.project, annotate.NewItemDecoder(strings.NewReader(reviews(2))), annotate.ImportOptions{})
	if loupe.ErrorCode(err) != loupe.ECONFLICT || !strings.Contains(loupe.ErrorMessage(err), "another import") {
		t.Errorf("a second import during the first: %v, want ECONFLICT", err)
	}
	close(r.resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p, err := f.db.ProjectBySlug(ctx, f.project.Slug); err != nil || p.ItemCount != 5003 {
		t.Errorf("after the import the project counts %d items (%v), want 5003", p.ItemCount, err)
	}
	if task, err := f.db.Next(ctx, f.project, f.labelers[0].ID); err != nil || !strings.HasPrefix(task.Item.ExternalID, "p") {
		t.Errorf("after the import Next gives %v, %v; want an imported item", task, err)
	}
}

// An import a killed process left running is removed, with its hidden
// items, once it has been idle for an hour; a running one is left alone.
func TestDropAbandonedImports(t *testing.T) {
	f := newFixture(t, sentimentConfig, 2, 1)
	ctx := context.Background()
	old, recent := f.clock.Now().Add(-2*time.Hour), f.clock.Now().Add(-time.Minute)
	for _, imp := range []struct {
		id   string
		at   time.Time
		seqs []int
	}{{"imp-old", old, []int{3, 4, 5}}, {"imp-live", recent, nil}} {
		if err := f.db.ExecForTest(ctx, `INSERT INTO imports (id, project_id, status, base_seq, started_at, updated_at) VALUES (?, ?, 'running', 2, ?, ?)`,
			imp.id, f.project.ID, imp.at.Format(time.RFC3339Nano), imp.at.UTC().Format("2006-01-02T15:04:05.000000Z")); err != nil {
			t.Fatal(err)
		}
		for _, seq := range imp.seqs {
			if err := f.db.ExecForTest(ctx, `INSERT INTO items (id, project_id, seq, data, hash, created_at, complete) VALUES (?, ?, ?, '{"review":"hidden"}', ?, '2026-01-01T00:00:00.000000Z', 1)`,
				"hidden-"+strconv.Itoa(seq), f.project.ID, seq, strconv.Itoa(seq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.db.ExecForTest(ctx, `UPDATE item_state_counts SET n = n + 3 WHERE project_id = ? AND state = 'pending'`, f.project.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.db.DropAbandonedImports(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stateCountsByScan(t, f); got["pending"] != 2 {
		t.Errorf("after dropping the abandoned import: %v, want the 2 imported items only", got)
	}
	if counts, _ := f.db.StateCounts(ctx, f.project.ID); counts["pending"] != 2 {
		t.Errorf("kept counts after dropping: %v, want 2 pending", counts)
	}
	var statuses []string
	rows, err := rawDB(t, f.db.Path()).Query(`SELECT id || '=' || status FROM imports WHERE id LIKE 'imp-%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		statuses = append(statuses, s)
	}
	rows.Close()
	if strings.Join(statuses, " ") != "imp-live=running imp-old=failed" {
		t.Errorf("imports: %v, want the old one failed and the live one running", statuses)
	}
	// The live import still blocks another into the project.
	if _, err := f.db.ImportItems(ctx, f.project, annotate.NewItemDecoder(strings.NewReader(reviews(1))), annotate.ImportOptions{}); loupe.ErrorCode(err) != loupe.ECONFLICT {
		t.Errorf("import beside a live one: %v, want ECONFLICT", err)
	}
}
