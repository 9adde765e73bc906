package annotate_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/loupehq/loupe/annotate"
)

// lsTasks is an export of two tasks in Label Studio's JSON shape, with
// the bookkeeping keys its exports carry.
const lsTasks = `[
  {
    "id": 101,
    "inner_id": 1,
    "data": {"text": "Ivo drove to Graz"},
    "meta": {},
    "annotations": [
      {
        "id": 5, "completed_by": 3, "was_cancelled": false, "ground_truth": false, "lead_time": 4.2,
        "created_at": "2025-06-01T09:30:00.123456Z", "updated_at": "2025-06-01T09:31:00Z", "task": 101, "project": 2,
        "result": [
          {"id": "r1", "from_name": "ents", "to_name": "text", "type": "labels", "origin": "manual",
           "value": {"start": 0, "end": 3, "text": "Ivo", "labels": ["PER"]}},
          {"id": "r2", "from_name": "ents", "to_name": "text", "type": "labels",
           "value": {"start": 13, "end": 17, "text": "Graz", "labels": ["LOC"]}},
          {"id": "r3", "from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}}
        ]
      },
      {"id": 6, "completed_by": {"id": 4, "email": "ana@example.org"}, "was_cancelled": true, "result": []},
      {"id": 7, "completed_by": {"id": 9}, "result": [
        {"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": 3}}]}
    ],
    "predictions": [
      {"id": 1, "model_version": "ner-2", "score": 0.6, "result": [
        {"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}}]}
    ],
    "drafts": [], "total_annotations": 2, "cancelled_annotations": 1
  },
  {"id": 102, "data": {"text": "No answers yet"}, "annotations": [], "predictions": []}
]`

func TestLabelStudioReader(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"array", lsTasks},
		{"jsonl", `{"id": 101, "data": {"text": "Ivo drove to Graz"}, "meta": {}, "annotations": [{"id": 5, "completed_by": 3, "created_at": "2025-06-01T09:30:00.123456Z", "result": [{"id": "r1", "from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "text": "Ivo", "labels": ["PER"]}}, {"id": "r2", "from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 13, "end": 17, "text": "Graz", "labels": ["LOC"]}}, {"id": "r3", "from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}}]}, {"was_cancelled": true, "result": []}, {"completed_by": {"id": 9}, "result": [{"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": 3}}]}], "predictions": [{"model_version": "ner-2", "score": 0.6, "result": [{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "labels": ["PER"]}}]}]}` + "\n" +
			`{"id": 102, "data": {"text": "No answers yet"}, "annotations": [], "predictions": []}`},
	} {
		recs, msgs := readItems(t, "labelstudio", tt.in, annotate.ReadOptions{})
		wantMessages(t, tt.name, msgs, nil)
		if len(recs) != 2 {
			t.Fatalf("%s: %d items, want 2", tt.name, len(recs))
		}
		r := recs[0]
		if r.ExternalID != "101" || string(r.DataJSON) != `{"text":"Ivo drove to Graz"}` || len(r.Annotations) != 2 || len(r.Predictions) != 1 {
			t.Fatalf("%s: task = %+v", tt.name, r)
		}
		if a := r.Annotations[0]; a.User != "3" || !a.CreatedAt.Equal(time.Date(2025, 6, 1, 9, 30, 0, 123456000, time.UTC)) || len(a.LSResults) != 3 {
			t.Errorf("%s: annotation 0 = %+v", tt.name, a)
		}
		if a := r.Annotations[1]; a.User != "9" || !a.CreatedAt.IsZero() {
			t.Errorf("%s: annotation 1 = %+v (the cancelled one must be left out)", tt.name, a)
		}
		if err := r.Resolve(mustInterface(t, importConfig)); err != nil {
			t.Fatalf("%s: Resolve: %v", tt.name, err)
		}
		for i, want := range []string{
			`{"ents":[{"start":0,"end":3,"label":"PER","text":"Ivo"},{"start":13,"end":17,"label":"LOC","text":"Graz"}],"sentiment":"positive"}`,
			`{"quality":3}`,
		} {
			a := r.Annotations[i]
			if got, _ := json.Marshal(a.Values); string(got) != want || a.LSResults != nil {
				t.Errorf("%s: annotation %d values %s, want %s", tt.name, i, got, want)
			}
		}
		if got, _ := json.Marshal(r.Predictions[0].Values); string(got) != `{"ents":[{"start":0,"end":3,"label":"PER","text":"Ivo"}]}` {
			t.Errorf("%s: prediction values %s", tt.name, got)
		}
		if recs[1].ExternalID != "102" || len(recs[1].Annotations) != 0 {
			t.Errorf("%s: task 2 = %+v", tt.name, recs[1])
		}
	}

	// An email names the user; a task without data is all data, as
	// Label Studio reads it.
	recs, msgs := readItems(t, "labelstudio", `[{"data": {"text": "x"}, "annotations": [{"completed_by": {"id": 4, "email": "ana@example.org"}, "result": []}]}, {"text": "flat", "id": 3}]`, annotate.ReadOptions{})
	wantMessages(t, "email", msgs, nil)
	if len(recs) != 2 || recs[0].Annotations[0].User != "ana@example.org" || string(recs[1].DataJSON) != `{"id":3,"text":"flat"}` || recs[1].ExternalID != "" {
		t.Errorf("items %+v", recs)
	}
}

