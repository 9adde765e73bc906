package export_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/loupehq/loupe/export"
)

// pqEveryRow is a row of the everyKind project's Parquet file, as a
// reader declares it.
type pqEveryRow struct {
	ID         string  `parquet:"id"`
	ExternalID *string `parquet:"external_id,optional"`
	Split      *string `parquet:"split,optional"`
	User       *string `parquet:"user,optional"`
	Data       string  `parquet:"data"`
	Objects    []struct {
		X      float64 `parquet:"x" json:"x"`
		Y      float64 `parquet:"y" json:"y"`
		Width  float64 `parquet:"width" json:"width"`
		Height float64 `parquet:"height" json:"height"`
		Label  string  `parquet:"label" json:"label"`
	} `parquet:"objects,optional,list"`
	Sentiment *string  `parquet:"sentiment,optional"`
	Topics    []string `parquet:"topics,optional,list"`
	Entities  []struct {
		Start int64  `parquet:"start" json:"start"`
		End   int64  `parquet:"end" json:"end"`
		Label string `parquet:"label" json:"label"`
		Text  string `parquet:"text" json:"text"`
	} `parquet:"entities,optional,list"`
	Summary    *string  `parquet:"summary,optional"`
	Quality    *int64   `parquet:"quality,optional"`
	Order      []string `parquet:"order,optional,list"`
	Preference *struct {
		Choice string  `parquet:"choice" json:"choice"`
		Reason *string `parquet:"reason,optional" json:"reason,omitempty"`
	} `parquet:"preference,optional"`
	Helpful *string `parquet:"helpful,optional"`
	Note    *string `parquet:"note,optional"`
	Flag    *struct {
		Reason string  `parquet:"reason" json:"reason"`
		Note   *string `parquet:"note,optional" json:"note,omitempty"`
	} `parquet:"flag,optional"`
	Check *struct {
		Verdict string  `parquet:"verdict" json:"verdict"`
		Reason  *string `parquet:"reason,optional" json:"reason,omitempty"`
	} `parquet:"check,optional"`
}

// values returns the row's block columns as Loupe values: block → JSON,
// null cells left out.
func (r *pqEveryRow) values() map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	put := func(name string, v any, null bool) {
		if null {
			return
		}
		b, _ := json.Marshal(v)
		out[name] = b
	}
	put("objects", r.Objects, r.Objects == nil)
	put("sentiment", r.Sentiment, r.Sentiment == nil)
	put("topics", r.Topics, r.Topics == nil)
	put("entities", r.Entities, r.Entities == nil)
	put("summary", r.Summary, r.Summary == nil)
	put("quality", r.Quality, r.Quality == nil)
	put("order", r.Order, r.Order == nil)
	put("preference", r.Preference, r.Preference == nil)
	put("helpful", r.Helpful, r.Helpful == nil)
	put("note", r.Note, r.Note == nil)
	put("flag", r.Flag, r.Flag == nil)
	put("check", r.Check, r.Check == nil)
	return out
}

func readParquet[T any](t *testing.T, b []byte) []T {
	t.Helper()
	rows, err := parquet.Read[T](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("read parquet: %v", err)
	}
	return rows
}

// TestParquetValues exports every annotation of the everyKind project
// and reads the file back: every value of every block comes back as it
// was, nested ones too.
func TestParquetValues(t *testing.T) {
	meta, recs := everyKind(t)
	files, m := hfExport(t, meta, recs, export.Spec{Format: "parquet", Aggregate: export.AggregateEvery})
	if len(files) != 1 || files["data.parquet"] == nil || m.Rows != 8 {
		t.Fatalf("files %v, %d rows", pqKeys(files), m.Rows)
	}
	rows := readParquet[pqEveryRow](t, files["data.parquet"])
	var want []export.Annotation
	var items []*export.Record
	for _, r := range recs {
		for _, a := range r.Annotations {
			want = append(want, a)
			items = append(items, r)
		}
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		a, rec := want[i], items[i]
		if r.ID != rec.ItemID || r.User == nil || *r.User != a.User || r.Split != nil {
			t.Errorf("row %d: id %s user %v split %v, want %s %s", i+1, r.ID, r.User, r.Split, rec.ItemID, a.User)
		}
		if (rec.ExternalID == "") != (r.ExternalID == nil) || r.ExternalID != nil && *r.ExternalID != rec.ExternalID {
			t.Errorf("row %d: external_id %v, want %q", i+1, r.ExternalID, rec.ExternalID)
		}
		if !pqSameJSON(json.RawMessage(r.Data), rec.Data) {
			t.Errorf("row %d: data %s, want %s", i+1, r.Data, rec.Data)
		}
		var wantValues map[string]json.RawMessage
		json.Unmarshal(a.Values, &wantValues)
		got := r.values()
		for _, name := range pqKeys(wantValues) {
			if !pqSameJSON(got[name], wantValues[name]) {
				t.Errorf("row %d (%s of %s): %s = %s, want %s", i+1, a.User, rec.ItemID, name, got[name], wantValues[name])
			}
		}
		for name := range got {
			if _, ok := wantValues[name]; !ok {
				t.Errorf("row %d: %s = %s, want null", i+1, name, got[name])
			}
		}
	}
}

