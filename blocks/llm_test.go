package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
)

const llmBlocks = `  - {type: text, field: text}
  - type: choice
    name: sentiment
    label: Sentiment
    help: How the writer feels.
    options: [positive, {value: neg, label: Negative}]
  - {type: multichoice, name: tags, options: [x, y, z], min: 1, max: 2}
  - {type: spans, name: ents, field: text, labels: [PER, LOC]}
  - {type: spans, name: nested, field: text, labels: [PER, LOC], allow_overlap: true}
  - {type: textbox, name: note, max_length: 20}
  - {type: rating, name: quality, labels: {1: bad, 5: great}}
  - {type: ranking, name: order, field: responses}
  - {type: pairwise, name: pref, allow_both_bad: false}
  - {type: pairwise, name: why, reasons: [clearer, shorter], reason: required}
  - {type: boxes, name: objs, field: photo, labels: [car]}
`

var llmData = map[string]any{
	"text":      "Ana met Bo in Paris; Bo left Paris for New York.",
	"responses": []any{"first", "second"},
	"photo":     "p.jpg",
}

func TestJSONSchema(t *testing.T) {
	in := mustParse(t, labConfig(llmBlocks)).Interface()
	s, err := in.JSONSchema([]string{"sentiment", "tags", "ents", "note", "quality", "order", "pref", "why"})
	if err != nil {
		t.Fatalf("JSONSchema: %v", err)
	}
	got, _ := json.MarshalIndent(s, "", "  ")
	want := `{
  "additionalProperties": false,
  "properties": {
    "ents": {
      "description": "Spans of field \"text\", in the order they occur; repeat a text once for each occurrence to label.",
      "items": {
        "additionalProperties": false,
        "properties": {
          "label": {
            "enum": [
              "PER",
              "LOC"
            ],
            "type": "string"
          },
          "text": {
            "description": "the span's text, copied exactly from field \"text\"",
            "type": "string"
          }
        },
        "required": [
          "text",
          "label"
        ],
        "type": "object"
      },
      "type": "array"
    },
    "note": {
      "maxLength": 20,
      "type": "string"
    },
    "order": {
      "description": "The ids of all candidates in field \"responses\", best first, each once. A candidate written as text has its position as id (\"0\" for the first); one written as {id, text} has its id.",
      "items": {
        "type": "string"
      },
      "type": "array"
    },
    "pref": {
      "additionalProperties": false,
      "properties": {
        "choice": {
          "description": "A: A is better; B: B is better; tie: both are as good.",
          "enum": [
            "A",
            "B",
            "tie"
          ],
          "type": "string"
        },
        "reason": {
          "description": "Why, or \"\" for no reason.",
          "maxLength": 1000,
          "type": "string"
        }
      },
      "required": [
        "choice",
        "reason"
      ],
      "type": "object"
    },
    "quality": {
      "description": "A rating from 1 to 5 (1 = bad, 5 = great).",
      "maximum": 5,
      "minimum": 1,
      "type": "integer"
    },
    "sentiment": {
      "description": "Sentiment. How the writer feels. neg means \"Negative\".",
      "enum": [
        "positive",
        "neg"
      ],
      "type": "string"
    },
    "tags": {
      "items": {
        "enum": [
          "x",
          "y",
          "z"
        ],
        "type": "string"
      },
      "maxItems": 2,
      "minItems": 1,
      "type": "array",
      "uniqueItems": true
    },
    "why": {
      "additionalProperties": false,
      "properties": {
        "choice": {
          "description": "A: A is better; B: B is better; tie: both are as good; both_bad: neither is acceptable.",
          "enum": [
            "A",
            "B",
            "tie",
            "both_bad"
          ],
          "type": "string"
        },
        "reason": {
          "description": "Why: required.",
          "enum": [
            "clearer",
            "shorter"
          ],
          "type": "string"
        }
      },
      "required": [
        "choice",
        "reason"
      ],
      "type": "object"
    }
  },
  "required": [
    "sentiment",
    "tags",
    "ents",
    "note",
    "quality",
    "order",
    "pref",
    "why"
  ],
  "type": "object"
}`
	if string(got) != want {
		t.Errorf("schema\n%s\nwant\n%s", got, want)
	}
	// Asking twice gives the same schema: nothing is shared and changed.
	again, _ := in.JSONSchema([]string{"sentiment", "tags", "ents", "note", "quality", "order", "pref", "why"})
	if b, _ := json.MarshalIndent(again, "", "  "); string(b) != want {
		t.Error("a second JSONSchema differs from the first")
	}
}