func TestLabelStudioErrors(t *testing.T) {
	in := `[
{"data": "text"},
{"data": {"text": "x"}, "id": "", "annotations": []},
{"data": {"text": "x"}, "annotations": [{"completed_by": "a\u0007", "result": []}]},
{"data": {"text": "x"}, "annotations": [{"completed_by": [1], "result": []}]},
{"data": {"text": "x"}, "annotations": [{"completed_by": 1.5, "result": []}]},
{"data": {"text": "x"}, "annotations": [{"result": {}}]},
{"data": {"text": "x"}, "annotations": [{"result": [{"to_name": "text", "type": "choices", "value": {}}]}]},
{"data": {"text": "x"}, "predictions": [{"result": [], "colour": 1}]},
{"data": {"text": "ok"}}
]`
	recs, msgs := readItems(t, "labelstudio", in, annotate.ReadOptions{})
	wantMessages(t, "label studio", msgs, []string{
		`line 2: data must be an object of the item's fields, got "text"`,
		"line 3: id: must not be empty",
		"line 4: annotations[0]: completed_by holds a control character",
		"line 5: annotations[0]: completed_by must be a user id or an object with the user's email, got [1]",
		"line 6: annotations[0]: completed_by must be a whole number (a user id), got 1.5",
		"line 7: annotations[0]: result must be a list of Label Studio result items, got {}",
		"line 8: annotations[0]: result[0]: from_name is required: the name of the block the result is for",
		`line 9: predictions[0]: unknown key "colour"; a prediction in Label Studio's shape has model_version, score and result`,
	})
	if len(recs) != 1 || recs[0].Line != 10 {
		t.Errorf("items %+v", recs)
	}

	// A result that does not fit the interface names the line and the
	// annotation.
	recs, _ = readItems(t, "labelstudio", `[{"data": {"text": "Ivo"}, "annotations": [{"completed_by": 2, "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["meh"]}}]}]}]`, annotate.ReadOptions{})
	err := recs[0].Resolve(mustInterface(t, importConfig))
	wantMessages(t, "resolve", []string{errMessage(err)}, []string{`line 1: annotations[0] (user "2"): block "sentiment": "meh" is not one of the options ("positive", "negative")`})
}

// A Label Studio file that Loupe exported carries what Label Studio cannot
// say: the external id in meta, each annotation's user and values, each
// prediction's model and version. Those are read back as they were.
func TestLabelStudioFromLoupe(t *testing.T) {
	in := `[
{"id": 1, "data": {"text": "Mia"}, "meta": {"loupe_item_id": "0190", "external_id": "note-1", "state": "approved"},
 "annotations": [{"id": 77, "created_username": "mia", "result": [{"id": "ab", "from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}, "origin": "manual"}],
   "was_cancelled": false, "created_at": "2026-03-01T10:00:00Z", "lead_time": 1.5,
   "loupe": {"id": "a1", "user": "mia", "version": 2, "config_version": 1, "values": {"sentiment": "positive", "quality": 4}}}],
 "predictions": [{"model_version": "clf@7", "score": 0.5, "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["negative"]}, "origin": "prediction", "score": 0.5}],
   "loupe": {"id": "p1", "block": "sentiment", "model": "clf", "version": "7", "source": "import"}}]},
{"id": 2, "data": {"text": "No id"}, "meta": {"loupe_item_id": "0191"}, "annotations": [], "predictions": []},
{"id": 3, "data": {"text": "From Label Studio"}, "annotations": [{"created_username": "ana@example.org, 4", "result": []}]}
]`
	recs, msgs := readItems(t, "labelstudio", in, annotate.ReadOptions{})
	wantMessages(t, "from loupe", msgs, nil)
	if len(recs) != 3 {
		t.Fatalf("%d items", len(recs))
	}
	r := recs[0]
	if r.ExternalID != "note-1" || len(r.Annotations) != 1 || len(r.Predictions) != 1 {
		t.Fatalf("task = %+v", r)
	}
	a := r.Annotations[0]
	if a.User != "mia" || a.LSResults != nil || string(a.Values["quality"]) != "4" || !a.CreatedAt.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("annotation = %+v: the loupe object's values are read, not the results", a)
	}
	if p := r.Predictions[0]; p.Model != "clf" || p.Version != "7" {
		t.Errorf("prediction model %q version %q, want clf 7", p.Model, p.Version)
	}
	if err := r.Resolve(mustInterface(t, importConfig)); err != nil {
		t.Fatal(err)
	}
	if recs[1].ExternalID != "" {
		t.Errorf("an item Loupe exported without an external id came back with %q", recs[1].ExternalID)
	}
	if recs[2].ExternalID != "3" || recs[2].Annotations[0].User != "ana@example.org" {
		t.Errorf("task from Label Studio = %+v", recs[2])
	}
}
