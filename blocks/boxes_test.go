package blocks_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

const boxesYAML = `title: Boxes
blocks:
  - type: boxes
    name: objects
    field: image
    labels:
      - {value: car, label: Car, color: "#ff0000"}
      - person
    required: true
`

func boxesBlock(t *testing.T, src string) *blocks.Boxes {
	t.Helper()
	v, ok := mustParse(t, src).Interface().Valuer("objects")
	if !ok {
		t.Fatal("no block named objects")
	}
	return v.(*blocks.Boxes)
}

func TestBoxesConfig(t *testing.T) {
	b := boxesBlock(t, boxesYAML)
	if got := b.Fields(); len(got) != 1 || got[0] != "image" {
		t.Errorf("fields = %v, want [image]", got)
	}
	if !b.IsRequired() {
		t.Error("required not read")
	}
	var keys []string
	for _, l := range b.Labels {
		keys = append(keys, l.Key)
	}
	if got := strings.Join(keys, ","); got != "1,2" {
		t.Errorf("label keys = %s, want 1,2", got)
	}
	in := mustParse(t, boxesYAML).Interface()
	if s := in.Shortcuts(); len(s) != 2 || s[0].Action != "box label Car" {
		t.Errorf("shortcuts = %+v", s)
	}
}

func TestBoxesConfigErrors(t *testing.T) {
	head := "title: x\nblocks:\n  - type: boxes\n    name: objects\n"
	tests := []struct {
		name, body, want string
	}{
		{"no field", "    labels: [car]\n", "config:3:5: blocks[0].field: a boxes block needs the name of the item field that holds the image"},
		{"no labels", "    field: image\n", "config:3:5: blocks[0].labels: a boxes block needs labels: list at least one"},
		{"empty labels", "    field: image\n    labels: []\n", "config:6:5: blocks[0].labels: must not be empty: list at least one label"},
		{"label twice", "    field: image\n    labels: [car, car]\n", `config:6:5: blocks[0].labels: label "car" is listed twice`},
		{"bad colour", "    field: image\n    labels: [{value: car, color: red}]\n", `config:6:5: blocks[0].labels: label "car": color "red" must be #rrggbb`},
		{"bad key", "    field: image\n    labels: [{value: car, key: Car}]\n", `config:6:5: blocks[0].labels: label "car": key "Car" must be one lower-case letter or digit`},
		{"reserved key", "    field: image\n    labels: [{value: car, key: s}]\n", `key "s" is kept for "skip"`},
		{"negative min", "    field: image\n    labels: [car]\n    min: -1\n", "config:7:5: blocks[0].min: min must not be negative, got -1"},
		{"min above the limit", "    field: image\n    labels: [car]\n    min: 1001\n", "config:7:5: blocks[0].min: min is 1001, but a value may hold at most 1000 boxes"},
		{"negative max", "    field: image\n    labels: [car]\n    max: -2\n", "config:7:5: blocks[0].max: max must not be negative, got -2 (0 means no limit)"},
		{"max below min", "    field: image\n    labels: [car]\n    min: 3\n    max: 2\n", "config:8:5: blocks[0].max: max (2) is smaller than min (3)"},
		{"max above the limit", "    field: image\n    labels: [car]\n    max: 5000\n", "config:7:5: blocks[0].max: max is 5000, but a value may hold at most 1000 boxes"},
		{"min not a number", "    field: image\n    labels: [car]\n    min: some\n", "config:7:10: blocks[0].min:"},
		{"typo", "    field: image\n    lables: [car]\n", `config:6:5: blocks[0].lables: unknown field (did you mean "labels"?); known fields: field, help, label, labels, max, min, name, required`},
		{"no name", "", "blocks[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.body
			if tt.name == "no name" {
				src = "title: x\nblocks:\n  - {type: boxes, field: image, labels: [car]}\n"
			}
			_, err := blocks.ParseConfig([]byte(src))
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want %q", tt.want)
			}
			if got := loupe.ErrorMessage(err); !strings.Contains(got, tt.want) {
				t.Errorf("message = %q\nwant it to contain %q", got, tt.want)
			}
		})
	}
	// Good limits parse.
	mustParse(t, head+"    field: image\n    labels: [car]\n    min: 2\n    max: 2\n")
	mustParse(t, head+"    field: image\n    labels: [car]\n    min: 0\n")
}

