package annotate

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// ProdigyUser is the user of an accepted Prodigy answer that names no
// session.
const ProdigyUser = "prodigy"

// prodigyReader reads Prodigy / spaCy JSONL, one task a line:
//
//	{"text": "…", "spans": [{"start": 0, "end": 3, "label": "PER"}], "answer": "accept",
//	 "accept": ["opt"], "meta": {…}, "_input_hash": 1, "_task_hash": 2, "_session_id": "…"}
//
// The item's data is {FIELD: text} (FIELD from textField), plus "meta"
// when the task has one. The external id is the task's id, else meta.id,
// else none (the item is known by its content). An accepted answer is an
// annotation: spans go to the interface's spans block over FIELD, the
// accepted option ids to its first choice or multichoice block. A
// rejected or ignored answer, or none, imports the item only. Prodigy's
// other keys (tokens, _view_id, options, …) are accepted and not kept.
type prodigyReader struct {
	src    lineSource
	field  string
	spans  *blocks.Spans // nil when the interface has none over field
	choice blocks.Valuer // the first *blocks.Choice or *blocks.MultiChoice, or nil
}

func newProdigyReader(r io.Reader, opt ReadOptions) *prodigyReader {
	p := &prodigyReader{src: newLineSource(r), field: textField(opt)}
	if opt.Interface != nil {
		opt.Interface.Walk(func(b blocks.Block) {
			switch b := b.(type) {
			case *blocks.Spans:
				if p.spans == nil && b.Field == p.field {
					p.spans = b
				}
			case *blocks.Choice, *blocks.MultiChoice:
				if p.choice == nil {
					p.choice = b.(blocks.Valuer)
				}
			}
		})
	}
	return p
}

// Next implements ItemReader.
func (p *prodigyReader) Next() (*ItemRecord, error) {
	raw, line, err := p.src.next()
	if err != nil {
		return nil, err
	}
	obj, err := parseObject(raw, line)
	if err != nil {
		return nil, err
	}
	rec, err := p.task(obj, line)
	if err != nil {
		return nil, lineErrorf(line, "%s", loupe.ErrorMessage(err))
	}
	return sealed(rec)
}

// task makes the item of one Prodigy task.
func (p *prodigyReader) task(obj map[string]any, line int) (*ItemRecord, error) {
	text, ok := obj["text"].(string)
	if !ok {
		if _, given := obj["text"]; given {
			return nil, predErrorf("text must be a string, got %s", describe(obj["text"]))
		}
		return nil, predErrorf("text is required: a Prodigy task holds its text under \"text\"")
	}
	rec := &ItemRecord{Line: line, Data: map[string]any{p.field: text}}
	meta, hasMeta := obj["meta"]
	if hasMeta && meta != nil {
		if p.field == "meta" {
			return nil, predErrorf("the text goes to field \"meta\", where Prodigy's meta would go too; choose another field")
		}
		rec.Data["meta"] = meta
	}
	id, key := obj["id"], "id"
	if m, ok := meta.(map[string]any); ok && id == nil {
		id, key = m["id"], "meta.id"
	}
	if id != nil {
		ext, err := externalID(id)
		if err != nil {
			return nil, predErrorf("%s: %s", key, err)
		}
		rec.ExternalID = ext
	}
	switch a := obj["answer"]; a {
	case nil, "reject", "ignore":
		return rec, nil
	case "accept":
	default:
		return nil, predErrorf(`answer must be "accept", "reject" or "ignore", got %s`, describe(a))
	}
	ann, err := p.answer(obj, text)
	if err != nil {
		return nil, err
	}
	rec.Annotations = []AnnotationRecord{ann}
	return rec, nil
}

// answer makes the annotation of an accepted task.
func (p *prodigyReader) answer(obj map[string]any, text string) (AnnotationRecord, error) {
	a := AnnotationRecord{User: ProdigyUser, Values: map[string]json.RawMessage{}}
	for _, key := range []string{"_session_id", "_annotator_id"} {
		if s, ok := obj[key].(string); ok && s != "" {
			u, err := annotationUser(key, s)
			if err != nil {
				return a, err
			}
			a.User = u
			break
		}
	}
	if ts, ok := obj["_timestamp"].(json.Number); ok {
		if n, err := strconv.ParseInt(string(ts), 10, 64); err == nil && n > 0 && n < 1e11 {
			a.CreatedAt = time.Unix(n, 0).UTC()
		}
	}
	if x := obj["spans"]; x != nil {
		list, ok := x.([]any)
		if !ok {
			return a, predErrorf(`spans must be a list of spans like [{"start": 0, "end": 3, "label": "PER"}], got %s`, describe(x))
		}
		if p.spans == nil {
			if len(list) > 0 {
				return a, predErrorf("spans: the interface has no spans block over field %q to take them", p.field)
			}
		} else {
			spans, err := prodigySpans(list, []rune(text))
			if err != nil {
				return a, err
			}
			a.Values[p.spans.Name] = spans
		}
	}
	if x := obj["accept"]; x != nil {
		list, ok := x.([]any)
		if !ok {
			return a, predErrorf("accept must be a list of the ids of the accepted options, got %s", describe(x))
		}
		ids := make([]string, len(list))
		for i, o := range list {
			switch o := o.(type) {
			case string:
				ids[i] = o
			case json.Number:
				ids[i] = o.String()
			default:
				return a, predErrorf("accept[%d] must be an option id (a string or a number), got %s", i, describe(o))
			}
		}
		switch c := p.choice.(type) {
		case nil:
			if len(ids) > 0 {
				return a, predErrorf("accept: the interface has no choice or multichoice block to take the options")
			}
		case *blocks.Choice:
			switch len(ids) {
			case 0:
			case 1:
				a.Values[c.Name], _ = json.Marshal(ids[0])
			default:
				return a, predErrorf("accept holds %d options, and the choice block %q takes one", len(ids), c.Name)
			}
		case *blocks.MultiChoice:
			a.Values[c.Name], _ = json.Marshal(ids)
		}
	}
	return a, nil
}

// prodigySpans converts Prodigy's spans into a spans value. Prodigy counts
// offsets in characters of a Python string, which are code points, as
// Loupe does: they are kept as they are. A span's text is Prodigy's own
// when given (so that the block's check compares it with the text at the
// offsets), else the text at the offsets. Prodigy's other span keys
// (token_start, token_end, source, input_hash) are not kept.
func prodigySpans(list []any, text []rune) (json.RawMessage, error) {
	out := make([]blocks.Span, len(list))
	for i, x := range list {
		s, ok := x.(map[string]any)
		if !ok {
			return nil, predErrorf("spans[%d] must be an object {start, end, label}, got %s", i, describe(x))
		}
		var sp blocks.Span
		for _, f := range []struct {
			key string
			to  *int
		}{{"start", &sp.Start}, {"end", &sp.End}} {
			n, ok := s[f.key].(json.Number)
			v, err := strconv.Atoi(string(n))
			if !ok || err != nil {
				return nil, predErrorf("spans[%d].%s must be a whole number of characters, got %s", i, f.key, describe(s[f.key]))
			}
			*f.to = v
		}
		if sp.Label, ok = s["label"].(string); !ok {
			return nil, predErrorf("spans[%d].label must be a string, got %s", i, describe(s["label"]))
		}
		switch t := s["text"].(type) {
		case string:
			sp.Text = t
		default:
			if 0 <= sp.Start && sp.Start < sp.End && sp.End <= len(text) {
				sp.Text = string(text[sp.Start:sp.End])
			}
		}
		out[i] = sp
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("spans: %w", err)
	}
	return b, nil
}
