package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Helpers shared by the tests of the feedback kinds (verdict, thumbs,
// comment, flag).

// needRefs skips a test of what blocks name each other (a verdict's
// target) until the interface runs the Referrer checks: compile must call
// p.checkRefs once every name is known (see blocks/verdict.go).
func needRefs(t *testing.T) {
	t.Helper()
	if _, err := blocks.ParseConfig([]byte(labConfig("  - {type: choice, name: c, options: [a, b]}\n  - {type: verdict, name: v, target: nope}\n"))); err == nil {
		t.Skip("the interface does not check the blocks a verdict names yet: compile must call p.checkRefs (blocks/verdict.go)")
	}
}

// fbLSRoundTrip sends a value to Label Studio results and back: want is
// the results as JSON, back the value that returns ("" for the value
// itself).
func fbLSRoundTrip(t *testing.T, in *blocks.Interface, name, value, want, back string) {
	t.Helper()
	data := map[string]any{"text": "hello"}
	rs, err := in.ToLabelStudio(map[string]json.RawMessage{name: json.RawMessage(value)}, data)
	if err != nil {
		t.Fatalf("ToLabelStudio(%s): %v", value, err)
	}
	if got, _ := json.Marshal(rs); string(got) != want {
		t.Errorf("ToLabelStudio(%s) =\n%s\nwant\n%s", value, got, want)
	}
	if back == "" {
		back = value
	}
	got, err := in.FromLabelStudio(wire(t, rs), data)
	if err != nil {
		t.Fatalf("FromLabelStudio: %v", err)
	}
	if string(got[name]) != back || len(got) != 1 {
		t.Errorf("round trip of %s = %s, want %s", value, got, back)
	}
}

// fbLSError checks that Label Studio results are refused with msg.
func fbLSError(t *testing.T, in *blocks.Interface, results, msg string) {
	t.Helper()
	_, err := in.FromLabelStudio(lsResults(t, results), map[string]any{"text": "hello"})
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), msg) {
		t.Errorf("FromLabelStudio(%s): %v\nwant EINVALID with %q", results, err, msg)
	}
}

// fbSchema returns the JSON Schema of one block's part of an LLM answer.
func fbSchema(t *testing.T, in *blocks.Interface, name string) string {
	t.Helper()
	s, err := in.JSONSchema([]string{name})
	if err != nil {
		t.Fatalf("JSONSchema: %v", err)
	}
	b, _ := json.Marshal(s["properties"].(map[string]any)[name])
	return string(b)
}

// fbLLM turns an LLM's answer for one block into its value ("" for none).
func fbLLM(t *testing.T, in *blocks.Interface, name, answer string) (string, error) {
	t.Helper()
	got, err := in.FromLLM(json.RawMessage(answer), []string{name}, map[string]any{"text": "hello"})
	return string(got[name]), err
}

const verdictYAML = `  - {type: text, field: text}
  - {type: choice, name: sentiment, label: Sentiment, options: [pos, neg]}
  - {type: verdict, name: v, target: sentiment}
`

