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

// fuzzRead reads every item of data in the format and checks what any
// reader must hold whatever its input: no panic, an end within one call
// per input byte, every error EINVALID and naming its line, and records no
// bigger than the input can explain (canonical JSON escapes a byte into at
// most six). Each record is then resolved against the interface, whose
// errors must name the line too.
func fuzzRead(t *testing.T, format string, data []byte, in *blocks.Interface) {
	r, err := annotate.NewItemReader(format, strings.NewReader(string(data)), annotate.ReadOptions{Interface: in})
	if err != nil {
		t.Fatal(err)
	}
	for calls := 0; ; calls++ {
		if calls > len(data)+2 {
			t.Fatalf("%s: no end after %d calls on %d bytes", format, calls, len(data))
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if loupe.ErrorCode(err) != loupe.EINVALID || !strings.HasPrefix(loupe.ErrorMessage(err), "line ") {
				t.Fatalf("%s: error %v is not EINVALID \"line N: …\"", format, err)
			}
			continue
		}
		if rec.Line < 1 || len(rec.DataJSON) == 0 || len(rec.Hash) != 64 {
			t.Fatalf("%s: record %+v", format, rec)
		}
		if len(rec.DataJSON) > 6*len(data)+64 {
			t.Fatalf("%s: %d bytes of data from %d bytes of input", format, len(rec.DataJSON), len(data))
		}
		if err := rec.Resolve(in); err != nil && (loupe.ErrorCode(err) != loupe.EINVALID || !strings.HasPrefix(loupe.ErrorMessage(err), "line ")) {
			t.Fatalf("%s: Resolve: %v is not EINVALID \"line N: …\"", format, err)
		}
	}
}

func FuzzJSONLReader(f *testing.F) {
	for _, seed := range []string{
		`{"text": "a"}`,
		"\xef\xbb\xbf{\"id\": \"a\", \"data\": {\"text\": \"x\"}}\r\n\n{\"text\": \"b\"}",
		`{"id": "u", "external_id": null, "data": {"text": "Mia"}, "annotations": [{"user": "mia", "values": {"sentiment": "positive", "ents": [{"start": 0, "end": 3, "label": "PER"}]}, "created_at": "2026-01-01T00:00:00Z"}], "predictions": [{"block": "sentiment", "model": "m", "version": "1", "score": 0.5, "value": "negative"}]}`,
		`{"data": {"text": "x"}, "predictions": [{"model": "m", "values": {"quality": 4}}, {"model_version": "v", "result": [{"from_name": "sentiment", "type": "choices", "value": {"choices": ["positive"]}}]}]}`,
		`[{"text": "a"}, {"data": {"text": "b"}, "id": 2}]`,
		`{"text": "Kai in Lima", "spans": [{"start": 0, "end": 3, "label": "PER"}], "answer": "accept", "accept": ["positive"], "_session_id": "s"}`,
		`{"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		"{\"a\": \"\x00\"}\n{\"a\": \"\\u0000\"}\n{\"a\": \"\xff\"}",
		`{"a": tru}` + "\n" + `[1,,2]`,
	} {
		f.Add([]byte(seed))
	}
	in := mustInterface(f, importConfig)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{"jsonl", "json", "prodigy"} {
			fuzzRead(t, format, data, in)
		}
		// On a valid JSON array the scanner finds exactly the elements
		// encoding/json finds: one item or one error each.
		var elems []json.RawMessage
		if json.Unmarshal(data, &elems) == nil && elems != nil {
			r, _ := annotate.NewItemReader("json", strings.NewReader(string(data)), annotate.ReadOptions{})
			recs, msgs := drain(t, r, len(data)+2)
			if len(recs)+len(msgs) != len(elems) {
				t.Fatalf("%d items and %d errors (%v) from an array of %d elements", len(recs), len(msgs), msgs, len(elems))
			}
		}
	})
}

func FuzzCSVReader(f *testing.F) {
	for _, seed := range []string{
		"id,text\n1,hello\n",
		"\xef\xbb\xbfid,text\r\n1,\"two\r\nlines\"\r\n2,x,y\n",
		"text\tlang\nhello\ten\n",
		"a,,b\n",
		"text,text\n",
		"id,text\n1,\"open\n",
		"id,text\n,empty\n3,bare \"q\n4,\"nul \x00\"\n5,\"\xff\"\n",
		"one line of text\n\nanother",
	} {
		f.Add([]byte(seed))
	}
	in := mustInterface(f, importConfig)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{"csv", "tsv", "text"} {
			fuzzRead(t, format, data, in)
		}
	})
}

func FuzzLabelStudioReader(f *testing.F) {
	for _, seed := range []string{
		lsTasks,
		`{"id": 1, "data": {"text": "Ivo"}, "annotations": [{"completed_by": {"email": "a@b.c"}, "result": [{"from_name": "ents", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 3, "text": "Ivo", "labels": ["PER"]}}]}]}`,
		`[{"data": {"text": "x"}, "annotations": [{"was_cancelled": true, "result": []}, {"completed_by": 2, "result": [{"from_name": "topics", "to_name": "text", "type": "choices", "value": {"choices": ["food", "sport"]}}]}]}]`,
		`[{"data": {"text": "x"}, "predictions": [{"model_version": 3, "score": 0.2, "result": [{"from_name": "quality", "type": "rating", "value": {"rating": 9}}]}]}]`,
		`[{"data": "x"}, {"text": "flat"}, 5, null]`,
		"[\n{\"a\": [}\n]",
		`[{"id": 1, "data": {"text": "Mia"}, "meta": {"loupe_item_id": "x", "external_id": "n-1"}, "annotations": [{"created_username": "mia", "result": [], "loupe": {"user": "mia", "values": {"quality": 4}}}], "predictions": [{"model_version": "m@1", "result": [], "loupe": {"block": "quality", "model": "m", "version": "1"}}]}]`,
	} {
		f.Add([]byte(seed))
	}
	in := mustInterface(f, importConfig)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRead(t, "labelstudio", data, in)
	})
}
