package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/loupehq/loupe/blocks"
)

func init() {
	Register(&Format{Name: "csv", Doc: "one row per row of the aggregation: ids, the item's fields and a column per block value part, with formula cells neutralised for spreadsheets",
		ContentType: "text/csv; charset=utf-8", Ext: "csv", Single: true,
		New: func(s Sink, m *Meta) (Writer, error) {
			w := &csvWriter{cols: csvColumns(m)}
			w.files = SplitFiles{Sink: s, Ext: "csv", Header: w.header}
			return w, w.files.Ensure(m.Splits)
		}})
}

// csvWriter writes one CSV row per row of the aggregation, RFC 4180
// quoting (encoding/csv), UTF-8 without a byte order mark, lines ended by
// LF. The header comes from the interface alone, so that every file of an
// export, and every export of a project config, has the same columns:
//
//	id, external_id, [split], [user], FIELD…, data, BLOCK[.SUFFIX]…
//
// split is there when the export is split, user with the "every"
// aggregation. FIELD are the item fields the blocks read
// (Interface.Fields, sorted): a string as it is, any other value as its
// JSON. A field whose name is taken by another column is written as
// data.FIELD. The column data holds the item's other fields as one JSON
// object (keys sorted), empty when there are none; it is _data when a
// block is named data. Then, for each block with a value in config order, the
// columns of its Flatten cells (NAME, NAME.SUFFIX); a value that is a JSON
// list (multichoice, ranking, spans, boxes) is written in its NAME column
// as compact JSON. A block without a value leaves its columns empty.
//
// Every cell, the header too, goes through neutralise: see csvSafe.
type csvWriter struct {
	files SplitFiles
	cols  csvLayout
	ws    map[io.Writer]*csv.Writer
	cells []string
}

// csvLayout is the columns of a CSV export.
type csvLayout struct {
	header []string
	split  bool
	user   bool
	fields []string // the item fields with a column of their own
	blocks []csvBlock
}

type csvBlock struct {
	v        blocks.Valuer
	suffixes []string // of its Flatten cells, "" first
}

// csvColumns lays out the columns of a project's CSV export.
func csvColumns(m *Meta) csvLayout {
	l := csvLayout{split: len(m.Splits) > 0, user: m.Aggregate == AggregateEvery}
	l.header = []string{"id", "external_id"}
	if l.split {
		l.header = append(l.header, "split")
	}
	if l.user {
		l.header = append(l.header, "user")
	}
	taken := map[string]bool{}
	for _, h := range l.header {
		taken[h] = true
	}
	for _, v := range m.Interface.Valuers() {
		b := csvBlock{v: v, suffixes: flattenSuffixes(v)}
		for _, s := range b.suffixes {
			taken[v.Common().Name+s] = true
		}
		l.blocks = append(l.blocks, b)
	}
	for _, f := range m.Interface.Fields() {
		name := f
		if taken[name] {
			name = "data." + f
		}
		taken[name] = true
		l.fields = append(l.fields, f)
		l.header = append(l.header, name)
	}
	rest := "data"
	for taken[rest] {
		rest = "_" + rest
	}
	l.header = append(l.header, rest)
	for _, b := range l.blocks {
		for _, s := range b.suffixes {
			l.header = append(l.header, b.v.Common().Name+s)
		}
	}
	return l
}

// flattenSuffixes returns the suffixes of the cells a block's Flatten
// gives, "" first. Flatten of a JSON null (and of an empty object or list)
// gives every cell a kind has: each kind decodes it as its zero value.
func flattenSuffixes(v blocks.Valuer) []string {
	out := []string{""}
	seen := map[string]bool{"": true}
	for _, probe := range []string{"null", "{}", "[]"} {
		for _, c := range v.Flatten(json.RawMessage(probe)) {
			if !seen[c.Suffix] {
				seen[c.Suffix] = true
				out = append(out, c.Suffix)
			}
		}
	}
	return out
}

func (e *csvWriter) header(w io.Writer, _ string) error {
	cw := csv.NewWriter(w)
	if e.ws == nil {
		e.ws = map[io.Writer]*csv.Writer{}
	}
	e.ws[w] = cw
	row := make([]string, len(e.cols.header))
	for i, h := range e.cols.header {
		row[i] = csvSafe(h)
	}
	cw.Write(row)
	cw.Flush()
	return cw.Error()
}

func (e *csvWriter) Write(row *Row) error {
	w, err := e.files.Get(row.Split)
	if err != nil {
		return err
	}
	cw := e.ws[w]
	rec := row.Record
	cells := append(e.cells[:0], rec.ItemID, rec.ExternalID)
	if e.cols.split {
		cells = append(cells, row.Split)
	}
	if e.cols.user {
		cells = append(cells, row.User)
	}
	var data map[string]json.RawMessage
	json.Unmarshal(rec.Data, &data)
	for _, f := range e.cols.fields {
		cells = append(cells, jsonCell(data[f]))
		delete(data, f)
	}
	rest := ""
	if len(data) > 0 {
		// Marshal sorts the keys; the values are canonical JSON already.
		js, _ := json.Marshal(data)
		rest = string(js)
	}
	cells = append(cells, rest)
	for _, b := range e.cols.blocks {
		raw, ok := row.Values[b.v.Common().Name]
		if !ok || isEmptyValue(raw) {
			for range b.suffixes {
				cells = append(cells, "")
			}
			continue
		}
		got := map[string]string{}
		for _, c := range b.v.Flatten(raw) {
			got[c.Suffix] = c.Value
		}
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			var buf bytes.Buffer
			if json.Compact(&buf, t) == nil {
				got[""] = buf.String()
			}
		}
		for _, s := range b.suffixes {
			cells = append(cells, got[s])
		}
	}
	for i, c := range cells {
		cells[i] = csvSafe(c)
	}
	e.cells = cells
	if err := cw.Write(cells); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	// encoding/csv buffers; the sink buffers too, so flushing each row
	// costs a copy, not a system call.
	cw.Flush()
	return cw.Error()
}

func (e *csvWriter) Close() error { return e.files.Close() }

// jsonCell renders a data value for a cell: a string as it is, null or a
// missing field as nothing, anything else as its JSON.
func jsonCell(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0 || string(t) == "null":
		return ""
	case t[0] == '"':
		var s string
		if json.Unmarshal(t, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, t) == nil {
		return buf.String()
	}
	return string(t)
}

// csvNumber matches a plain decimal number, as JSON writes one.
var csvNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// csvSafe neutralises a cell that a spreadsheet would run as a formula
// (CSV injection, OWASP; ASVS 1.2.10) by putting a single quote before it:
// Excel, LibreOffice and Google Sheets show the cell as text and hide the
// quote. A cell is neutralised when its first character, after any
// spaces (which some importers trim), is one of = + - @, tab, CR, LF or
// NUL, or their full-width forms (＝ ＋ － ＠, which some locales read as
// formulas too). A cell that is exactly a number (-2, 1.5e3) is left as
// it is, so that numeric columns stay numbers: a number cannot call
// anything.
func csvSafe(s string) string {
	if s == "" || csvNumber.MatchString(s) {
		return s
	}
	t := strings.TrimLeft(s, " ")
	if t == "" {
		return s
	}
	r, _ := utf8.DecodeRuneInString(t)
	switch r {
	case '=', '+', '-', '@', '\t', '\r', '\n', 0, '＝', '＋', '－', '＠':
		return "'" + s
	}
	return s
}
