package feedback

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
)

// ReviewTask is what a reviewer sees of one item: its data, every
// labeler's current answer side by side, the models' predictions and the
// reviews so far.
type ReviewTask struct {
	Item        *annotate.Item
	State       string
	Reason      string // why the policy sent it to review
	Origin      string // "import", or "feedback" for the feedback API
	Answers     []*annotate.Annotation
	Predictions []annotate.Prediction
	Reviews     []*Review
	// Feedback are the item's feedback events: feedback block values and
	// what came through the feedback API.
	Feedback []*Event
	// Final is the answer an adjudication set; nil when none.
	Final map[string]json.RawMessage
	// Revision identifies the answers as the reviewer saw them: a verdict
	// is refused when they changed since (see Revision).
	Revision   string
	LeaseUntil time.Time
}

// Revision digests which versions of which annotations an item has, so
// that a verdict given on what a reviewer saw is not applied to answers
// that changed meanwhile.
func Revision(answers []*annotate.Annotation) string {
	parts := make([]string, 0, len(answers))
	for _, a := range answers {
		parts = append(parts, a.ID+":"+strconv.Itoa(a.Version))
	}
	sort.Strings(parts)
	sum := sha256.Sum256([]byte(strings.Join(parts, ",")))
	return hex.EncodeToString(sum[:8])
}

// Change is how one block's value differs between two versions.
type Change struct {
	Block  string
	Kind   string // "added", "removed" or "changed"
	Before string // compact JSON; "" when added
	After  string // compact JSON; "" when removed
	// For lists (spans, boxes, several choices): the elements only in the
	// version before and only in the version after.
	Gone []string
	New  []string
}

// Diff compares two versions' values, block by block in name order; nil
// before means a first version. Lists are compared element by element, so
// that adding one span among fifty reads as one addition.
func Diff(before, after map[string]json.RawMessage) []Change {
	names := map[string]bool{}
	for k := range before {
		names[k] = true
	}
	for k := range after {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []Change
	for _, name := range sorted {
		b, a := canonical(before[name]), canonical(after[name])
		if b == "null" {
			b = ""
		}
		if a == "null" {
			a = ""
		}
		switch {
		case b == a:
			continue
		case b == "":
			out = append(out, Change{Block: name, Kind: "added", After: a})
		case a == "":
			out = append(out, Change{Block: name, Kind: "removed", Before: b})
		default:
			c := Change{Block: name, Kind: "changed", Before: b, After: a}
			c.Gone, c.New = listDiff(before[name], after[name])
			out = append(out, c)
		}
	}
	return out
}

// listDiff returns the elements of two JSON arrays found only in one of
// them (as a multiset); nil, nil when either is not an array.
func listDiff(before, after json.RawMessage) (gone, added []string) {
	var b, a []json.RawMessage
	if json.Unmarshal(before, &b) != nil || json.Unmarshal(after, &a) != nil {
		return nil, nil
	}
	left := map[string]int{}
	for _, x := range a {
		left[canonical(x)]++
	}
	for _, x := range b {
		k := canonical(x)
		if left[k] > 0 {
			left[k]--
			continue
		}
		gone = append(gone, k)
	}
	seen := map[string]int{}
	for _, x := range b {
		seen[canonical(x)]++
	}
	for _, x := range a {
		k := canonical(x)
		if seen[k] > 0 {
			seen[k]--
			continue
		}
		added = append(added, k)
	}
	return gone, added
}

// ItemStatus is one item as the items list shows it: where it is in the
// workflow and how many labelers annotated it.
type ItemStatus struct {
	Item   *annotate.Item
	State  string
	Reason string
	Origin string
	Done   int
}

// EventFilter selects events for the audit log. Zero fields do not filter.
type EventFilter struct {
	Chain  string // the project's id, or ServerChain
	Actor  string // user name
	Kind   string
	Block  string
	ItemID string
	From   time.Time // events at or after
	To     time.Time // events before
	Before int64     // keyset: events with Seq below this (0: from the newest)
	Limit  int       // default 100, at most 1000
}

// ItemsFilter selects a page of a project's items.
type ItemsFilter struct {
	State string // one of States; "" for all
	After int64  // keyset: items with Seq above this
	Limit int    // default 50, at most 500
}

// ErrReviewQueueEmpty is returned when no item waits for the reviewer.
var ErrReviewQueueEmpty = &loupe.Error{Code: loupe.ENOTFOUND, Message: "no items are waiting for your review in this project"}
