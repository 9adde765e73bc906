package annotate_test

import (
	"strings"
	"testing"

	"github.com/loupehq/loupe/annotate"
)

func TestTextReader(t *testing.T) {
	in := "\xef\xbb\xbfThe soup was cold.\r\n\n   \n  Kept as written  \nnul \x00 here\nbad \xfe\nlast line without an end"
	long := strings.Repeat("z", annotate.MaxItemBytes+1)
	recs, msgs := readItems(t, "text", in+"\n"+long+"\nafter", annotate.ReadOptions{})
	wantMessages(t, "text", msgs, []string{
		"line 5: holds a NUL byte",
		"line 6: not valid UTF-8",
		"line 8: line is longer than 16777216 bytes",
	})
	want := []struct {
		line int
		data string
	}{
		{1, `{"text":"The soup was cold."}`},
		{4, `{"text":"  Kept as written  "}`},
		{7, `{"text":"last line without an end"}`},
		{9, `{"text":"after"}`},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d items, want %d", len(recs), len(want))
	}
	for i, w := range want {
		if r := recs[i]; r.Line != w.line || string(r.DataJSON) != w.data || r.ExternalID != "" {
			t.Errorf("item %d: line %d data %s, want line %d data %s", i, r.Line, r.DataJSON, w.line, w.data)
		}
	}

	// The field is the interface's text field, or the forced one.
	in2 := mustInterface(t, "title: t\nblocks:\n  - {type: markdown, field: body}\n  - {type: choice, name: c, options: [a, b]}\n")
	recs, _ = readItems(t, "text", "hello", annotate.ReadOptions{Interface: in2})
	if string(recs[0].DataJSON) != `{"body":"hello"}` {
		t.Errorf("markdown field: %s", recs[0].DataJSON)
	}
	recs, _ = readItems(t, "text", "hello", annotate.ReadOptions{Interface: in2, Field: "note"})
	if string(recs[0].DataJSON) != `{"note":"hello"}` {
		t.Errorf("forced field: %s", recs[0].DataJSON)
	}
	in3 := mustInterface(t, "title: t\nblocks:\n  - {type: text, field: title}\n  - {type: spans, name: e, field: body, labels: [X]}\n")
	recs, _ = readItems(t, "text", "hello", annotate.ReadOptions{Interface: in3})
	if string(recs[0].DataJSON) != `{"body":"hello"}` {
		t.Errorf("a spans block's field comes first: %s", recs[0].DataJSON)
	}
}