// TestParquetSchema checks the column order and types a reader sees, and
// the footer's metadata.
func TestParquetSchema(t *testing.T) {
	meta, recs := everyKind(t)
	files, _ := hfExport(t, meta, recs, export.Spec{Format: "parquet"})
	b := files["data.parquet"]
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, field := range f.Schema().Fields() {
		names = append(names, field.Name())
	}
	want := "id external_id split user data objects sentiment topics entities summary quality order preference helpful note flag check"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("columns\n got %s\nwant %s", got, want)
	}
	schema := f.Schema().String()
	for _, s := range []string{
		"required binary id (STRING);",
		"required binary data (JSON);",
		"optional binary sentiment (STRING);",
		"optional group topics (LIST) {",
		"optional int64 quality (INT(64,true));",
		"optional group entities (LIST) {\n\t\trepeated group list {\n\t\t\trequired group element {\n\t\t\t\trequired int64 start (INT(64,true));",
		"optional group objects (LIST) {\n\t\trepeated group list {\n\t\t\trequired group element {\n\t\t\t\trequired double x;",
		"optional group preference {\n\t\trequired binary choice (STRING);\n\t\toptional binary reason (STRING);",
	} {
		if !strings.Contains(schema, s) {
			t.Errorf("schema lacks %q:\n%s", s, schema)
		}
	}
	for k, v := range map[string]string{
		"loupe.project":        "every-kind",
		"loupe.config_version": "3",
		"loupe.aggregate":      "majority",
		"loupe.created_at":     "2026-03-09T12:00:00Z",
		"loupe.models":         `["detr@1.0","ner-small@2026-02","sentiment-bert@v1","topics-lr@3"]`,
	} {
		if got, ok := f.Lookup(k); !ok || got != v {
			t.Errorf("metadata %s = %q, want %q", k, got, v)
		}
	}
	cols, _ := f.Lookup("loupe.columns")
	if !strings.Contains(cols, `"entities":{"block":"entities","kind":"spans"}`) {
		t.Errorf("loupe.columns %s", cols)
	}
	if _, ok := f.Lookup("loupe.unreadable"); ok {
		t.Error("loupe.unreadable set, but every value is readable")
	}
}

// TestParquetSplits writes one file per split, each with its split's
// rows, and the same bytes when exported again.
func TestParquetSplits(t *testing.T) {
	spec := splitSpec("parquet", export.AggregateMajority)
	meta, recs := everyKind(t)
	files, m := hfExport(t, meta, recs, spec)
	want := map[string][]string{"train": {"item-1", "item-4"}, "validation": {"item-2"}, "test": {"item-3"}}
	if len(files) != 3 {
		t.Fatalf("files %v", pqKeys(files))
	}
	for split, ids := range want {
		rows := readParquet[pqEveryRow](t, files[split+".parquet"])
		var got []string
		for _, r := range rows {
			got = append(got, r.ID)
			if r.Split == nil || *r.Split != split || r.User != nil {
				t.Errorf("%s: row %s split %v user %v", split, r.ID, r.Split, r.User)
			}
		}
		if strings.Join(got, " ") != strings.Join(ids, " ") || m.Splits[split].Rows != len(ids) {
			t.Errorf("%s holds %v (manifest %d rows), want %v", split, got, m.Splits[split].Rows, ids)
		}
	}
	// The majority vote: item-3 tied on sentiment, so it has none;
	// item-4's three labelers agree on topics [price] 2 to 1.
	for _, r := range readParquet[pqEveryRow](t, files["test.parquet"]) {
		if r.Sentiment != nil || r.Quality == nil || *r.Quality != 3 {
			t.Errorf("item-3: sentiment %v quality %v", r.Sentiment, r.Quality)
		}
	}
	meta, recs = everyKind(t)
	_, m2 := hfExport(t, meta, recs, spec)
	a, _ := json.Marshal(m.Files)
	b, _ := json.Marshal(m2.Files)
	if !bytes.Equal(a, b) {
		t.Errorf("two exports differ:\n%s\n%s", a, b)
	}
}

