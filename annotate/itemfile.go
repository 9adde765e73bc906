package annotate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
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
	// Annotations came with the item (Loupe's full export record, Label
	// Studio's annotations, a Prodigy answer); they are validated
	// against the project's interface at import.
	Annotations []AnnotationRecord
}

// AnnotationRecord is an annotation that came with an imported item.
type AnnotationRecord struct {
	// User names who made it in the file ("" when the file does not
	// say); the import attributes it to the Loupe user of that name,
	// made as a disabled account when there is none.
	User      string
	Values    map[string]json.RawMessage // block → value; set by Resolve when LSResults holds Label Studio's results
	LSResults []blocks.LSResult
	CreatedAt time.Time // zero when unknown

	index int // the annotation's place in the file's list, for messages
}

// ItemReader reads the items of an import file, whatever its format.
// Next returns the next item, io.EOF after the last, or an EINVALID error
// whose message starts with "line N:" (for CSV, the record's first line;
// for a folder, the file name instead). After an error that makes the
// rest of the file unreadable, Next returns io.EOF.
type ItemReader interface {
	Next() (*ItemRecord, error)
}

// ItemDecoder reads items from JSONL (the jsonl import format): one JSON
// object a line, either a wrapper {"data": {...}, "id": "ext-id",
// "predictions": [...]} (id and predictions optional), a line of Loupe's
// full export record (external_id, annotations, and the export's other
// keys; see ParseItemLine), or a flat object taken as the data. Blank
// lines are skipped; a UTF-8 byte order mark and CRLF line ends are
// accepted.
type ItemDecoder struct {
	lr lineReader
}

// NewItemDecoder returns a decoder reading from r.
func NewItemDecoder(r io.Reader) *ItemDecoder {
	return &ItemDecoder{lr: lineReader{r: bufio.NewReaderSize(r, 64<<10)}}
}

// Line returns the number of the last line read.
func (d *ItemDecoder) Line() int { return d.lr.line }

// Next returns the next item, io.EOF after the last, or an EINVALID error
// whose message starts with "line N:". A line longer than MaxItemBytes is
// such an error, and reading goes on after it.
func (d *ItemDecoder) Next() (*ItemRecord, error) {
	raw, err := d.lr.next()
	if err != nil {
		return nil, err
	}
	return ParseItemLine(raw, d.lr.line)
}

// lineReader reads the non-blank lines of a JSONL file.
type lineReader struct {
	r    *bufio.Reader
	line int
	done bool
}

// next returns the next line that is not blank, without its line end and
// (on line 1) without a byte order mark, or io.EOF.
func (d *lineReader) next() ([]byte, error) {
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
		return raw, nil
	}
	return nil, io.EOF
}

