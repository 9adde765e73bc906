package export

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

func init() {
	Register(&Format{Name: "conll", Doc: "CoNLL BIO tags of the spans block: one \"token TAG\" line per token, a blank line after each row",
		ContentType: "text/plain; charset=utf-8", Ext: "conll", Single: true,
		Check: func(in *blocks.Interface) error { _, err := conllSpans(in); return err },
		New: func(s Sink, m *Meta) (Writer, error) {
			sp, err := conllSpans(m.Interface)
			if err != nil {
				return nil, err
			}
			w := &conllWriter{spans: sp, files: SplitFiles{Sink: s, Ext: "conll"}}
			return w, w.files.Ensure(m.Splits)
		}})
}

// conllSpans returns the interface's first spans block, or EINVALID.
func conllSpans(in *blocks.Interface) (*blocks.Spans, error) {
	for _, v := range in.Valuers() {
		if sp, ok := v.(*blocks.Spans); ok {
			return sp, nil
		}
	}
	return nil, loupe.FieldErrorf("format", "conll writes BIO tags of spans and needs a spans block (entities over a text field); this project has none (blocks with values: %s)", valuerList(in))
}

// conllWriter writes the first spans block of each row as BIO tags, two
// columns separated by a space, one token a line, a blank line after each
// row (one row is one "sentence": the item's whole text):
//
//	Alice B-PER
//	Smith I-PER
//	joined O
//
// Tokens are runs of letters, digits and combining marks; every other
// character that is not white space (punctuation, symbols) is a token of
// its own; white space separates tokens and is not written. A token takes
// the tag of a span that overlaps it by at least one character, so a span
// that cuts a token tags the whole token: the first token of the span is
// B-LABEL, the next ones I-LABEL. Where spans overlap (allow_overlap), a
// token stays in the span it is in until that span ends, then takes the
// first span in start order that covers it. White space inside a label
// is written as "_", so that every line has two columns.
//
// There is no -DOCSTART- line: readers that skip it and readers that do
// not both read the file. Rows whose text has no token are left out, and
// so are rows whose majority vote tied on the spans block (BIO cannot say
// "no agreed answer"); a row whose block has no value is all O.
type conllWriter struct {
	spans *blocks.Spans
	files SplitFiles
	buf   []byte
}

func (e *conllWriter) Write(row *Row) error {
	name := e.spans.Common().Name
	if slices.Contains(row.Ties, name) {
		return nil
	}
	text, err := rowText(row.Record, e.spans.Field)
	if err != nil {
		return err
	}
	spans, err := rowSpans(row, name)
	if err != nil {
		return err
	}
	toks := conllTokenize(text)
	if len(toks) == 0 {
		return nil
	}
	w, err := e.files.Get(row.Split)
	if err != nil {
		return err
	}
	b := e.buf[:0]
	for i, tag := range bioTags(toks, spans) {
		b = append(b, toks[i].text...)
		b = append(b, ' ')
		b = append(b, tag...)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	e.buf = b
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write conll: %w", err)
	}
	return nil
}

func (e *conllWriter) Close() error { return e.files.Close() }

// conllToken is a token of a text with its offsets in code points, end
// exclusive.
type conllToken struct {
	text       string
	start, end int
}

// conllTokenize splits text into words (runs of letters, digits and marks) and
// single other characters, dropping white space.
func conllTokenize(text string) []conllToken {
	var out []conllToken
	runes := []rune(text)
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_' }
	for i := 0; i < len(runes); {
		r := runes[i]
		switch {
		case unicode.IsSpace(r) || !unicode.IsPrint(r) && !word(r):
			i++
		case word(r):
			j := i + 1
			for j < len(runes) && word(runes[j]) {
				j++
			}
			out = append(out, conllToken{string(runes[i:j]), i, j})
			i = j
		default:
			out = append(out, conllToken{string(r), i, i + 1})
			i++
		}
	}
	return out
}

// bioTags tags tokens with the spans over them (sorted by start).
func bioTags(toks []conllToken, spans []blocks.Span) []string {
	tags := make([]string, len(toks))
	cur := -1 // the span the previous token was in
	for i, t := range toks {
		over := func(s blocks.Span) bool { return s.Start < t.end && t.start < s.End }
		if cur >= 0 && !over(spans[cur]) {
			cur = -1
		}
		prefix := "I-"
		if cur < 0 {
			for j, s := range spans {
				if over(s) {
					cur = j
					prefix = "B-"
					break
				}
			}
		}
		if cur < 0 {
			tags[i] = "O"
			continue
		}
		tags[i] = prefix + strings.Join(strings.Fields(spans[cur].Label), "_")
	}
	return tags
}
