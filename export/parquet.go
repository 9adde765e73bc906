package export

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/loupehq/loupe/blocks"
)

func init() {
	Register(&Format{Name: "parquet", Doc: "Apache Parquet: one row per item (per annotation with every), columns id, external_id, split, user, data (JSON) and one typed column per block, nested values as lists and structs",
		ContentType: "application/vnd.apache.parquet", Ext: "parquet", Single: true,
		New: newParquetWriter})
}

// parquetRowGroup is how many rows a row group holds: the writer keeps
// one row group in memory, so this bounds its memory whatever the size
// of the export.
const parquetRowGroup = 10000

// The Go types of the nested block columns. parquet-go derives each
// column's Parquet type from them: a struct is a group, a slice with the
// list tag a LIST, a pointer an optional value.
type (
	pqSpan struct {
		Start int64  `parquet:"start"`
		End   int64  `parquet:"end"`
		Label string `parquet:"label"`
		Text  string `parquet:"text"`
	}
	pqBox struct {
		X      float64 `parquet:"x"`
		Y      float64 `parquet:"y"`
		Width  float64 `parquet:"width"`
		Height float64 `parquet:"height"`
		Label  string  `parquet:"label"`
	}
	pqPairwise struct {
		Choice string  `parquet:"choice"`
		Reason *string `parquet:"reason,optional"`
	}
	pqVerdict struct {
		Verdict string  `parquet:"verdict"`
		Reason  *string `parquet:"reason,optional"`
	}
	pqFlag struct {
		Reason string  `parquet:"reason"`
		Note   *string `parquet:"note,optional"`
	}
)

var (
	pqString  = reflect.TypeFor[*string]()
	pqInt     = reflect.TypeFor[*int64]()
	pqStrings = reflect.TypeFor[[]string]()
)

// pqColumn is one block's column: its name, Go type and struct tag, and
// how a value becomes the Go value.
type pqColumn struct {
	name  string
	block string
	kind  string
	typ   reflect.Type
	tag   string // options after the name
	set   func(v reflect.Value, raw json.RawMessage) error
}

// parquetColumns maps each block with a value, in config order, to a
// column named by the block (a block named like one of the fixed
// columns gets "block_" before its name):
//
//	choice, thumbs, textbox, comment  optional string
//	multichoice, ranking              optional list<string>
//	rating                            optional int64
//	spans                             optional list<struct{start, end int64; label, text string}>
//	boxes                             optional list<struct{x, y, width, height double; label string}>
//	pairwise                          optional struct{choice string; reason optional string}
//	verdict                           optional struct{verdict string; reason optional string}
//	flag                              optional struct{reason string; note optional string}
//	any other kind                    optional string holding the value's JSON
//
// A block without a value in a row is null.
func parquetColumns(in *blocks.Interface) []pqColumn {
	taken := map[string]bool{"id": true, "external_id": true, "split": true, "user": true, "data": true}
	var out []pqColumn
	for _, v := range in.Valuers() {
		b := v.Common()
		c := pqColumn{name: b.Name, block: b.Name, kind: b.Type, typ: pqString, tag: "optional", set: pqSetString}
		for taken[c.name] {
			c.name = "block_" + c.name
		}
		taken[c.name] = true
		switch v.(type) {
		case *blocks.Choice, *blocks.Thumbs, *blocks.Textbox, *blocks.Comment:
		case *blocks.MultiChoice, *blocks.Ranking:
			c.typ, c.tag, c.set = pqStrings, "optional,list", pqSetDecoded[[]string]
		case *blocks.Rating:
			c.typ, c.set = pqInt, pqSetInt
		case *blocks.Spans:
			c.typ, c.tag, c.set = reflect.TypeFor[[]pqSpan](), "optional,list", pqSetSpans
		case *blocks.Boxes:
			c.typ, c.tag, c.set = reflect.TypeFor[[]pqBox](), "optional,list", pqSetBoxes
		case *blocks.Pairwise:
			c.typ, c.set = reflect.TypeFor[*pqPairwise](), pqSetPairwise
		case *blocks.Verdict:
			c.typ, c.set = reflect.TypeFor[*pqVerdict](), pqSetVerdict
		case *blocks.Flag:
			c.typ, c.set = reflect.TypeFor[*pqFlag](), pqSetFlag
		default:
			c.tag, c.set = "optional,json", pqSetJSON
		}
		out = append(out, c)
	}
	return out
}

