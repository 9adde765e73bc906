package annotate_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/loupehq/loupe/annotate"
)

func TestShownOutcome(t *testing.T) {
	raw := func(s string) json.RawMessage {
		if s == "" {
			return nil
		}
		return json.RawMessage(s)
	}
	tests := []struct {
		shown, submitted, final string
		outcome                 string
		correct                 bool
		kept, dropped           int
	}{
		{`"a"`, `"a"`, `"a"`, annotate.OutcomeAccepted, true, 0, 0},
		{`"a"`, `"b"`, `"b"`, annotate.OutcomeEdited, false, 0, 0},
		{`"a"`, ``, ``, annotate.OutcomeRejected, false, 0, 0},
		{`["x","y"]`, `["x","y"]`, `["x"]`, annotate.OutcomeAccepted, false, 2, 0},
		{`[{"start":0,"end":3,"label":"PER"},{"start":5,"end":9,"label":"LOC"}]`, `[{"label":"PER","end":3,"start":0}]`, ``, annotate.OutcomeEdited, false, 1, 1},
		{`{"choice":"A"}`, `{ "choice" : "A" }`, `{"choice":"A"}`, annotate.OutcomeAccepted, true, 0, 0},
	}
	for _, tt := range tests {
		o := annotate.ShownOutcome{Shown: raw(tt.shown), Submitted: raw(tt.submitted), Final: raw(tt.final)}
		kept, dropped := o.Regions()
		if o.Outcome() != tt.outcome || o.Correct() != tt.correct || kept != tt.kept || dropped != tt.dropped {
			t.Errorf("%s → %s (final %s): %s %v %d/%d; want %s %v %d/%d", tt.shown, tt.submitted, tt.final,
				o.Outcome(), o.Correct(), kept, dropped, tt.outcome, tt.correct, tt.kept, tt.dropped)
		}
	}
}

func TestSummariseQuality(t *testing.T) {
	day := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	outs := []annotate.ShownOutcome{
		{Model: "m", Version: "1", Shown: json.RawMessage(`"a"`), Submitted: json.RawMessage(`"a"`), Final: json.RawMessage(`"a"`), At: day},
		{Model: "m", Version: "1", Shown: json.RawMessage(`"a"`), Submitted: json.RawMessage(`"b"`), Final: json.RawMessage(`"b"`), At: day.Add(time.Hour)},
		{Model: "m", Version: "1", Shown: json.RawMessage(`"a"`), At: day.Add(25 * time.Hour)},
		{Model: "m", Version: "2", Shown: json.RawMessage(`"b"`), Submitted: json.RawMessage(`"b"`), Final: json.RawMessage(`"b"`), At: day.Add(48 * time.Hour)},
	}
	q := annotate.SummariseQuality(outs)
	if len(q) != 2 {
		t.Fatalf("%d summaries", len(q))
	}
	v1 := q[0]
	if v1.Version != "1" || v1.Shown != 3 || v1.Accepted != 1 || v1.Edited != 1 || v1.Rejected != 1 || v1.Judged != 2 || v1.Correct != 1 || len(v1.Days) != 2 {
		t.Errorf("version 1 = %+v", v1)
	}
	if v1.AcceptRate() < 0.33 || v1.AcceptRate() > 0.34 || v1.Accuracy() != 0.5 {
		t.Errorf("rates %v %v", v1.AcceptRate(), v1.Accuracy())
	}
	if q[1].Version != "2" || q[1].Accuracy() != 1 {
		t.Errorf("version 2 = %+v", q[1])
	}
}
