package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
)

const thumbsYAML = "  - {type: text, field: text}\n  - {type: thumbs, name: rating, label: Useful answer}\n"

func TestThumbsConfig(t *testing.T) {
	labConfigErrors(t, []labConfigCase{
		{"labels not a mapping", "  - type: thumbs\n    name: t\n    labels: [yes, no]\n", "config:5:13: blocks[0].labels: labels is a mapping: {up: Helpful, down: Not helpful}"},
		{"unknown label", "  - type: thumbs\n    name: t\n    labels: {up: Good, dwn: Bad}\n", `config:5:24: blocks[0].labels: unknown label "dwn" (did you mean "down"?); labels has up and down`},
		{"label given twice", "  - type: thumbs\n    name: t\n    labels:\n      up: Good\n      up: Great\n", "config:7:7: blocks[0].labels: the label of up is given twice"},
		{"label not a text", "  - type: thumbs\n    name: t\n    labels:\n      up: [a]\n", "config:6:11: blocks[0].labels: the label of up must be a text"},
		{"empty label", "  - type: thumbs\n    name: t\n    labels:\n      up: \"\"\n", "config:6:11: blocks[0].labels.up: the label of up is empty"},
		{"long label", "  - type: thumbs\n    name: t\n    labels:\n      down: " + strings.Repeat("x", 101) + "\n", "config:6:13: blocks[0].labels.down: the label of down is longer than 100 characters"},
		{"same labels", "  - type: thumbs\n    name: t\n    labels: {up: Fine, down: Fine}\n", `config:5:5: blocks[0].labels: up and down are both labeled "Fine": the two thumbs need different labels`},
		{"required not bool", "  - type: thumbs\n    name: t\n    required: yes please\n", `config:5:15: blocks[0].required: expected true or false, got "yes please"`},
		{"unknown field", "  - type: thumbs\n    name: t\n    label_up: Good\n", "config:5:5: blocks[0].label_up: unknown field; known fields: help, label, labels, name, required, type, visible_when"},
	})
	th := labValuer(t, thumbsYAML, "rating").(*blocks.Thumbs)
	if th.Labels.Up != "Helpful" || th.Labels.Down != "Not helpful" {
		t.Errorf("default labels: %+v", th.Labels)
	}
	th = labValuer(t, "  - {type: thumbs, name: t, labels: {down: Wrong}}\n", "t").(*blocks.Thumbs)
	if th.Labels.Up != "Helpful" || th.Labels.Down != "Wrong" {
		t.Errorf("labels: %+v", th.Labels)
	}
}

func TestThumbsValue(t *testing.T) {
	v := labValuer(t, thumbsYAML, "rating")
	labValues(t, v, nil, []labValueCase{
		{"up", `"up"`, `"up"`, ""},
		{"down", ` "down" `, `"down"`, ""},
		{"sideways", `"sideways"`, "", `"sideways" is not a thumb; choose "up" or "down"`},
		{"upper case", `"Up"`, "", `"Up" is not a thumb`},
		{"the label is not the value", `"Helpful"`, "", `"Helpful" is not a thumb`},
		{"a boolean", `true`, "", `expected "up" or "down", got true`},
		{"a number", `1`, "", `expected "up" or "down", got 1`},
		{"an object", `{"thumb": "up"}`, "", `expected "up" or "down"`},
	})
	labForms(t, v, []labFormCase{
		{"nothing", map[string][]string{}, "", ""},
		{"empty", map[string][]string{"b.rating": {""}}, "", ""},
		{"up", map[string][]string{"b.rating": {"up"}}, `"up"`, ""},
		{"two", map[string][]string{"b.rating": {"up", "down"}}, "", "choose one thumb, not 2"},
	})
	// What FormValue passes on, the server checks.
	if raw, _ := v.FormValue(map[string][]string{"b.rating": {"meh"}}, "b.rating"); raw != nil {
		if _, err := v.ValidateValue(raw, nil); err == nil {
			t.Error("a forged thumb is accepted")
		}
	}
	if got := labFlatten(v, `"down"`); got != "=down" {
		t.Errorf("Flatten = %q", got)
	}
	if got := string(v.(blocks.Decider).ConditionValue(json.RawMessage(`"down"`))); got != `"down"` {
		t.Errorf("ConditionValue = %s", got)
	}
}