func pqSetString(v reflect.Value, raw json.RawMessage) error {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	v.Set(reflect.ValueOf(&s))
	return nil
}

func pqSetJSON(v reflect.Value, raw json.RawMessage) error {
	s := canonical(raw)
	v.Set(reflect.ValueOf(&s))
	return nil
}

func pqSetInt(v reflect.Value, raw json.RawMessage) error {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return err
	}
	v.Set(reflect.ValueOf(&n))
	return nil
}

func pqSetDecoded[T any](v reflect.Value, raw json.RawMessage) error {
	var x T
	if err := json.Unmarshal(raw, &x); err != nil {
		return err
	}
	v.Set(reflect.ValueOf(x))
	return nil
}

func pqSetSpans(v reflect.Value, raw json.RawMessage) error {
	var spans []blocks.Span
	if err := json.Unmarshal(raw, &spans); err != nil {
		return err
	}
	out := make([]pqSpan, len(spans))
	for i, s := range spans {
		out[i] = pqSpan{int64(s.Start), int64(s.End), s.Label, s.Text}
	}
	v.Set(reflect.ValueOf(out))
	return nil
}

func pqSetBoxes(v reflect.Value, raw json.RawMessage) error {
	var boxes []blocks.Box
	if err := json.Unmarshal(raw, &boxes); err != nil {
		return err
	}
	out := make([]pqBox, len(boxes))
	for i, b := range boxes {
		out[i] = pqBox{b.X, b.Y, b.Width, b.Height, b.Label}
	}
	v.Set(reflect.ValueOf(out))
	return nil
}

