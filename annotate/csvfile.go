package annotate

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/loupehq/loupe"
)

// csvReader reads CSV or TSV with a header row: each later row is an item
// whose data maps every header to the row's cell, as a string. The id
// column (ReadOptions.IDColumn, else a column named "id") gives the
// external id and is not part of the data. Quoted cells may hold
// separators, quotes (doubled) and line ends; an error names the line the
// row starts on. A byte order mark is accepted.
type csvReader struct {
	cr     *csv.Reader
	budget *budgetReader
	opt    ReadOptions
	header []string
	idCol  int // index of the id column, or -1
	// endLine is the last line of the last row read, so that a row too long
	// to read can be placed just after it.
	endLine int
	started bool
	done    bool
}

func newCSVReader(r io.Reader, comma rune, opt ReadOptions) *csvReader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); string(b) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	budget := &budgetReader{r: br, limit: csvBudget}
	cr := csv.NewReader(budget)
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // ragged rows are reported here, with a clearer message
	cr.ReuseRecord = true
	return &csvReader{cr: cr, budget: budget, opt: opt, idCol: -1}
}

// csvBudget is how far past the end of the last row the reader may read
// before the row being read counts as too long: MaxItemBytes, plus room for
// the read-ahead of encoding/csv's 4 KiB buffer.
const csvBudget = MaxItemBytes + 4<<10

// errTooLong is what a budgetReader returns past its limit.
var errTooLong = errors.New("row too long")

// budgetReader refuses to read past limit bytes of its input.
type budgetReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.n >= b.limit {
		return 0, errTooLong
	}
	if int64(len(p)) > b.limit-b.n {
		p = p[:b.limit-b.n]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// read returns the next row and the line it starts on. Errors are EINVALID
// "line N:" errors, except for a failure of the underlying reader.
func (c *csvReader) read() ([]string, int, error) {
	if c.done {
		return nil, 0, io.EOF
	}
	row, err := c.cr.Read()
	var pe *csv.ParseError
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		c.done = true
		return nil, 0, io.EOF
	case errors.Is(err, errTooLong):
		c.done = true
		return nil, 0, lineErrorf(c.endLine+1, "a row is longer than %d bytes; the rest of the file cannot be read", MaxItemBytes)
	case errors.As(err, &pe):
		c.endLine = pe.Line
		c.budget.limit = c.cr.InputOffset() + csvBudget
		return nil, 0, lineErrorf(pe.StartLine, "%s", csvProblem(pe))
	default:
		c.done = true
		return nil, 0, fmt.Errorf("read line %d: %w", c.endLine+1, err)
	}
	c.budget.limit = c.cr.InputOffset() + csvBudget
	line, _ := c.cr.FieldPos(0)
	last, _ := c.cr.FieldPos(len(row) - 1)
	c.endLine = last + strings.Count(row[len(row)-1], "\n")
	return row, line, nil
}

// csvProblem describes a CSV syntax error.
func csvProblem(pe *csv.ParseError) string {
	where := fmt.Sprintf("column %d", pe.Column)
	if pe.Line != pe.StartLine {
		where = fmt.Sprintf("line %d, column %d", pe.Line, pe.Column)
	}
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf(`a " in a cell that is not quoted (%s); quote the whole cell and double the " inside it`, where)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf(`a quoted cell is not closed, or has a " that is not doubled (%s)`, where)
	}
	return fmt.Sprintf("%s (%s)", pe.Err, where)
}

// Next implements ItemReader.
func (c *csvReader) Next() (*ItemRecord, error) {
	if !c.started {
		c.started = true
		if err := c.readHeader(); err != nil {
			c.done = true
			return nil, err
		}
	}
	row, line, err := c.read()
	if err != nil {
		return nil, err
	}
	if len(row) != len(c.header) {
		return nil, lineErrorf(line, "the row has %d %s, the header has %d", len(row), plural(len(row), "cell", "cells"), len(c.header))
	}
	rec := &ItemRecord{Line: line, Data: make(map[string]any, len(row))}
	for i, cell := range row {
		switch {
		case !utf8.ValidString(cell):
			return nil, lineErrorf(line, "column %q: not valid UTF-8", c.header[i])
		case strings.IndexByte(cell, 0) >= 0:
			return nil, lineErrorf(line, "column %q: holds a NUL byte", c.header[i])
		case i == c.idCol:
			ext, err := externalID(cell)
			if err != nil {
				return nil, lineErrorf(line, "%s: %s", c.header[i], err)
			}
			rec.ExternalID = ext
		default:
			rec.Data[c.header[i]] = cell
		}
	}
	return sealed(rec)
}

// readHeader reads the header row: every column needs a name of its own.
// An error here leaves nothing readable.
func (c *csvReader) readHeader() error {
	row, line, err := c.read()
	if errors.Is(err, io.EOF) {
		return io.EOF
	} else if err != nil {
		if loupe.ErrorCode(err) == loupe.EINVALID {
			return loupe.Errorf(loupe.EINVALID, "%s; the header row cannot be read, so neither can the rest of the file", loupe.ErrorMessage(err))
		}
		return err
	}
	seen := make(map[string]int, len(row))
	c.header = make([]string, len(row))
	for i, h := range row {
		h = strings.TrimSpace(h)
		switch {
		case !utf8.ValidString(h):
			return lineErrorf(line, "header of column %d: not valid UTF-8", i+1)
		case strings.IndexByte(h, 0) >= 0:
			return lineErrorf(line, "header of column %d: holds a NUL byte", i+1)
		case h == "":
			return lineErrorf(line, "column %d has no name; every column needs a header", i+1)
		case seen[h] > 0:
			return lineErrorf(line, "column %d repeats the header %q of column %d", i+1, h, seen[h])
		}
		seen[h] = i + 1
		c.header[i] = h
	}
	idCol := c.opt.IDColumn
	if idCol == "" {
		idCol = "id"
	}
	if i, ok := seen[idCol]; ok {
		c.idCol = i - 1
	} else if c.opt.IDColumn != "" {
		return lineErrorf(line, "no column is named %q to give the ids; the columns are %s", c.opt.IDColumn, strings.Join(c.header, ", "))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
