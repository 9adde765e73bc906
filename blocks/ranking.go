package blocks

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/loupehq/loupe"
)

// Limits of a ranking.
const (
	MaxCandidates      = 100
	MaxCandidateID     = 200
	MaxCandidateLabel  = 50
	defaultCandidateIs = "Response"
)

// Ranking is a labeling block: order the candidates held in an item field,
// best first, by dragging them, with keys, with Up and Down buttons, or by
// choosing each one's position (which works without JavaScript).
//
// The field holds a list of texts (whose ids are their indexes: "0",
// "1", …) or of {id, text} objects. Candidates are plain text, or sanitised
// Markdown with markdown: true (as in every block that shows text).
// Value: the list of every candidate's id, best first.
type Ranking struct {
	Base     `yaml:",inline"`
	Field    string `yaml:"field" json:"field"`
	Markdown bool   `yaml:"markdown,omitempty" json:"markdown,omitempty"`
	// CandidateLabel names the candidates on the page: "Response A".
	CandidateLabel string `yaml:"candidate_label,omitempty" json:"candidate_label,omitempty"`
	Required       bool   `yaml:"required,omitempty" json:"required,omitempty"`
}

// Check implements Block, and sets the default name of candidates:
// "Response".
func (r *Ranking) Check(c *Checker) {
	if r.Field == "" {
		c.Errorf("field", "a ranking block needs the name of the item field that holds the candidates")
	}
	switch {
	case !c.Has("candidate_label"):
		r.CandidateLabel = defaultCandidateIs
	case strings.TrimSpace(r.CandidateLabel) == "":
		c.Errorf("candidate_label", "candidate_label names the candidates on the page, e.g. Response")
	case utf8.RuneCountInString(r.CandidateLabel) > MaxCandidateLabel:
		c.Errorf("candidate_label", "candidate_label is longer than %d characters", MaxCandidateLabel)
	}
}

// Fields implements FieldReader.
func (r *Ranking) Fields() []string { return []string{r.Field} }

// IsRequired implements Valuer.
func (r *Ranking) IsRequired() bool { return r.Required }

// Candidate is one thing to rank.
type Candidate struct {
	ID   string
	Text string
	Name string // "Response A": how the page names it
}

// Candidates reads the candidates from an item's data: an EINVALID error
// says what is wrong with the field.
func (r *Ranking) Candidates(data map[string]any) ([]Candidate, error) {
	raw, ok := data[r.Field]
	if !ok || raw == nil {
		return nil, invalidf("the item has no field %q holding the candidates to rank", r.Field)
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, invalidf("the item's field %q is not a list of candidates", r.Field)
	}
	if len(list) > MaxCandidates {
		return nil, invalidf("the item's field %q holds %d candidates; a ranking takes at most %d", r.Field, len(list), MaxCandidates)
	}
	out := make([]Candidate, len(list))
	seen := map[string]bool{}
	for i, x := range list {
		c := Candidate{Name: r.candidateName(i)}
		switch x := x.(type) {
		case string:
			c.ID, c.Text = strconv.Itoa(i), x
		case map[string]any:
			id, ok := candidateID(x["id"])
			if !ok {
				return nil, invalidf("candidate %d of field %q has no id: each is a text or an object {id, text} whose id is a text", i+1, r.Field)
			}
			text, ok := x["text"].(string)
			if !ok {
				return nil, invalidf("candidate %q of field %q has no text", id, r.Field)
			}
			c.ID, c.Text = id, text
		default:
			return nil, invalidf("candidate %d of field %q is neither a text nor an object {id, text}", i+1, r.Field)
		}
		if seen[c.ID] {
			return nil, invalidf("the item's candidates repeat the id %q", c.ID)
		}
		seen[c.ID] = true
		out[i] = c
	}
	return out, nil
}

// candidateID reads an id: a text, or a whole number (as in "id": 3),
// which becomes its decimal text.
func candidateID(x any) (string, bool) {
	switch x := x.(type) {
	case string:
		return x, x != "" && len(x) <= MaxCandidateID
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10), true
		}
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return string(x), true
		}
	}
	return "", false
}

