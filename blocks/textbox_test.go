package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
)

func TestTextboxConfig(t *testing.T) {
	labConfigErrors(t, []labConfigCase{
		{"max too large", "  - type: textbox\n    name: t\n    max_length: 100001\n", "config:5:5: blocks[0].max_length: max_length must be between 1 and 100000 characters, got 100001"},
		{"max zero", "  - type: textbox\n    name: t\n    max_length: 0\n", "config:5:5: blocks[0].max_length: max_length must be between 1 and 100000 characters, got 0"},
		{"negative min", "  - type: textbox\n    name: t\n    min_length: -1\n", "config:5:5: blocks[0].min_length: min_length must not be negative, got -1"},
		{"min above max", "  - type: textbox\n    name: t\n    min_length: 20\n    max_length: 10\n", "config:5:5: blocks[0].min_length: min_length (20) is larger than max_length (10)"},
		{"min above default max", "  - type: textbox\n    name: t\n    min_length: 10001\n", "config:5:5: blocks[0].min_length: min_length (10001) is larger than max_length (10000)"},
		{"empty prefill", "  - type: textbox\n    name: t\n    prefill: \"\"\n", "config:5:5: blocks[0].prefill: prefill names the item field whose text the box starts with"},
		{"multiline not bool", "  - type: textbox\n    name: t\n    multiline: sometimes\n", `config:5:16: blocks[0].multiline: expected true or false, got "sometimes"`},
		{"long placeholder", "  - type: textbox\n    name: t\n    placeholder: " + strings.Repeat("x", 201) + "\n", "config:5:5: blocks[0].placeholder: placeholder is longer than 200 characters"},
		{"unknown field", "  - type: textbox\n    name: t\n    max_lenght: 5\n", `config:5:5: blocks[0].max_lenght: unknown field (did you mean "max_length"?); known fields: help, label, max_length, min_length, multiline, name, placeholder, prefill, required, type, visible_when`},
	})
	tb := labValuer(t, "  - {type: textbox, name: t}\n", "t").(*blocks.Textbox)
	if !tb.Multiline || tb.MaxLength != blocks.DefaultTextMax || tb.MinLength != 0 {
		t.Errorf("defaults: multiline %v, max %d, min %d", tb.Multiline, tb.MaxLength, tb.MinLength)
	}
	tb = labValuer(t, "  - {type: textbox, name: t, multiline: false, max_length: 100000}\n", "t").(*blocks.Textbox)
	if tb.Multiline || tb.MaxLength != blocks.MaxTextMax {
		t.Errorf("multiline %v, max %d", tb.Multiline, tb.MaxLength)
	}
}

// The prefill field is one the interface reads: items without it are
// refused at import.
func TestTextboxPrefillField(t *testing.T) {
	in := mustParse(t, labConfig("  - {type: textbox, name: fixed, prefill: transcript}\n  - {type: textbox, name: note}\n")).Interface()
	if got := in.Fields(); len(got) != 1 || got[0] != "transcript" {
		t.Errorf("fields = %v, want [transcript]", got)
	}
	if err := in.CheckData(map[string]any{"other": "x"}); err == nil {
		t.Error("item without the prefill field accepted")
	}
}