// orNull returns nil for "", which these values write when they have no
// reason or note.
func pqOrNull(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func pqSetPairwise(v reflect.Value, raw json.RawMessage) error {
	var pv blocks.PairValue
	if err := json.Unmarshal(raw, &pv); err != nil {
		return err
	}
	v.Set(reflect.ValueOf(&pqPairwise{Choice: pv.Choice, Reason: pqOrNull(pv.Reason)}))
	return nil
}

func pqSetVerdict(v reflect.Value, raw json.RawMessage) error {
	var vv blocks.VerdictValue
	if err := json.Unmarshal(raw, &vv); err != nil {
		return err
	}
	v.Set(reflect.ValueOf(&pqVerdict{Verdict: vv.Verdict, Reason: pqOrNull(vv.Reason)}))
	return nil
}

func pqSetFlag(v reflect.Value, raw json.RawMessage) error {
	var fv blocks.FlagValue
	if err := json.Unmarshal(raw, &fv); err != nil {
		return err
	}
	v.Set(reflect.ValueOf(&pqFlag{Reason: fv.Reason, Note: pqOrNull(fv.Note)}))
	return nil
}

// The fields of the row struct before the block columns.
const (
	pqID = iota
	pqExternalID
	pqSplit
	pqUser
	pqData
	pqFixed
)

// parquetWriter writes one Parquet file per split: a row per aggregated
// row, with the fixed columns
//
//	id           string          the item's Loupe id
//	external_id  optional string the item's external id
//	split        optional string the row's split
//	user         optional string the labeler, with the every aggregation
//	data         string (JSON)   the item's data as stored, canonical JSON
//
// then the block columns of parquetColumns. The row's Go type is a
// struct made at run time (reflect.StructOf) from the project's blocks,
// so that the columns keep config order and their types are checked by
// parquet-go as for any struct. Files are Snappy-compressed; a row group
// is written every parquetRowGroup rows, so memory stays flat. The
// footer's key-value metadata holds loupe.project, loupe.config_version,
// loupe.aggregate, loupe.created_at, loupe.models, loupe.columns (column
// → block and kind, as JSON) and, when some value could not be read as
// its block's current kind (a config changed since), loupe.unreadable
// (block → count; those cells are null).
type parquetWriter struct {
	meta    *Meta
	cols    []pqColumn
	rowType reflect.Type
	schema  *parquet.Schema
	files   SplitFiles
	writers map[string]*pqFile
	order   []string
	row     reflect.Value

	unreadable map[string]int
}

// pqFile is the Parquet writer of one split's file.
type pqFile struct {
	w    *parquet.GenericWriter[any]
	rows int
}

func newParquetWriter(s Sink, m *Meta) (Writer, error) {
	cols := parquetColumns(m.Interface)
	fields := []reflect.StructField{
		{Name: "ID", Type: reflect.TypeFor[string](), Tag: `parquet:"id"`},
		{Name: "ExternalID", Type: pqString, Tag: `parquet:"external_id,optional"`},
		{Name: "Split", Type: pqString, Tag: `parquet:"split,optional"`},
		{Name: "User", Type: pqString, Tag: `parquet:"user,optional"`},
		{Name: "Data", Type: reflect.TypeFor[string](), Tag: `parquet:"data,json"`},
	}
	for i, c := range cols {
		fields = append(fields, reflect.StructField{Name: "B" + strconv.Itoa(i), Type: c.typ,
			Tag: reflect.StructTag(`parquet:"` + c.name + `,` + c.tag + `"`)})
	}
	t := reflect.StructOf(fields)
	w := &parquetWriter{meta: m, cols: cols, rowType: t, schema: parquet.SchemaOf(reflect.New(t).Interface()),
		files: SplitFiles{Sink: s, Ext: "parquet"}, writers: map[string]*pqFile{}, row: reflect.New(t),
		unreadable: map[string]int{}}
	splits := m.Splits
	if len(splits) == 0 {
		splits = []string{""}
	}
	for _, sp := range splits {
		if _, err := w.file(sp); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// file returns the writer of a split's file, opening it on first use.
func (w *parquetWriter) file(split string) (*pqFile, error) {
	if f, ok := w.writers[split]; ok {
		return f, nil
	}
	out, err := w.files.Get(split)
	if err != nil {
		return nil, err
	}
	m := w.meta
	colInfo := map[string]map[string]string{}
	for _, c := range w.cols {
		colInfo[c.name] = map[string]string{"block": c.block, "kind": c.kind}
	}
	info, _ := json.Marshal(colInfo)
	f := &pqFile{w: parquet.NewGenericWriter[any](out, w.schema,
		parquet.Compression(&parquet.Snappy),
		parquet.KeyValueMetadata("loupe.project", m.Project),
		parquet.KeyValueMetadata("loupe.config_version", strconv.Itoa(m.ConfigVersion)),
		parquet.KeyValueMetadata("loupe.aggregate", m.Aggregate),
		parquet.KeyValueMetadata("loupe.created_at", m.CreatedAt.UTC().Format(time.RFC3339)),
		parquet.KeyValueMetadata("loupe.columns", string(info)),
	)}
	w.writers[split] = f
	w.order = append(w.order, split)
	return f, nil
}

func (w *parquetWriter) Write(row *Row) error {
	f, err := w.file(row.Split)
	if err != nil {
		return err
	}
	v := w.row.Elem()
	v.SetZero()
	rec := row.Record
	v.Field(pqID).SetString(rec.ItemID)
	if rec.ExternalID != "" {
		v.Field(pqExternalID).Set(reflect.ValueOf(&rec.ExternalID))
	}
	if row.Split != "" {
		v.Field(pqSplit).Set(reflect.ValueOf(&row.Split))
	}
	if row.User != "" {
		v.Field(pqUser).Set(reflect.ValueOf(&row.User))
	}
	data := string(rec.Data)
	if len(rec.Data) == 0 {
		data = "null"
	}
	v.Field(pqData).SetString(data)
	for i, c := range w.cols {
		raw, ok := row.Values[c.block]
		if !ok || isEmptyValue(raw) {
			continue
		}
		if err := c.set(v.Field(pqFixed+i), raw); err != nil {
			// The value does not fit the block's kind as the config now
			// says it: the cell stays null, and the footer counts it.
			v.Field(pqFixed + i).SetZero()
			w.unreadable[c.block]++
		}
	}
	if _, err := f.w.Write([]any{w.row.Interface()}); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	if f.rows++; f.rows%parquetRowGroup == 0 {
		if err := f.w.Flush(); err != nil {
			return fmt.Errorf("write parquet: %w", err)
		}
	}
	return nil
}

// Close writes each file's footer, with the model versions Run found,
// and closes the files.
func (w *parquetWriter) Close() error {
	models, _ := json.Marshal(pqNonNil(w.meta.Models))
	var unreadable []byte
	if len(w.unreadable) > 0 {
		unreadable, _ = json.Marshal(w.unreadable)
	}
	var first error
	for _, sp := range w.order {
		f := w.writers[sp]
		f.w.SetKeyValueMetadata("loupe.models", string(models))
		if unreadable != nil {
			f.w.SetKeyValueMetadata("loupe.unreadable", string(unreadable))
		}
		if err := f.w.Close(); err != nil && first == nil {
			first = fmt.Errorf("write parquet: %w", err)
		}
	}
	if err := w.files.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

func pqNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
