package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/export"
)

// roundTripConfig has a value of most shapes: a choice, a multi choice,
// spans over the text, free text and a rating.
const roundTripConfig = `title: Round trip
overlap: 2
blocks:
  - type: text
    field: text
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
  - type: multichoice
    name: topics
    options: [price, quality, delivery]
  - type: spans
    name: entities
    field: text
    labels: [PRODUCT, BRAND]
  - type: textbox
    name: note
  - type: rating
    name: stars
    scale: 5
`

// summary is what must survive a round trip: per item (by external id),
// its data and each labeler's values.
func summary(t *testing.T, f *fixture, projectID string) []string {
	t.Helper()
	var out []string
	err := f.db.ExportRecords(context.Background(), projectID, func(r *export.Record) error {
		var anns []string
		for _, a := range r.Annotations {
			var v map[string]any
			json.Unmarshal(a.Values, &v)
			b, _ := json.Marshal(v)
			anns = append(anns, a.User+"="+string(b))
		}
		slices.Sort(anns)
		out = append(out, r.ExternalID+" "+string(r.Data)+" "+strings.Join(anns, " "))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Exporting a project as jsonl or labelstudio and importing the file into
// a new project with the same config keeps every item, every labeler's
// annotation and every value.
func TestExportImportRoundTrip(t *testing.T) {
	f := newFixture(t, roundTripConfig, 0, 2)
	ctx := context.Background()
	var items strings.Builder
	texts := []string{"The Acme kettle is great value", "Slow delivery of the Brightline lamp", "Quality \"okay\", price <high> & more\nsecond line"}
	for i, text := range texts {
		b, _ := json.Marshal(map[string]any{"id": "rt-" + strconv.Itoa(i), "data": map[string]any{"text": text}})
		items.Write(append(b, '\n'))
	}
	mustImport(t, f.db, f.project, items.String())
	answers := []map[string]json.RawMessage{
		{"sentiment": json.RawMessage(`"positive"`), "topics": json.RawMessage(`["price","quality"]`),
			"entities": json.RawMessage(`[{"start":4,"end":8,"label":"BRAND","text":"Acme"}]`), "note": json.RawMessage(`"fine"`), "stars": json.RawMessage(`4`)},
		{"sentiment": json.RawMessage(`"negative"`), "topics": json.RawMessage(`["delivery"]`), "stars": json.RawMessage(`2`)},
	}
	for _, u := range f.labelers {
		for i := range texts {
			task, err := f.db.Next(ctx, f.project, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			values := answers[i%2]
			if i == 0 && u == f.labelers[1] {
				values = answers[1]
			}
			if i != 0 {
				values = map[string]json.RawMessage{"sentiment": json.RawMessage(`"neutral"`), "note": json.RawMessage(`"line one\nline \"two\""`)}
			}
			if _, _, err := f.db.Submit(ctx, f.project, f.access(u), &annotate.Submission{ItemID: task.Item.ID, Values: values}); err != nil {
				t.Fatalf("submit: %v", err)
			}
		}
	}
	want := summary(t, f, f.project.ID)
	if len(want) != 3 {
		t.Fatalf("source project exports %d items", len(want))
	}
	for _, format := range []string{"jsonl", "labelstudio"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			sink := export.NewStreamSink(&buf)
			if _, err := f.db.Export(ctx, f.project, export.Spec{Format: format}, export.Target{Sink: sink}); err != nil {
				t.Fatal(err)
			}
			sink.Close()
			into := mustProject(t, f.db, "copy-"+format, roundTripConfig, f.admin)
			detected, err := annotate.DetectFormat("export."+map[string]string{"jsonl": "jsonl", "labelstudio": "json"}[format], buf.Bytes())
			if err != nil || detected != format {
				t.Errorf("DetectFormat of the %s export = %q, %v", format, detected, err)
			}
			r, err := annotate.NewItemReader(format, bytes.NewReader(buf.Bytes()), annotate.ReadOptions{Interface: into.Config.Interface()})
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.db.ImportItems(ctx, into, r, annotate.ImportOptions{Format: format})
			if err != nil {
				t.Fatalf("import of the %s export: %v\n%s", format, err, buf.Bytes())
			}
			if res.Added != 3 || res.Annotations != 6 {
				t.Errorf("import: %+v, want 3 items and 6 annotations", res)
			}
			got := summary(t, f, into.ID)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("after the round trip:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
