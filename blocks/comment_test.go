package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
)

const commentYAML = "  - {type: text, field: text}\n  - {type: comment, name: note, label: Comment}\n"

func TestCommentConfig(t *testing.T) {
	labConfigErrors(t, []labConfigCase{
		{"max_length too big", "  - type: comment\n    name: c\n    max_length: 10001\n", "config:5:5: blocks[0].max_length: max_length must be between 1 and 10000 characters, got 10001"},
		{"max_length zero", "  - type: comment\n    name: c\n    max_length: 0\n", "config:5:5: blocks[0].max_length: max_length must be between 1 and 10000 characters, got 0"},
		{"max_length not a number", "  - type: comment\n    name: c\n    max_length: long\n", `config:5:17: blocks[0].max_length: expected a whole number, got "long"`},
		{"long placeholder", "  - type: comment\n    name: c\n    placeholder: " + strings.Repeat("x", 201) + "\n", "config:5:5: blocks[0].placeholder: placeholder is longer than 200 characters"},
		{"unknown field", "  - type: comment\n    name: c\n    max_len: 10\n", `config:5:5: blocks[0].max_len: unknown field; known fields: help, label, max_length, name, placeholder, required, type, visible_when`},
		{"no name", "  - {type: comment}\n", "config:3:5: blocks[0].name: a comment block needs a name: its value is stored under it"},
	})
	if c := labValuer(t, commentYAML, "note").(*blocks.Comment); c.MaxLength != 2000 {
		t.Errorf("default max_length = %d, want 2000", c.MaxLength)
	}
	if c := labValuer(t, "  - {type: comment, name: c, max_length: 10000}\n", "c").(*blocks.Comment); c.MaxLength != 10000 {
		t.Errorf("max_length = %d, want 10000", c.MaxLength)
	}
}

func TestCommentValue(t *testing.T) {
	v := labValuer(t, "  - {type: comment, name: c, max_length: 5}\n", "c")
	labValues(t, v, nil, []labValueCase{
		{"plain", `"fine"`, `"fine"`, ""},
		{"CRLF and CR become LF, ends trimmed", `"  a\r\nb\rc \n"`, `"a\nb\nc"`, ""},
		{"at the limit, in characters", `"ééééé"`, `"ééééé"`, ""},
		{"too long", `"éééééé"`, "", "the comment is too long: 6 characters, at most 5 allowed"},
		{"long only before trimming", `"   abc   "`, `"abc"`, ""},
		{"empty", `""`, `""`, ""},
		{"blank is empty", `" \n\t "`, `""`, ""},
		{"NUL", `"a\u0000b"`, "", "the comment holds a NUL character"},
		{"invalid UTF-8", "\"a\xffb\"", "", "the comment is not valid UTF-8"},
		{"a number", `42`, "", "expected a comment as a text, got 42"},
		{"a list", `["a"]`, "", "expected a comment as a text"},
		{"markup stays text", `"<b>"`, `"\u003cb\u003e"`, ""},
	})
	labForms(t, v, []labFormCase{
		{"nothing", map[string][]string{}, "", ""},
		{"blank", map[string][]string{"b.c": {" \r\n "}}, "", ""},
		{"text", map[string][]string{"b.c": {" line\r\nnext "}}, `"line\nnext"`, ""},
		{"two", map[string][]string{"b.c": {"a", "b"}}, "", "expected one comment, got 2"},
		{"invalid UTF-8", map[string][]string{"b.c": {"\xff"}}, "", "the comment is not valid UTF-8"},
	})
	if got := labFlatten(v, `"a\nb"`); got != "=a\nb" {
		t.Errorf("Flatten = %q", got)
	}
	if got := string(v.(blocks.Decider).ConditionValue(json.RawMessage(`"x"`))); got != `"x"` {
		t.Errorf("ConditionValue = %s", got)
	}
}

