package export

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Filter chooses what an export holds. The zero Filter keeps every item
// with an annotation or a final answer.
type Filter struct {
	// States keeps items in one of these review states (pending,
	// annotated, in_review, approved, rejected).
	States []string `json:"states,omitempty"`
	// Reviewed keeps items a reviewer gave a verdict on.
	Reviewed bool `json:"reviewed,omitempty"`
	// Flagged keeps items a labeler flagged (a flag block with a value).
	Flagged bool `json:"flagged,omitempty"`
	// Labelers keeps only these labelers' annotations (by user name);
	// items left without one are dropped.
	Labelers []string `json:"labelers,omitempty"`
	// Since and Until keep only annotations last changed in [Since,
	// Until); the zero time is no bound.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
	// MinAgreement keeps items of two or more annotations whose agreement
	// (Agreement) is at least this; 0 is no bound.
	MinAgreement float64 `json:"min_agreement,omitempty"`
	// HasFeedback keeps items that got feedback: through the feedback
	// API, or a value of a feedback block (thumbs, comment, flag,
	// verdict) in an annotation.
	HasFeedback bool `json:"has_feedback,omitempty"`
}

// States an item may be in, for checking a filter.
var itemStates = []string{"pending", "annotated", "in_review", "approved", "rejected"}

// Check returns EINVALID naming the field when the filter cannot be met.
func (f *Filter) Check() error {
	for _, s := range f.States {
		if !slices.Contains(itemStates, s) {
			return loupe.FieldErrorf("state", "unknown state %q; states are %s", s, strings.Join(itemStates, ", "))
		}
	}
	if f.MinAgreement < 0 || f.MinAgreement > 1 {
		return loupe.FieldErrorf("min_agreement", "minimum agreement %v is not between 0 and 1", f.MinAgreement)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return loupe.FieldErrorf("since", "the date range is empty: %s is not before %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return nil
}

// Apply narrows rec in place to what the filter keeps (it may drop
// annotations) and reports whether the item stays in the export.
func (f *Filter) Apply(rec *Record, in *blocks.Interface) bool {
	if len(f.States) > 0 && !slices.Contains(f.States, rec.State) {
		return false
	}
	if f.Reviewed && len(rec.Reviews) == 0 {
		return false
	}
	if len(f.Labelers) > 0 || !f.Since.IsZero() || !f.Until.IsZero() {
		kept := rec.Annotations[:0]
		for _, a := range rec.Annotations {
			if len(f.Labelers) > 0 && !slices.Contains(f.Labelers, a.User) {
				continue
			}
			if !f.Since.IsZero() && a.UpdatedAt.Before(f.Since) || !f.Until.IsZero() && !a.UpdatedAt.Before(f.Until) {
				continue
			}
			kept = append(kept, a)
		}
		rec.Annotations = kept
		if len(kept) == 0 {
			return false
		}
	}
	if f.Flagged && !hasValueOf(rec, in, func(v blocks.Valuer) bool { _, ok := v.(*blocks.Flag); return ok }) {
		return false
	}
	if f.HasFeedback && len(rec.Feedback) == 0 && !hasValueOf(rec, in, isFeedback) {
		return false
	}
	if f.MinAgreement > 0 {
		if a, ok := Agreement(rec, in); !ok || a < f.MinAgreement {
			return false
		}
	}
	return true
}

// isFeedback reports whether a block is a feedback block.
func isFeedback(v blocks.Valuer) bool {
	kind, ok := blocks.LookupKind(v.Common().Type)
	return ok && kind.Category == blocks.CategoryFeedback
}

// hasValueOf reports whether an annotation of rec holds a value for a
// block that match accepts.
func hasValueOf(rec *Record, in *blocks.Interface, match func(blocks.Valuer) bool) bool {
	var names []string
	for _, v := range in.Valuers() {
		if match(v) {
			names = append(names, v.Common().Name)
		}
	}
	if len(names) == 0 {
		return false
	}
	for _, a := range rec.Annotations {
		var values map[string]json.RawMessage
		json.Unmarshal(a.Values, &values)
		for _, n := range names {
			if v, ok := values[n]; ok && !isEmptyValue(v) {
				return true
			}
		}
	}
	return false
}

// Agreement is the share of an item's annotations that agree with the
// most common value, averaged over the labeling blocks at least two of
// them answered. ok is false when no block was answered twice.
func Agreement(rec *Record, in *blocks.Interface) (float64, bool) {
	vals := decodeValues(rec.Annotations)
	sum, n := 0.0, 0
	for _, v := range in.Valuers() {
		if isFeedback(v) {
			continue
		}
		name := v.Common().Name
		counts := map[string]int{}
		total := 0
		for _, m := range vals {
			if x, ok := m[name]; ok && !isEmptyValue(x) {
				counts[canonical(x)]++
				total++
			}
		}
		if total < 2 {
			continue
		}
		top := 0
		for _, c := range counts {
			top = max(top, c)
		}
		sum += float64(top) / float64(total)
		n++
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

func decodeValues(as []Annotation) []map[string]json.RawMessage {
	out := make([]map[string]json.RawMessage, len(as))
	for i, a := range as {
		json.Unmarshal(a.Values, &out[i])
	}
	return out
}

// String describes the filter in words, for logs and manifests.
func (f *Filter) String() string {
	var parts []string
	if len(f.States) > 0 {
		parts = append(parts, "state "+strings.Join(f.States, "|"))
	}
	if f.Reviewed {
		parts = append(parts, "reviewed")
	}
	if f.Flagged {
		parts = append(parts, "flagged")
	}
	if len(f.Labelers) > 0 {
		parts = append(parts, "labelers "+strings.Join(f.Labelers, ","))
	}
	if !f.Since.IsZero() {
		parts = append(parts, "since "+f.Since.Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		parts = append(parts, "until "+f.Until.Format(time.RFC3339))
	}
	if f.MinAgreement > 0 {
		parts = append(parts, fmt.Sprintf("agreement ≥ %g", f.MinAgreement))
	}
	if f.HasFeedback {
		parts = append(parts, "has feedback")
	}
	if len(parts) == 0 {
		return "everything annotated"
	}
	return strings.Join(parts, ", ")
}