func TestBoxesValidateValue(t *testing.T) {
	b := boxesBlock(t, boxesYAML)
	limited := boxesBlock(t, strings.Replace(boxesYAML, "    required: true\n", "    min: 2\n    max: 3\n", 1))
	box := func(x, y, w, h any, label string) string {
		return fmt.Sprintf(`{"x": %v, "y": %v, "width": %v, "height": %v, "label": %q}`, x, y, w, h, label)
	}
	list := func(boxes ...string) string { return "[" + strings.Join(boxes, ", ") + "]" }
	canon := func(x, y, w, h, label string) string {
		return fmt.Sprintf(`{"x":%s,"y":%s,"width":%s,"height":%s,"label":%q}`, x, y, w, h, label)
	}
	tests := []struct {
		name  string
		block *blocks.Boxes
		value string
		want  string // canonical JSON, or "" when an error is expected
		msg   string
	}{
		{"one box", b, list(box(0.1, 0.2, 0.3, 0.25, "car")), "[" + canon("0.1", "0.2", "0.3", "0.25", "car") + "]", ""},
		{"rounded to 6 decimals", b, list(box(0.12345649, 0.1234565, 0.3333333333, 0.5, "person")), "[" + canon("0.123456", "0.123457", "0.333333", "0.5", "person") + "]", ""},
		{"the whole image", b, list(box(0, 0, 1, 1, "car")), "[" + canon("0", "0", "1", "1", "car") + "]", ""},
		{"right and bottom edges exactly", b, list(box(0.75, 0.5, 0.25, 0.5, "car")), "[" + canon("0.75", "0.5", "0.25", "0.5", "car") + "]", ""},
		{"sorted by y, x, label", b, list(box(0.5, 0.5, 0.1, 0.1, "car"), box(0.1, 0.5, 0.1, 0.1, "person"), box(0.1, 0.5, 0.1, 0.1, "car"), box(0.9, 0.1, 0.1, 0.1, "car")),
			"[" + canon("0.9", "0.1", "0.1", "0.1", "car") + "," + canon("0.1", "0.5", "0.1", "0.1", "car") + "," + canon("0.1", "0.5", "0.1", "0.1", "person") + "," + canon("0.5", "0.5", "0.1", "0.1", "car") + "]", ""},
		{"tolerance below 0 is clamped", b, list(box(-0.000001, -0.0000004, 0.5, 0.5, "car")), "[" + canon("0", "0", "0.5", "0.5", "car") + "]", ""},
		{"tolerance past 1 is clamped", b, list(box(0.5, 0.25, 0.500001, 0.7500009, "car")), "[" + canon("0.5", "0.25", "0.5", "0.75", "car") + "]", ""},
		{"a sliver at the right edge stays inside", b, list(box(1, 0, 0.000001, 1, "car")), "[" + canon("0.999999", "0", "0.000001", "1", "car") + "]", ""},
		{"negative zero", b, list(box("-0", "-0.0000001", 0.5, 0.5, "car")), "[" + canon("0", "0", "0.5", "0.5", "car") + "]", ""},
		{"same place, other labels", b, list(box(0.1, 0.1, 0.2, 0.2, "car"), box(0.1, 0.1, 0.2, 0.2, "person")), "[" + canon("0.1", "0.1", "0.2", "0.2", "car") + "," + canon("0.1", "0.1", "0.2", "0.2", "person") + "]", ""},
		{"min reached", limited, list(box(0.1, 0.1, 0.2, 0.2, "car"), box(0.3, 0.3, 0.2, 0.2, "car")), "[" + canon("0.1", "0.1", "0.2", "0.2", "car") + "," + canon("0.3", "0.3", "0.2", "0.2", "car") + "]", ""},

		{"not a list", b, `{"x": 0.1}`, "", `expected a list of boxes, each {"x", "y", "width", "height", "label"}, got {"x": 0.1}`},
		{"a string", b, `"boxes"`, "", "expected a list of boxes"},
		{"null", b, `null`, "", "expected a list of boxes"},
		{"not an object", b, `[3]`, "", `box 1 is not a box: expected {"x", "y", "width", "height", "label"}, got 3`},
		{"a list inside", b, list(box(0.1, 0.1, 0.2, 0.2, "car"), "[0.1, 0.1]"), "", "box 2 is not a box"},
		{"a number as a string", b, list(box(`"0.1"`, 0.2, 0.3, 0.25, "car")), "", `box 1: x must be a number, got "0.1"`},
		{"null width", b, list(box(0.1, 0.2, "null", 0.25, "car")), "", "box 1: width must be a number, got null"},
		{"infinite", b, list(box(0.1, "1e400", 0.3, 0.25, "car")), "", "box 1: y must be a finite number, got 1e400"},
		{"missing height", b, `[{"x": 0.1, "y": 0.2, "width": 0.3, "label": "car"}]`, "", "box 1 has no height"},
		{"missing label", b, `[{"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.1}]`, "", `box 1 has no label; labels: "car", "person"`},
		{"unknown field", b, `[{"x": 0.1, "y": 0.2, "width": 0.3, "height": 0.1, "label": "car", "score": 0.9}]`, "", `box 1 has an unknown field "score"; a box has x, y, width, height, label`},
		{"label not a string", b, list(strings.Replace(box(0.1, 0.2, 0.3, 0.25, "car"), `"car"`, "7", 1)), "", "box 1: label must be a string, got 7"},
		{"unknown label", b, list(box(0.1, 0.2, 0.3, 0.25, "car"), box(0.1, 0.5, 0.3, 0.25, "truck")), "", `box 2 has label "truck", which is not one of the labels ("car", "person")`},
		{"negative width", b, list(box(0.1, 0.2, -0.3, 0.25, "car")), "", `box 1 ("car" at x 0.1, y 0.2) is a box with negative size: width -0.3, height 0.25; both must be above 0`},
		{"negative height", b, list(box(0.5, 0.5, 0.1, -0.000001, "person")), "", `box 1 ("person" at x 0.5, y 0.5) is a box with negative size`},
		{"zero width", b, list(box(0.1, 0.2, 0, 0.25, "car")), "", `box 1 ("car" at x 0.1, y 0.2) is a box with no size: width 0, height 0.25`},
		{"width rounds to zero", b, list(box(0.1, 0.2, 0.0000004, 0.25, "car")), "", "is a box with no size"},
		{"x below 0", b, list(box(-0.1, 0.2, 0.3, 0.25, "car")), "", `box 1 ("car" at x -0.1, y 0.2) is a box outside the image: x and y must be 0 or more`},
		{"y just past the tolerance", b, list(box(0.1, -0.000002, 0.3, 0.25, "car")), "", "box 1 (\"car\" at x 0.1, y -0.000002) is a box outside the image"},
		{"x + width above 1", b, list(box(0.8, 0.2, 0.3, 0.25, "car")), "", `box 1 ("car" at x 0.8, y 0.2) is a box outside the image: x + width is 1.1, above 1`},
		{"right edge just past the tolerance", b, list(box(0.5, 0.2, 0.500002, 0.25, "car")), "", "x + width is 1.000002, above 1"},
		{"y + height above 1", b, list(box(0.1, 0.9, 0.3, 0.25, "car")), "", "y + height is 1.15, above 1"},
		{"x beyond the image", b, list(box(1.5, 0.2, 0.3, 0.25, "car")), "", "is a box outside the image"},
		{"duplicate", b, list(box(0.1, 0.2, 0.3, 0.25, "car"), box(0.5, 0.5, 0.1, 0.1, "car"), box(0.1, 0.2, 0.3, 0.25, "car")), "", `box 3 is the same as box 1 ("car" at x 0.1, y 0.2); remove one of them`},
		{"duplicate after rounding", b, list(box(0.1, 0.2, 0.3, 0.25, "car"), box(0.1000001, 0.2, 0.3, 0.25, "car")), "", "box 2 is the same as box 1"},
		{"too few", limited, list(box(0.1, 0.1, 0.2, 0.2, "car")), "", "draw at least 2 boxes, not 1"},
		{"too many", limited, list(box(0.1, 0.1, 0.1, 0.1, "car"), box(0.2, 0.2, 0.1, 0.1, "car"), box(0.3, 0.3, 0.1, 0.1, "car"), box(0.4, 0.4, 0.1, 0.1, "car")), "", "draw at most 3 boxes, not 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.block.ValidateValue(json.RawMessage(tt.value), nil)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("ValidateValue: %v", err)
				}
				if string(got) != tt.want {
					t.Errorf("value = %s\n want %s", got, tt.want)
				}
				// The canonical value is a fixed point.
				again, err := tt.block.ValidateValue(got, nil)
				if err != nil || string(again) != string(got) {
					t.Errorf("canonical value changes when checked again: %s, %v", again, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateValue = %s, want an error with %q", got, tt.msg)
			}
			if code := loupe.ErrorCode(err); code != loupe.EINVALID {
				t.Errorf("code = %q, want %q", code, loupe.EINVALID)
			}
			if msg := loupe.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message = %q\nwant it to contain %q", msg, tt.msg)
			}
		})
	}
}

