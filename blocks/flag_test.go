package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
)

const flagYAML = "  - {type: text, field: text}\n  - {type: flag, name: flag, reasons: [ambiguous, offensive, {value: broken, label: Broken data}]}\n"

func TestFlagConfig(t *testing.T) {
	labConfigErrors(t, []labConfigCase{
		{"no reasons", "  - {type: flag, name: f}\n", "config:3:5: blocks[0].reasons: must not be empty: list at least one reason"},
		{"empty reasons", "  - type: flag\n    name: f\n    reasons: []\n", "config:5:5: blocks[0].reasons: must not be empty: list at least one reason"},
		{"duplicate reason", "  - type: flag\n    name: f\n    reasons: [spam, spam]\n", `config:5:5: blocks[0].reasons: reason "spam" is listed twice`},
		{"empty reason", "  - type: flag\n    name: f\n    reasons:\n      - spam\n      - \"\"\n", "config:5:5: blocks[0].reasons: the reason at line 7 has an empty value"},
		{"bad key", "  - type: flag\n    name: f\n    reasons: [{value: spam, key: SP}]\n", `config:5:5: blocks[0].reasons: reason "spam": key "SP" must be one lower-case letter or digit`},
		{"reserved key", "  - type: flag\n    name: f\n    reasons: [{value: spam, key: s}]\n", `config:3:5: blocks[0]: key "s" is kept for "skip"; choose another`},
		{"a color", "  - type: flag\n    name: f\n    reasons: [{value: spam, color: \"#ff0000\"}]\n", `config:5:5: blocks[0].reasons: reason "spam": flag reasons take no color`},
		{"note not bool", "  - type: flag\n    name: f\n    reasons: [spam]\n    note: maybe\n", `config:6:11: blocks[0].note: expected true or false, got "maybe"`},
		{"unknown field", "  - type: flag\n    name: f\n    reason: [spam]\n", `config:5:5: blocks[0].reason: unknown field (did you mean "reasons"?); known fields: help, label, name, note, reasons, required, type, visible_when`},
	})
}

func TestFlagValue(t *testing.T) {
	v := labValuer(t, flagYAML, "flag")
	labValues(t, v, nil, []labValueCase{
		{"a reason", `{"reason": "offensive"}`, `{"reason":"offensive"}`, ""},
		{"empty note", `{"reason": "broken", "note": " "}`, `{"reason":"broken"}`, ""},
		{"a note without note: true", `{"reason": "broken", "note": "x"}`, "", "this flag takes no note"},
		{"unknown reason", `{"reason": "spam"}`, "", `"spam" is not one of the reasons ("ambiguous", "offensive", "broken")`},
		{"the label is not the value", `{"reason": "Broken data"}`, "", "is not one of the reasons"},
		{"no reason", `{"note": "x"}`, "", `a flag needs a reason: choose one of "ambiguous", "offensive", "broken"`},
		{"a string", `"ambiguous"`, "", `expected {"reason": "..."} with a reason from "ambiguous", "offensive", "broken", got "ambiguous"`},
		{"unknown field", `{"reason": "ambiguous", "why": "x"}`, "", `expected {"reason": "..."}`},
		{"reason not a string", `{"reason": 1}`, "", `expected {"reason": "..."}`},
		{"invalid UTF-8", "{\"reason\": \"ambiguous\xff\"}", "", "the flag is not valid UTF-8"},
	})
	v = labValuer(t, "  - {type: flag, name: f, note: true, reasons: [ambiguous, offensive]}\n", "f")
	labValues(t, v, nil, []labValueCase{
		{"with a note", `{"reason": "ambiguous", "note": " two readings\r\nboth fine "}`, `{"reason":"ambiguous","note":"two readings\nboth fine"}`, ""},
		{"without a note", `{"reason": "offensive"}`, `{"reason":"offensive"}`, ""},
		{"note at the limit", `{"reason": "offensive", "note": "` + strings.Repeat("ü", 500) + `"}`, `{"reason":"offensive","note":"` + strings.Repeat("ü", 500) + `"}`, ""},
		{"note too long", `{"reason": "offensive", "note": "` + strings.Repeat("ü", 501) + `"}`, "", "the note is too long: 501 characters, at most 500 allowed"},
		{"note with NUL", `{"reason": "offensive", "note": "\u0000"}`, "", "the note holds a NUL character"},
		{"shape in the message", `[]`, "", `expected {"reason": "...", "note": "..."} with a reason from "ambiguous", "offensive"`},
	})
}