func TestTextboxValue(t *testing.T) {
	v := labValuer(t, "  - {type: textbox, name: t, min_length: 3, max_length: 5}\n", "t")
	labValues(t, v, nil, []labValueCase{
		{"kept as typed", `"  ab "`, `"  ab "`, ""},
		{"CRLF to LF", `"a\r\nb\rc"`, `"a\nb\nc"`, ""},
		{"characters, not bytes", `"héllo"`, `"héllo"`, ""},
		{"five emoji", `"🙂🙂🙂🙂🙂"`, `"🙂🙂🙂🙂🙂"`, ""},
		{"empty is no value", `""`, `""`, ""},
		{"whitespace is no value", `" \n\t "`, `""`, ""},
		{"too short", `"ab"`, "", "the text is too short: 2 characters, at least 3 needed"},
		{"too long", `"abcdef"`, "", "the text is too long: 6 characters, at most 5 allowed"},
		{"six emoji", `"🙂🙂🙂🙂🙂🙂"`, "", "too long: 6 characters"},
		{"a number", `42`, "", "expected a text, got 42"},
		{"a list", `["abc"]`, "", "expected a text"},
		{"NUL", `"ab\u0000c"`, "", "the text holds a NUL character"},
		{"invalid UTF-8", "\"ab\xffc\"", "", "the text is not valid UTF-8"},
	})
	// The default limit, and the one at the hard cap.
	v = labValuer(t, "  - {type: textbox, name: t}\n", "t")
	long, _ := json.Marshal(strings.Repeat("é", blocks.DefaultTextMax))
	labValues(t, v, nil, []labValueCase{
		{"at the default max", string(long), string(long), ""},
		{"over the default max", `"` + strings.Repeat("a", blocks.DefaultTextMax+1) + `"`, "", "at most 10000 allowed"},
	})
	// Through the interface, whitespace alone does not satisfy required.
	in := mustParse(t, labConfig("  - {type: textbox, name: t, required: true}\n")).Interface()
	if _, err := in.ValidateValues(values(t, `{"t": "   "}`), nil); err == nil || !strings.Contains(err.Error(), "a value is required") {
		t.Errorf("whitespace for a required textbox: %v", err)
	}
}

func TestTextboxFormAndFlatten(t *testing.T) {
	v := labValuer(t, "  - {type: textbox, name: t}\n", "t")
	labForms(t, v, []labFormCase{
		{"absent", map[string][]string{}, "", ""},
		{"empty", map[string][]string{"b.t": {""}}, "", ""},
		{"whitespace", map[string][]string{"b.t": {" \r\n "}}, "", ""},
		{"text", map[string][]string{"b.t": {"line one\r\nline two\r\n"}}, `"line one\nline two\n"`, ""},
		{"html stays text", map[string][]string{"b.t": {"<b>x</b>"}}, `"\u003cb\u003ex\u003c/b\u003e"`, ""},
		{"two fields", map[string][]string{"b.t": {"a", "b"}}, "", "expected one text, got 2"},
		{"invalid UTF-8", map[string][]string{"b.t": {"a\xffb"}}, "", "not valid UTF-8"},
	})
	if got := labFlatten(v, `"=SUM(A1)\nx"`); got != "==SUM(A1)\nx" {
		t.Errorf("Flatten = %q", got)
	}
}

// A multiline box is a textarea that keeps a leading newline; the prefill
// field's text fills it until there is a value; everything is escaped.
func TestTextboxRender(t *testing.T) {
	src := labConfig(`  - {type: textbox, name: fix, label: "<b>Fix</b>", prefill: asr, placeholder: "<i>type</i>", max_length: 50, min_length: 2, required: true}
  - {type: textbox, name: note, multiline: false}
`)
	data := map[string]any{"asr": "\n</textarea><script>alert(1)</script>"}
	html := labRender(t, src, data, nil)
	labNoneOf(t, html, "<script", "<b>Fix", "<i>type", "</textarea><")
	labAllOf(t, html,
		`<textarea id="blk-fix-text" name="b.fix" rows="5" maxlength="50" minlength="2" placeholder="&lt;i&gt;type&lt;/i&gt;" required>`+"\n\n&lt;/textarea&gt;&lt;script&gt;",
		`<label class="block-label" for="blk-fix-text">&lt;b&gt;Fix&lt;/b&gt; <abbr`,
		`<input type="text" id="blk-note-text" name="b.note" value="" maxlength="10000" autocomplete="off">`)
	html = labRender(t, src, data, values(t, `{"fix": "mine \"quoted\"", "note": "<img src=x onerror=alert(1)>"}`))
	labNoneOf(t, html, "<img", "alert(1)</script>")
	labAllOf(t, html, ">\nmine &#34;quoted&#34;</textarea>", `value="&lt;img src=x onerror=alert(1)&gt;"`)
}