// readLine returns the next line without its line end. A line over
// MaxItemBytes is refused without holding it in memory: the rest of it is
// skipped, and reading goes on with the next line.
func (d *lineReader) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		if len(line)+len(chunk) > MaxItemBytes {
			d.line++
			if err := d.skipLine(err); err != nil {
				return nil, err
			}
			return nil, lineErrorf(d.line, "line is longer than %d bytes", MaxItemBytes)
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

// skipLine discards the rest of the current line; err is what the last
// ReadSlice returned.
func (d *lineReader) skipLine(err error) error {
	for errors.Is(err, bufio.ErrBufferFull) {
		_, err = d.r.ReadSlice('\n')
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		d.done = true
		return nil
	}
	return fmt.Errorf("read line %d: %w", d.line, err)
}

func lineErrorf(line int, format string, args ...any) error {
	return loupe.Errorf(loupe.EINVALID, "line %d: %s", line, fmt.Sprintf(format, args...))
}

// ParseItemLine parses one JSON line of an item file: a flat object taken
// as the data, or a wrapper {"data": {...}} with any of the keys of Loupe's
// full export record beside it (id, external_id, predictions, annotations,
// state, split, reviews, feedback, final). line is used in error messages.
// Predictions and annotations on the line are read and checked for shape,
// not against the project's interface: ItemRecord.Resolve does that. It
// returns an EINVALID error whose message starts with "line N:".
func ParseItemLine(raw []byte, line int) (*ItemRecord, error) {
	obj, err := parseObject(raw, line)
	if err != nil {
		return nil, err
	}
	return itemFromObject(obj, line, false)
}

// parseObject decodes the bytes of one record holding one JSON object,
// keeping numbers as written. raw may span several lines (an element of a
// JSON array) starting at line.
func parseObject(raw []byte, line int) (map[string]any, error) {
	if p := checkRecordBytes(raw); p != "" {
		return nil, lineErrorf(line, "%s", p)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, lineErrorf(line, "not a JSON object: %s", jsonProblem(err, raw, line))
	}
	if dec.More() {
		return nil, lineErrorf(line, "more than one JSON value on the line")
	}
	if obj == nil {
		return nil, lineErrorf(line, "expected a JSON object, got null")
	}
	return obj, nil
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

// jsonProblem describes a JSON syntax error with its column, and its line
// when raw, which starts on line, spans several lines.
func jsonProblem(err error, raw []byte, line int) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		before := raw[:min(int(se.Offset), len(raw))]
		if n := bytes.Count(before, []byte("\n")); n > 0 {
			col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
			return fmt.Sprintf("%s (line %d, column %d)", se.Error(), line+n, col)
		}
		return fmt.Sprintf("%s (column %d)", se.Error(), utf8.RuneCount(before))
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

// Limits of imported predictions.
const (
	MaxPredictionsPerItem = 100
	MaxModelLen           = 200 // characters of a model name or version
)

// LabelStudioModel is the model name of a prediction in Label Studio's
// shape that names no model.
const LabelStudioModel = "label-studio"

// Keys of a prediction in each shape. Label Studio's exports carry
// bookkeeping keys beside model_version, score and result; they are
// accepted and not kept.
var (
	loupePredictionKeys  = map[string]bool{"model": true, "version": true, "score": true, "values": true}
	exportPredictionKeys = map[string]bool{"id": true, "block": true, "model": true, "version": true, "score": true,
		"value": true, "source": true, "created_at": true}
	lsPredictionKeys = map[string]bool{"model": true, "model_version": true, "score": true, "result": true,
		"id": true, "task": true, "project": true, "created_at": true, "updated_at": true, "created_ago": true,
		"cluster": true, "neighbors": true, "mislabeling": true, "model_run": true, "loupe": true}
	lsResultKeys = map[string]bool{"id": true, "from_name": true, "to_name": true, "type": true, "value": true,
		"score": true, "original_width": true, "original_height": true, "image_rotation": true,
		"origin": true, "readonly": true, "hidden": true, "parentID": true, "meta": true, "item_index": true}
)

// parsePredictions reads the predictions of a line, in Loupe's shape
// ({"model", "version", "score", "values"}) or Label Studio's
// ({"model_version", "score", "result"}), each prediction in either. It
// returns an EINVALID error naming the prediction at fault.
func parsePredictions(x any) ([]PredictionRecord, error) {
	if x == nil {
		return nil, nil
	}
	list, ok := x.([]any)
	if !ok {
		return nil, predErrorf("predictions must be a list of predictions, got %s", describe(x))
	}
	if len(list) > MaxPredictionsPerItem {
		return nil, predErrorf("predictions: %d predictions, at most %d allowed per item", len(list), MaxPredictionsPerItem)
	}
	out := make([]PredictionRecord, len(list))
	for i, p := range list {
		obj, ok := p.(map[string]any)
		if !ok {
			return nil, predErrorf("predictions[%d] must be an object, got %s", i, describe(p))
		}
		_, hasValues := obj["values"]
		_, hasResult := obj["result"]
		_, hasBlock := obj["block"]
		var err error
		switch {
		case hasValues && hasResult:
			err = predErrorf("has both values (Loupe's shape) and result (Label Studio's); give one")
		case hasValues:
			out[i], err = parseLoupePrediction(obj)
		case hasResult:
			out[i], err = parseLSPrediction(obj)
		case hasBlock:
			out[i], err = parseExportPrediction(obj)
		default:
			err = predErrorf(`needs values (Loupe's shape: {"model", "version", "score", "values": {BLOCK: VALUE}}), result (Label Studio's: {"model_version", "score", "result": [...]}) or block and value (a row of Loupe's export: {"block", "model", "version", "score", "value"})`)
		}
		if err != nil {
			return nil, predErrorf("predictions[%d]: %s", i, loupe.ErrorMessage(err))
		}
	}
	return out, nil
}

func predErrorf(format string, args ...any) error {
	return loupe.Errorf(loupe.EINVALID, format, args...)
}

// parseLoupePrediction reads {"model", "version", "score", "values"}.
func parseLoupePrediction(obj map[string]any) (PredictionRecord, error) {
	var p PredictionRecord
	for _, k := range sortedKeys(obj) {
		if !loupePredictionKeys[k] {
			return p, predErrorf("unknown key %q; a prediction in Loupe's shape has model, version, score and values", k)
		}
	}
	var err error
	m, ok := obj["model"].(string)
	if !ok || m == "" {
		return p, predErrorf("model is required: the name of the model, a non-empty string")
	}
	if p.Model, err = modelText("model", m); err != nil {
		return p, err
	}
	if v, ok := obj["version"]; ok && v != nil {
		if p.Version, err = versionText("version", v); err != nil {
			return p, err
		}
	}
	if p.Score, err = score(obj["score"]); err != nil {
		return p, err
	}
	if p.Values, err = blockValues(obj["values"]); err != nil {
		return p, err
	}
	if len(p.Values) == 0 {
		return p, predErrorf("values is empty: give a value for at least one block")
	}
	return p, nil
}

// blockValues reads the "values" of a prediction or an annotation: an
// object from block name to value.
func blockValues(x any) (map[string]json.RawMessage, error) {
	vals, ok := x.(map[string]any)
	if !ok {
		return nil, predErrorf("values must be an object from block name to value, got %s", describe(x))
	}
	out := make(map[string]json.RawMessage, len(vals))
	for name, v := range vals {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, predErrorf("values.%s cannot be read: %v", name, err)
		}
		out[name] = b
	}
	return out, nil
}

// parseExportPrediction reads a prediction row of Loupe's full export
// record: {"block", "model", "version", "score", "value"}, with the row's
// id, source and created_at accepted and not kept.
func parseExportPrediction(obj map[string]any) (PredictionRecord, error) {
	var p PredictionRecord
	for _, k := range sortedKeys(obj) {
		if !exportPredictionKeys[k] {
			return p, predErrorf("unknown key %q; a prediction row of Loupe's export has block, model, version, score and value", k)
		}
	}
	block, ok := obj["block"].(string)
	if !ok || block == "" {
		return p, predErrorf("block must name the block the value is for, got %s", describe(obj["block"]))
	}
	m, ok := obj["model"].(string)
	if !ok || m == "" {
		return p, predErrorf("model is required: the name of the model, a non-empty string")
	}
	var err error
	if p.Model, err = modelText("model", m); err != nil {
		return p, err
	}
	if v, ok := obj["version"]; ok && v != nil {
		if p.Version, err = versionText("version", v); err != nil {
			return p, err
		}
	}
	if p.Score, err = score(obj["score"]); err != nil {
		return p, err
	}
	v, ok := obj["value"]
	if !ok || v == nil {
		return p, predErrorf("value is required: the model's value for block %q", block)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return p, predErrorf("value cannot be read: %v", err)
	}
	p.Values = map[string]json.RawMessage{block: b}
	return p, nil
}

// parseLSPrediction reads {"model_version", "score", "result"}, as Label
// Studio's tasks and ML backends give it; "model" may name the model.
func parseLSPrediction(obj map[string]any) (PredictionRecord, error) {
	p := PredictionRecord{Model: LabelStudioModel}
	for _, k := range sortedKeys(obj) {
		if !lsPredictionKeys[k] {
			return p, predErrorf("unknown key %q; a prediction in Label Studio's shape has model_version, score and result", k)
		}
	}
	var err error
	// Loupe's own Label Studio export names the model and its version
	// under "loupe", where model_version holds "MODEL@VERSION".
	if l, ok := obj["loupe"].(map[string]any); ok {
		if m, ok := l["model"].(string); ok && m != "" {
			if p.Model, err = modelText("loupe.model", m); err != nil {
				return p, err
			}
			if v, ok := l["version"]; ok && v != nil {
				if p.Version, err = versionText("loupe.version", v); err != nil {
					return p, err
				}
			}
			obj = maps.Clone(obj)
			delete(obj, "model")
			delete(obj, "model_version")
		}
	}
	// Label Studio's own exports hold the id of an ML backend (or null)
	// under model: that is no name, so only a string counts.
	if m, ok := obj["model"].(string); ok {
		if m == "" {
			return p, predErrorf("model must not be empty")
		}
		if p.Model, err = modelText("model", m); err != nil {
			return p, err
		}
	}
	if v, ok := obj["model_version"]; ok && v != nil {
		if p.Version, err = versionText("model_version", v); err != nil {
			return p, err
		}
	}
	if p.Score, err = score(obj["score"]); err != nil {
		return p, err
	}
	list, ok := obj["result"].([]any)
	if !ok {
		return p, predErrorf("result must be a list of Label Studio result items, got %s", describe(obj["result"]))
	}
	p.LSResults = make([]blocks.LSResult, len(list))
	for j, x := range list {
		r, err := parseLSResult(x)
		if err != nil {
			return p, predErrorf("result[%d]: %s", j, loupe.ErrorMessage(err))
		}
		p.LSResults[j] = r
	}
	return p, nil
}

// parseLSResult reads one result item: {from_name, to_name, type, value}.
func parseLSResult(x any) (blocks.LSResult, error) {
	var r blocks.LSResult
	obj, ok := x.(map[string]any)
	if !ok {
		return r, predErrorf("must be an object {from_name, to_name, type, value}, got %s", describe(x))
	}
	for _, k := range sortedKeys(obj) {
		if !lsResultKeys[k] {
			return r, predErrorf("unknown key %q; a result item has from_name, to_name, type and value", k)
		}
	}
	var ok1, ok2 bool
	r.FromName, ok1 = obj["from_name"].(string)
	r.Type, ok2 = obj["type"].(string)
	switch {
	case !ok1 || r.FromName == "":
		return r, predErrorf("from_name is required: the name of the block the result is for")
	case !ok2 || r.Type == "":
		return r, predErrorf("type is required, such as \"choices\" or \"labels\"")
	}
	if t, ok := obj["to_name"]; ok && t != nil {
		if r.ToName, ok = t.(string); !ok {
			return r, predErrorf("to_name must be a string")
		}
	}
	if r.Value, ok = obj["value"].(map[string]any); !ok {
		return r, predErrorf("value must be an object, got %s", describe(obj["value"]))
	}
	switch id := obj["id"].(type) {
	case nil:
	case string:
		r.ID = id
	case json.Number:
		r.ID = id.String()
	default:
		return r, predErrorf("id must be a string")
	}
	var err error
	if r.Score, err = number(obj["score"], "score"); err != nil {
		return r, err
	}
	for _, dim := range []struct {
		key string
		to  *int
	}{{"original_width", &r.OriginalWidth}, {"original_height", &r.OriginalHeight}} {
		f, err := number(obj[dim.key], dim.key)
		if err != nil {
			return r, err
		}
		if f != nil {
			if *f < 0 || *f != math.Trunc(*f) || *f > 1<<31 {
				return r, predErrorf("%s must be a whole number of pixels", dim.key)
			}
			*dim.to = int(*f)
		}
	}
	rot, err := number(obj["image_rotation"], "image_rotation")
	if err != nil {
		return r, err
	}
	if rot != nil {
		r.ImageRotation = *rot
	}
	return r, nil
}

// modelText checks a model name: at most MaxModelLen characters, and no
// control characters.
func modelText(key, s string) (string, error) {
	switch {
	case utf8.RuneCountInString(s) > MaxModelLen:
		return "", predErrorf("%s is longer than %d characters", key, MaxModelLen)
	case strings.ContainsFunc(s, unicode.IsControl):
		return "", predErrorf("%s holds a control character", key)
	}
	return s, nil
}

// versionText reads a version: a string, or a number (as written).
func versionText(key string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		return modelText(key, v)
	case json.Number:
		return v.String(), nil
	}
	return "", predErrorf("%s must be a string, got %s", key, describe(v))
}

