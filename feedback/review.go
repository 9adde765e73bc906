package feedback

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// Item states, as reviewers and managers see and filter them.
const (
	StatePending   = "pending"   // waiting for the annotations the overlap asks for
	StateAnnotated = "annotated" // annotated; the review policy did not pick it
	StateInReview  = "in_review" // waiting for a reviewer
	StateApproved  = "approved"  // a reviewer approved it (or fixed or adjudicated it)
	StateRejected  = "rejected"  // sent back to a labeler, waiting for their fix
)

// States lists the item states, in workflow order.
var States = []string{StatePending, StateAnnotated, StateInReview, StateApproved, StateRejected}

// Review verdicts.
const (
	VerdictApprove    = "approve"    // the answer(s) stand
	VerdictReject     = "reject"     // one labeler's answer goes back to them with a comment
	VerdictFix        = "fix"        // the reviewer corrects one labeler's answer: a new version by the reviewer
	VerdictAdjudicate = "adjudicate" // the reviewer picks or writes the final answer where labelers disagree
)

// MaxComment is the longest review comment.
const MaxComment = 2000

// Review is a reviewer's verdict on an item (and, for reject and fix, on
// one labeler's annotation of it).
type Review struct {
	ID           string
	ProjectID    string
	ItemID       string
	AnnotationID string // reject, fix: the annotation judged
	ReviewerID   string
	ReviewerName string
	Verdict      string
	Comment      string
	// Values are the fixed or final values (fix, adjudicate).
	Values    map[string]json.RawMessage
	CreatedAt time.Time
}

// Validate checks a verdict's fields (not the values, which the
// interface checks). It returns EINVALID naming the field.
func (r *Review) Validate() error {
	switch r.Verdict {
	case VerdictApprove:
	case VerdictReject:
		if r.AnnotationID == "" {
			return loupe.FieldErrorf("annotation", "a rejection names the annotation that goes back to its labeler")
		}
		if r.Comment == "" {
			return loupe.FieldErrorf("comment", "say what to fix: a rejection needs a comment for the labeler")
		}
	case VerdictFix:
		if r.AnnotationID == "" {
			return loupe.FieldErrorf("annotation", "a fix names the annotation it corrects")
		}
		if len(r.Values) == 0 {
			return loupe.FieldErrorf("values", "a fix needs the corrected values")
		}
	case VerdictAdjudicate:
		if len(r.Values) == 0 {
			return loupe.FieldErrorf("values", "an adjudication needs the final values")
		}
	default:
		return loupe.FieldErrorf("verdict", "verdict %q is unknown; use approve, reject, fix or adjudicate", r.Verdict)
	}
	if len([]rune(r.Comment)) > MaxComment {
		return loupe.FieldErrorf("comment", "the comment is longer than %d characters", MaxComment)
	}
	return nil
}

// Facts are what the review policy looks at for one item.
type Facts struct {
	ItemID string
	// Answers are each labeler's current values.
	Answers []map[string]json.RawMessage
	// Predictions are the models' best predictions per block.
	Predictions map[string]Predicted
	// Feedback is set when the item came through the feedback API.
	Feedback bool
}

// Predicted is a model's prediction for one block.
type Predicted struct {
	Value json.RawMessage
	Score *float64
}

