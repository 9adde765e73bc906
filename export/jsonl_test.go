package export_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/export"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func records() []*export.Record {
	t0 := time.Date(2026, 11, 24, 10, 2, 11, 520000000, time.UTC)
	return []*export.Record{
		{ItemID: "item-1", ExternalID: "review-001", Data: json.RawMessage(`{"review":"Great \u003cb\u003ekettle\u003c/b\u003e"}`),
			Annotations: []export.Annotation{
				{ID: "ann-1", User: "alice", Version: 2, ConfigVersion: 1, Values: json.RawMessage(`{"sentiment":"positive"}`), LeadMS: 5120, CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)},
				{ID: "ann-2", User: "bob \"the\" labeler", Version: 1, ConfigVersion: 1, Values: json.RawMessage(`{"sentiment":"neutral"}`), CreatedAt: t0, UpdatedAt: t0},
			}, State: "approved", Final: json.RawMessage(`{"sentiment":"positive"}`)},
		{ItemID: "item-2", Data: json.RawMessage(`{"review":"line\nbreak \u2028"}`),
			Annotations: []export.Annotation{{ID: "ann-3", User: "alice", Version: 1, ConfigVersion: 2, Values: json.RawMessage(`{}`), CreatedAt: t0, UpdatedAt: t0}}},
	}
}

func TestJSONLGolden(t *testing.T) {
	var buf bytes.Buffer
	sink := export.NewStreamSink(&buf)
	meta := &export.Meta{Project: "p", Interface: sentimentInterface(t), CreatedAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	m, err := export.Run(context.Background(), export.Records(records()), export.Spec{Format: "jsonl"}, meta, sink, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	if m.Items != 2 || m.Rows != 2 || len(m.Files) != 1 || m.Files[0].Name != "data.jsonl" || m.Files[0].Bytes != int64(buf.Len()) {
		t.Errorf("manifest %+v", m)
	}
	const golden = "testdata/export.jsonl.golden"
	if *update {
		os.WriteFile(golden, buf.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("export differs from %s:\n got %s\nwant %s", golden, buf.Bytes(), want)
	}
	// Every line is valid JSON that decodes to the record.
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		var v struct {
			ID          string  `json:"id"`
			ExternalID  *string `json:"external_id"`
			Annotations []struct {
				User    string         `json:"user"`
				Version int            `json:"version"`
				Values  map[string]any `json:"values"`
			} `json:"annotations"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %d is not JSON: %v", i+1, err)
		}
		r := records()[i]
		if v.ID != r.ItemID || len(v.Annotations) != len(r.Annotations) || v.Annotations[0].User != r.Annotations[0].User {
			t.Errorf("line %d decodes to %+v", i+1, v)
		}
		if (r.ExternalID == "") != (v.ExternalID == nil) {
			t.Errorf("line %d: external_id %v for %q", i+1, v.ExternalID, r.ExternalID)
		}
	}
}

func sentimentInterface(t testing.TB) *blocks.Interface {
	t.Helper()
	cfg, err := blocks.ParseConfig([]byte(`title: Sentiment
blocks:
  - type: text
    field: review
  - type: choice
    name: sentiment
    options: [positive, negative, neutral]
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Interface()
}

func TestLookupFormat(t *testing.T) {
	if f, err := export.LookupFormat("jsonl"); err != nil || f.Ext != "jsonl" {
		t.Errorf("jsonl: %+v %v", f, err)
	}
	_, err := export.LookupFormat("xlsx")
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), "known formats: ") || !strings.Contains(loupe.ErrorMessage(err), "jsonl") {
		t.Errorf("xlsx: %v", err)
	}
}

// The full record of the project with every block kind, split: every
// annotation with its suggestions and their outcomes, predictions,
// reviews and final answers.
func TestJSONLEveryKindGolden(t *testing.T) {
	meta, recs := everyKind(t)
	files, m := exportFiles(t, meta, recs, splitSpec("jsonl", export.AggregateMajority))
	matchGolden(t, "jsonl-every-kind.golden", goldenFiles(files))
	if m.Items != len(recs) || len(m.Files) != 3 {
		t.Errorf("manifest: %d items, %d files; want %d items in 3 files (train, validation, test)", m.Items, len(m.Files), len(recs))
	}
	for name, b := range files {
		for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			var rec struct {
				Annotations []struct {
					Suggestions []export.Suggestion `json:"suggestions"`
				} `json:"annotations"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s line %d: %v", name, i+1, err)
			}
		}
	}
	var outcomes []string
	for _, r := range recs {
		for _, a := range r.Annotations {
			for _, s := range a.Suggestions() {
				outcomes = append(outcomes, s.Block+"="+s.Outcome)
			}
		}
	}
	if !strings.Contains(strings.Join(outcomes, " "), export.OutcomeAccepted) || !strings.Contains(strings.Join(outcomes, " "), export.OutcomeEdited) {
		t.Errorf("the fixture's suggestions have outcomes %v; want accepted and edited ones", outcomes)
	}
}
