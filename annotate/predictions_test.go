package annotate_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

const predConfig = `title: Predictions
blocks:
  - {type: text, field: text}
  - {type: choice, name: sentiment, options: [positive, negative]}
  - {type: spans, name: ents, field: text, labels: [PER, LOC]}
  - {type: rating, name: quality}
`

func predInterface(t *testing.T) *blocks.Interface {
	t.Helper()
	cfg, err := blocks.ParseConfig([]byte(predConfig))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Interface()
}

func parseItem(t *testing.T, line string) *annotate.ItemRecord {
	t.Helper()
	rec, err := annotate.ParseItemLine([]byte(line), 7)
	if err != nil {
		t.Fatalf("ParseItemLine: %v", err)
	}
	return rec
}

func TestParseItemPredictions(t *testing.T) {
	// Loupe's shape.
	rec := parseItem(t, `{"id": "r1", "data": {"text": "Ana in Paris"}, "predictions": [
		{"model": "m", "version": "3", "score": 0.91, "values": {"sentiment": "negative", "quality": 4.0}},
		{"model": "rules", "version": 2, "values": {"sentiment": "positive"}}]}`)
	if rec.ExternalID != "r1" || rec.Data["text"] != "Ana in Paris" || len(rec.Predictions) != 2 {
		t.Fatalf("record = %+v", rec)
	}
	if string(rec.DataJSON) != `{"text":"Ana in Paris"}` {
		t.Errorf("data = %s: predictions must not be part of the data (nor its hash)", rec.DataJSON)
	}
	p := rec.Predictions[0]
	if p.Model != "m" || p.Version != "3" || p.Score == nil || *p.Score != 0.91 || string(p.Values["sentiment"]) != `"negative"` || p.LSResults != nil {
		t.Errorf("prediction 0 = %+v", p)
	}
	if p := rec.Predictions[1]; p.Version != "2" || p.Score != nil {
		t.Errorf("prediction 1 = %+v: a numeric version is its text, a missing score nil", p)
	}

	// Label Studio's shape, with the bookkeeping keys of its exports.
	rec = parseItem(t, `{"data": {"text": "Ana in Paris"}, "predictions": [
		{"id": 12, "model": null, "model_version": "v2", "score": 0.8, "created_ago": "3 hours", "task": 1,
		 "result": [{"id": "a1", "from_name": "ents", "to_name": "text", "type": "labels", "origin": "prediction",
		             "value": {"start": 0, "end": 3, "text": "Ana", "labels": ["PER"]}}]},
		{"model": "spacy", "model_version": 7, "score": null, "result": []}]}`)
	p = rec.Predictions[0]
	if p.Model != annotate.LabelStudioModel || p.Version != "v2" || *p.Score != 0.8 || p.Values != nil || len(p.LSResults) != 1 {
		t.Fatalf("prediction 0 = %+v", p)
	}
	if r := p.LSResults[0]; r.ID != "a1" || r.FromName != "ents" || r.ToName != "text" || r.Type != "labels" || r.Value["text"] != "Ana" {
		t.Errorf("result = %+v", r)
	}
	if p := rec.Predictions[1]; p.Model != "spacy" || p.Version != "7" || p.Score != nil || p.LSResults == nil || len(p.LSResults) != 0 {
		t.Errorf("prediction 1 = %+v", p)
	}

	// A flat item keeps a field named predictions as data.
	rec = parseItem(t, `{"text": "x", "predictions": "kept"}`)
	if rec.Data["predictions"] != "kept" || rec.Predictions != nil {
		t.Errorf("flat record = %+v", rec)
	}
	// predictions: null is none.
	if rec := parseItem(t, `{"data": {"text": "x"}, "predictions": null}`); rec.Predictions != nil {
		t.Errorf("null predictions = %+v", rec.Predictions)
	}
}

