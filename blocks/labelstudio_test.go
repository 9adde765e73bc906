package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// TestLabelStudioConfig checks the XML rendered for a few interfaces
// against what a Label Studio project would hold.
func TestLabelStudioConfig(t *testing.T) {
	tests := []struct {
		name, blocks, want string
	}{
		{"text classification",
			`  - {type: text, field: review}
  - {type: choice, name: sentiment, options: [positive, {value: neg, label: Negative}]}
  - {type: multichoice, name: tags, options: [a, b, c], max: 2}
  - {type: rating, name: quality, scale: 7}
  - {type: textbox, name: note, placeholder: "say \"why\" & <how>"}
`, `<View>
  <Text name="review" value="$review"/>
  <Choices name="sentiment" toName="review" choice="single">
    <Choice value="positive"/>
    <Choice value="neg"/>
  </Choices>
  <Choices name="tags" toName="review" choice="multiple">
    <Choice value="a"/>
    <Choice value="b"/>
    <Choice value="c"/>
  </Choices>
  <Rating name="quality" toName="review" maxRating="7"/>
  <TextArea name="note" toName="review" maxSubmissions="1" editable="true" placeholder="say &quot;why&quot; &amp; &lt;how&gt;"/>
</View>
`},
		{"ner: the spans' field is the object, shared with a classifier",
			`  - {type: spans, name: ents, field: body, labels: [PER, {value: ORG, color: "#aa3300"}]}
  - {type: choice, name: ok, options: [yes, no]}
`, `<View>
  <Text name="body" value="$body"/>
  <Labels name="ents" toName="body">
    <Label value="PER" background="#4e79a7"/>
    <Label value="ORG" background="#aa3300"/>
  </Labels>
  <Choices name="ok" toName="body" choice="single">
    <Choice value="yes"/>
    <Choice value="no"/>
  </Choices>
</View>
`},
		{"image boxes: one Image for the display and the boxes",
			`  - {type: image, field: photo}
  - {type: boxes, name: objs, field: photo, labels: [car, person]}
  - {type: choice, name: photo_ok, options: [yes, no]}
`, `<View>
  <Image name="photo" value="$photo"/>
  <RectangleLabels name="objs" toName="photo" canRotate="false">
    <Label value="car" background="#E69F00"/>
    <Label value="person" background="#56B4E9"/>
  </RectangleLabels>
  <Choices name="photo_ok" toName="photo" choice="single">
    <Choice value="yes"/>
    <Choice value="no"/>
  </Choices>
</View>
`},
		{"pairwise over the pair, ranking over a list, chat as dialogue",
			`  - {type: chat, field: messages}
  - {type: pair, left: a, right: b}
  - {type: pairwise, name: pref}
  - {type: ranking, name: order, field: responses}
`, `<View>
  <Paragraphs name="messages" value="$messages" layout="dialogue" nameKey="role" textKey="content"/>
  <Text name="a" value="$a"/>
  <Text name="b" value="$b"/>
  <List name="responses" value="$responses"/>
  <Pairwise name="pref" toName="a,b"/>
  <Ranker name="order" toName="responses"/>
</View>
`},
		{"nothing to show: hidden _item; pairwise without two objects is left out",
			`  - {type: metadata, fields: [x]}
  - {type: choice, name: verdict, options: [yes, no]}
  - {type: pairwise, name: pref}
`, `<View>
  <Text name="_item" value="$_item"/>
  <Choices name="verdict" toName="_item" choice="single">
    <Choice value="yes"/>
    <Choice value="no"/>
  </Choices>
  <!-- pairwise "pref": Label Studio's Pairwise compares two objects, and the interface shows fewer than two fields -->
</View>
`},
		{"object names: escaped, unique among blocks and objects",
			`  - {type: text, field: "my field,1"}
  - {type: text, field: label}
  - {type: choice, name: label, options: ["a \"b\" & <c>", "d'e"]}
`, `<View>
  <Text name="my_field_1" value="$my field,1"/>
  <Text name="label_text" value="$label"/>
  <Choices name="label" toName="my_field_1" choice="single">
    <Choice value="a &quot;b&quot; &amp; &lt;c&gt;"/>
    <Choice value="d&apos;e"/>
  </Choices>
</View>
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mustParse(t, labConfig(tt.blocks)).Interface()
			got, err := blocks.LabelStudioConfig(in)
			if err != nil {
				t.Fatalf("LabelStudioConfig: %v", err)
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestLabelStudioConfigInvalidXML(t *testing.T) {
	in := mustParse(t, labConfig("  - {type: choice, name: c, options: [\"a\\x01\", b]}\n")).Interface()
	_, err := blocks.LabelStudioConfig(in)
	if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), "not allowed in XML") {
		t.Fatalf("err = %v, want EINVALID about a character XML cannot hold", err)
	}
}

// lsInterface has a block of every kind Label Studio can express.
const lsBlocks = `  - {type: text, field: text}
  - {type: image, field: photo}
  - {type: pair, left: a, right: b}
  - {type: choice, name: sentiment, options: [positive, negative]}
  - {type: multichoice, name: tags, options: [x, y, z]}
  - {type: spans, name: ents, field: text, labels: [PER, LOC]}
  - {type: boxes, name: objs, field: photo, labels: [car, person]}
  - {type: textbox, name: note}
  - {type: rating, name: quality}
  - {type: ranking, name: order, field: responses}
  - {type: pairwise, name: pref, reason: optional}
`

var lsData = map[string]any{
	"text":      "Zoë 👋 met Ana in Zürich.",
	"photo":     "p.jpg",
	"a":         "one",
	"b":         "two",
	"responses": []any{"first", "second", "third"},
}

// wire sends results through JSON, as they travel to and from Label Studio.
func wire(t *testing.T, rs []blocks.LSResult) []blocks.LSResult {
	t.Helper()
	b, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	var out []blocks.LSResult
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func lsResults(t *testing.T, js string) []blocks.LSResult {
	t.Helper()
	var rs []blocks.LSResult
	if err := json.Unmarshal([]byte(js), &rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// Every supported kind goes value → Label Studio → value unchanged, and
// its results have Label Studio's shape.
func TestLabelStudioRoundTrip(t *testing.T) {
	in := mustParse(t, labConfig(lsBlocks)).Interface()
	tests := []struct {
		name, value string
		results     string // the results ToLabelStudio gives
	}{
		{"sentiment", `"negative"`, `[{"from_name":"sentiment","to_name":"text","type":"choices","value":{"choices":["negative"]}}]`},
		{"tags", `["x","z"]`, `[{"from_name":"tags","to_name":"text","type":"choices","value":{"choices":["x","z"]}}]`},
		{"ents", `[{"start":0,"end":3,"label":"PER","text":"Zoë"},{"start":10,"end":13,"label":"PER","text":"Ana"},{"start":17,"end":23,"label":"LOC","text":"Zürich"}]`,
			`[{"from_name":"ents","to_name":"text","type":"labels","value":{"end":3,"labels":["PER"],"start":0,"text":"Zoë"}},` +
				`{"from_name":"ents","to_name":"text","type":"labels","value":{"end":13,"labels":["PER"],"start":10,"text":"Ana"}},` +
				`{"from_name":"ents","to_name":"text","type":"labels","value":{"end":23,"labels":["LOC"],"start":17,"text":"Zürich"}}]`},
		{"objs", `[{"x":0.1,"y":0.2,"width":0.3,"height":0.25,"label":"car"},{"x":0.123457,"y":0.5,"width":0.876543,"height":0.5,"label":"person"}]`,
			`[{"from_name":"objs","to_name":"photo","type":"rectanglelabels","value":{"height":25,"rectanglelabels":["car"],"rotation":0,"width":30,"x":10,"y":20}},` +
				`{"from_name":"objs","to_name":"photo","type":"rectanglelabels","value":{"height":50,"rectanglelabels":["person"],"rotation":0,"width":87.6543,"x":12.3457,"y":50}}]`},
		{"note", `"line one\nline two"`, `[{"from_name":"note","to_name":"text","type":"textarea","value":{"text":["line one\nline two"]}}]`},
		{"quality", `4`, `[{"from_name":"quality","to_name":"text","type":"rating","value":{"rating":4}}]`},
		{"order", `["2","0","1"]`, `[{"from_name":"order","to_name":"responses","type":"ranker","value":{"ranker":{"order":["2","0","1"]}}}]`},
		{"pref", `{"choice":"A"}`, `[{"from_name":"pref","to_name":"a,b","type":"pairwise","value":{"selected":"left"}}]`},
		{"pref", `{"choice":"B"}`, `[{"from_name":"pref","to_name":"a,b","type":"pairwise","value":{"selected":"right"}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.value, func(t *testing.T) {
			rs, err := in.ToLabelStudio(map[string]json.RawMessage{tt.name: json.RawMessage(tt.value)}, lsData)
			if err != nil {
				t.Fatalf("ToLabelStudio: %v", err)
			}
			if got, _ := json.Marshal(rs); string(got) != tt.results {
				t.Errorf("results\n%s\nwant\n%s", got, tt.results)
			}
			back, err := in.FromLabelStudio(wire(t, rs), lsData)
			if err != nil {
				t.Fatalf("FromLabelStudio: %v", err)
			}
			if got := string(back[tt.name]); got != tt.value || len(back) != 1 {
				t.Errorf("round trip = %s, want %s", back, tt.value)
			}
		})
	}
}

func TestToLabelStudio(t *testing.T) {
	in := mustParse(t, labConfig(lsBlocks)).Interface()
	// Several blocks at once, in the interface's order; a pairwise tie has
	// no Label Studio equivalent and is left out, with its reason.
	rs, err := in.ToLabelStudio(values(t, `{"quality": 5, "sentiment": "positive", "pref": {"choice": "tie", "reason": "same"}, "tags": []}`), lsData)
	if err != nil {
		t.Fatalf("ToLabelStudio: %v", err)
	}
	if len(rs) != 2 || rs[0].FromName != "sentiment" || rs[1].FromName != "quality" {
		t.Errorf("results = %+v, want sentiment then quality", rs)
	}
	for _, tt := range []struct{ values, field, msg string }{
		{`{"nope": "x"}`, "values.nope", `no block is named "nope"; blocks with values: sentiment, tags, ents, objs, note, quality, order, pref`},
		{`{"sentiment": "meh"}`, "values.sentiment", `block "sentiment": "meh" is not one of the options`},
		{`{"ents": [{"start": 0, "end": 40, "label": "PER"}]}`, "values.ents", `block "ents": span 1 (PER, 0–40) is outside the text`},
	} {
		_, err := in.ToLabelStudio(values(t, tt.values), lsData)
		if loupe.ErrorCode(err) != loupe.EINVALID || loupe.ErrorField(err) != tt.field || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
			t.Errorf("%s: err = %v\nwant EINVALID on %s with %q", tt.values, err, tt.field, tt.msg)
		}
	}
}

// Results as Label Studio and its ML backends write them.
func TestFromLabelStudio(t *testing.T) {
	in := mustParse(t, labConfig(lsBlocks)).Interface()
	tests := []struct {
		name, results, want string
	}{
		{"choices", `[{"from_name": "sentiment", "to_name": "review", "type": "choices", "value": {"choices": ["positive"]}}]`,
			`{"sentiment":"positive"}`},
		{"multichoice in option order", `[{"from_name": "tags", "to_name": "t", "type": "choices", "value": {"choices": ["z", "x"]}}]`,
			`{"tags":["x","z"]}`},
		{"spans in code points, one per label, without text", `[
			{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 10, "end": 13, "text": "Ana", "labels": ["PER"]}},
			{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 17, "end": 23, "labels": ["LOC"]}}]`,
			`{"ents":[{"start":10,"end":13,"label":"PER","text":"Ana"},{"start":17,"end":23,"label":"LOC","text":"Zürich"}]}`},
		{"spans in UTF-16 units (older Label Studio) are converted", `[
			{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 11, "end": 14, "text": "Ana", "labels": ["PER"]}},
			{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 18, "end": 24, "text": "Zürich", "labels": ["LOC"]}}]`,
			`{"ents":[{"start":10,"end":13,"label":"PER","text":"Ana"},{"start":17,"end":23,"label":"LOC","text":"Zürich"}]}`},
		{"boxes in percent", `[{"from_name": "objs", "to_name": "image", "type": "rectanglelabels", "original_width": 640, "original_height": 480,
			"value": {"x": 50.8, "y": 5.869797225186766, "width": 12.4, "height": 10.458911419423693, "rotation": 0, "rectanglelabels": ["car"]}}]`,
			`{"objs":[{"x":0.508,"y":0.058698,"width":0.124,"height":0.104589,"label":"car"}]}`},
		{"textarea with several texts", `[{"from_name": "note", "to_name": "text", "type": "textarea", "value": {"text": ["one", "two"]}}]`,
			`{"note":"one\ntwo"}`},
		{"rating", `[{"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": 3}}]`, `{"quality":3}`},
		{"ranker, older list form", `[{"from_name": "order", "to_name": "list", "type": "ranker", "value": {"ranker": ["1", "2", "0"]}}]`,
			`{"order":["1","2","0"]}`},
		{"pairwise", `[{"from_name": "pref", "to_name": "a,b", "type": "pairwise", "value": {"selected": "right"}}]`,
			`{"pref":{"choice":"B"}}`},
		{"empty choices are no value", `[{"from_name": "tags", "to_name": "t", "type": "choices", "value": {"choices": []}}]`, `{}`},
		{"no results", `[]`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.FromLabelStudio(lsResults(t, tt.results), lsData)
			if err != nil {
				t.Fatalf("FromLabelStudio: %v", err)
			}
			if b, _ := json.Marshal(got); string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}

func TestFromLabelStudioErrors(t *testing.T) {
	in := mustParse(t, labConfig(lsBlocks)).Interface()
	tests := []struct {
		name, results, field, msg string
	}{
		{"unknown from_name", `[{"from_name": "sentimnt", "to_name": "t", "type": "choices", "value": {"choices": ["positive"]}}]`,
			"values.sentimnt", `no block is named "sentimnt" (did you mean "sentiment"?); blocks with values: sentiment, tags, ents, objs, note, quality, order, pref`},
		{"no from_name (a relation)", `[{"from_id": "a", "to_id": "b", "type": "relation", "value": {}}]`,
			"", `result 1 (type "relation") has no from_name`},
		{"wrong type for the block", `[{"from_name": "objs", "to_name": "image", "type": "polygonlabels", "value": {"points": [[1, 2]], "polygonlabels": ["car"]}}]`,
			"values.objs", `block "objs" (boxes) takes Label Studio results of type "rectanglelabels", got "polygonlabels"`},
		{"not an option", `[{"from_name": "sentiment", "to_name": "t", "type": "choices", "value": {"choices": ["meh"]}}]`,
			"values.sentiment", `block "sentiment": "meh" is not one of the options ("positive", "negative")`},
		{"two choices for a choice", `[{"from_name": "sentiment", "to_name": "t", "type": "choices", "value": {"choices": ["positive", "negative"]}}]`,
			"values.sentiment", `block "sentiment": a choice takes one option; Label Studio gave 2 ("positive", "negative")`},
		{"choices not a list", `[{"from_name": "sentiment", "to_name": "t", "type": "choices", "value": {"choices": "positive"}}]`,
			"values.sentiment", `value.choices of a Label Studio result must be a list of strings, got "positive"`},
		{"span text matching no offsets", `[{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "text": "Bob", "labels": ["PER"]}}]`,
			"values.ents", `block "ents": span 1 (PER, 0–3) claims the text "Bob", but the text at those offsets is "Zoë"`},
		{"span without labels", `[{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": []}}]`,
			"values.ents", `region 1 (0–3) has no label`},
		{"span with an unknown label", `[{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["ORG"]}}]`,
			"values.ents", `"ORG" is not one of the labels ("PER", "LOC")`},
		{"span offsets not whole", `[{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0.5, "end": 3, "labels": ["PER"]}}]`,
			"values.ents", `region 1: value.start must be a whole number of characters, got 0.5`},
		{"two labels on one region overlap", `[{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER", "LOC"]}}]`,
			"values.ents", `overlaps span`},
		{"rotated box", `[{"from_name": "objs", "to_name": "image", "type": "rectanglelabels", "value": {"x": 1, "y": 1, "width": 10, "height": 10, "rotation": 30, "rectanglelabels": ["car"]}}]`,
			"values.objs", `block "objs": region 1 is rotated by 30°; Loupe's boxes are not rotated`},
		{"box on a rotated image", `[{"from_name": "objs", "to_name": "image", "type": "rectanglelabels", "image_rotation": 90, "value": {"x": 1, "y": 1, "width": 10, "height": 10, "rectanglelabels": ["car"]}}]`,
			"values.objs", `region 1 was drawn on an image rotated by 90°`},
		{"box past the edge", `[{"from_name": "objs", "to_name": "image", "type": "rectanglelabels", "value": {"x": 95, "y": 1, "width": 10, "height": 10, "rectanglelabels": ["car"]}}]`,
			"values.objs", `x + width is 1.05, above 1`},
		{"box without width", `[{"from_name": "objs", "to_name": "image", "type": "rectanglelabels", "value": {"x": 5, "y": 1, "height": 10, "rectanglelabels": ["car"]}}]`,
			"values.objs", `region 1 has no value.width (in percent of the image)`},
		{"rating out of range", `[{"from_name": "quality", "to_name": "t", "type": "rating", "value": {"rating": 6}}]`,
			"values.quality", `rating 6 is out of range: choose from 1 to 5`},
		{"two ratings", `[{"from_name": "quality", "type": "rating", "value": {"rating": 2}}, {"from_name": "quality", "type": "rating", "value": {"rating": 3}}]`,
			"values.quality", `expected one Label Studio result with a rating, got 2`},
		{"ranker buckets", `[{"from_name": "order", "type": "ranker", "value": {"ranker": {"best": ["0"], "ads": ["1"]}}}]`,
			"values.order", `value.ranker sorts the candidates into 2 buckets ("ads", "best")`},
		{"ranker missing a candidate", `[{"from_name": "order", "type": "ranker", "value": {"ranker": {"order": ["0", "1"]}}}]`,
			"values.order", `missing "2"`},
		{"pairwise none", `[{"from_name": "pref", "type": "pairwise", "value": {"selected": "none"}}]`,
			"values.pref", `value.selected of a Label Studio pairwise result must be "left" or "right", got "none"`},
		{"no value", `[{"from_name": "note", "type": "textarea"}]`,
			"values.note", `block "note": a Label Studio result has no value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.FromLabelStudio(lsResults(t, tt.results), lsData)
			if err == nil {
				t.Fatalf("FromLabelStudio = %s, want an error with %q", got, tt.msg)
			}
			if loupe.ErrorCode(err) != loupe.EINVALID || loupe.ErrorField(err) != tt.field || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
				t.Errorf("err = %v\nwant EINVALID on %q with %q", err, tt.field, tt.msg)
			}
		})
	}
}

// A spans block over an item whose field is missing is refused with the
// reason, not a panic.
func TestFromLabelStudioMissingField(t *testing.T) {
	in := mustParse(t, labConfig(lsBlocks)).Interface()
	_, err := in.FromLabelStudio(lsResults(t, `[{"from_name": "ents", "type": "labels", "value": {"start": 0, "end": 1, "labels": ["PER"]}}]`), map[string]any{})
	if !strings.Contains(loupe.ErrorMessage(err), `the item has no field "text"`) {
		t.Errorf("err = %v", err)
	}
}
