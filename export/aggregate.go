package export

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/loupehq/loupe"
)

// Aggregations: how an item's annotations become rows.
const (
	AggregateEvery    = "every"    // one row per annotation
	AggregateMajority = "majority" // per block, the value most labelers gave; a tie leaves the block out
	AggregateFinal    = "final"    // what reviewers decided: the adjudicated answer, or an approved item's agreed answer
	AggregateLatest   = "latest"   // the annotation changed last
)

// Aggregations lists the aggregations in the order the docs give them.
var Aggregations = []string{AggregateEvery, AggregateMajority, AggregateFinal, AggregateLatest}

// CheckAggregate returns EINVALID for an unknown aggregation.
func CheckAggregate(name string) error {
	for _, a := range Aggregations {
		if a == name {
			return nil
		}
	}
	return loupe.FieldErrorf("aggregate", "unknown aggregation %q; aggregations are %s", name, strings.Join(Aggregations, ", "))
}

// Skip reasons, counted in the manifest.
const (
	SkipNotFinal = "no reviewer-final answer" // final: neither adjudicated nor approved with one answer
)

// aggregate turns a record into the rows the aggregation makes, or a reason to
// skip it.
func aggregate(rec *Record, how string) ([]Row, string) {
	switch how {
	case AggregateEvery:
		rows := make([]Row, 0, len(rec.Annotations))
		for _, a := range rec.Annotations {
			var v map[string]json.RawMessage
			json.Unmarshal(a.Values, &v)
			rows = append(rows, Row{Record: rec, Values: v, User: a.User, AnnotationID: a.ID})
		}
		return rows, ""
	case AggregateLatest:
		if len(rec.Annotations) == 0 {
			return finalRow(rec)
		}
		last := rec.Annotations[0]
		for _, a := range rec.Annotations[1:] {
			if a.UpdatedAt.After(last.UpdatedAt) || a.UpdatedAt.Equal(last.UpdatedAt) && a.ID > last.ID {
				last = a
			}
		}
		var v map[string]json.RawMessage
		json.Unmarshal(last.Values, &v)
		return []Row{{Record: rec, Values: v, User: last.User, AnnotationID: last.ID}}, ""
	case AggregateFinal:
		if len(rec.Final) > 0 {
			return finalRow(rec)
		}
		if rec.State != "approved" {
			return nil, SkipNotFinal
		}
		values, ties := majority(rec)
		if len(ties) > 0 {
			return nil, SkipNotFinal
		}
		return []Row{{Record: rec, Values: values}}, ""
	default: // majority
		if len(rec.Annotations) == 0 {
			return finalRow(rec)
		}
		values, ties := majority(rec)
		return []Row{{Record: rec, Values: values, Ties: ties}}, ""
	}
}

func finalRow(rec *Record) ([]Row, string) {
	if len(rec.Final) == 0 {
		return nil, SkipNotFinal
	}
	var v map[string]json.RawMessage
	json.Unmarshal(rec.Final, &v)
	return []Row{{Record: rec, Values: v}}, ""
}

// majority picks, per block, the value most annotations hold. Blocks where
// two values share the top count are left out and named in ties.
func majority(rec *Record) (map[string]json.RawMessage, []string) {
	vals := decodeValues(rec.Annotations)
	out := map[string]json.RawMessage{}
	var ties []string
	names := map[string]bool{}
	for _, m := range vals {
		for k := range m {
			names[k] = true
		}
	}
	for _, name := range sortedKeys(names) {
		type tally struct {
			raw   json.RawMessage
			count int
			first int
		}
		counts := map[string]*tally{}
		for i, m := range vals {
			x, ok := m[name]
			if !ok || isEmptyValue(x) {
				continue
			}
			key := string(x) // values are stored in canonical JSON
			if t, ok := counts[key]; ok {
				t.count++
			} else {
				counts[key] = &tally{raw: x, count: 1, first: i}
			}
		}
		if len(counts) == 0 {
			continue
		}
		ts := make([]*tally, 0, len(counts))
		for _, t := range counts {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool {
			if ts[i].count != ts[j].count {
				return ts[i].count > ts[j].count
			}
			return ts[i].first < ts[j].first
		})
		if len(ts) > 1 && ts[0].count == ts[1].count {
			ties = append(ties, name)
			continue
		}
		out[name] = ts[0].raw
	}
	return out, ties
}
