package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/loupehq/loupe/export"
)

// readCSV parses an export back, failing on anything encoding/csv
// refuses (ragged rows, bad quoting).
func readCSV(t *testing.T, b []byte) (header []string, rows []map[string]string) {
	t.Helper()
	if !utf8.Valid(b) {
		t.Fatal("csv is not UTF-8")
	}
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Fatal("csv starts with a byte order mark")
	}
	all, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("csv does not parse: %v", err)
	}
	if len(all) == 0 {
		t.Fatal("csv has no header")
	}
	header = all[0]
	for _, r := range all[1:] {
		m := map[string]string{}
		for i, h := range header {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return header, rows
}

// formulaStart reports whether a spreadsheet would run the cell.
func formulaStart(s string) bool {
	t := strings.TrimLeft(s, " ")
	if t == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(t)
	return strings.ContainsRune("=+-@\t\r\n\x00＝＋－＠", r)
}

func TestCSVGolden(t *testing.T) {
	meta, recs := everyKind(t)
	got := exportStream(t, meta, recs, export.Spec{Format: "csv", Aggregate: export.AggregateMajority})
	matchGolden(t, "csv.golden", got)

	header, rows := readCSV(t, got)
	wantHeader := "id,external_id,candidates,image,messages,prompt,response_a,response_b,text,data," +
		"objects,objects.count,sentiment,topics,entities,summary,quality,order,preference,preference.reason," +
		"helpful,note,flag,flag.note,check,check.reason"
	if h := strings.Join(header, ","); h != wantHeader {
		t.Errorf("header\n got %s\nwant %s", h, wantHeader)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (one per item with majority)", len(rows))
	}
	r1, r2, r3, r4 := rows[0], rows[1], rows[2], rows[3]
	checks := []struct{ row, col, want string }{
		{r1["id"], "id", "item-1"},
		{r1["topics"], "topics", ""}, // alice and bob tie on topics
		{r1["sentiment"], "sentiment", "positive"},
		{r1["order"], "order", `["1","0","2"]`}, // list values as JSON
		{r1["objects.count"], "objects.count", "2"},
		{r1["preference"], "preference", "A"},
		{r1["messages"], "messages", `[{"content":"How do I make tea?","role":"user"},{"content":"Boil water, add the tea, wait three minutes.","role":"assistant"}]`},
		{r1["data"], "data", `{"delta":1.5,"height":480,"width":640}`},
		{r2["data"], "data", `{"delta":-2,"height":600,"source":"+evil","tags":["x","=y"],"width":800}`},
		{r2["external_id"], "external_id", `'=cmd|' /C calc'!A0`},
		{r2["note"], "note", `'=HYPERLINK("http://evil","x")`},
		{r2["summary"], "summary", "'@SUM(A1)\nsecond line"},
		{r2["text"], "text", "'=SUM(1+2) \"quoted\", said Bob,\n<script>alert(1)</script> in Berlin."},
		{r2["flag"], "flag", "offensive"},
		{r2["flag.note"], "flag.note", "'-1 script in text"},
		{r2["check.reason"], "check.reason", "wrong\ttab"},
		{r2["topics"], "topics", `["delivery"]`},
		{r3["sentiment"], "sentiment", ""}, // a tie
		{r3["external_id"], "external_id", ""},
		{r4["summary"], "summary", ""}, // majority, not the final answer
		{r4["preference"], "preference", "tie"},
	}
	for _, c := range checks {
		if c.row != c.want {
			t.Errorf("%s = %q, want %q", c.col, c.row, c.want)
		}
	}
	var spans []map[string]any
	if err := json.Unmarshal([]byte(r1["entities"]), &spans); err != nil || len(spans) != 3 {
		t.Errorf("entities %q: %v", r1["entities"], err)
	}
	for i, r := range rows {
		for col, cell := range r {
			if formulaStart(cell) && !isNumber(cell) {
				t.Errorf("row %d, %s: %q would run as a formula", i+1, col, cell)
			}
		}
	}
}

var numberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

func isNumber(s string) bool { return numberRE.MatchString(s) }

// TestCSVInjection is RELIABILITY case 7: cells that start a formula come
// out inert, numbers stay numbers.
func TestCSVInjection(t *testing.T) {
	in := parseInterface(t, "title: c\nblocks:\n  - {type: text, field: text}\n  - {type: comment, name: note}\n")
	cases := []struct{ in, want string }{
		{`=cmd|' /C calc'!A0`, `'=cmd|' /C calc'!A0`},
		{`=10+20+cmd|' /C calc'!A0`, `'=10+20+cmd|' /C calc'!A0`},
		{`=HYPERLINK("http://evil","x")`, `'=HYPERLINK("http://evil","x")`},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"  =1+1", "'  =1+1"},
		{"＝1+1", "'＝1+1"},
		{"'=already quoted", "'=already quoted"},
		{"-2", "-2"}, // a number: left as it is, so the column stays numeric
		{"-0.5e3", "-0.5e3"},
		{"1.5", "1.5"},
		{"- 2", "'- 2"},
		{"-", "'-"},
		{"plain = text", "plain = text"},
	}
	var recs export.Records
	for i, c := range cases {
		it := newItem(t, in, fmt.Sprintf("x-%02d", i), "", int64(i+1), map[string]any{"text": c.in})
		it.annotate(fmt.Sprintf("a-%02d", i), "alice", 1, map[string]any{"note": strings.TrimSpace(c.in) + "!"})
		recs = append(recs, it.rec)
	}
	meta := fixtureMeta(in, "c", "C")
	_, rows := readCSV(t, exportStream(t, meta, recs, export.Spec{Format: "csv", Aggregate: export.AggregateLatest}))
	if len(rows) != len(cases) {
		t.Fatalf("%d rows, want %d", len(rows), len(cases))
	}
	for i, c := range cases {
		if got := rows[i]["text"]; got != c.want {
			t.Errorf("data %q: got %q, want %q", c.in, got, c.want)
		}
		if note := rows[i]["note"]; formulaStart(note) {
			t.Errorf("value %q came out as %q, a formula", c.in, note)
		}
	}
}

func TestCSVSplitsAndEvery(t *testing.T) {
	meta, recs := everyKind(t)
	files, m := exportFiles(t, meta, recs, splitSpec("csv", export.AggregateEvery))
	matchGolden(t, "csv_every_split.golden", goldenFiles(files))
	var header string
	rows := 0
	for _, name := range []string{"train.csv", "validation.csv", "test.csv"} {
		b, ok := files[name]
		if !ok {
			t.Fatalf("no %s; files: %v", name, m.Files)
		}
		h, rs := readCSV(t, b)
		if header == "" {
			header = strings.Join(h, ",")
		} else if strings.Join(h, ",") != header {
			t.Errorf("%s has header %v, others %s", name, h, header)
		}
		split := strings.TrimSuffix(name, ".csv")
		for _, r := range rs {
			if r["split"] != split || r["user"] == "" {
				t.Errorf("%s: split %q, user %q", name, r["split"], r["user"])
			}
		}
		rows += len(rs)
	}
	if len(files) != 3 {
		t.Errorf("files %v, want one per split", m.Files)
	}
	if rows != 8 || m.Rows != 8 {
		t.Errorf("%d rows (manifest %d), want 8: one per annotation", rows, m.Rows)
	}
	if !strings.HasPrefix(header, "id,external_id,split,user,") {
		t.Errorf("header %s", header)
	}
}
