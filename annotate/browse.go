package annotate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// Browse sorts: the data browser orders items by one of these, then by
// seq. A leading "-" sorts descending.
const (
	SortSeq     = "seq"     // import order
	SortCreated = "created" // when the item was created
	SortChanged = "changed" // the item's last change: created, or its latest annotation
	SortState   = "state"   // workflow state, alphabetically
)

// BrowseSorts is the allowlist of sorts the data browser accepts.
var BrowseSorts = []string{SortSeq, "-" + SortSeq, SortCreated, "-" + SortCreated, SortChanged, "-" + SortChanged, SortState, "-" + SortState}

// Date fields a browse date range applies to.
const (
	DateCreated = "created"
	DateChanged = "changed"
)

// BrowseQuery selects and orders a page of the data browser. Zero fields
// do not filter. Every string here reaches SQL only as a bound value; Sort
// and DateField are checked against their allowlists first.
type BrowseQuery struct {
	State       string // one of feedback.States
	Labeler     string // user name: items with an annotation by them
	Block       string // items whose current annotations give Value in Block (any value when Value is "")
	Value       string
	HasFeedback *bool     // items with (or without) feedback events or a feedback origin
	Flagged     *bool     // items with (or without) a flag in a current annotation
	FlagBlocks  []string  // the project's flag blocks, for Flagged
	DateField   string    // DateCreated (default) or DateChanged
	From        time.Time // at or after
	To          time.Time // before
	Search      string    // words that must all appear in the item's text
	Sort        string    // one of BrowseSorts; "" is seq
	ShowBlock   string    // the block whose final or majority value each row shows
	Cursor      *Cursor   // nil: the first page
	Limit       int       // default 50, at most 500
}

// BrowseRow is one item of the data browser.
type BrowseRow struct {
	Item      *Item
	State     string
	Labelers  []string
	Value     json.RawMessage // final or majority value of ShowBlock; nil when none
	ChangedAt time.Time
}

// BrowsePage is a page of the data browser with the cursors to the pages
// either side (nil at either end).
type BrowsePage struct {
	Rows []BrowseRow
	Next *Cursor
	Prev *Cursor
}

// Cursor is a position in a sorted browse: the sort key and seq of an
// item, and whether the page runs after it (forward) or before it.
type Cursor struct {
	Sort string `json:"o"`
	Key  string `json:"k"`
	Seq  int64  `json:"s"`
	Back bool   `json:"b,omitempty"`
}

// ErrBadCursor is returned for a cursor token that is not one Loupe made.
var ErrBadCursor = errors.New("cursor is not valid")

// Encode returns the cursor as an opaque URL-safe token.
func (c *Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a token made by Encode. It returns ErrBadCursor for
// anything else; the key is checked against the sort by the caller.
func DecodeCursor(tok string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) > 1024 {
		return nil, ErrBadCursor
	}
	var c Cursor
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Seq < 0 {
		return nil, ErrBadCursor
	}
	return &c, nil
}

// Majority returns the final value when there is one, else the value most
// of the answers give (compared as JSON text; a tie goes to the value
// given first), or nil when no answer has one.
func Majority(final json.RawMessage, answers []json.RawMessage) json.RawMessage {
	if len(final) > 0 && string(final) != "null" {
		return final
	}
	counts := map[string]int{}
	var best json.RawMessage
	for _, a := range answers {
		if len(a) == 0 || string(a) == "null" {
			continue
		}
		counts[string(a)]++
		if best == nil || counts[string(a)] > counts[string(best)] {
			best = a
		}
	}
	return best
}