func TestBoxesLimit(t *testing.T) {
	b := boxesBlock(t, boxesYAML)
	var boxes []string
	for i := range blocks.MaxBoxes + 1 {
		boxes = append(boxes, fmt.Sprintf(`{"x": %g, "y": 0, "width": 0.0001, "height": 0.1, "label": "car"}`, float64(i)/2000))
	}
	_, err := b.ValidateValue(json.RawMessage("["+strings.Join(boxes, ",")+"]"), nil)
	if msg := loupe.ErrorMessage(err); !strings.Contains(msg, "at most 1000 boxes may be drawn on one image, got 1001") {
		t.Errorf("err = %v", err)
	}
	if _, err := b.ValidateValue(json.RawMessage("["+strings.Join(boxes[:blocks.MaxBoxes], ",")+"]"), nil); err != nil {
		t.Errorf("%d boxes: %v", blocks.MaxBoxes, err)
	}
}

// Through the interface: an empty list is no value, so a required block
// wants one, and the message is tied to values.NAME.
func TestBoxesValidateValues(t *testing.T) {
	in := mustParse(t, boxesYAML).Interface()
	data := map[string]any{"image": "photos/1.jpg"}
	for _, v := range []string{`{}`, `{"objects": []}`, `{"objects": null}`} {
		_, err := in.ValidateValues(values(t, v), data)
		if loupe.ErrorField(err) != "values.objects" || loupe.ErrorMessage(err) != "a value is required" {
			t.Errorf("%s: err = %v", v, err)
		}
	}
	_, err := in.ValidateValues(values(t, `{"objects": [{"x": 0.5, "y": 0.5, "width": 0.6, "height": 0.1, "label": "car"}]}`), data)
	if loupe.ErrorField(err) != "values.objects" || !strings.Contains(loupe.ErrorMessage(err), "a box outside the image") {
		t.Errorf("outside: err = %v", err)
	}
	out, err := in.ValidateValues(values(t, `{"objects": [{"label": "person", "height": 0.5, "width": 0.5, "y": 0.25, "x": 0.25}]}`), data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out["objects"]), `[{"x":0.25,"y":0.25,"width":0.5,"height":0.5,"label":"person"}]`; got != want {
		t.Errorf("stored %s, want %s", got, want)
	}
}