func TestFlagFormAndFlatten(t *testing.T) {
	v := labValuer(t, "  - {type: flag, name: f, note: true, reasons: [ambiguous, offensive]}\n", "f")
	labForms(t, v, []labFormCase{
		{"nothing", map[string][]string{}, "", ""},
		{"no flag", map[string][]string{"b.f": {""}, "b.f.note": {""}}, "", ""},
		{"no flag drops the note", map[string][]string{"b.f": {""}, "b.f.note": {"was wrong"}}, "", ""},
		{"reason", map[string][]string{"b.f": {"offensive"}, "b.f.note": {" "}}, `{"reason":"offensive"}`, ""},
		{"reason and note", map[string][]string{"b.f": {"ambiguous"}, "b.f.note": {" sarcasm?\r\n"}}, `{"reason":"ambiguous","note":"sarcasm?"}`, ""},
		{"note without any radio", map[string][]string{"b.f.note": {"hmm"}}, `{"reason":"","note":"hmm"}`, ""},
		{"two reasons", map[string][]string{"b.f": {"ambiguous", "offensive"}}, "", "choose one reason, not 2"},
		{"two notes", map[string][]string{"b.f": {"ambiguous"}, "b.f.note": {"a", "b"}}, "", "give one note, not 2"},
		{"note not UTF-8", map[string][]string{"b.f": {"ambiguous"}, "b.f.note": {"\xff"}}, "", "the note is not valid UTF-8"},
	})
	if _, err := v.ValidateValue(json.RawMessage(`{"reason":"","note":"hmm"}`), nil); err == nil || !strings.Contains(err.Error(), "a flag needs a reason") {
		t.Errorf("note without a reason: %v", err)
	}
	if got := labFlatten(v, `{"reason":"ambiguous","note":"two readings"}`); got != "=ambiguous\n.note=two readings" {
		t.Errorf("Flatten = %q", got)
	}
	if got := labFlatten(v, `{"reason":"offensive"}`); got != "=offensive\n.note=" {
		t.Errorf("Flatten = %q", got)
	}
}

// A condition on a flag compares its reason.
func TestFlagCondition(t *testing.T) {
	f := labValuer(t, flagYAML, "flag").(*blocks.Flag)
	if got := string(f.ConditionValue(json.RawMessage(`{"reason":"offensive","note":"x"}`))); got != `"offensive"` {
		t.Errorf("ConditionValue = %s", got)
	}
	if got := f.ConditionValue(json.RawMessage(`{}`)); got != nil {
		t.Errorf("ConditionValue of no reason = %s", got)
	}
	in := mustParse(t, labConfig(flagYAML+"  - {type: comment, name: what, visible_when: {block: flag, in: [broken, ambiguous]}}\n")).Interface()
	if _, err := in.ValidateValues(values(t, `{"flag": {"reason": "broken"}, "what": "field 3 is empty"}`), nil); err != nil {
		t.Errorf("broken with a comment: %v", err)
	}
	if _, err := in.ValidateValues(values(t, `{"flag": {"reason": "offensive"}, "what": "x"}`), nil); err == nil || !strings.Contains(err.Error(), "hidden") {
		t.Errorf("offensive with a comment: %v", err)
	}
}

// One key per reason from the shared pool, or the one the config gives.
func TestFlagKeys(t *testing.T) {
	var got []string
	for _, s := range mustParse(t, labConfig("  - {type: choice, name: c, options: [a, b]}\n  - {type: flag, name: f, label: Problem, reasons: [ambiguous, {value: rude, key: o}]}\n")).Interface().Shortcuts() {
		got = append(got, s.Key+"="+s.Action)
	}
	if want := "1=choose a,2=choose b,3=Problem: flag as ambiguous,o=Problem: flag as rude"; strings.Join(got, ",") != want {
		t.Errorf("keys = %s\nwant %s", strings.Join(got, ","), want)
	}
}