func TestVerdictConfig(t *testing.T) {
	const choice = "  - {type: choice, name: sentiment, options: [pos, neg]}\n"
	labConfigErrors(t, []labConfigCase{
		{"no target", choice + "  - {type: verdict, name: v}\n", "config:4:5: blocks[1].target: a verdict needs a target: the name of the block whose answer it accepts, rejects or corrects"},
		{"empty target", choice + "  - type: verdict\n    name: v\n    target: \"\"\n", "config:6:5: blocks[1].target: a verdict needs a target: the name of the block whose answer it accepts, rejects or corrects"},
		{"itself", choice + "  - type: verdict\n    name: v\n    target: v\n", "config:6:5: blocks[1].target: a verdict cannot be about itself: name the block whose answer it judges"},
		{"bad reason mode", choice + "  - type: verdict\n    name: v\n    target: sentiment\n    reason: maybe\n", `config:7:5: blocks[1].reason: reason must be none, optional or required, got "maybe"`},
		{"reasons with none", choice + "  - type: verdict\n    name: v\n    target: sentiment\n    reason: none\n    reasons: [wrong label]\n", "config:8:5: blocks[1].reasons: reasons are listed, but reason is none: drop the list or make the reason optional or required"},
		{"empty reasons", choice + "  - type: verdict\n    name: v\n    target: sentiment\n    reasons: []\n", "config:7:5: blocks[1].reasons: must not be empty: list at least one reason"},
		{"duplicate reason", choice + "  - type: verdict\n    name: v\n    target: sentiment\n    reasons: [typo, typo]\n", `config:7:5: blocks[1].reasons: reason "typo" is listed twice`},
		{"reason with a key", choice + "  - type: verdict\n    name: v\n    target: sentiment\n    reasons: [{value: typo, key: t}]\n", `config:7:5: blocks[1].reasons: reason "typo": reasons are picked from a list and take no key or color`},
		{"allow_correct not bool", choice + "  - type: verdict\n    name: v\n    target: sentiment\n    allow_correct: sometimes\n", `config:7:20: blocks[1].allow_correct: expected true or false, got "sometimes"`},
		{"unknown field", choice + "  - type: verdict\n    name: v\n    target: sentiment\n    allow_corect: false\n", `config:7:5: blocks[1].allow_corect: unknown field (did you mean "allow_correct"?); known fields: allow_correct, help, label, name, reason, reasons, required, target, type, visible_when`},
		{"no name", choice + "  - {type: verdict, target: sentiment}\n", "config:4:5: blocks[1].name: a verdict block needs a name: its value is stored under it"},
	})
	v := labValuer(t, verdictYAML, "v").(*blocks.Verdict)
	if !v.AllowCorrect || v.Reason != "optional" || v.Required {
		t.Errorf("defaults: %+v", v)
	}
}

// The target is checked once every block is known: it must exist, have a
// value, and not be feedback itself.
func TestVerdictTarget(t *testing.T) {
	needRefs(t)
	const choice = "  - {type: choice, name: sentiment, options: [pos, neg]}\n"
	labConfigErrors(t, []labConfigCase{
		{"unknown, with a suggestion", choice + "  - type: verdict\n    name: v\n    target: sentimnt\n",
			`config:6:5: blocks[1].target: no block named "sentimnt" (did you mean "sentiment"?); blocks a verdict can be about: sentiment`},
		{"unknown, nothing close", choice + "  - {type: verdict, name: v, target: quality}\n",
			`config:4:30: blocks[1].target: no block named "quality"; blocks a verdict can be about: sentiment`},
		{"a later block may be the target; a feedback block may not", "  - {type: verdict, name: v, target: up}\n" + choice + "  - {type: thumbs, name: up}\n",
			`config:3:30: blocks[0].target: block "up" is a thumbs, a feedback block: a verdict judges the answer of a labeling block; blocks a verdict can be about: sentiment`},
		{"another verdict", choice + "  - {type: verdict, name: v, target: sentiment}\n  - {type: verdict, name: w, target: v}\n",
			`config:5:30: blocks[2].target: block "v" is a verdict, a feedback block: a verdict judges the answer of a labeling block; blocks a verdict can be about: sentiment`},
		{"a display block", "  - {type: text, name: body, field: text}\n" + choice + "  - {type: verdict, name: v, target: body}\n",
			`config:5:30: blocks[2].target: block "body" is a text, which has no value to judge; blocks a verdict can be about: sentiment`},
		{"nothing to judge", "  - {type: comment, name: note}\n  - {type: verdict, name: v, target: note2}\n",
			`config:4:30: blocks[1].target: no block named "note2"; the interface has no labeling block for a verdict to be about`},
		{"inside a group", "  - type: group\n    blocks:\n      - {type: verdict, name: v, target: sentimen}\n" + choice,
			`config:5:34: blocks[0].blocks[0].target: no block named "sentimen" (did you mean "sentiment"?); blocks a verdict can be about: sentiment`},
	})
	// A target in a group, after the verdict, is found; the page names it
	// by its label.
	in := mustParse(t, labConfig("  - {type: verdict, name: v, target: spans}\n  - type: group\n    blocks:\n      - {type: spans, name: spans, label: Entities, field: text, labels: [PER]}\n")).Interface()
	vb, _ := in.Valuer("v")
	if got := vb.(*blocks.Verdict).Heading(); got != "Verdict on Entities" {
		t.Errorf("Heading = %q", got)
	}
}

