package annotate

import (
	"bytes"
	"encoding/json"
	"sort"
	"time"
)

// Suggestion is the prediction a block shows a labeler: its value, score
// and model, and the stored prediction it came from ("" for the builtin
// learner, whose suggestions are made on the spot).
type Suggestion struct {
	Block        string          `json:"block"`
	Value        json.RawMessage `json:"value"`
	Score        *float64        `json:"score,omitempty"`
	Model        string          `json:"model"`
	Version      string          `json:"version"`
	PredictionID string          `json:"id,omitempty"`
}

// ModelStatus is how a project's model is doing, for its status page.
type ModelStatus struct {
	Model      string
	Type       string
	URL        string
	Version    string
	Healthy    bool
	Checked    bool // whether health could be checked at all
	LastError  string
	Calls      int
	Errors     int
	P50, P95   time.Duration
	LastCallAt time.Time
	Examples   int // builtin: annotations learned
}

// ErrorRate is the share of calls that failed.
func (s ModelStatus) ErrorRate() float64 {
	if s.Calls == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Calls)
}

// Outcomes of a shown suggestion.
const (
	OutcomeAccepted = "accepted" // submitted unchanged
	OutcomeEdited   = "edited"   // changed, but not cleared
	OutcomeRejected = "rejected" // cleared: the block was submitted without a value
)

// ShownOutcome is one shown suggestion and what became of it: the value
// the labeler submitted for its block, and the annotation's final value
// (its current version) for accuracy.
type ShownOutcome struct {
	Block     string
	Model     string
	Version   string
	Shown     json.RawMessage
	Submitted json.RawMessage // nil when the block was left empty
	Final     json.RawMessage // nil when the final version has no value
	At        time.Time
}

// Outcome classifies what the labeler did with the suggestion.
func (o ShownOutcome) Outcome() string {
	switch {
	case len(o.Submitted) == 0:
		return OutcomeRejected
	case sameJSON(o.Shown, o.Submitted):
		return OutcomeAccepted
	}
	return OutcomeEdited
}

// Correct reports whether the suggestion matches the final label.
func (o ShownOutcome) Correct() bool { return len(o.Final) > 0 && sameJSON(o.Shown, o.Final) }

// Regions counts, for list values (spans, boxes, multichoice), how many of
// the suggested elements the labeler kept exactly and how many they
// removed or changed.
func (o ShownOutcome) Regions() (kept, dropped int) {
	var shown, got []json.RawMessage
	if json.Unmarshal(o.Shown, &shown) != nil {
		return 0, 0
	}
	json.Unmarshal(o.Submitted, &got)
	have := map[string]int{}
	for _, g := range got {
		have[canonicalJSON(g)]++
	}
	for _, s := range shown {
		if k := canonicalJSON(s); have[k] > 0 {
			have[k]--
			kept++
		} else {
			dropped++
		}
	}
	return kept, dropped
}

func sameJSON(a, b json.RawMessage) bool { return canonicalJSON(a) == canonicalJSON(b) }

func canonicalJSON(v json.RawMessage) string {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return string(bytes.TrimSpace(v))
	}
	b, _ := json.Marshal(x)
	return string(b)
}

// ModelQuality sums the outcomes of one model version's suggestions.
type ModelQuality struct {
	Model, Version                    string
	Shown, Accepted, Edited, Rejected int
	Judged, Correct                   int // suggestions with a final label, and those that matched it
	RegionsKept, RegionsDropped       int
	First, Last                       time.Time
	Days                              []DayQuality // by day, oldest first
}

// DayQuality is one day of a model version's suggestions.
type DayQuality struct {
	Day             time.Time
	Shown, Accepted int
	Judged, Correct int
}

// AcceptRate is the share of shown suggestions accepted unchanged.
func (q ModelQuality) AcceptRate() float64 { return ratio(q.Accepted, q.Shown) }

// Accuracy is the share of judged suggestions that matched the final label.
func (q ModelQuality) Accuracy() float64 { return ratio(q.Correct, q.Judged) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// SummariseQuality groups outcomes by model and version, with a daily
// series, sorted by model then first use.
func SummariseQuality(outcomes []ShownOutcome) []ModelQuality {
	byKey := map[string]*ModelQuality{}
	days := map[string]map[time.Time]*DayQuality{}
	for _, o := range outcomes {
		key := o.Model + "\x00" + o.Version
		q := byKey[key]
		if q == nil {
			q = &ModelQuality{Model: o.Model, Version: o.Version, First: o.At, Last: o.At}
			byKey[key] = q
			days[key] = map[time.Time]*DayQuality{}
		}
		if o.At.Before(q.First) {
			q.First = o.At
		}
		if o.At.After(q.Last) {
			q.Last = o.At
		}
		day := o.At.UTC().Truncate(24 * time.Hour)
		d := days[key][day]
		if d == nil {
			d = &DayQuality{Day: day}
			days[key][day] = d
		}
		q.Shown++
		d.Shown++
		switch o.Outcome() {
		case OutcomeAccepted:
			q.Accepted++
			d.Accepted++
		case OutcomeEdited:
			q.Edited++
		case OutcomeRejected:
			q.Rejected++
		}
		if len(o.Final) > 0 {
			q.Judged++
			d.Judged++
			if o.Correct() {
				q.Correct++
				d.Correct++
			}
		}
		kept, dropped := o.Regions()
		q.RegionsKept += kept
		q.RegionsDropped += dropped
	}
	out := make([]ModelQuality, 0, len(byKey))
	for key, q := range byKey {
		for _, d := range days[key] {
			q.Days = append(q.Days, *d)
		}
		sort.Slice(q.Days, func(i, j int) bool { return q.Days[i].Day.Before(q.Days[j].Day) })
		out = append(out, *q)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Model != out[j].Model {
			return out[i].Model < out[j].Model
		}
		return out[i].First.Before(out[j].First)
	})
	return out
}