// TestParquetRowGroups checks that a large export is written in row
// groups of 10,000 rows, not held in memory whole.
func TestParquetRowGroups(t *testing.T) {
	in := parseInterface(t, choiceOnlyConfig)
	meta := fixtureMeta(in, "big", "Big")
	var recs export.Records
	const n = 25001
	for i := range n {
		recs = append(recs, &export.Record{ItemID: fmt.Sprintf("i%05d", i), Data: json.RawMessage(`{"review":"ok"}`),
			Annotations: []export.Annotation{{ID: fmt.Sprintf("a%05d", i), User: "u", Values: json.RawMessage(`{"sentiment":"positive"}`)}}})
	}
	var buf bytes.Buffer
	sink := export.NewStreamSink(&buf)
	if _, err := export.Run(t.Context(), recs, export.Spec{Format: "parquet"}, meta, sink, export.Options{}); err != nil {
		t.Fatal(err)
	}
	sink.Close()
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, rg := range f.RowGroups() {
		sizes = append(sizes, rg.NumRows())
	}
	if fmt.Sprint(sizes) != "[10000 10000 5001]" || f.NumRows() != n {
		t.Errorf("row groups %v, %d rows", sizes, f.NumRows())
	}
}

// TestParquetUnreadable checks that a value that no longer fits its
// block (the config changed since) is null and counted, not an error.
func TestParquetUnreadable(t *testing.T) {
	in := parseInterface(t, "title: R\nblocks:\n  - {type: text, field: t}\n  - {type: rating, name: stars}\n  - {type: multichoice, name: tags, options: [a, b]}\n")
	recs := export.Records{{ItemID: "x", Data: json.RawMessage(`{"t":"hi"}`), Annotations: []export.Annotation{
		{ID: "a", User: "u", Values: json.RawMessage(`{"stars":"five","tags":["a"]}`)}}}}
	files, _ := hfExport(t, fixtureMeta(in, "r", "R"), recs, export.Spec{Format: "parquet"})
	b := files["data.parquet"]
	type row struct {
		Stars *int64   `parquet:"stars,optional"`
		Tags  []string `parquet:"tags,optional,list"`
	}
	rows := readParquet[row](t, b)
	if len(rows) != 1 || rows[0].Stars != nil || strings.Join(rows[0].Tags, ",") != "a" {
		t.Errorf("rows %+v", rows)
	}
	f, _ := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if got, _ := f.Lookup("loupe.unreadable"); got != `{"stars":1}` {
		t.Errorf("loupe.unreadable %q", got)
	}
}

func TestParquetFormat(t *testing.T) {
	f, err := export.LookupFormat("parquet")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Single || f.Ext != "parquet" || f.Check != nil {
		t.Errorf("format %+v", f)
	}
	// An export with no rows is still a file that readers open.
	meta, _ := everyKind(t)
	files, _ := hfExport(t, meta, export.Records{}, export.Spec{Format: "parquet"})
	if rows := readParquet[pqEveryRow](t, files["data.parquet"]); len(rows) != 0 {
		t.Errorf("empty export holds %v", rows)
	}
}

func pqKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pqSameJSON compares two JSON values by meaning.
func pqSameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// discardSink throws its files away, for benchmarks.
type discardSink struct{}

type discardFile struct{}

func (discardFile) Write(b []byte) (int, error) { return len(b), nil }
func (discardFile) Close() error                { return nil }

func (discardSink) Create(string) (io.WriteCloser, error) { return discardFile{}, nil }

// benchRecords is n items of the everyKind project, copies of its four.
func benchRecords(b *testing.B, n int) (*export.Meta, export.Records) {
	meta, base := everyKind(b)
	recs := make(export.Records, n)
	for i := range recs {
		r := *base[i%len(base)]
		r.ItemID = fmt.Sprintf("%s-%d", r.ItemID, i)
		recs[i] = &r
	}
	return meta, recs
}

// BenchmarkExportFormats exports 10,000 everyKind items with each of
// jsonl, parquet and hf, to compare their cost per item.
func BenchmarkExportFormats(b *testing.B) {
	for _, format := range []string{"jsonl", "parquet", "hf"} {
		b.Run(format, func(b *testing.B) {
			meta, recs := benchRecords(b, 10000)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := export.Run(b.Context(), recs, export.Spec{Format: format}, meta, discardSink{}, export.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/item")
		})
	}
}
