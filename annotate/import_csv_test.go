package annotate_test

import (
	"io"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

func TestCSV(t *testing.T) {
	in := "\xef\xbb\xbfid, text ,lang\r\n" +
		"r1,\"Kettle, blue\",en\r\n" +
		"\r\n" + // blank lines are skipped
		"r2,\"a quote \"\" and\r\na line end\",fr\r\n" +
		"r3,,de\r\n"
	recs, msgs := readItems(t, "csv", in, annotate.ReadOptions{})
	wantMessages(t, "good csv", msgs, nil)
	want := []struct {
		line int
		id   string
		data string
	}{
		{2, "r1", `{"lang":"en","text":"Kettle, blue"}`},
		{4, "r2", `{"lang":"fr","text":"a quote \" and\na line end"}`},
		{6, "r3", `{"lang":"de","text":""}`},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d items, want %d", len(recs), len(want))
	}
	for i, w := range want {
		if r := recs[i]; r.Line != w.line || r.ExternalID != w.id || string(r.DataJSON) != w.data {
			t.Errorf("item %d: line %d id %q data %s; want line %d id %q data %s", i, r.Line, r.ExternalID, r.DataJSON, w.line, w.id, w.data)
		}
	}

	// TSV, no id column: every column is data; the hash matches JSONL's.
	recs, msgs = readItems(t, "tsv", "text\tlang\nhello, world\ten\n", annotate.ReadOptions{})
	wantMessages(t, "tsv", msgs, nil)
	jl, _ := readItems(t, "jsonl", `{"lang": "en", "text": "hello, world"}`, annotate.ReadOptions{})
	if len(recs) != 1 || recs[0].ExternalID != "" || recs[0].Hash != jl[0].Hash {
		t.Errorf("tsv items %+v", recs)
	}

	// A forced id column; "id" is then data like any other column.
	recs, msgs = readItems(t, "csv", "key,id,text\nk1,7,x\n", annotate.ReadOptions{IDColumn: "key"})
	wantMessages(t, "forced id", msgs, nil)
	if len(recs) != 1 || recs[0].ExternalID != "k1" || string(recs[0].DataJSON) != `{"id":"7","text":"x"}` {
		t.Errorf("forced id column: %+v", recs)
	}
	if recs, msgs := readItems(t, "csv", "", annotate.ReadOptions{}); len(recs)+len(msgs) != 0 {
		t.Errorf("empty file: %v %v", recs, msgs)
	}
}

func TestCSVErrors(t *testing.T) {
	tests := []struct {
		name, in string
		opt      annotate.ReadOptions
		items    int
		msgs     []string
	}{
		{"empty header", "id,,text\n1,2,3\n", annotate.ReadOptions{}, 0, []string{"line 1: column 2 has no name; every column needs a header"}},
		{"blank header", "id,text,  \n", annotate.ReadOptions{}, 0, []string{"line 1: column 3 has no name; every column needs a header"}},
		{"duplicate header", "text,id,text\n", annotate.ReadOptions{}, 0, []string{`line 1: column 3 repeats the header "text" of column 1`}},
		{"bad header", "\"te\"xt\",id\n", annotate.ReadOptions{}, 0, []string{`line 1: a quoted cell is not closed, or has a " that is not doubled (column 4); the header row cannot be read, so neither can the rest of the file`}},
		{"header not UTF-8", "te\xffxt\nx\n", annotate.ReadOptions{}, 0, []string{"line 1: header of column 1: not valid UTF-8"}},
		{"no such id column", "a,b\n1,2\n", annotate.ReadOptions{IDColumn: "key"}, 0, []string{`line 1: no column is named "key" to give the ids; the columns are a, b`}},
		// A quoted line end: the errors after it name the right lines.
		{"rows", "id,text\n" +
			"1,\"two\nlines\"\n" + // lines 2-3
			"2,x,extra\n" + // line 4
			"3\n" + // line 5
			",empty id\n" + // line 6
			"5,bare \"quote\n" + // line 7
			"6,\"nul \x00\"\n" + // line 8
			"7,\"bad \xff\"\n" + // line 9
			"8,\"a long\n\nquoted cell\",\n" + // lines 10-12, ragged
			"9,fine\n", // line 13
			annotate.ReadOptions{}, 2, []string{
				"line 4: the row has 3 cells, the header has 2",
				"line 5: the row has 1 cell, the header has 2",
				"line 6: id: must not be empty",
				`line 7: a " in a cell that is not quoted (column 8); quote the whole cell and double the " inside it`,
				`line 8: column "text": holds a NUL byte`,
				`line 9: column "text": not valid UTF-8`,
				"line 10: the row has 3 cells, the header has 2",
			}},
		{"unclosed quote", "id,text\n1,\"open\n2,x\n", annotate.ReadOptions{}, 0, []string{`line 2: a quoted cell is not closed, or has a " that is not doubled (line 3, column 5)`}},
	}
	for _, tt := range tests {
		recs, msgs := readItems(t, "csv", tt.in, tt.opt)
		wantMessages(t, tt.name, msgs, tt.msgs)
		if len(recs) != tt.items {
			t.Errorf("%s: %d items, want %d", tt.name, len(recs), tt.items)
		}
	}
}

// A row over MaxItemBytes, however many lines its quoted cell spans, stops
// the reading at the line after the last good row.
func TestCSVLongRow(t *testing.T) {
	in := "id,text\n1,\"two\nlines\"\n\n2,\"" + strings.Repeat("many\n", (annotate.MaxItemBytes+8<<10)/5) + "\"\n3,x\n"
	recs, msgs := readItems(t, "csv", in, annotate.ReadOptions{})
	wantMessages(t, "long row", msgs, []string{"line 4: a row is longer than 16777216 bytes; the rest of the file cannot be read"})
	if len(recs) != 1 {
		t.Errorf("%d items, want 1", len(recs))
	}
}

// Many bad rows in a row are each their own row: together they may be far
// longer than MaxItemBytes.
func TestCSVManyBadRows(t *testing.T) {
	bad := "1,bare \"quote\n"
	n := annotate.MaxItemBytes/len(bad) + 1000
	r, err := annotate.NewItemReader("csv", strings.NewReader("id,text\n"+strings.Repeat(bad, n)+"2,fine\n"), annotate.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs++
			if msg := loupe.ErrorMessage(err); !strings.Contains(msg, "not quoted") {
				t.Fatalf("error %d: %s", errs, msg)
			}
			continue
		}
		if rec.ExternalID != "2" || rec.Line != n+2 {
			t.Errorf("item %+v", rec)
		}
	}
	if errs != n {
		t.Errorf("%d errors, want %d", errs, n)
	}
}