func TestJSONSchemaErrors(t *testing.T) {
	in := mustParse(t, labConfig(llmBlocks)).Interface()
	for _, tt := range []struct {
		names []string
		msg   string
	}{
		{nil, "name at least one block for the model to fill"},
		{[]string{"objs"}, `block "objs" is a boxes, which an LLM cannot fill`},
		{[]string{"sentimnt"}, `no block is named "sentimnt" (did you mean "sentiment"?)`},
		{[]string{"note", "note"}, `block "note" is named twice`},
	} {
		_, err := in.JSONSchema(tt.names)
		if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
			t.Errorf("JSONSchema(%q): err = %v, want EINVALID with %q", tt.names, err, tt.msg)
		}
		_, err = in.FromLLM(json.RawMessage(`{}`), tt.names, llmData)
		if loupe.ErrorCode(err) != loupe.EINVALID || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
			t.Errorf("FromLLM(%q): err = %v, want EINVALID with %q", tt.names, err, tt.msg)
		}
	}
}

func TestFromLLM(t *testing.T) {
	in := mustParse(t, labConfig(llmBlocks)).Interface()
	tests := []struct {
		name, names, answer, want string
	}{
		{"choice", "sentiment", `{"sentiment": "neg"}`, `{"sentiment":"neg"}`},
		{"multichoice in option order", "tags", `{"tags": ["z", "x"]}`, `{"tags":["x","z"]}`},
		{"rating", "quality", `{"quality": 4}`, `{"quality":4}`},
		{"textbox", "note", `{"note": "too\r\nlong"}`, `{"note":"too\nlong"}`},
		{"ranking", "order", `{"order": ["1", "0"]}`, `{"order":["1","0"]}`},
		{"pairwise, empty reason is none", "pref", `{"pref": {"choice": "tie", "reason": ""}}`, `{"pref":{"choice":"tie"}}`},
		{"pairwise with a listed reason", "why", `{"why": {"choice": "B", "reason": "clearer"}}`, `{"why":{"choice":"B","reason":"clearer"}}`},
		{"spans found by their text", "ents", `{"ents": [{"text": "Ana", "label": "PER"}, {"text": "Paris", "label": "LOC"}]}`,
			`{"ents":[{"start":0,"end":3,"label":"PER","text":"Ana"},{"start":14,"end":19,"label":"LOC","text":"Paris"}]}`},
		{"a text listed twice labels two occurrences", "ents", `{"ents": [{"text": "Paris", "label": "LOC"}, {"text": "Paris", "label": "LOC"}]}`,
			`{"ents":[{"start":14,"end":19,"label":"LOC","text":"Paris"},{"start":29,"end":34,"label":"LOC","text":"Paris"}]}`},
		{"out of order: the search starts again from the top", "ents", `{"ents": [{"text": "New York", "label": "LOC"}, {"text": "Bo", "label": "PER"}]}`,
			`{"ents":[{"start":8,"end":10,"label":"PER","text":"Bo"},{"start":39,"end":47,"label":"LOC","text":"New York"}]}`},
		{"overlap allowed: nested spans share text", "nested", `{"nested": [{"text": "New York", "label": "LOC"}, {"text": "York", "label": "LOC"}, {"text": "New York", "label": "PER"}]}`,
			`{"nested":[{"start":39,"end":47,"label":"LOC","text":"New York"},{"start":39,"end":47,"label":"PER","text":"New York"},{"start":43,"end":47,"label":"LOC","text":"York"}]}`},
		{"no spans", "ents", `{"ents": []}`, `{}`},
		{"null is no value", "sentiment,note", `{"sentiment": null, "note": "x"}`, `{"note":"x"}`},
		{"several blocks", "sentiment,quality", `{"quality": 2, "sentiment": "positive"}`, `{"quality":2,"sentiment":"positive"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.FromLLM(json.RawMessage(tt.answer), strings.Split(tt.names, ","), llmData)
			if err != nil {
				t.Fatalf("FromLLM: %v", err)
			}
			if b, _ := json.Marshal(got); string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}

// Offsets of spans found by their text count code points.
func TestFromLLMSpansCodePoints(t *testing.T) {
	in := mustParse(t, labConfig(llmBlocks)).Interface()
	got, err := in.FromLLM(json.RawMessage(`{"ents": [{"text": "Zoë", "label": "PER"}, {"text": "Zürich", "label": "LOC"}]}`),
		[]string{"ents"}, map[string]any{"text": "👋 Zoë in Zürich", "responses": []any{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"start":2,"end":5,"label":"PER","text":"Zoë"},{"start":9,"end":15,"label":"LOC","text":"Zürich"}]`; string(got["ents"]) != want {
		t.Errorf("got %s, want %s", got["ents"], want)
	}
}

func TestFromLLMErrors(t *testing.T) {
	in := mustParse(t, labConfig(llmBlocks)).Interface()
	tests := []struct {
		name, names, answer, field, msg string
	}{
		{"not an object", "sentiment", `["positive"]`, "", `the model's answer is not a JSON object: ["positive"]`},
		{"not JSON", "sentiment", `sentiment: positive`, "", `the model's answer is not a JSON object`},
		{"two values", "sentiment", `{"sentiment": "neg"} {}`, "", "more than one JSON value"},
		{"unknown key", "sentiment", `{"sentiment": "neg", "confidence": 0.9}`, "", `the model's answer has a key "confidence", which is not one of the blocks asked for ("sentiment")`},
		{"missing key", "sentiment,note", `{"sentiment": "neg"}`, "values.note", `block "note": the model's answer has no value for it`},
		{"wrong enum", "sentiment", `{"sentiment": "Negative"}`, "values.sentiment", `block "sentiment": "Negative" is not one of the options ("positive", "neg")`},
		{"choice not a string", "sentiment", `{"sentiment": 1}`, "values.sentiment", `expected one option as a string, got 1`},
		{"rating as a string", "quality", `{"quality": "4"}`, "values.quality", `expected a rating as a number from 1 to 5, got "4"`},
		{"rating out of range", "quality", `{"quality": 9}`, "values.quality", `rating 9 is out of range`},
		{"multichoice not a list", "tags", `{"tags": "x"}`, "values.tags", `expected a list of options, got "x"`},
		{"multichoice too many", "tags", `{"tags": ["x", "y", "z"]}`, "values.tags", `too many: choose at most 2 options, not 3`},
		{"text too long", "note", `{"note": "` + strings.Repeat("a", 21) + `"}`, "values.note", `the text is too long: 21 characters, at most 20 allowed`},
		{"span text that does not occur", "ents", `{"ents": [{"text": "Ana", "label": "PER"}, {"text": "Berlin", "label": "LOC"}]}`,
			"values.ents", `block "ents": span 2 (LOC "Berlin"): the text does not occur in field "text"`},
		{"more occurrences asked than there are", "ents", `{"ents": [{"text": "Bo", "label": "PER"}, {"text": "Bo", "label": "PER"}, {"text": "Bo", "label": "PER"}]}`,
			"values.ents", `span 3 (PER "Bo"): every occurrence of the text in field "text" is already taken by an earlier span`},
		{"overlapping texts without allow_overlap", "ents", `{"ents": [{"text": "New York", "label": "LOC"}, {"text": "York", "label": "LOC"}]}`,
			"values.ents", `span 2 (LOC "York"): every occurrence of the text in field "text" is already taken`},
		{"span label not a label", "ents", `{"ents": [{"text": "Ana", "label": "PERSON"}]}`,
			"values.ents", `"PERSON" is not one of the labels ("PER", "LOC")`},
		{"span with offsets instead of text", "ents", `{"ents": [{"start": 0, "end": 3, "label": "PER"}]}`,
			"values.ents", `span 1 is not {"text": "...", "label": "..."}`},
		{"span with an empty text", "ents", `{"ents": [{"text": "", "label": "PER"}]}`,
			"values.ents", `span 1 (PER) has an empty text`},
		{"spans not a list", "ents", `{"ents": {"text": "Ana", "label": "PER"}}`,
			"values.ents", `expected a list of spans like [{"text": "Alice", "label": "PER"}]`},
		{"pairwise choice not allowed", "pref", `{"pref": {"choice": "both_bad", "reason": ""}}`,
			"values.pref", `"both_bad" is not allowed here; choose one of "A", "B", "tie"`},
		{"pairwise unknown key", "pref", `{"pref": {"choice": "A", "confidence": 1}}`,
			"values.pref", `expected {"choice": A|B|tie, "reason": "..."}`},
		{"pairwise reason not listed", "why", `{"why": {"choice": "A", "reason": "longer"}}`,
			"values.why", `"longer" is not one of the reasons ("clearer", "shorter")`},
		{"pairwise required reason missing", "why", `{"why": {"choice": "A", "reason": ""}}`,
			"values.why", `a reason is required`},
		{"ranking ids as numbers", "order", `{"order": [1, 0]}`, "values.order", `expected candidate ids as texts, got 1`},
		{"ranking not a permutation", "order", `{"order": ["0", "0"]}`, "values.order", `missing "1"; ranked twice "0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := in.FromLLM(json.RawMessage(tt.answer), strings.Split(tt.names, ","), llmData)
			if err == nil {
				t.Fatalf("FromLLM = %s, want an error with %q", got, tt.msg)
			}
			if loupe.ErrorCode(err) != loupe.EINVALID || loupe.ErrorField(err) != tt.field || !strings.Contains(loupe.ErrorMessage(err), tt.msg) {
				t.Errorf("err = %v\nwant EINVALID on %q with %q", err, tt.field, tt.msg)
			}
		})
	}
}