func TestVerdictValue(t *testing.T) {
	v := labValuer(t, verdictYAML, "v")
	labValues(t, v, nil, []labValueCase{
		{"accept", `{"verdict": "accept"}`, `{"verdict":"accept"}`, ""},
		{"reject with a reason", `{"verdict": "reject", "reason": "  wrong label \r\nclearly "}`, `{"verdict":"reject","reason":"wrong label \nclearly"}`, ""},
		{"correct, empty reason", `{"verdict": "correct", "reason": ""}`, `{"verdict":"correct"}`, ""},
		{"unknown verdict", `{"verdict": "maybe"}`, "", `"maybe" is not a verdict; choose one of "accept", "reject", "correct"`},
		{"upper case", `{"verdict": "Accept"}`, "", `"Accept" is not a verdict`},
		{"no verdict", `{"reason": "x"}`, "", `choose one of "accept", "reject", "correct"`},
		{"a string", `"accept"`, "", `expected {"verdict": accept|reject|correct, "reason": "..."}, got "accept"`},
		{"unknown field", `{"verdict": "accept", "why": "x"}`, "", `expected {"verdict"`},
		{"two objects", `{"verdict": "accept"} {}`, "", `expected {"verdict"`},
		{"verdict not a string", `{"verdict": true}`, "", `expected {"verdict"`},
		{"reason at the limit", `{"verdict": "reject", "reason": "` + strings.Repeat("é", 500) + `"}`, `{"verdict":"reject","reason":"` + strings.Repeat("é", 500) + `"}`, ""},
		{"reason too long", `{"verdict": "reject", "reason": "` + strings.Repeat("é", 501) + `"}`, "", "the reason is too long: 501 characters, at most 500 allowed"},
		{"reason with NUL", `{"verdict": "reject", "reason": "a\u0000b"}`, "", "the reason holds a NUL character"},
		{"invalid UTF-8", "{\"verdict\": \"reject\", \"reason\": \"\xff\"}", "", "not valid UTF-8"},
	})
	v = labValuer(t, "  - {type: choice, name: c, options: [a, b]}\n  - {type: verdict, name: v, target: c, allow_correct: false, reason: required}\n", "v")
	labValues(t, v, nil, []labValueCase{
		{"correct not allowed", `{"verdict": "correct", "reason": "x"}`, "", `"correct" is not allowed here; choose one of "accept", "reject"`},
		{"reason required", `{"verdict": "accept"}`, "", "a reason is required"},
		{"blank reason", `{"verdict": "accept", "reason": " \n "}`, "", "a reason is required"},
		{"with a reason", `{"verdict": "reject", "reason": "off by one"}`, `{"verdict":"reject","reason":"off by one"}`, ""},
	})
	v = labValuer(t, "  - {type: choice, name: c, options: [a, b]}\n  - {type: verdict, name: v, target: c, reason: none}\n", "v")
	labValues(t, v, nil, []labValueCase{
		{"reason given", `{"verdict": "accept", "reason": "x"}`, "", "this verdict takes no reason"},
		{"no reason", `{"verdict": "correct"}`, `{"verdict":"correct"}`, ""},
	})
	v = labValuer(t, "  - {type: choice, name: c, options: [a, b]}\n  - {type: verdict, name: v, target: c, reasons: [wrong label, {value: unsure, label: Not sure}]}\n", "v")
	labValues(t, v, nil, []labValueCase{
		{"listed reason", `{"verdict": "reject", "reason": "wrong label"}`, `{"verdict":"reject","reason":"wrong label"}`, ""},
		{"unlisted reason", `{"verdict": "reject", "reason": "typo"}`, "", `"typo" is not one of the reasons ("wrong label", "unsure")`},
		{"the label is not the value", `{"verdict": "reject", "reason": "Not sure"}`, "", "is not one of the reasons"},
		{"optional", `{"verdict": "accept"}`, `{"verdict":"accept"}`, ""},
	})
}

