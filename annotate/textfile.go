package annotate

import (
	"bytes"
	"io"
	"unicode/utf8"
)

// textReader reads plain text, one item a line: {FIELD: line}, where FIELD
// is textField's choice. Blank lines are skipped; the line end (LF or
// CRLF) is not part of the text, and neither is a byte order mark.
type textReader struct {
	lr    lineSource
	field string
}

func newTextReader(r io.Reader, opt ReadOptions) *textReader {
	return &textReader{lr: newLineSource(r), field: textField(opt)}
}

// Next implements ItemReader.
func (t *textReader) Next() (*ItemRecord, error) {
	raw, line, err := t.lr.next()
	if err != nil {
		return nil, err
	}
	switch {
	case !utf8.Valid(raw):
		return nil, lineErrorf(line, "not valid UTF-8")
	case bytes.IndexByte(raw, 0) >= 0:
		return nil, lineErrorf(line, "holds a NUL byte")
	}
	rec := &ItemRecord{Line: line, Data: map[string]any{t.field: string(raw)}}
	return sealed(rec)
}
