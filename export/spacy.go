package export

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

func init() {
	Register(&Format{Name: "spacy", Doc: "Prodigy/spaCy JSONL: one line per row with text, spans (code points) and the accepted labels",
		ContentType: "application/x-ndjson; charset=utf-8", Ext: "jsonl", Single: true,
		Check: func(in *blocks.Interface) error { _, err := spacyPlanOf(in); return err },
		New: func(s Sink, m *Meta) (Writer, error) {
			p, err := spacyPlanOf(m.Interface)
			if err != nil {
				return nil, err
			}
			w := &spacyWriter{plan: p, meta: m, files: SplitFiles{Sink: s, Ext: "jsonl"}}
			return w, w.files.Ensure(m.Splits)
		}})
}

// spacyPlan is what a spacy export takes from the interface: the text
// field, the spans block over it (nil when none) and the choice or
// multichoice block whose answer is "accept" (nil when none).
type spacyPlan struct {
	field   string
	spans   *blocks.Spans
	choices blocks.Valuer
	options []spacyOption
}

type spacyOption struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// spacyPlanOf picks the blocks a spacy export writes: the first spans
// block, whose field is the text; and the first choice or multichoice
// block, whose text is the first spans block's field, else the field of
// the first text or markdown block. It returns EINVALID saying what is
// missing.
func spacyPlanOf(in *blocks.Interface) (*spacyPlan, error) {
	p := &spacyPlan{}
	for _, v := range in.Valuers() {
		switch b := v.(type) {
		case *blocks.Spans:
			if p.spans == nil {
				p.spans = b
			}
		case *blocks.Choice:
			if p.choices == nil {
				p.choices = b
				for _, o := range b.Options {
					p.options = append(p.options, spacyOption{ID: o.Value, Text: o.Text()})
				}
			}
		case *blocks.MultiChoice:
			if p.choices == nil {
				p.choices = b
				for _, o := range b.Options {
					p.options = append(p.options, spacyOption{ID: o.Value, Text: o.Text()})
				}
			}
		}
	}
	if p.spans != nil {
		p.field = p.spans.Field
		return p, nil
	}
	p.field = textField(in)
	switch {
	case p.choices == nil:
		return nil, loupe.FieldErrorf("format", "spacy needs a spans block (entities over a text field) or a choice or multichoice block with a text field to classify; this project has neither (blocks with values: %s)", valuerList(in))
	case p.field == "":
		return nil, loupe.FieldErrorf("format", "spacy needs the text the labels are about: a text or markdown block showing a field, or a spans block; this project's %s block %q has no text beside it", p.choices.Common().Type, p.choices.Common().Name)
	}
	return p, nil
}

// textField returns the field of the interface's first text or markdown
// block, or "".
func textField(in *blocks.Interface) string {
	field := ""
	in.Walk(func(b blocks.Block) {
		if field != "" {
			return
		}
		switch t := b.(type) {
		case *blocks.Text:
			field = t.Field
		case *blocks.Markdown:
			field = t.Field
		}
	})
	return field
}

// spacyWriter writes one JSON object a line, as Prodigy's ner and
// textcat recipes and spaCy's converters read them:
//
//	{"text": "…", "spans": [{"start": 0, "end": 5, "label": "PER"}],
//	 "options": [{"id": "positive", "text": "Positive"}], "accept": ["positive"],
//	 "answer": "accept", "meta": {"id": "EXTERNAL_ID", "item_id": "…", "user": "…", "split": "…"}}
//
// spans is there when the project has a spans block (offsets count code
// points, as Python does, end exclusive); options and accept when it has
// a choice or multichoice block (accept holds the chosen value, or every
// chosen value, and is [] when none was chosen). answer is "accept", or
// "ignore" when the majority vote tied on the block written (Prodigy
// leaves ignored examples out of training). meta.id is the item's
// external id, else its id; meta.user is there with the "every"
// aggregation, meta.split when the export is split.
type spacyWriter struct {
	plan  *spacyPlan
	meta  *Meta
	files SplitFiles
	buf   []byte
}

func (e *spacyWriter) Write(row *Row) error {
	w, err := e.files.Get(row.Split)
	if err != nil {
		return err
	}
	text, err := rowText(row.Record, e.plan.field)
	if err != nil {
		return err
	}
	answer := "accept"
	b := append(e.buf[:0], `{"text":`...)
	b = appendString(b, text)
	if e.plan.spans != nil {
		name := e.plan.spans.Common().Name
		if slices.Contains(row.Ties, name) {
			answer = "ignore"
		}
		spans, err := rowSpans(row, name)
		if err != nil {
			return err
		}
		b = append(b, `,"spans":[`...)
		for i, sp := range spans {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"start":`...)
			b = strconv.AppendInt(b, int64(sp.Start), 10)
			b = append(b, `,"end":`...)
			b = strconv.AppendInt(b, int64(sp.End), 10)
			b = append(b, `,"label":`...)
			b = appendString(b, sp.Label)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if e.plan.choices != nil {
		name := e.plan.choices.Common().Name
		if slices.Contains(row.Ties, name) {
			answer = "ignore"
		}
		accept := []string{}
		if raw, ok := row.Values[name]; ok && !isEmptyValue(raw) {
			var one string
			if json.Unmarshal(raw, &one) == nil {
				accept = []string{one}
			} else if err := json.Unmarshal(raw, &accept); err != nil {
				return fmt.Errorf("block %q: not a choice: %s", name, raw)
			}
		}
		js, _ := json.Marshal(e.plan.options)
		b = append(b, `,"options":`...)
		b = append(b, js...)
		js, _ = json.Marshal(accept)
		b = append(b, `,"accept":`...)
		b = append(b, js...)
	}
	b = append(b, `,"answer":`...)
	b = appendString(b, answer)
	b = append(b, `,"meta":{"id":`...)
	b = appendString(b, itemRef(row.Record))
	b = append(b, `,"item_id":`...)
	b = appendString(b, row.Record.ItemID)
	b = appendOptString(b, "user", row.User)
	b = appendOptString(b, "split", row.Split)
	b = append(b, "}}\n"...)
	e.buf = b
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write spacy: %w", err)
	}
	return nil
}

func (e *spacyWriter) Close() error { return e.files.Close() }

// rowText returns the text of an item's field. A field that is not a
// string (a number, a list) is written as its JSON.
func rowText(rec *Record, field string) (string, error) {
	var data map[string]json.RawMessage
	if err := json.Unmarshal(rec.Data, &data); err != nil {
		return "", fmt.Errorf("item data: %w", err)
	}
	raw, ok := data[field]
	if !ok || string(raw) == "null" {
		return "", loupe.FieldErrorf("data."+field, "the item has no field %q, the text the labels are about", field)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	return string(raw), nil
}

// rowSpans returns the spans of a row's value for a spans block, sorted
// as stored; none when the block has no value.
func rowSpans(row *Row, block string) ([]blocks.Span, error) {
	raw, ok := row.Values[block]
	if !ok || isEmptyValue(raw) {
		return nil, nil
	}
	var spans []blocks.Span
	if err := json.Unmarshal(raw, &spans); err != nil {
		return nil, fmt.Errorf("block %q: not a list of spans: %w", block, err)
	}
	return spans, nil
}
