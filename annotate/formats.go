package annotate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Import formats.
const (
	FormatCSV         = "csv"         // comma-separated values with a header row
	FormatFolder      = "folder"      // a folder of images or audio files, one item a file
	FormatJSON        = "json"        // a JSON array of items, each as a line of jsonl
	FormatJSONL       = "jsonl"       // one JSON item a line: Loupe's own format
	FormatLabelStudio = "labelstudio" // Label Studio tasks: a JSON array, or JSONL
	FormatProdigy     = "prodigy"     // Prodigy / spaCy JSONL: text, spans, answer, accept
	FormatText        = "text"        // plain text, one item a line
	FormatTSV         = "tsv"         // tab-separated values with a header row
)

// ImportFormats returns the names of the import formats, sorted.
func ImportFormats() []string {
	return []string{FormatCSV, FormatFolder, FormatJSON, FormatJSONL, FormatLabelStudio, FormatProdigy, FormatText, FormatTSV}
}

// ReadOptions says how to read an import file.
type ReadOptions struct {
	// Interface is the project's interface. It picks the data field of
	// formats whose records are bare text or files (text, prodigy,
	// folder), and the blocks Prodigy's answers map to. nil reads with
	// the defaults (field "text"; Prodigy answers need it).
	Interface *blocks.Interface
	// Field forces the data field of text, prodigy and folder items; ""
	// picks it from the interface.
	Field string
	// IDColumn names the CSV/TSV column that holds the external id; ""
	// means the column named "id", if there is one.
	IDColumn string
}

// unknownFormat is the error for a format Loupe does not know.
func unknownFormat(what string) error {
	return loupe.Errorf(loupe.EINVALID, "%s; known formats: %s", what, strings.Join(ImportFormats(), ", "))
}

// NewItemReader returns a reader of items in the given format from r. The
// folder format reads a directory, not a stream: use NewFolderReader. It
// returns an EINVALID error listing the known formats when format is not
// one of them.
func NewItemReader(format string, r io.Reader, opt ReadOptions) (ItemReader, error) {
	switch format {
	case FormatJSONL:
		return NewItemDecoder(r), nil
	case FormatJSON:
		return &jsonItems{src: newArrayScanner(r), parse: ParseItemLine}, nil
	case FormatCSV:
		return newCSVReader(r, ',', opt), nil
	case FormatTSV:
		return newCSVReader(r, '\t', opt), nil
	case FormatText:
		return newTextReader(r, opt), nil
	case FormatLabelStudio:
		return newLabelStudioReader(r), nil
	case FormatProdigy:
		return newProdigyReader(r, opt), nil
	case FormatFolder:
		return nil, loupe.Errorf(loupe.EINVALID, "the folder format reads a folder of files, not a file: give a folder")
	}
	return nil, unknownFormat("unknown import format " + quote(format))
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// DetectFormat tells an import file's format from its name and its first
// bytes (head; 64 KiB is plenty, and it may end anywhere):
//
//   - .csv → csv, .tsv or .tab → tsv, .txt → text;
//   - content that starts with "[" (a JSON array; .json or any other
//     name): labelstudio when its first element has "data" beside
//     "annotations" or "predictions" (or head ends inside it after one of
//     those: Label Studio writes data last) and no "external_id" (the
//     mark of Loupe's own export), else json;
//   - content that starts with "{" (JSONL; .jsonl, .ndjson, .json or any
//     other name): prodigy when the first object has "text" and one of
//     "spans", "accept", "_input_hash" or an "answer" of "accept",
//     "reject" or "ignore"; labelstudio when it
//     has "data" beside "annotations" or "predictions" and keys Loupe's
//     formats do not have (Label Studio's bookkeeping); else jsonl;
//   - .json, .jsonl and .ndjson files whose content says nothing (empty)
//     → json, jsonl.
//
// A folder is not a file: callers that are given a directory use the
// folder format. Anything else is an EINVALID error listing the known
// formats.
func DetectFormat(name string, head []byte) (string, error) {
	ext := strings.ToLower(name[strings.LastIndexAny(name, "/\\")+1:])
	if i := strings.LastIndexByte(ext, '.'); i >= 0 {
		ext = ext[i:]
	} else {
		ext = ""
	}
	switch ext {
	case ".csv":
		return FormatCSV, nil
	case ".tsv", ".tab":
		return FormatTSV, nil
	case ".txt":
		return FormatText, nil
	}
	body := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	switch {
	case len(body) > 0 && body[0] == '[':
		keys, complete := sniffKeys(body, true)
		if lsKeys(keys, complete) && !has(keys, "external_id") {
			return FormatLabelStudio, nil
		}
		return FormatJSON, nil
	case len(body) > 0 && body[0] == '{':
		keys, complete := sniffKeys(body, false)
		if prodigyKeys(keys) {
			return FormatProdigy, nil
		}
		if lsKeys(keys, complete) {
			for k := range keys {
				if !wrapperKeys[k] {
					return FormatLabelStudio, nil
				}
			}
		}
		return FormatJSONL, nil
	}
	switch ext {
	case ".json":
		return FormatJSON, nil
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	}
	if name == "" {
		return "", unknownFormat("cannot tell the format of the file from its content; give one")
	}
	return "", unknownFormat("cannot tell the format of " + quote(name) + " from its name or its content; give one")
}

// lsKeys reports whether the keys of a first record look like a Label
// Studio task: data beside annotations or predictions. Label Studio's
// exports put data after the annotations, so when head ends inside the
// record, annotations or predictions are enough.
func lsKeys(keys map[string]string, complete bool) bool {
	_, data := keys["data"]
	return (has(keys, "annotations") || has(keys, "predictions")) && (data || !complete)
}

// prodigyKeys reports whether the keys of a first record look like a
// Prodigy task: text beside spans, accept, _input_hash, or an answer
// that is one of Prodigy's (a flat item may well have an "answer" field).
func prodigyKeys(keys map[string]string) bool {
	switch keys["answer"] {
	case "accept", "reject", "ignore":
		return has(keys, "text")
	}
	return has(keys, "text") && (has(keys, "spans") || has(keys, "accept") || has(keys, "_input_hash"))
}

func has(keys map[string]string, k string) bool {
	_, ok := keys[k]
	return ok
}

// sniffKeys returns the keys of the first JSON object in head (the first
// element, when array is set), as far as head holds them, each with its
// value when that is a string (else ""), and whether head holds the whole
// object. It reads tokens, so a head cut anywhere, or nested however deep,
// is fine.
func sniffKeys(head []byte, array bool) (keys map[string]string, complete bool) {
	keys = map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(head))
	if array {
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return keys, false
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return keys, false
	}
	for {
		t, err := dec.Token()
		k, ok := t.(string)
		if err != nil || !ok {
			return keys, err == nil // the object's end, or the end of head
		}
		keys[k] = ""
		t, err = dec.Token()
		if err != nil {
			return keys, false
		}
		if v, ok := t.(string); ok {
			keys[k] = v
		}
		if t == json.Delim('{') || t == json.Delim('[') {
			for depth := 1; depth > 0; {
				t, err := dec.Token()
				switch {
				case err != nil:
					return keys, false
				case t == json.Delim('{') || t == json.Delim('['):
					depth++
				case t == json.Delim('}') || t == json.Delim(']'):
					depth--
				}
			}
		}
	}
}