func TestVerdictFormAndFlatten(t *testing.T) {
	v := labValuer(t, verdictYAML, "v")
	labForms(t, v, []labFormCase{
		{"nothing", map[string][]string{}, "", ""},
		{"blank reason only", map[string][]string{"b.v.reason": {" "}}, "", ""},
		{"verdict", map[string][]string{"b.v": {"accept"}, "b.v.reason": {""}}, `{"verdict":"accept"}`, ""},
		{"verdict and reason", map[string][]string{"b.v": {"reject"}, "b.v.reason": {" too\r\nvague "}}, `{"verdict":"reject","reason":"too\nvague"}`, ""},
		{"reason without a verdict", map[string][]string{"b.v.reason": {"x"}}, `{"verdict":"","reason":"x"}`, ""},
		{"two verdicts", map[string][]string{"b.v": {"accept", "reject"}}, "", "choose one verdict, not 2"},
		{"two reasons", map[string][]string{"b.v": {"accept"}, "b.v.reason": {"x", "y"}}, "", "give one reason, not 2"},
		{"reason not UTF-8", map[string][]string{"b.v": {"accept"}, "b.v.reason": {"\xff"}}, "", "the reason is not valid UTF-8"},
	})
	// A reason without a verdict reaches the server, which says what is
	// missing.
	if _, err := v.ValidateValue(json.RawMessage(`{"verdict":"","reason":"x"}`), nil); err == nil || !strings.Contains(err.Error(), "choose one of") {
		t.Errorf("reason without a verdict: %v", err)
	}
	if got := labFlatten(v, `{"verdict":"reject","reason":"wrong"}`); got != "=reject\n.reason=wrong" {
		t.Errorf("Flatten = %q", got)
	}
	if got := labFlatten(v, `{"verdict":"accept"}`); got != "=accept\n.reason=" {
		t.Errorf("Flatten = %q", got)
	}
}

// A condition on a verdict compares the verdict: a block shown on reject
// takes a value only then.
func TestVerdictCondition(t *testing.T) {
	v := labValuer(t, verdictYAML, "v").(*blocks.Verdict)
	if got := string(v.ConditionValue(json.RawMessage(`{"verdict":"reject","reason":"x"}`))); got != `"reject"` {
		t.Errorf("ConditionValue = %s", got)
	}
	if got := v.ConditionValue(json.RawMessage(`{}`)); got != nil {
		t.Errorf("ConditionValue of no verdict = %s", got)
	}
	in := mustParse(t, labConfig(verdictYAML+"  - {type: comment, name: why, required: true, visible_when: {block: v, equals: reject}}\n")).Interface()
	data := map[string]any{"text": "x"}
	for _, tt := range []struct{ values, field, msg string }{
		{`{"v": {"verdict": "accept"}}`, "", ""},
		{`{"v": {"verdict": "reject"}}`, "values.why", "a value is required"},
		{`{"v": {"verdict": "reject"}, "why": "it is neutral"}`, "", ""},
		{`{"v": {"verdict": "accept"}, "why": "x"}`, "values.why", `this block is hidden (it is shown only when v is "reject")`},
		{`{"why": "x"}`, "values.why", "this block is hidden"},
	} {
		_, err := in.ValidateValues(values(t, tt.values), data)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.values, err)
			}
			continue
		}
		if loupe.ErrorField(err) != tt.field || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
			t.Errorf("%s: err = %v, want %s: %q", tt.values, err, tt.field, tt.msg)
		}
	}
}