// score reads a prediction's score: a number from 0 to 1, or null.
func score(x any) (*float64, error) {
	f, err := number(x, "score")
	if err != nil {
		return nil, err
	}
	if f != nil && (*f < 0 || *f > 1) {
		return nil, predErrorf("score must be between 0 and 1, got %v", *f)
	}
	return f, nil
}

// number reads an optional JSON number.
func number(x any, key string) (*float64, error) {
	if x == nil {
		return nil, nil
	}
	n, ok := x.(json.Number)
	if !ok {
		return nil, predErrorf("%s must be a number, got %s", key, describe(x))
	}
	f, err := n.Float64()
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, predErrorf("%s must be a finite number, got %s", key, n)
	}
	return &f, nil
}

// describe renders a decoded JSON value for a message, cut to a readable
// size.
func describe(x any) string {
	if x == nil {
		return "nothing"
	}
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprintf("%v", x)
	}
	if r := []rune(string(b)); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Resolve checks the prediction against a project's interface and an
// item's data, the same way annotations are checked: every block it names
// must exist and every value must pass the block's rules. It replaces
// Values with their canonical form; a prediction in Label Studio's shape
// is mapped through the interface first (by from_name) and its LSResults
// cleared. Values that are empty ("", []) are dropped. It returns an
// EINVALID error whose message names the block (field "values.NAME").
func (p *PredictionRecord) Resolve(in *blocks.Interface, data map[string]any) error {
	if p.LSResults != nil {
		vals, err := in.FromLabelStudio(p.LSResults, data)
		if err != nil {
			return err
		}
		p.Values, p.LSResults = vals, nil
		return nil
	}
	out := make(map[string]json.RawMessage, len(p.Values))
	for _, name := range sortedKeys(p.Values) {
		v, ok := in.Valuer(name)
		if !ok {
			names := make([]string, len(in.Valuers()))
			for i, v := range in.Valuers() {
				names[i] = v.Common().Name
			}
			return loupe.FieldErrorf("values."+name, "no block is named %q; blocks with values: %s", name, strings.Join(names, ", "))
		}
		canon, err := v.ValidateValue(p.Values[name], data)
		if err != nil {
			return loupe.FieldErrorf("values."+name, "block %q: %s", name, loupe.ErrorMessage(err))
		}
		if !emptyJSON(canon) {
			out[name] = canon
		}
	}
	p.Values = out
	return nil
}

