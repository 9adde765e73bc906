package annotate_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/loupehq/loupe/annotate"
)

func TestProdigyReader(t *testing.T) {
	in := mustInterface(t, importConfig)
	// Offsets count characters (code points): the emoji before "Kai"
	// is one character, as in Python.
	file := `{"text": "🙂 Kai met Noor in Lima", "spans": [{"start": 2, "end": 5, "label": "PER", "token_start": 1, "token_end": 1}, {"start": 18, "end": 22, "label": "LOC"}], "answer": "accept", "_input_hash": -11, "_task_hash": 22, "_session_id": "ner-kai", "_timestamp": 1767225600, "meta": {"source": "blog"}}
{"text": "I liked the trip", "accept": ["positive"], "answer": "accept", "options": [{"id": "positive", "text": "Positive"}, {"id": "negative", "text": "Negative"}], "id": "t-2"}
{"text": "Rejected text", "spans": [{"start": 0, "end": 3, "label": "PER"}], "answer": "reject", "meta": {"id": 77}}
{"text": "Ignored text", "answer": "ignore"}
{"text": "Raw input, no answer", "_input_hash": 5}
`
	recs, msgs := readItems(t, "prodigy", file, annotate.ReadOptions{Interface: in})
	wantMessages(t, "prodigy", msgs, nil)
	if len(recs) != 5 {
		t.Fatalf("%d items, want 5", len(recs))
	}
	r := recs[0]
	if string(r.DataJSON) != `{"meta":{"source":"blog"},"text":"🙂 Kai met Noor in Lima"}` || r.ExternalID != "" || len(r.Annotations) != 1 {
		t.Fatalf("task 1 = %+v", r)
	}
	a := r.Annotations[0]
	if a.User != "ner-kai" || !a.CreatedAt.Equal(time.Unix(1767225600, 0)) {
		t.Errorf("annotation = %+v", a)
	}
	if err := r.Resolve(in); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got, _ := json.Marshal(r.Annotations[0].Values); string(got) != `{"ents":[{"start":2,"end":5,"label":"PER","text":"Kai"},{"start":18,"end":22,"label":"LOC","text":"Lima"}]}` {
		t.Errorf("values = %s", got)
	}
	r = recs[1]
	if r.ExternalID != "t-2" || len(r.Annotations) != 1 || r.Annotations[0].User != annotate.ProdigyUser {
		t.Fatalf("task 2 = %+v", r)
	}
	if err := r.Resolve(in); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got, _ := json.Marshal(r.Annotations[0].Values); string(got) != `{"sentiment":"positive"}` {
		t.Errorf("accept mapped to %s", got)
	}
	if r := recs[2]; r.ExternalID != "77" || len(r.Annotations) != 0 || string(r.DataJSON) != `{"meta":{"id":77},"text":"Rejected text"}` {
		t.Errorf("rejected task = %+v", r)
	}
	for _, r := range recs[3:] {
		if len(r.Annotations) != 0 || r.ExternalID != "" {
			t.Errorf("task on line %d = %+v", r.Line, r)
		}
	}

	// A multichoice block takes every accepted option.
	multi := mustInterface(t, "title: t\nblocks:\n  - {type: text, field: text}\n  - {type: multichoice, name: topics, options: [food, travel, sport]}\n")
	recs, msgs = readItems(t, "prodigy", `{"text": "x", "accept": ["travel", "food"], "answer": "accept"}`, annotate.ReadOptions{Interface: multi})
	wantMessages(t, "multichoice", msgs, nil)
	if err := recs[0].Resolve(multi); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(recs[0].Annotations[0].Values); string(got) != `{"topics":["food","travel"]}` {
		t.Errorf("multichoice values %s", got)
	}
}

func TestProdigyErrors(t *testing.T) {
	in := mustInterface(t, importConfig)
	file := `{"spans": []}
{"text": 5}
{"text": "x", "answer": "maybe"}
{"text": "x", "answer": "accept", "spans": {}}
{"text": "x", "answer": "accept", "spans": [{"start": "0", "end": 1, "label": "PER"}]}
{"text": "x", "answer": "accept", "spans": [{"start": 0, "end": 1}]}
{"text": "x", "answer": "accept", "accept": ["positive", "negative"]}
{"text": "x", "answer": "accept", "accept": [{"id": 1}]}
{"text": "x", "id": 1.5}
{"text": "x", "meta": {"id": ""}}
{"text": "x", "answer": "accept", "_session_id": "a\nb"}
{"text": "fine"}
`
	recs, msgs := readItems(t, "prodigy", file, annotate.ReadOptions{Interface: in})
	wantMessages(t, "prodigy", msgs, []string{
		`line 1: text is required: a Prodigy task holds its text under "text"`,
		"line 2: text must be a string, got 5",
		`line 3: answer must be "accept", "reject" or "ignore", got "maybe"`,
		`line 4: spans must be a list of spans like [{"start": 0, "end": 3, "label": "PER"}], got {}`,
		`line 5: spans[0].start must be a whole number of characters, got "0"`,
		"line 6: spans[0].label must be a string, got nothing",
		`line 7: accept holds 2 options, and the choice block "sentiment" takes one`,
		`line 8: accept[0] must be an option id (a string or a number), got {"id":1}`,
		"line 9: id: a numeric id must be a whole number",
		"line 10: meta.id: must not be empty",
		"line 11: _session_id holds a control character",
	})
	if len(recs) != 1 {
		t.Errorf("%d items, want 1", len(recs))
	}

	// Answers the interface cannot take.
	plain := mustInterface(t, "title: t\nblocks:\n  - {type: text, field: text}\n  - {type: rating, name: q}\n")
	_, msgs = readItems(t, "prodigy", `{"text": "x", "answer": "accept", "spans": [{"start": 0, "end": 1, "label": "PER"}]}
{"text": "x", "answer": "accept", "accept": ["a"]}
{"text": "x", "answer": "accept", "spans": [], "accept": []}`, annotate.ReadOptions{Interface: plain})
	wantMessages(t, "no blocks", msgs, []string{
		`line 1: spans: the interface has no spans block over field "text" to take them`,
		"line 2: accept: the interface has no choice or multichoice block to take the options",
	})

	// Offsets outside the text are the spans block's to refuse.
	recs, _ = readItems(t, "prodigy", `{"text": "abc", "answer": "accept", "spans": [{"start": 1, "end": 9, "label": "LOC"}]}`, annotate.ReadOptions{Interface: in})
	err := recs[0].Resolve(in)
	wantMessages(t, "offsets", []string{errMessage(err)}, []string{`line 1: annotations[0] (user "prodigy"): values.ents: span 1 (LOC, 1–9) is outside the text, which is 3 characters long`})
}