// candidateName names the candidate at index i: "Response A", … "Response
// Z", then "Response 27" and on.
func (r *Ranking) candidateName(i int) string {
	label := r.CandidateLabel
	if label == "" {
		label = defaultCandidateIs
	}
	if i < 26 {
		return label + " " + string(rune('A'+i))
	}
	return fmt.Sprintf("%s %d", label, i+1)
}

// ValidateValue implements Valuer: the value must list every candidate of
// the item exactly once.
func (r *Ranking) ValidateValue(v json.RawMessage, data map[string]any) (json.RawMessage, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, invalidf("expected a list of candidate ids, best first, got %s", abbreviate(v))
	}
	ids := make([]string, len(raw))
	for i, x := range raw {
		if err := json.Unmarshal(x, &ids[i]); err != nil {
			return nil, invalidf("expected candidate ids as texts, got %s", abbreviate(x))
		}
	}
	cands, err := r.Candidates(data)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, c := range cands {
		known[c.ID] = true
	}
	var unknown, twice, missing []string
	seen := map[string]bool{}
	for _, id := range ids {
		switch {
		case !known[id]:
			unknown = append(unknown, id)
		case seen[id]:
			twice = append(twice, id)
		}
		seen[id] = true
	}
	for _, c := range cands {
		if !seen[c.ID] {
			missing = append(missing, c.ID)
		}
	}
	if len(unknown)+len(twice)+len(missing) > 0 {
		var why []string
		if len(missing) > 0 {
			why = append(why, "missing "+quoteList(missing))
		}
		if len(unknown) > 0 {
			why = append(why, "not candidates "+quoteList(unknown))
		}
		if len(twice) > 0 {
			why = append(why, "ranked twice "+quoteList(twice))
		}
		return nil, invalidf("a ranking that is not a permutation of the candidates (%s): %s", quoteList(candidateIDs(cands)), strings.Join(why, "; "))
	}
	return json.Marshal(ids)
}

func candidateIDs(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// FormValue implements Valuer. The page has one select per candidate,
// named field+"."+ID, holding its position (1 is best); the script of the
// page keeps them in step with the order on screen. All blank means no
// value; otherwise the positions must run from 1 to the number of
// candidates, each once.
func (r *Ranking) FormValue(form map[string][]string, field string) (json.RawMessage, error) {
	type entry struct {
		id  string
		pos int
	}
	var entries []entry
	var blank []string
	prefix := field + "."
	for k, vals := range form {
		id, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if len(vals) != 1 {
			return nil, invalidf("candidate %q has %d positions; give each one position", id, len(vals))
		}
		s := strings.TrimSpace(vals[0])
		if s == "" {
			blank = append(blank, id)
			continue
		}
		pos, err := strconv.Atoi(s)
		if err != nil {
			return nil, invalidf("the position of candidate %q is %q, not a number", id, s)
		}
		entries = append(entries, entry{id, pos})
	}
	if len(entries) == 0 {
		return nil, nil
	}
	sort.Strings(blank)
	if len(blank) > 0 {
		return nil, invalidf("give every candidate a position: %s has none", quoteList(blank))
	}
	n := len(entries)
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].pos != entries[j].pos {
			return entries[i].pos < entries[j].pos
		}
		return entries[i].id < entries[j].id
	})
	ids := make([]string, n)
	for i, e := range entries {
		switch {
		case e.pos < 1 || e.pos > n:
			return nil, invalidf("position %d of candidate %q is out of range: positions run from 1 to %d", e.pos, e.id, n)
		case i > 0 && e.pos == entries[i-1].pos:
			return nil, invalidf("candidates %q and %q share position %d: give each candidate its own position from 1 to %d", entries[i-1].id, e.id, e.pos, n)
		}
		ids[i] = e.id
	}
	return json.Marshal(ids)
}

// Flatten implements Valuer: the ids, best first, joined with ">".
func (r *Ranking) Flatten(v json.RawMessage) []Cell {
	var ids []string
	if err := json.Unmarshal(v, &ids); err != nil {
		return []Cell{{Value: string(v)}}
	}
	return []Cell{{Value: strings.Join(ids, ">")}}
}

// RankRow is one candidate as the page shows it, in the order on screen.
type RankRow struct {
	Candidate
	Position int           // 1 is best; 0 while nothing is ranked
	HTML     template.HTML // the text as sanitised Markdown, when markdown is on
}

