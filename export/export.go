// Package export writes datasets: annotated items in the formats training
// code reads. Writers work over domain values and an io.Writer; they do no
// SQL and no HTTP, so that the same writer serves the CLI, the API and the
// browser.
package export

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/loupehq/loupe"
)

// Record is one exported item with its annotations.
type Record struct {
	ItemID      string
	ExternalID  string
	Data        json.RawMessage // the item's data as stored: canonical JSON
	Annotations []Annotation
	// State is the item's review state ("" when unknown); Final the
	// final answer a reviewer's adjudication set (nil when none).
	State string
	Final json.RawMessage
}

// Annotation is one labeler's current annotation of an item.
type Annotation struct {
	ID            string
	User          string
	Version       int
	ConfigVersion int
	Values        json.RawMessage // canonical JSON object, block name → value
	LeadMS        int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Encoder writes records in one format. Close flushes what is buffered.
type Encoder interface {
	Encode(*Record) error
	Close() error
}

// Format is one export format: its name, the media type and file extension
// of what it writes.
type Format struct {
	Name        string
	ContentType string
	Ext         string
}

var formats = map[string]Format{
	"jsonl": {Name: "jsonl", ContentType: "application/x-ndjson; charset=utf-8", Ext: "jsonl"},
}

// Formats returns the names of the known formats, sorted.
func Formats() []string {
	out := make([]string, 0, len(formats))
	for name := range formats {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// LookupFormat returns the format named name, or EINVALID listing the
// known formats.
func LookupFormat(name string) (Format, error) {
	f, ok := formats[name]
	if !ok {
		return Format{}, &loupe.Error{Code: loupe.EINVALID, Field: "format",
			Message: "unknown export format " + quote(name) + "; known formats: " + strings.Join(Formats(), ", ")}
	}
	return f, nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