// A blank comment is no value: a required comment refuses it, an optional
// one drops it.
func TestCommentRequired(t *testing.T) {
	in := mustParse(t, labConfig("  - {type: comment, name: c, required: true}\n  - {type: comment, name: d}\n")).Interface()
	if _, err := in.ValidateValues(values(t, `{"c": "  \n "}`), nil); err == nil || !strings.Contains(err.Error(), "a value is required") {
		t.Errorf("blank required comment: %v", err)
	}
	got, err := in.ValidateValues(values(t, `{"c": "ok", "d": " "}`), nil)
	if b, _ := json.Marshal(got); err != nil || string(b) != `{"c":"ok"}` {
		t.Errorf("ValidateValues = %s, %v", b, err)
	}
}

// A text area with its label; the comment, label and placeholder escaped.
func TestCommentRender(t *testing.T) {
	src := labConfig(`  - {type: comment, name: c, label: "<b>Why?</b>", placeholder: "\"><script>x</script>", help: Be brief, required: true, max_length: 300}
  - {type: comment, name: d}
`)
	html := labRender(t, src, nil, values(t, `{"c": "</textarea><img src=x onerror=alert(1)>"}`))
	labNoneOf(t, html, "<b>Why", "<script", "<img", "</textarea><")
	labAllOf(t, html,
		`<label class="block-label" for="blk-c-text">&lt;b&gt;Why?&lt;/b&gt; <abbr class="req" title="required">*</abbr></label>`,
		`<textarea id="blk-c-text" name="b.c" rows="4" maxlength="300" placeholder="&#34;&gt;&lt;script&gt;x&lt;/script&gt;" required aria-describedby="blk-c-help">`+"\n"+`&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt;</textarea>`,
		`<textarea id="blk-d-text" name="b.d" rows="4" maxlength="2000">`+"\n</textarea>")
	// A comment binds no key: keys type there.
	if ks := mustParse(t, src).Interface().Shortcuts(); len(ks) != 0 {
		t.Errorf("shortcuts = %v", ks)
	}
}

func TestCommentLabelStudioAndLLM(t *testing.T) {
	in := mustParse(t, labConfig(commentYAML+"  - {type: comment, name: short, placeholder: \"say <why>\", max_length: 10}\n")).Interface()
	xml, err := blocks.LabelStudioConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<TextArea name="note" toName="text" maxSubmissions="1" editable="true"/>`, `<TextArea name="short" toName="text" maxSubmissions="1" editable="true" placeholder="say &lt;why&gt;"/>`} {
		if !strings.Contains(xml, want) {
			t.Errorf("config\n%s\nlacks %s", xml, want)
		}
	}
	fbLSRoundTrip(t, in, "note", `"two\nlines"`, `[{"from_name":"note","to_name":"text","type":"textarea","value":{"text":["two\nlines"]}}]`, "")
	// Several texts are joined; a plain string is one text.
	got, err := in.FromLabelStudio(lsResults(t, `[{"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": ["a", "b "]}},
		{"from_name": "short", "to_name": "text", "type": "textarea", "value": {"text": " hi "}}]`), nil)
	if b, _ := json.Marshal(got); err != nil || string(b) != `{"note":"a\nb","short":"hi"}` {
		t.Errorf("FromLabelStudio = %s, %v", b, err)
	}
	fbLSError(t, in, `[{"from_name": "short", "to_name": "text", "type": "textarea", "value": {"text": ["much too long"]}}]`, "the comment is too long: 13 characters, at most 10 allowed")

	if got, want := fbSchema(t, in, "note"), `{"description":"Comment. \"\" for no comment.","maxLength":2000,"type":"string"}`; got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	for _, tt := range []struct{ answer, want string }{
		{`{"note": "clear\r\nanswer"}`, `"clear\nanswer"`},
		{`{"note": ""}`, ""},
		{`{"note": "  "}`, ""},
	} {
		if got, err := fbLLM(t, in, "note", tt.answer); err != nil || got != tt.want {
			t.Errorf("FromLLM(%s) = %s, %v; want %s", tt.answer, got, err, tt.want)
		}
	}
	if _, err := fbLLM(t, in, "short", `{"short": "far too long"}`); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("FromLLM of a long comment: %v", err)
	}
}
