// Package export writes datasets: annotated items in the formats training
// code reads. Writers work over domain values and a Sink of files; they do
// no SQL and no HTTP, so that the same writer serves the CLI, the API and
// the browser.
//
// An export runs as a pipeline (Run): records from a Source are filtered
// (Filter), reduced to rows by an aggregation (every annotation, majority
// vote, reviewer-final, latest), given a split, and handed to the format's
// Writer, which writes one or more files into a Sink. The Manifest says
// what went in: the spec, counts per split and label, a SHA-256 per file.
package export

import (
	"encoding/json"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Row is one row handed to a writer: an item with the answer the
// aggregation chose.
type Row struct {
	Record *Record
	Split  string // "" when the export is not split
	// Values is the aggregated answer, block name → canonical JSON value;
	// a block without an agreed value is absent.
	Values map[string]json.RawMessage
	// User and AnnotationID name the annotation the row comes from with
	// the "every" aggregation; "" otherwise.
	User         string
	AnnotationID string
	// Ties lists the blocks whose majority vote tied (majority only).
	Ties []string
}

// Meta is what a writer knows about the export as a whole.
type Meta struct {
	Project       string // the project's slug
	Title         string
	Interface     *blocks.Interface
	ConfigVersion int
	Aggregate     string
	// Splits are the split names in order; nil when the export is not
	// split.
	Splits []string
	// CreatedAt is the export's time: the snapshot's, when a snapshot is
	// exported again, so that the files come out the same.
	CreatedAt time.Time
	// Models are the model versions whose predictions the export holds,
	// "model@version", sorted (filled in by Run before Close).
	Models []string
}

// Writer writes rows in one format. Close finishes the files (a dataset
// card, a label map); after Close the writer is not used again.
type Writer interface {
	Write(*Row) error
	Close() error
}

// Sink receives the files of an export. Names are slash-separated paths
// relative to the export's root ("train.jsonl", "labels/a.txt"). A writer
// may keep several files open at once; it closes each when it is done
// with it (files left open are closed when the export ends). Writers
// buffer nothing themselves: sinks do.
type Sink interface {
	Create(name string) (io.WriteCloser, error)
}

// Format is one export format.
type Format struct {
	Name        string
	Doc         string // one line: what it writes
	ContentType string // of its file, when it writes one
	Ext         string
	// Single reports that an export without splits writes exactly one
	// file, named "data."+Ext, so that it can be streamed as is;
	// otherwise the export is a folder (a zip file on the web).
	Single bool
	// Whole reports that the format writes every annotation of an item
	// in one row (jsonl, labelstudio): aggregation does not apply.
	Whole bool
	// Check refuses a project whose blocks the format cannot express,
	// saying which blocks it needs; nil accepts any project.
	Check func(in *blocks.Interface) error
	New   func(s Sink, m *Meta) (Writer, error)
}

var formats = map[string]*Format{}

// Register adds a format. It is called from init functions; a second
// format of the same name panics.
func Register(f *Format) {
	if _, dup := formats[f.Name]; dup {
		panic("export: format " + f.Name + " registered twice")
	}
	formats[f.Name] = f
}

// Formats returns the names of the known formats, sorted.
func Formats() []string { return sortedKeys(formats) }

// LookupFormat returns the format named name, or EINVALID listing the
// known formats.
func LookupFormat(name string) (*Format, error) {
	f, ok := formats[name]
	if !ok {
		return nil, &loupe.Error{Code: loupe.EINVALID, Field: "format",
			Message: "unknown export format " + quote(name) + "; known formats: " + strings.Join(Formats(), ", ")}
	}
	return f, nil
}

// FileName is the name of the file a single-file format writes for a
// split ("" for none): "data.EXT" or "SPLIT.EXT".
func FileName(split, ext string) string {
	if split == "" {
		return "data." + ext
	}
	return split + "." + ext
}

func quote(s string) string {
	b, _ := json.Marshal(s)
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