func emptyJSON(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "", "null", `""`, "[]", "{}":
		return true
	}
	return false
}

// ResolvePredictions resolves the item's predictions against a project's
// interface (see PredictionRecord.Resolve) and refuses two predictions of
// the same model and version for the same block. It returns an EINVALID
// error whose message starts with "line N: predictions[I] (model M):".
func (rec *ItemRecord) ResolvePredictions(in *blocks.Interface) error {
	return resolvePredictions(rec.Line, rec.Predictions, in, rec.Data)
}

func resolvePredictions(line int, preds []PredictionRecord, in *blocks.Interface, data map[string]any) error {
	type key struct{ model, version, block string }
	seen := map[key]int{}
	for i := range preds {
		p := &preds[i]
		if err := p.Resolve(in, data); err != nil {
			return lineErrorf(line, "predictions[%d] (model %q): %s", i, p.Model, loupe.ErrorMessage(err))
		}
		for name := range p.Values {
			k := key{p.Model, p.Version, name}
			if j, dup := seen[k]; dup {
				return lineErrorf(line, "predictions[%d] (model %q): predictions[%d] of the same model and version already gives block %q a value", i, p.Model, j, name)
			}
			seen[k] = i
		}
	}
	return nil
}

// PredictionLine is one line of a predictions file (loupe import
// --predictions): predictions for the item whose external id is
// ExternalID, which must already be in the project.
type PredictionLine struct {
	Line        int
	ExternalID  string
	Predictions []PredictionRecord
}