// A block shown after a thumbs down.
func TestThumbsCondition(t *testing.T) {
	in := mustParse(t, labConfig(thumbsYAML+"  - {type: flag, name: why, reasons: [wrong, rude], required: true, visible_when: {block: rating, equals: down}}\n")).Interface()
	if _, err := in.ValidateValues(values(t, `{"rating": "up"}`), nil); err != nil {
		t.Errorf("up: %v", err)
	}
	if _, err := in.ValidateValues(values(t, `{"rating": "down"}`), nil); err == nil || !strings.Contains(err.Error(), "a value is required") {
		t.Errorf("down without a reason: %v", err)
	}
	if _, err := in.ValidateValues(values(t, `{"rating": "down", "why": {"reason": "rude"}}`), nil); err != nil {
		t.Errorf("down with a reason: %v", err)
	}
}

// Keys u and d when free, else keys of the pool.
func TestThumbsKeys(t *testing.T) {
	keysOf := func(src string) string {
		var out []string
		for _, s := range mustParse(t, labConfig(src)).Interface().Shortcuts() {
			out = append(out, s.Key+"="+s.Action)
		}
		return strings.Join(out, ",")
	}
	if got, want := keysOf(thumbsYAML), "u=Useful answer: thumbs up (Helpful),d=Useful answer: thumbs down (Not helpful)"; got != want {
		t.Errorf("keys = %s\nwant %s", got, want)
	}
	if got, want := keysOf("  - {type: choice, name: c, options: [{value: a, key: u}, b]}\n  - {type: thumbs, name: t}\n  - {type: thumbs, name: t2}\n"),
		"u=choose a,1=choose b,2=t: thumbs up (Helpful),d=t: thumbs down (Not helpful),3=t2: thumbs up (Helpful),4=t2: thumbs down (Not helpful)"; got != want {
		t.Errorf("keys = %s\nwant %s", got, want)
	}
}

// Two radios with decorative icons (outlines, no emoji font needed) and
// the labels as text, escaped.
func TestThumbsRender(t *testing.T) {
	src := labConfig(`  - {type: thumbs, name: t, label: "<b>Rate</b>", labels: {up: "<img src=x onerror=alert(1)>", down: Nope}, required: true}
  - {type: thumbs, name: u}
`)
	html := labRender(t, src, nil, values(t, `{"t": "down"}`))
	labNoneOf(t, html, "<b>Rate", "<img")
	labAllOf(t, html,
		`<legend class="block-label">&lt;b&gt;Rate&lt;/b&gt; <abbr class="req" title="required">*</abbr></legend>`,
		`<input type="radio" name="b.t" value="up" data-key="u" required><svg class="thumb-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><g><rect`,
		`</svg><span class="thumb-label">&lt;img src=x onerror=alert(1)&gt;</span><kbd>u</kbd>`,
		`<input type="radio" name="b.t" value="down" data-key="d" checked required><svg class="thumb-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><g transform="rotate(180 12 12)"><rect`,
		`</svg><span class="thumb-label">Nope</span><kbd>d</kbd>`,
		`<input type="radio" name="b.u" value="up" data-key="1"><svg class="thumb-icon"`,
		`</svg><span class="thumb-label">Helpful</span><kbd>1</kbd>`)
}

func TestThumbsLabelStudioAndLLM(t *testing.T) {
	in := mustParse(t, labConfig(thumbsYAML)).Interface()
	xml, err := blocks.LabelStudioConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "  <Choices name=\"rating\" toName=\"text\" choice=\"single\">\n    <Choice value=\"up\"/>\n    <Choice value=\"down\"/>\n  </Choices>\n"; !strings.Contains(xml, want) {
		t.Errorf("config\n%s\nlacks\n%s", xml, want)
	}
	fbLSRoundTrip(t, in, "rating", `"up"`, `[{"from_name":"rating","to_name":"text","type":"choices","value":{"choices":["up"]}}]`, "")
	fbLSRoundTrip(t, in, "rating", `"down"`, `[{"from_name":"rating","to_name":"text","type":"choices","value":{"choices":["down"]}}]`, "")
	fbLSError(t, in, `[{"from_name": "rating", "to_name": "text", "type": "choices", "value": {"choices": []}}]`, "thumbs take one choice; Label Studio gave 0")
	fbLSError(t, in, `[{"from_name": "rating", "to_name": "text", "type": "choices", "value": {"choices": ["Helpful"]}}]`, `"Helpful" is not a thumb`)

	if got, want := fbSchema(t, in, "rating"), `{"description":"Useful answer. up means \"Helpful\"; down means \"Not helpful\".","enum":["up","down"],"type":"string"}`; got != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	if got, err := fbLLM(t, in, "rating", `{"rating": "down"}`); err != nil || got != `"down"` {
		t.Errorf("FromLLM = %s, %v", got, err)
	}
	if _, err := fbLLM(t, in, "rating", `{"rating": "meh"}`); err == nil || !strings.Contains(err.Error(), `"meh" is not a thumb`) {
		t.Errorf("FromLLM of meh: %v", err)
	}
}