func TestParseItemPredictionErrors(t *testing.T) {
	many := strings.TrimSuffix(strings.Repeat(`{"model": "m", "values": {"a": 1}},`, 101), ",")
	tests := []struct{ preds, msg string }{
		{`{"model": "m"}`, `line 7: predictions must be a list of predictions, got {"model":"m"}`},
		{`["m"]`, `line 7: predictions[0] must be an object, got "m"`},
		{`[` + many + `]`, `line 7: predictions: 101 predictions, at most 100 allowed per item`},
		{`[{"model": "m"}]`, `line 7: predictions[0]: needs values (Loupe's shape`},
		{`[{"model": "m", "values": {"a": 1}, "result": []}]`, `line 7: predictions[0]: has both values (Loupe's shape) and result (Label Studio's); give one`},
		{`[{"model": "m", "values": {"a": 1}, "confidence": 1}]`, `line 7: predictions[0]: unknown key "confidence"; a prediction in Loupe's shape has model, version, score and values`},
		{`[{"values": {"a": 1}}]`, `line 7: predictions[0]: model is required`},
		{`[{"model": 3, "values": {"a": 1}}]`, `line 7: predictions[0]: model is required: the name of the model, a non-empty string`},
		{`[{"model": "` + strings.Repeat("é", 201) + `", "values": {"a": 1}}]`, `line 7: predictions[0]: model is longer than 200 characters`},
		{`[{"model": "m\n", "values": {"a": 1}}]`, `line 7: predictions[0]: model holds a control character`},
		{`[{"model": "m", "version": ["1"], "values": {"a": 1}}]`, `line 7: predictions[0]: version must be a string, got ["1"]`},
		{`[{"model": "m", "version": "` + strings.Repeat("v", 201) + `", "values": {"a": 1}}]`, `line 7: predictions[0]: version is longer than 200 characters`},
		{`[{"model": "m", "score": 1.2, "values": {"a": 1}}]`, `line 7: predictions[0]: score must be between 0 and 1, got 1.2`},
		{`[{"model": "m", "score": -0.1, "values": {"a": 1}}]`, `line 7: predictions[0]: score must be between 0 and 1, got -0.1`},
		{`[{"model": "m", "score": "0.5", "values": {"a": 1}}]`, `line 7: predictions[0]: score must be a number, got "0.5"`},
		{`[{"model": "m", "score": 1e999, "values": {"a": 1}}]`, `line 7: predictions[0]: score must be a finite number`},
		{`[{"model": "m", "values": ["negative"]}]`, `line 7: predictions[0]: values must be an object from block name to value, got ["negative"]`},
		{`[{"model": "m", "values": {}}]`, `line 7: predictions[0]: values is empty`},
		{`[{"model_version": "v", "result": {}}]`, `line 7: predictions[0]: result must be a list of Label Studio result items, got {}`},
		{`[{"model_version": "v", "result": [], "annotations": []}]`, `line 7: predictions[0]: unknown key "annotations"; a prediction in Label Studio's shape has model_version, score and result`},
		{`[{"model_version": "v", "score": 2, "result": []}]`, `line 7: predictions[0]: score must be between 0 and 1, got 2`},
		{`[{"model": "", "result": []}]`, `line 7: predictions[0]: model must not be empty`},
		{`[{"result": ["x"]}]`, `line 7: predictions[0]: result[0]: must be an object {from_name, to_name, type, value}, got "x"`},
		{`[{"result": [{"to_name": "t", "type": "choices", "value": {}}]}]`, `line 7: predictions[0]: result[0]: from_name is required`},
		{`[{"result": [{"from_name": "s", "value": {}}]}]`, `line 7: predictions[0]: result[0]: type is required`},
		{`[{"result": [{"from_name": "s", "type": "choices", "value": ["a"]}]}]`, `line 7: predictions[0]: result[0]: value must be an object, got ["a"]`},
		{`[{"result": [{"from_name": "s", "type": "choices", "value": {}, "colour": 1}]}]`, `line 7: predictions[0]: result[0]: unknown key "colour"`},
		{`[{"result": [{"from_name": "s", "type": "choices", "value": {}, "original_width": 10.5}]}]`, `line 7: predictions[0]: result[0]: original_width must be a whole number of pixels`},
		{`[{"result": [{"from_name": "s", "type": "choices", "value": {}, "to_name": 1}]}]`, `line 7: predictions[0]: result[0]: to_name must be a string`},
		{`[{"model": "m", "values": {"a": 1}}, {"model": "m", "values": {"a": 1}, "x": 1}]`, `line 7: predictions[1]: unknown key "x"`},
	}
	for _, tt := range tests {
		_, err := annotate.ParseItemLine([]byte(`{"data": {"text": "x"}, "predictions": `+tt.preds+`}`), 7)
		if loupe.ErrorCode(err) != loupe.EINVALID || !strings.HasPrefix(loupe.ErrorMessage(err), tt.msg) {
			t.Errorf("%s:\nerr  %v\nwant EINVALID starting %q", tt.preds, err, tt.msg)
		}
	}
}