// rawSource yields the raw bytes of one record at a time, with the line the
// record starts on: the lines of JSONL, or the elements of a JSON array.
type rawSource interface {
	next() (raw []byte, line int, err error)
}

func (d *lineReader) nextRaw() ([]byte, int, error) {
	raw, err := d.next()
	return raw, d.line, err
}

type lineSource struct{ *lineReader }

func (s lineSource) next() ([]byte, int, error) { return s.nextRaw() }

func newLineSource(r io.Reader) lineSource {
	return lineSource{&lineReader{r: bufio.NewReaderSize(r, 64<<10)}}
}

// jsonItems reads items from a rawSource, parsing each record with parse.
type jsonItems struct {
	src   rawSource
	parse func(raw []byte, line int) (*ItemRecord, error)
}

// Next implements ItemReader.
func (j *jsonItems) Next() (*ItemRecord, error) {
	raw, line, err := j.src.next()
	if err != nil {
		return nil, err
	}
	return j.parse(raw, line)
}

// textField is the data field that holds the text of formats whose records
// are bare text (text, prodigy): the forced one, else the field of the
// interface's first spans block (the text to label), else of its first
// text or markdown block, else "text".
func textField(opt ReadOptions) string {
	if opt.Field != "" {
		return opt.Field
	}
	var spans, shown string
	if opt.Interface != nil {
		opt.Interface.Walk(func(b blocks.Block) {
			switch b := b.(type) {
			case *blocks.Spans:
				if spans == "" {
					spans = b.Field
				}
			case *blocks.Text:
				if shown == "" {
					shown = b.Field
				}
			case *blocks.Markdown:
				if shown == "" {
					shown = b.Field
				}
			}
		})
	}
	switch {
	case spans != "":
		return spans
	case shown != "":
		return shown
	}
	return "text"
}