// Keys a, x and e when free (never the page's s, c or r); after a pairwise
// that took a and x, accept and reject take keys of the pool.
func TestVerdictKeys(t *testing.T) {
	keysOf := func(src string) string {
		var out []string
		for _, s := range mustParse(t, labConfig(src)).Interface().Shortcuts() {
			out = append(out, s.Key+"="+s.Action)
		}
		return strings.Join(out, ",")
	}
	if got, want := keysOf("  - {type: choice, name: c, options: [pos, neg]}\n  - {type: verdict, name: v, target: c}\n"), "1=choose pos,2=choose neg,a=accept c,x=reject c,e=mark as corrected: c"; got != want {
		t.Errorf("keys = %s\nwant %s", got, want)
	}
	if got, want := keysOf("  - {type: pairwise, name: p}\n  - {type: verdict, name: v, label: \"Model right?\", target: p, allow_correct: false}\n"),
		"a=p: prefer A,b=p: prefer B,t=p: tie,x=p: both bad,1=Model right?: accept p,2=Model right?: reject p"; got != want {
		t.Errorf("keys = %s\nwant %s", got, want)
	}
}

// Radios accept, reject (and correct), the reason as a select or a text
// field, a link to the target; everything escaped.
func TestVerdictRender(t *testing.T) {
	src := labConfig(`  - {type: choice, name: c, options: [a, b]}
  - {type: verdict, name: v, target: c, label: "<b>Right?</b>", required: true, reason: required}
  - {type: verdict, name: w, target: c, allow_correct: false, reasons: ["<script>alert(1)</script>", wrong]}
  - {type: verdict, name: n, target: c, reason: none, help: "<i>judge</i>"}
`)
	vals := values(t, `{"v": {"verdict": "correct", "reason": "\"><img src=x onerror=alert(1)>"}, "w": {"verdict": "reject", "reason": "wrong"}}`)
	html := labRender(t, src, nil, vals)
	labNoneOf(t, html, "<b>Right", "<script", "<img", "<i>judge", `name="b.n.reason"`, `name="b.w" value="correct"`)
	labAllOf(t, html,
		`<legend class="block-label">&lt;b&gt;Right?&lt;/b&gt; <abbr class="req" title="required">*</abbr></legend>`,
		`<input type="radio" name="b.v" value="accept" data-key="a" required><kbd>a</kbd><span class="verdict-icon" aria-hidden="true">✓</span><span>Accept</span>`,
		`<input type="radio" name="b.v" value="correct" data-key="e" checked required>`,
		`<a href="#blk-c">c</a>. “Correct it” means you changed its answer in this form.`,
		`<input type="text" id="blk-v-reason" name="b.v.reason" value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" maxlength="500" autocomplete="off" required>`,
		`<legend class="block-label">Verdict on c</legend>`,
		`<select id="blk-w-reason" name="b.w.reason">`,
		`<option value="">No reason</option><option value="&lt;script&gt;alert(1)&lt;/script&gt;">&lt;script&gt;alert(1)&lt;/script&gt;</option><option value="wrong" selected>wrong</option>`,
		`name="b.w" value="reject"`,
		`<p class="help">&lt;i&gt;judge&lt;/i&gt;</p>`)
}

