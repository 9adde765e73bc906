package export

import (
	"bytes"
	"encoding/json"
	"time"
)

// Record is one item as an export sees it: its data, every labeler's
// current annotation, the model's predictions, the reviews and feedback it
// got, its review state and the final answer an adjudication set. Records
// come in the project's import order (Seq).
type Record struct {
	ItemID     string
	ExternalID string
	Seq        int64
	Data       json.RawMessage // the item's data as stored: canonical JSON
	// State is the item's review state ("" when unknown); Final the
	// final answer a reviewer's adjudication set (nil when none).
	State       string
	Final       json.RawMessage
	Annotations []Annotation
	Predictions []Prediction
	Reviews     []Review
	Feedback    []Feedback // feedback sent through the feedback API
}

// Annotation is one labeler's current annotation of an item.
type Annotation struct {
	ID            string
	User          string
	Author        string // who made this version when not the labeler (a reviewer's fix); "" otherwise
	Version       int
	ConfigVersion int
	Values        json.RawMessage // canonical JSON object, block name → value
	// Shown is what the labeler was shown as suggestions, as stored:
	// {"block": {"id", "model", "version", "score", "value"}}; nil or {}
	// when nothing was shown.
	Shown     json.RawMessage
	LeadMS    int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Prediction is a model's value for one block of an item.
type Prediction struct {
	ID           string
	Block        string
	Model        string
	ModelVersion string
	Score        *float64
	Value        json.RawMessage
	Source       string // import, model, learner, feedback
	CreatedAt    time.Time
}

// Review is a reviewer's verdict.
type Review struct {
	ID           string
	Reviewer     string
	Verdict      string // approve, reject, fix, adjudicate
	AnnotationID string // the annotation judged, "" for an item-wide verdict
	Comment      string
	Values       json.RawMessage // the fixed or final values (fix, adjudicate)
	CreatedAt    time.Time
}

// Feedback is one piece of feedback a model demo sent through the
// feedback API about the item.
type Feedback struct {
	ID          string
	Model       string
	Version     string
	RatingBlock string
	Rating      json.RawMessage // nil when none
	Correction  json.RawMessage // block → value, nil when none
	Comment     string
	CreatedAt   time.Time
}

// Outcome says what the labeler did with a suggestion they were shown.
const (
	OutcomeAccepted = "accepted" // kept as it was
	OutcomeEdited   = "edited"   // changed
	OutcomeRejected = "rejected" // cleared: the answer has no value for the block
)

// Suggestion is a prediction a labeler was shown for one block, with what
// became of it.
type Suggestion struct {
	Block        string          `json:"block"`
	PredictionID string          `json:"prediction_id,omitempty"`
	Model        string          `json:"model,omitempty"`
	Version      string          `json:"version,omitempty"`
	Score        *float64        `json:"score,omitempty"`
	Value        json.RawMessage `json:"value"`
	Outcome      string          `json:"outcome"`
}

// Suggestions returns the suggestions the annotation was shown, in block
// name order, each with its outcome: accepted when the answer holds the
// same value, rejected when it holds none, edited otherwise.
func (a *Annotation) Suggestions() []Suggestion {
	if len(a.Shown) == 0 {
		return nil
	}
	var shown map[string]struct {
		ID      string          `json:"id"`
		Model   string          `json:"model"`
		Version string          `json:"version"`
		Score   *float64        `json:"score"`
		Value   json.RawMessage `json:"value"`
	}
	if json.Unmarshal(a.Shown, &shown) != nil || len(shown) == 0 {
		return nil
	}
	var values map[string]json.RawMessage
	json.Unmarshal(a.Values, &values)
	out := make([]Suggestion, 0, len(shown))
	for _, block := range sortedKeys(shown) {
		s := shown[block]
		sg := Suggestion{Block: block, PredictionID: s.ID, Model: s.Model, Version: s.Version, Score: s.Score, Value: s.Value}
		got, ok := values[block]
		switch {
		case !ok || isEmptyValue(got):
			sg.Outcome = OutcomeRejected
		case sameJSON(got, s.Value):
			sg.Outcome = OutcomeAccepted
		default:
			sg.Outcome = OutcomeEdited
		}
		out = append(out, sg)
	}
	return out
}

// DataMap decodes the record's data.
func (r *Record) DataMap() map[string]any {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(r.Data))
	d.UseNumber()
	d.Decode(&m)
	return m
}

// isEmptyValue reports whether a value stands for no answer.
func isEmptyValue(v json.RawMessage) bool {
	s := string(bytes.TrimSpace(v))
	return s == "" || s == "null" || s == `""` || s == "[]" || s == "{}"
}

// sameJSON compares two JSON values by meaning (key order and spacing
// aside).
func sameJSON(a, b json.RawMessage) bool {
	if bytes.Equal(a, b) {
		return true
	}
	return canonical(a) == canonical(b)
}

// canonical returns a JSON value in one spelling: objects with sorted keys,
// no spaces, numbers as written. Invalid JSON comes back as it was.
func canonical(v json.RawMessage) string {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if d.Decode(&x) != nil {
		return string(v)
	}
	out, err := json.Marshal(x)
	if err != nil {
		return string(v)
	}
	return string(out)
}