func TestResolvePredictions(t *testing.T) {
	in := predInterface(t)
	rec := parseItem(t, `{"data": {"text": "Ana in Paris"}, "predictions": [
		{"model": "m", "version": "3", "values": {"sentiment": "negative", "quality": 4.0, "ents": [{"start": 7, "end": 12, "label": "LOC"}]}},
		{"model_version": "v2", "score": 0.5, "result": [
			{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "text": "Ana", "labels": ["PER"]}},
			{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}}]},
		{"model": "empty", "values": {"ents": []}}]}`)
	if err := rec.ResolvePredictions(in); err != nil {
		t.Fatalf("ResolvePredictions: %v", err)
	}
	for i, want := range []string{
		`{"ents":[{"start":7,"end":12,"label":"LOC","text":"Paris"}],"quality":4,"sentiment":"negative"}`,
		`{"ents":[{"start":0,"end":3,"label":"PER","text":"Ana"}],"sentiment":"positive"}`,
		`{}`,
	} {
		p := rec.Predictions[i]
		if got, _ := json.Marshal(p.Values); string(got) != want || p.LSResults != nil {
			t.Errorf("prediction %d: values %s (LS results %v), want %s", i, got, p.LSResults, want)
		}
	}

	tests := []struct{ name, preds, msg string }{
		{"unknown block", `[{"model": "m", "values": {"sentimnt": "negative"}}]`,
			`line 7: predictions[0] (model "m"): no block is named "sentimnt"; blocks with values: sentiment, ents, quality`},
		{"invalid value", `[{"model": "m", "values": {"sentiment": "neutral"}}]`,
			`line 7: predictions[0] (model "m"): block "sentiment": "neutral" is not one of the options ("positive", "negative")`},
		{"invalid span", `[{"model": "m", "values": {"ents": [{"start": 0, "end": 3, "label": "PER", "text": "Bob"}]}}]`,
			`line 7: predictions[0] (model "m"): block "ents": span 1 (PER, 0–3) claims the text "Bob", but the text at those offsets is "Ana"`},
		{"LS result for no block", `[{"result": [{"from_name": "mood", "type": "choices", "value": {"choices": ["positive"]}}]}]`,
			`line 7: predictions[0] (model "label-studio"): a Label Studio result names from_name "mood", but no block is named "mood"; blocks with values: sentiment, ents, quality`},
		{"LS result of an unsupported type", `[{"result": [{"from_name": "ents", "type": "hypertextlabels", "value": {"startOffset": 0, "endOffset": 3, "hypertextlabels": ["PER"]}}]}]`,
			`line 7: predictions[0] (model "label-studio"): block "ents" (spans) takes Label Studio results of type "labels", got "hypertextlabels"`},
		{"LS invalid value", `[{"model": "ls", "result": [{"from_name": "quality", "type": "rating", "value": {"rating": 9}}]}]`,
			`line 7: predictions[0] (model "ls"): block "quality": rating 9 is out of range`},
		{"same model and version twice for a block", `[{"model": "m", "version": "1", "values": {"sentiment": "negative"}}, {"model": "m", "version": "1", "values": {"sentiment": "positive"}}]`,
			`line 7: predictions[1] (model "m"): predictions[0] of the same model and version already gives block "sentiment" a value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := parseItem(t, `{"data": {"text": "Ana in Paris"}, "predictions": `+tt.preds+`}`)
			err := rec.ResolvePredictions(in)
			if loupe.ErrorCode(err) != loupe.EINVALID || !strings.HasPrefix(loupe.ErrorMessage(err), tt.msg) {
				t.Errorf("err  %v\nwant EINVALID starting %q", err, tt.msg)
			}
		})
	}

	// Different versions of a model may both predict a block.
	rec = parseItem(t, `{"data": {"text": "x"}, "predictions": [{"model": "m", "version": "1", "values": {"sentiment": "negative"}}, {"model": "m", "version": "2", "values": {"sentiment": "positive"}}]}`)
	if err := rec.ResolvePredictions(in); err != nil {
		t.Errorf("two versions: %v", err)
	}
}

// Resolve on its own names the block in the error's field.
func TestPredictionRecordResolve(t *testing.T) {
	in := predInterface(t)
	p := annotate.PredictionRecord{Model: "m", Values: map[string]json.RawMessage{"quality": json.RawMessage(`"4"`)}}
	err := p.Resolve(in, map[string]any{"text": "x"})
	if loupe.ErrorField(err) != "values.quality" || !strings.Contains(loupe.ErrorMessage(err), `block "quality": expected a rating as a number`) {
		t.Errorf("err = %v", err)
	}
}

func TestPredictionDecoder(t *testing.T) {
	in := "\xef\xbb\xbf{\"id\": \"a\", \"predictions\": [{\"model\": \"m\", \"values\": {\"sentiment\": \"negative\"}}]}\r\n" +
		"\n" +
		`{"id": 42, "predictions": [{"model_version": "v", "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}}]}]}` + "\n" +
		`{"predictions": [{"model": "m", "values": {"sentiment": "negative"}}]}` + "\n" +
		`{"id": "c", "data": {"text": "x"}, "predictions": [{"model": "m", "values": {"sentiment": "negative"}}]}` + "\n" +
		`{"id": "d", "predictions": []}` + "\n" +
		`{"id": "e"}` + "\n" +
		`{"id": "f", "predictions": [{"model": "m", "score": 3, "values": {"sentiment": "negative"}}]}` + "\n" +
		`{"id": 1.5, "predictions": [{"model": "m", "values": {"sentiment": "negative"}}]}` + "\n" +
		`not json` + "\n" +
		`{"id": "g", "predictions": [{"model": "m", "values": {"quality": 9}}]}`
	dec := annotate.NewPredictionDecoder(strings.NewReader(in))
	var lines []*annotate.PredictionLine
	var errs []string
	for {
		pl, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			if loupe.ErrorCode(err) != loupe.EINVALID {
				t.Errorf("error %v is not EINVALID", err)
			}
			errs = append(errs, loupe.ErrorMessage(err))
			continue
		}
		lines = append(lines, pl)
	}
	wantErrs := []string{
		"line 4: id is required: predictions attach to the item with that external id",
		`line 5: unknown key "data"; a line of a predictions file is {"id": "ext-id", "predictions": [...]}`,
		"line 6: predictions is missing or empty",
		"line 7: predictions is missing or empty",
		"line 8: predictions[0]: score must be between 0 and 1, got 3",
		"line 9: id: a numeric id must be a whole number",
		"line 10: not a JSON object: invalid character 'o' in literal null (expecting 'u') (column 2)",
	}
	if strings.Join(errs, "\n") != strings.Join(wantErrs, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	if lines[0].Line != 1 || lines[0].ExternalID != "a" || lines[1].Line != 3 || lines[1].ExternalID != "42" || lines[2].Line != 11 {
		t.Errorf("lines = %+v %+v %+v", lines[0], lines[1], lines[2])
	}
	if dec.Line() != 11 {
		t.Errorf("Line() = %d, want 11", dec.Line())
	}
	// Resolving against the item's data, as the importer does once it has
	// found the item by its id.
	pi := predInterface(t)
	if err := lines[1].Resolve(pi, map[string]any{"text": "x"}); err != nil || string(lines[1].Predictions[0].Values["sentiment"]) != `"positive"` {
		t.Errorf("Resolve: %v, values %v", err, lines[1].Predictions[0].Values)
	}
	err := lines[2].Resolve(pi, map[string]any{"text": "x"})
	if got := loupe.ErrorMessage(err); got != `line 11: predictions[0] (model "m"): block "quality": rating 9 is out of range: choose from 1 to 5` {
		t.Errorf("err = %v", err)
	}
}
