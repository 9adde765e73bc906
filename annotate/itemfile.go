package annotate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/loupehq/loupe"
)

// MaxItemBytes is the largest line an item file may hold.
const MaxItemBytes = 16 << 20

// ItemRecord is one item read from an import file.
type ItemRecord struct {
	Line       int
	ExternalID string
	Data       map[string]any
	DataJSON   []byte // canonical JSON of Data: keys sorted, numbers as written
	Hash       string // hex SHA-256 of DataJSON
	// Predictions came with the item (Loupe's shape or Label Studio's);
	// they are validated against the project's interface at import.
	Predictions []PredictionRecord
}

// ItemDecoder reads items from JSONL: one JSON object a line, either
// {"data": {...}, "id": "ext-id"} or a flat object taken as the data. Blank
// lines are skipped; a UTF-8 byte order mark and CRLF line ends are accepted.
type ItemDecoder struct {
	r    *bufio.Reader
	line int
	done bool
}

// NewItemDecoder returns a decoder reading from r.
func NewItemDecoder(r io.Reader) *ItemDecoder {
	return &ItemDecoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// Line returns the number of the last line read.
func (d *ItemDecoder) Line() int { return d.line }

// Next returns the next item, io.EOF after the last, or an EINVALID error
// whose message starts with "line N:". After an error caused by a line too
// long to read, Next returns io.EOF.
func (d *ItemDecoder) Next() (*ItemRecord, error) {
	for !d.done {
		raw, err := d.readLine()
		if err != nil {
			return nil, err
		}
		if d.line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		return ParseItemLine(raw, d.line)
	}
	return nil, io.EOF
}

// readLine returns the next line without its line end, refusing lines over
// MaxItemBytes without holding them in memory.
func (d *ItemDecoder) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		if len(line)+len(chunk) > MaxItemBytes {
			d.done = true
			return nil, lineErrorf(d.line+1, "line is longer than %d bytes", MaxItemBytes)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			d.line++
			return bytes.TrimRight(line, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			d.done = true
			if len(line) == 0 {
				return nil, io.EOF
			}
			d.line++
			return bytes.TrimRight(line, "\r\n"), nil
		default:
			return nil, fmt.Errorf("read line %d: %w", d.line+1, err)
		}
	}
}

func lineErrorf(line int, format string, args ...any) error {
	return loupe.Errorf(loupe.EINVALID, "line %d: %s", line, fmt.Sprintf(format, args...))
}

// ParseItemLine parses one JSON line of an item file. line is used in error
// messages.
func ParseItemLine(raw []byte, line int) (*ItemRecord, error) {
	if !utf8.Valid(raw) {
		return nil, lineErrorf(line, "not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, lineErrorf(line, "not a JSON object: %s", jsonProblem(err, raw))
	}
	if dec.More() {
		return nil, lineErrorf(line, "more than one JSON value on the line")
	}
	if obj == nil {
		return nil, lineErrorf(line, "expected a JSON object, got null")
	}
	rec := &ItemRecord{Line: line, Data: obj}
	if inner, ok := obj["data"].(map[string]any); ok && isWrapper(obj) {
		rec.Data = inner
		if id, ok := obj["id"]; ok {
			ext, err := externalID(id)
			if err != nil {
				return nil, lineErrorf(line, "id: %s", err)
			}
			rec.ExternalID = ext
		}
	}
	if len(rec.Data) == 0 {
		return nil, lineErrorf(line, "data is empty")
	}
	b, err := json.Marshal(rec.Data)
	if err != nil {
		return nil, lineErrorf(line, "data cannot be stored: %v", err)
	}
	rec.DataJSON = b
	sum := sha256.Sum256(b)
	rec.Hash = hex.EncodeToString(sum[:])
	return rec, nil
}

// isWrapper reports whether obj is {"data": {...}} with at most an id
// beside it, as opposed to a flat item that happens to have a data field.
func isWrapper(obj map[string]any) bool {
	for k := range obj {
		if k != "data" && k != "id" {
			return false
		}
	}
	return true
}

func externalID(v any) (string, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
			return "", errors.New("a numeric id must be a whole number")
		}
		s = string(v)
	default:
		return "", errors.New("must be a string or a whole number")
	}
	switch {
	case s == "":
		return "", errors.New("must not be empty")
	case len(s) > MaxExternalIDLen:
		return "", fmt.Errorf("is longer than %d characters", MaxExternalIDLen)
	}
	return s, nil
}

// jsonProblem describes a JSON syntax error with its column.
func jsonProblem(err error, raw []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (column %d)", se.Error(), utf8.RuneCount(raw[:min(int(se.Offset), len(raw))]))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "expected an object, got " + te.Value
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "the line ends before the JSON value does"
	}
	return err.Error()
}