// Resolve resolves the line's predictions against a project's interface
// and the data of the item they attach to, as ItemRecord.ResolvePredictions
// does.
func (pl *PredictionLine) Resolve(in *blocks.Interface, data map[string]any) error {
	return resolvePredictions(pl.Line, pl.Predictions, in, data)
}

// PredictionDecoder reads a predictions file: JSONL, one {"id": "ext-id",
// "predictions": [...]} a line, each prediction in Loupe's shape or Label
// Studio's. Blank lines are skipped; a byte order mark and CRLF line ends
// are accepted.
type PredictionDecoder struct {
	lr lineReader
}

// NewPredictionDecoder returns a decoder reading from r.
func NewPredictionDecoder(r io.Reader) *PredictionDecoder {
	return &PredictionDecoder{lr: lineReader{r: bufio.NewReaderSize(r, 64<<10)}}
}

// Line returns the number of the last line read.
func (d *PredictionDecoder) Line() int { return d.lr.line }

// Next returns the next line's predictions, io.EOF after the last, or an
// EINVALID error whose message starts with "line N:".
func (d *PredictionDecoder) Next() (*PredictionLine, error) {
	raw, err := d.lr.next()
	if err != nil {
		return nil, err
	}
	return ParsePredictionLine(raw, d.lr.line)
}

// ParsePredictionLine parses one line of a predictions file: {"id":
// "ext-id", "predictions": [...]}, both required. line is used in error
// messages.
func ParsePredictionLine(raw []byte, line int) (*PredictionLine, error) {
	obj, err := parseObject(raw, line)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(obj) {
		if k != "id" && k != "predictions" {
			return nil, lineErrorf(line, `unknown key %q; a line of a predictions file is {"id": "ext-id", "predictions": [...]}`, k)
		}
	}
	id, ok := obj["id"]
	if !ok || id == nil {
		return nil, lineErrorf(line, "id is required: predictions attach to the item with that external id")
	}
	ext, err := externalID(id)
	if err != nil {
		return nil, lineErrorf(line, "id: %s", err)
	}
	preds, err := parsePredictions(obj["predictions"])
	switch {
	case err != nil:
		return nil, lineErrorf(line, "%s", loupe.ErrorMessage(err))
	case len(preds) == 0:
		return nil, lineErrorf(line, "predictions is missing or empty")
	}
	return &PredictionLine{Line: line, ExternalID: ext, Predictions: preds}, nil
}