// A strip of radios, "No flag" first and checked when there is no flag;
// the note when configured; everything escaped.
func TestFlagRender(t *testing.T) {
	src := labConfig(`  - {type: flag, name: f, note: true, reasons: ["<script>alert(1)</script>", {value: rude, label: "<b>Rude</b>"}]}
  - {type: flag, name: g, label: "<i>Report</i>", reasons: [x, y], required: true}
  - {type: flag, name: h, reasons: [x, y]}
`)
	html := labRender(t, src, nil, values(t, `{"f": {"reason": "rude", "note": "\"><img src=x onerror=alert(1)>"}}`))
	labNoneOf(t, html, "<script", "<b>Rude", "<i>Report", "<img", `name="b.g" value=""`, `name="b.h.note"`)
	labAllOf(t, html,
		`<legend class="block-label"><span class="flag-icon" aria-hidden="true">⚑</span> Flag this item</legend>`,
		`<label class="option flag-none"><input type="radio" name="b.f" value=""><span>No flag</span></label>`,
		`<input type="radio" name="b.f" value="&lt;script&gt;alert(1)&lt;/script&gt;" data-key="1"><kbd>1</kbd><span>&lt;script&gt;alert(1)&lt;/script&gt;</span>`,
		`<input type="radio" name="b.f" value="rude" data-key="2" checked><kbd>2</kbd><span>&lt;b&gt;Rude&lt;/b&gt;</span>`,
		`<label for="blk-f-note">Note <span class="muted">(optional)</span></label>`,
		`<input type="text" id="blk-f-note" name="b.f.note" value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" maxlength="500" autocomplete="off">`,
		`&lt;i&gt;Report&lt;/i&gt; <abbr class="req" title="required">*</abbr></legend>`,
		`<input type="radio" name="b.g" value="x" data-key="3" required>`,
		`<label class="option flag-none"><input type="radio" name="b.h" value="" checked><span>No flag</span></label>`)
}

func TestFlagLabelStudioAndLLM(t *testing.T) {
	in := mustParse(t, labConfig(flagYAML+"  - {type: flag, name: noted, note: true, reasons: [a, b]}\n")).Interface()
	xml, err := blocks.LabelStudioConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "  <Choices name=\"flag\" toName=\"text\" choice=\"single\">\n    <Choice value=\"ambiguous\"/>\n    <Choice value=\"offensive\"/>\n    <Choice value=\"broken\"/>\n  </Choices>\n"; !strings.Contains(xml, want) {
		t.Errorf("config\n%s\nlacks\n%s", xml, want)
	}
	fbLSRoundTrip(t, in, "flag", `{"reason":"broken"}`, `[{"from_name":"flag","to_name":"text","type":"choices","value":{"choices":["broken"]}}]`, "")
	// Label Studio carries no note.
	fbLSRoundTrip(t, in, "noted", `{"reason":"a","note":"why"}`, `[{"from_name":"noted","to_name":"text","type":"choices","value":{"choices":["a"]}}]`, `{"reason":"a"}`)
	fbLSError(t, in, `[{"from_name": "flag", "to_name": "text", "type": "choices", "value": {"choices": ["a", "b"]}}]`, `a flag takes one reason; Label Studio gave 2`)
	fbLSError(t, in, `[{"from_name": "flag", "to_name": "text", "type": "choices", "value": {"choices": ["spam"]}}]`, `"spam" is not one of the reasons`)

	if got, want := fbSchema(t, in, "flag"), `{"additionalProperties":false,"properties":{"reason":{"description":"broken means \"Broken data\". \"\" when nothing is wrong with the item.","enum":["ambiguous","offensive","broken",""],"type":"string"}},"required":["reason"],"type":"object"}`; got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	if got, want := fbSchema(t, in, "noted"), `{"additionalProperties":false,"properties":{"note":{"description":"A short note on the flag, or \"\".","maxLength":500,"type":"string"},"reason":{"description":"\"\" when nothing is wrong with the item.","enum":["a","b",""],"type":"string"}},"required":["reason","note"],"type":"object"}`; got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	for _, tt := range []struct{ name, answer, want, err string }{
		{"flag", `{"flag": {"reason": "offensive"}}`, `{"reason":"offensive"}`, ""},
		{"flag", `{"flag": {"reason": ""}}`, "", ""},
		{"noted", `{"noted": {"reason": "", "note": "fine"}}`, "", ""},
		{"noted", `{"noted": {"reason": "b", "note": " odd "}}`, `{"reason":"b","note":"odd"}`, ""},
		{"flag", `{"flag": {"reason": "spam"}}`, "", `block "flag": "spam" is not one of the reasons`},
		{"flag", `{"flag": {"reasn": ""}}`, "", `block "flag": expected {"reason": "..."}`},
	} {
		got, err := fbLLM(t, in, tt.name, tt.answer)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("FromLLM(%s) = %s, %v; want an error with %q", tt.answer, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("FromLLM(%s) = %s, %v; want %s", tt.answer, got, err, tt.want)
		}
	}
}