func TestVerdictLabelStudio(t *testing.T) {
	in := mustParse(t, labConfig(verdictYAML)).Interface()
	xml, err := blocks.LabelStudioConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `  <Choices name="v" toName="text" choice="single">
    <Choice value="accept"/>
    <Choice value="reject"/>
    <Choice value="correct"/>
  </Choices>
`; !strings.Contains(xml, want) {
		t.Errorf("config\n%s\nlacks\n%s", xml, want)
	}
	for _, verdict := range []string{"accept", "reject", "correct"} {
		fbLSRoundTrip(t, in, "v", `{"verdict":"`+verdict+`"}`, `[{"from_name":"v","to_name":"text","type":"choices","value":{"choices":["`+verdict+`"]}}]`, "")
	}
	// Label Studio carries no reason.
	fbLSRoundTrip(t, in, "v", `{"verdict":"reject","reason":"wrong"}`, `[{"from_name":"v","to_name":"text","type":"choices","value":{"choices":["reject"]}}]`, `{"verdict":"reject"}`)
	fbLSError(t, in, `[{"from_name": "v", "to_name": "text", "type": "choices", "value": {"choices": ["accept", "reject"]}}]`, `a verdict takes one choice; Label Studio gave 2 ("accept", "reject")`)
	fbLSError(t, in, `[{"from_name": "v", "to_name": "text", "type": "choices", "value": {"choices": ["maybe"]}}]`, `block "v": "maybe" is not a verdict`)
	in = mustParse(t, labConfig("  - {type: choice, name: c, options: [a, b]}\n  - {type: verdict, name: v, target: c, allow_correct: false}\n")).Interface()
	xml, _ = blocks.LabelStudioConfig(in)
	if strings.Contains(xml, `"correct"`) {
		t.Errorf("correct offered although not allowed:\n%s", xml)
	}
}

func TestVerdictLLM(t *testing.T) {
	needRefs(t) // the schema names the target by its label
	in := mustParse(t, labConfig(verdictYAML+"  - {type: verdict, name: why, target: sentiment, allow_correct: false, reason: required, reasons: [wrong, {value: unsure, label: Not sure}]}\n")).Interface()
	if got, want := fbSchema(t, in, "v"), `{"additionalProperties":false,"properties":{"reason":{"description":"Why, or \"\" for no reason.","maxLength":500,"type":"string"},"verdict":{"description":"accept: the answer of Sentiment is right; reject: the answer of Sentiment is wrong; correct: the answer of Sentiment was wrong and has been corrected.","enum":["accept","reject","correct"],"type":"string"}},"required":["verdict","reason"],"type":"object"}`; got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	if got, want := fbSchema(t, in, "why"), `{"additionalProperties":false,"properties":{"reason":{"description":"unsure means \"Not sure\". Why: required.","enum":["wrong","unsure"],"type":"string"},"verdict":{"description":"accept: the answer of Sentiment is right; reject: the answer of Sentiment is wrong.","enum":["accept","reject"],"type":"string"}},"required":["verdict","reason"],"type":"object"}`; got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	for _, tt := range []struct{ name, answer, want, err string }{
		{"v", `{"v": {"verdict": "reject", "reason": ""}}`, `{"verdict":"reject"}`, ""},
		{"v", `{"v": {"verdict": "accept", "reason": "looks right"}}`, `{"verdict":"accept","reason":"looks right"}`, ""},
		{"why", `{"why": {"verdict": "reject", "reason": "unsure"}}`, `{"verdict":"reject","reason":"unsure"}`, ""},
		{"why", `{"why": {"verdict": "correct", "reason": "wrong"}}`, "", `block "why": "correct" is not allowed here`},
		{"why", `{"why": {"verdict": "reject", "reason": ""}}`, "", `block "why": a reason is required`},
	} {
		got, err := fbLLM(t, in, tt.name, tt.answer)
		if tt.err != "" {
			if err == nil || !strings.Contains(loupe.ErrorMessage(err), tt.err) {
				t.Errorf("FromLLM(%s) = %s, %v; want an error with %q", tt.answer, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("FromLLM(%s) = %s, %v; want %s", tt.answer, got, err, tt.want)
		}
	}
}