// Select decides whether an item goes to review, and why: the first policy
// of the config (in its order) that picks it. Feedback blocks never count
// as disagreement.
func Select(rc *blocks.ReviewConfig, in *blocks.Interface, f Facts) (bool, string) {
	if rc == nil {
		return false, ""
	}
	for _, pol := range rc.Policy {
		var why string
		switch pol {
		case blocks.PolicyAll:
			why = "every item is reviewed"
		case blocks.PolicySample:
			if sampled(f.ItemID, rc.SamplePercent) {
				why = fmt.Sprintf("in the %g%% sample", rc.SamplePercent)
			}
		case blocks.PolicyDisagreement:
			if b := disagreeing(in, f.Answers); b != "" {
				why = "labelers disagree on " + b
			}
		case blocks.PolicyModelDisagreement:
			if b := modelDisagrees(in, f); b != "" {
				why = "the answer to " + b + " differs from the model's"
			}
		case blocks.PolicyLowConfidence:
			for block, p := range f.Predictions {
				if p.Score != nil && *p.Score < rc.LowConfidence {
					why = fmt.Sprintf("the model is unsure about %s (score %.2f)", block, *p.Score)
					break
				}
			}
		case blocks.PolicyFlagged:
			if b := flagged(in, f.Answers); b != "" {
				why = "flagged (" + b + ")"
			}
		case blocks.PolicyFeedback:
			if f.Feedback {
				why = "it got feedback through the feedback API"
			}
		}
		if why != "" {
			return true, why
		}
	}
	return false, ""
}

// sampled picks a fixed pseudo-random percent of items by their id.
func sampled(itemID string, percent float64) bool {
	h := fnv.New64a()
	h.Write([]byte("review-sample:" + itemID))
	return float64(h.Sum64()%10000) < percent*100
}

// labeling reports whether a block's answers count for agreement: values of
// labeling kinds, not feedback kinds.
func labeling(v blocks.Valuer) bool {
	k, _ := blocks.LookupKind(v.Common().Type)
	return k.Category == blocks.CategoryLabeling
}

// disagreeing returns the first labeling block whose answers differ.
func disagreeing(in *blocks.Interface, answers []map[string]json.RawMessage) string {
	if len(answers) < 2 {
		return ""
	}
	for _, v := range in.Valuers() {
		if !labeling(v) {
			continue
		}
		name := v.Common().Name
		first := canonical(answers[0][name])
		for _, a := range answers[1:] {
			if canonical(a[name]) != first {
				return name
			}
		}
	}
	return ""
}

// modelDisagrees returns the first block whose consensus answer differs
// from the model's prediction.
func modelDisagrees(in *blocks.Interface, f Facts) string {
	for _, v := range in.Valuers() {
		name := v.Common().Name
		p, ok := f.Predictions[name]
		if !ok || !labeling(v) {
			continue
		}
		answer, ok := Consensus(f.Answers, name)
		if ok && canonical(answer) != canonical(p.Value) {
			return name
		}
	}
	return ""
}

// flagged returns the reason of the first flag in the answers.
func flagged(in *blocks.Interface, answers []map[string]json.RawMessage) string {
	for _, v := range in.Valuers() {
		if v.Common().Type != "flag" {
			continue
		}
		for _, a := range answers {
			raw, ok := a[v.Common().Name]
			if !ok || len(raw) == 0 || string(raw) == "null" {
				continue
			}
			if d, ok := v.(blocks.Decider); ok {
				raw = d.ConditionValue(raw)
			}
			var reason string
			if json.Unmarshal(raw, &reason) == nil && reason != "" {
				return reason
			}
		}
	}
	return ""
}

// Consensus returns the most common answer for a block (ties go to the
// first given); false when nobody answered it.
func Consensus(answers []map[string]json.RawMessage, block string) (json.RawMessage, bool) {
	counts := map[string]int{}
	var order []string
	raw := map[string]json.RawMessage{}
	for _, a := range answers {
		v, ok := a[block]
		if !ok || len(v) == 0 {
			continue
		}
		k := canonical(v)
		if counts[k] == 0 {
			order = append(order, k)
			raw[k] = v
		}
		counts[k]++
	}
	best := ""
	for _, k := range order {
		if best == "" || counts[k] > counts[best] {
			best = k
		}
	}
	if best == "" {
		return nil, false
	}
	return raw[best], true
}

// canonical re-encodes a JSON value so that equal values compare equal.
func canonical(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	var x any
	if json.Unmarshal(v, &x) != nil {
		return string(v)
	}
	b, _ := json.Marshal(x)
	return string(b)
}