func TestBoxesFormValue(t *testing.T) {
	b := boxesBlock(t, boxesYAML)
	const one = `[{"x":0.1,"y":0.2,"width":0.3,"height":0.25,"label":"car"}]`
	tests := []struct {
		name string
		form map[string][]string
		want string // "" for no value
		msg  string
	}{
		{"absent", map[string][]string{}, "", ""},
		{"empty", map[string][]string{"b.objects": {""}}, "", ""},
		{"blank", map[string][]string{"b.objects": {"  "}}, "", ""},
		{"boxes", map[string][]string{"b.objects": {one}, "ui.objects.label": {"person"}}, one, ""},
		{"spaces around", map[string][]string{"b.objects": {" " + one + "\n"}}, one, ""},
		{"not JSON", map[string][]string{"b.objects": {"[{x: 1}"}}, "", "the boxes could not be read: expected a JSON list, got [{x: 1}"},
		{"twice", map[string][]string{"b.objects": {one, one}}, "", "the boxes were sent 2 times; send them once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.FormValue(tt.form, "b.objects")
			if tt.msg != "" {
				if msg := loupe.ErrorMessage(err); msg != tt.msg || loupe.ErrorCode(err) != loupe.EINVALID {
					t.Errorf("err = %v, want %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want || (tt.want == "" && got != nil) {
				t.Errorf("value = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBoxesFlatten(t *testing.T) {
	b := boxesBlock(t, boxesYAML)
	const two = `[{"x":0.1,"y":0.2,"width":0.3,"height":0.25,"label":"car"},{"x":0.5,"y":0.5,"width":0.1,"height":0.1,"label":"person"}]`
	tests := []struct {
		value string
		want  []blocks.Cell
	}{
		{two, []blocks.Cell{{Value: two}, {Suffix: ".count", Value: "2"}}},
		{`[]`, []blocks.Cell{{Value: ""}, {Suffix: ".count", Value: "0"}}},
		{`"odd"`, []blocks.Cell{{Value: `"odd"`}, {Suffix: ".count"}}},
	}
	for _, tt := range tests {
		got := b.Flatten(json.RawMessage(tt.value))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Flatten(%s) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func renderBoxes(t *testing.T, src string, pg blocks.Page) string {
	t.Helper()
	r, err := blocks.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Script("boxes"); !ok {
		t.Error("no script for boxes")
	}
	var buf bytes.Buffer
	if err := r.Render(&buf, blocks.NewViews(mustParse(t, src).Interface(), pg)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The page has the hooks the script and the browser tests use, and draws
// stored boxes without script: SVG attributes in percent (the page's CSP
// forbids style attributes).
func TestBoxesRender(t *testing.T) {
	media := func(p string) string { return "/projects/p/media/" + p }
	vals := map[string]json.RawMessage{"objects": json.RawMessage(`[{"x":0.1,"y":0.02,"width":0.3,"height":0.25,"label":"car"},{"x":0.5,"y":0.5,"width":0.5,"height":0.5,"label":"person"}]`)}
	out := renderBoxes(t, boxesYAML, blocks.Page{Data: map[string]any{"image": "photos/a b.jpg"}, Values: vals, Media: media})
	for _, want := range []string{
		`class="boxes-stage" data-block="objects" tabindex="0" data-own-keys`,
		`<img src="/projects/p/media/photos/a%20b.jpg"`,
		`<input type="radio" name="ui.objects.label" value="car" data-text="Car" data-color="#ff0000" data-key="1" checked>`,
		`<input type="radio" name="ui.objects.label" value="person" data-text="person" data-color="#56B4E9" data-key="2">`,
		`<kbd>1</kbd><span>Car</span>`,
		`<g class="box" data-index="0" data-label="car">`,
		`<rect class="box-frame" x="10.0000%" y="2.0000%" width="30.0000%" height="25.0000%" stroke="#ff0000" fill="#ff0000"/>`,
		`<text class="box-tag" x="10.0000%" y="2.0000%" dx="4" dy="1.1em">Car</text>`,
		`<text class="box-tag" x="50.0000%" y="50.0000%" dx="1" dy="-5">person</text>`,
		`<input type="hidden" name="b.objects" value="[{&#34;x&#34;:0.1,`,
		`data-json>`,
		`<span class="boxes-count">2</span>`,
		`<span class="boxes-label">Car</span> <span class="boxes-pos">x 10%, y 2%, 30% × 25%</span>`,
		`<noscript>`,
		`<abbr class="req" title="required">*</abbr>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered HTML lacks %s\n%s", want, out)
		}
	}
	if strings.Contains(out, "style=") {
		t.Errorf("rendered HTML has a style attribute, which the page's CSP blocks:\n%s", out)
	}
	// No value: an empty hidden input and no boxes.
	out = renderBoxes(t, boxesYAML, blocks.Page{Data: map[string]any{"image": "https://example.com/a.png"}, Origins: []string{"https://example.com"}})
	for _, want := range []string{`<img src="https://example.com/a.png"`, `<input type="hidden" name="b.objects" value="" data-json>`, `<span class="boxes-count">0</span>`} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered HTML lacks %s\n%s", want, out)
		}
	}
	if strings.Contains(out, `class="box"`) {
		t.Errorf("boxes drawn without a value:\n%s", out)
	}
	lim := strings.Replace(boxesYAML, "    required: true\n", "    min: 1\n    max: 3\n", 1)
	if out := renderBoxes(t, lim, blocks.Page{Data: map[string]any{"image": "a.png"}, Media: media}); !strings.Contains(out, "Draw 1 to 3 boxes.") {
		t.Errorf("limits not shown:\n%s", out)
	}
}

// Item content and labels are escaped everywhere, an image reference that
// is not a URL or a media path is not loaded, and a re-shown value with a
// label the block lacks is drawn as text.
func TestBoxesRenderEscapes(t *testing.T) {
	src := `title: x
blocks:
  - type: boxes
    name: objects
    label: "<b>Objects</b>"
    help: "<i>draw</i>"
    field: image
    labels: ["<i>car</i>", {value: p, label: "<script>alert(1)</script>"}]
`
	evil := `<img src=x onerror=alert(1)></script><script>alert(2)</script>`
	vals := map[string]json.RawMessage{"objects": json.RawMessage(`[{"x":0.1,"y":0.2,"width":0.3,"height":0.25,"label":"<svg onload=alert(3)>"}]`)}
	for _, ref := range []string{"javascript:alert(1)", "data:text/html,<script>alert(1)</script>", evil, `" onerror="alert(1)`} {
		out := renderBoxes(t, src, blocks.Page{Data: map[string]any{"image": ref}, Values: vals, Media: func(p string) string { return "/m/" + p }})
		for _, bad := range []string{"<img src=x", "<script", "<svg onload", "<b>Objects", "<i>", `="javascript:`, `src="data:`, `" onerror="`} {
			if strings.Contains(out, bad) {
				t.Errorf("image %q: rendered HTML holds %q unescaped:\n%s", ref, bad, out)
			}
		}
		if !strings.Contains(out, "&lt;svg onload=alert(3)&gt;") {
			t.Errorf("unknown label not shown as text:\n%s", out)
		}
	}
	out := renderBoxes(t, src, blocks.Page{Data: map[string]any{"image": "javascript:alert(1)"}})
	if strings.Contains(out, "<img") || strings.Contains(out, "boxes-stage") || !strings.Contains(out, "Cannot show this image") {
		t.Errorf("a javascript: image is loaded, or not explained:\n%s", out)
	}
	out = renderBoxes(t, src, blocks.Page{Data: map[string]any{"image": ""}})
	if !strings.Contains(out, "<code>image</code> is empty") {
		t.Errorf("an empty image field is not explained:\n%s", out)
	}
}