// RankList is what the ranking template shows: the rows in order, the
// positions to choose from, and a problem with the item's field, if any.
type RankList struct {
	Rows      []RankRow
	Positions []int
	Ranked    bool
	Problem   string
}

// List returns the candidates in the order to show: the value's order when
// it ranks them, else the item's order with no positions yet.
func (r *Ranking) List(v *View) RankList {
	cands, err := r.Candidates(v.Data)
	if err != nil {
		return RankList{Problem: loupe.ErrorMessage(err)}
	}
	var out RankList
	byID := map[string]Candidate{}
	for _, c := range cands {
		byID[c.ID] = c
	}
	order := cands
	if len(v.Raw) > 0 {
		if canon, err := r.ValidateValue(v.Raw, v.Data); err == nil {
			var ids []string
			json.Unmarshal(canon, &ids)
			order = make([]Candidate, len(ids))
			for i, id := range ids {
				order[i] = byID[id]
			}
			out.Ranked = true
		}
	}
	for i, c := range order {
		row := RankRow{Candidate: c}
		if out.Ranked {
			row.Position = i + 1
		}
		if r.Markdown {
			row.HTML = RenderMarkdown(c.Text)
		}
		out.Rows = append(out.Rows, row)
		out.Positions = append(out.Positions, i+1)
	}
	return out
}

// LabelStudioObjects implements LabelStudioObjecter: the List of the
// block's field. (Label Studio shows list items that are {id, title,
// body}; ML backends read the ids.)
func (r *Ranking) LabelStudioObjects() []LSObject {
	return []LSObject{{Tag: "List", Field: r.Field}}
}

// LabelStudioControl implements LabelStudioMapper: a <Ranker> over the
// List of the block's field.
func (r *Ranking) LabelStudioControl() LSControl {
	return LSControl{Tag: LSTag{Name: "Ranker"}, Type: "ranker", Target: LSTarget{Tag: "List", Field: r.Field}}
}

// FromLabelStudio implements LabelStudioMapper: {"ranker": {"NAME": [ids,
// best first]}}, as Label Studio's Ranker without buckets saves it (the
// key is the control's name), or the older {"ranker": [ids]}. Rankings
// into several buckets are refused.
func (r *Ranking) FromLabelStudio(results []LSResult, _ map[string]any) (json.RawMessage, error) {
	res, err := lsOne(results, "a ranking")
	if err != nil {
		return nil, err
	}
	x := res.Value["ranker"]
	if m, ok := x.(map[string]any); ok {
		if len(m) != 1 {
			keys := sortedKeys(m)
			return nil, invalidf("value.ranker sorts the candidates into %d buckets (%s); Loupe takes one ranking of all candidates", len(m), quoteList(keys))
		}
		for _, v := range m {
			x = v
		}
	}
	ids, err := lsStrings(map[string]any{"ranker": x}, "ranker", false)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ids)
}

// ToLabelStudio implements LabelStudioMapper: one result, {"ranker":
// {"NAME": [ids]}}.
func (r *Ranking) ToLabelStudio(v json.RawMessage, _ map[string]any) ([]LSResult, error) {
	var ids []string
	if err := json.Unmarshal(v, &ids); err != nil {
		return nil, invalidf("expected a list of candidate ids, got %s", abbreviate(v))
	}
	return []LSResult{{Value: map[string]any{"ranker": map[string]any{r.Name: ids}}}}, nil
}

// LLMSchema implements LLMMapper: the ids of every candidate, best first.
// The ids depend on the item, so they cannot be an enum; ValidateValue
// checks that the answer ranks every candidate once.
func (r *Ranking) LLMSchema() map[string]any {
	return map[string]any{
		"type":  "array",
		"items": map[string]any{"type": "string"},
		"description": fmt.Sprintf("The ids of all candidates in field %q, best first, each once. "+
			"A candidate written as text has its position as id (\"0\" for the first); one written as {id, text} has its id.", r.Field),
	}
}

// FromLLM implements LLMMapper: the answer is the value.
func (r *Ranking) FromLLM(v json.RawMessage, _ map[string]any) (json.RawMessage, error) {
	return v, nil
}
