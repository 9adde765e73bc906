package blocks_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

const rankYAML = "  - {type: ranking, name: rank, field: responses, markdown: true}\n"

func TestRankingConfig(t *testing.T) {
	labConfigErrors(t, []labConfigCase{
		{"no field", "  - type: ranking\n    name: r\n", "config:3:5: blocks[0].field: a ranking block needs the name of the item field that holds the candidates"},
		{"markdown not bool", "  - type: ranking\n    name: r\n    field: f\n    markdown: no thanks\n", `config:6:15: blocks[0].markdown: expected true or false, got "no thanks"`},
		{"empty candidate label", "  - type: ranking\n    name: r\n    field: f\n    candidate_label: \"\"\n", "config:6:5: blocks[0].candidate_label: candidate_label names the candidates on the page, e.g. Response"},
		{"long candidate label", "  - type: ranking\n    name: r\n    field: f\n    candidate_label: " + strings.Repeat("x", 51) + "\n", "config:6:5: blocks[0].candidate_label: candidate_label is longer than 50 characters"},
		{"options are not for rankings", "  - type: ranking\n    name: r\n    field: f\n    options: [a, b]\n", `config:6:5: blocks[0].options: unknown field; known fields: candidate_label, field, help, label, markdown, name, required, type, visible_when`},
	})
	r := labValuer(t, rankYAML, "rank").(*blocks.Ranking)
	if !r.Markdown || r.CandidateLabel != "Response" || labValuer(t, "  - {type: ranking, name: rank, field: responses}\n", "rank").(*blocks.Ranking).Markdown {
		t.Errorf("defaults: markdown %v, candidate label %q", r.Markdown, r.CandidateLabel)
	}
	in := mustParse(t, labConfig(rankYAML)).Interface()
	if got := in.Fields(); len(got) != 1 || got[0] != "responses" {
		t.Errorf("fields = %v", got)
	}
	if len(in.Shortcuts()) != 0 {
		t.Errorf("a ranking binds no page keys, got %v", in.Shortcuts())
	}
}

func TestRankingValue(t *testing.T) {
	v := labValuer(t, rankYAML, "rank")
	texts := map[string]any{"responses": []any{"first", "second", "third"}}
	labValues(t, v, texts, []labValueCase{
		{"a permutation", `["2", "0", "1"]`, `["2","0","1"]`, ""},
		{"the item order", `["0","1","2"]`, `["0","1","2"]`, ""},
		{"not a list", `"0"`, "", `expected a list of candidate ids, best first, got "0"`},
		{"an object", `{"0": 1}`, "", "expected a list of candidate ids"},
		{"numbers", `[2, 0, 1]`, "", "expected candidate ids as texts, got 2"},
		{"unknown id", `["2", "0", "1", "7"]`, "", `a ranking that is not a permutation of the candidates ("0", "1", "2"): not candidates "7"`},
		{"duplicate", `["2", "0", "0", "1"]`, "", `a ranking that is not a permutation of the candidates ("0", "1", "2"): ranked twice "0"`},
		{"missing", `["2"]`, "", `a ranking that is not a permutation of the candidates ("0", "1", "2"): missing "0", "1"`},
		{"all wrong at once", `["2", "2", "x"]`, "", `missing "0", "1"; not candidates "x"; ranked twice "2"`},
	})
	objects := map[string]any{"responses": []any{
		map[string]any{"id": "gpt", "text": "A", "model": "x"},
		map[string]any{"id": "claude", "text": "B"},
		map[string]any{"id": float64(7), "text": "C"},
	}}
	labValues(t, v, objects, []labValueCase{
		{"object ids", `["claude", "7", "gpt"]`, `["claude","7","gpt"]`, ""},
		{"index is not an object's id", `["0", "1", "2"]`, "", `missing "gpt", "claude", "7"; not candidates "0", "1", "2"`},
	})
	bad := []struct{ name, data, err string }{
		{"field missing", `{}`, `the item has no field "responses" holding the candidates to rank`},
		{"field null", `{"responses": null}`, `the item has no field "responses"`},
		{"field not a list", `{"responses": "one, two"}`, `the item's field "responses" is not a list of candidates`},
		{"candidate a number", `{"responses": ["a", 2]}`, `candidate 2 of field "responses" is neither a text nor an object {id, text}`},
		{"object without id", `{"responses": [{"text": "a"}]}`, `candidate 1 of field "responses" has no id`},
		{"object with a list id", `{"responses": [{"id": [1], "text": "a"}]}`, `candidate 1 of field "responses" has no id`},
		{"object without text", `{"responses": [{"id": "a"}]}`, `candidate "a" of field "responses" has no text`},
		{"duplicate ids", `{"responses": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}`, `the item's candidates repeat the id "a"`},
		{"object id clashes with an index", `{"responses": ["x", {"id": "0", "text": "y"}]}`, `repeat the id "0"`},
	}
	for _, tt := range bad {
		var data map[string]any
		if err := json.Unmarshal([]byte(tt.data), &data); err != nil {
			t.Fatal(err)
		}
		labValues(t, v, data, []labValueCase{{tt.name, `["0"]`, "", tt.err}})
	}
	many := make([]any, blocks.MaxCandidates+1)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	labValues(t, v, map[string]any{"responses": many}, []labValueCase{{"too many candidates", `["0"]`, "", "holds 101 candidates; a ranking takes at most 100"}})
}

// Through the interface: a required ranking needs a value; an empty list
// is none.
func TestRankingRequired(t *testing.T) {
	in := mustParse(t, labConfig("  - {type: ranking, name: rank, field: responses, required: true}\n")).Interface()
	data := map[string]any{"responses": []any{"a", "b"}}
	if _, err := in.ValidateValues(values(t, `{"rank": []}`), data); err == nil || !strings.Contains(err.Error(), "a value is required") {
		t.Errorf("empty ranking: %v", err)
	}
	out, err := in.ValidateValues(values(t, `{"rank": ["1", "0"]}`), data)
	if err != nil || string(out["rank"]) != `["1","0"]` {
		t.Errorf("values = %s, %v", out["rank"], err)
	}
}

// Without JavaScript the page sends one position select per candidate.
func TestRankingForm(t *testing.T) {
	v := labValuer(t, rankYAML, "rank")
	labForms(t, v, []labFormCase{
		{"nothing", map[string][]string{"b.other.0": {"1"}}, "", ""},
		{"all blank is no value", map[string][]string{"b.rank.0": {""}, "b.rank.1": {""}, "b.rank.2": {""}}, "", ""},
		{"positions", map[string][]string{"b.rank.0": {"2"}, "b.rank.1": {"3"}, "b.rank.2": {"1"}}, `["2","0","1"]`, ""},
		{"object ids with dots", map[string][]string{"b.rank.model.v2": {"1"}, "b.rank.gpt": {"2"}}, `["model.v2","gpt"]`, ""},
		{"one blank", map[string][]string{"b.rank.0": {"2"}, "b.rank.1": {""}, "b.rank.2": {"1"}}, "", `give every candidate a position: "1" has none`},
		{"tie", map[string][]string{"b.rank.0": {"1"}, "b.rank.1": {"1"}, "b.rank.2": {"2"}}, "", `candidates "0" and "1" share position 1: give each candidate its own position from 1 to 3`},
		{"gap", map[string][]string{"b.rank.0": {"1"}, "b.rank.1": {"2"}, "b.rank.2": {"4"}}, "", `position 4 of candidate "2" is out of range: positions run from 1 to 3`},
		{"zero", map[string][]string{"b.rank.0": {"0"}, "b.rank.1": {"1"}}, "", `position 0 of candidate "0" is out of range`},
		{"not a number", map[string][]string{"b.rank.0": {"first"}}, "", `the position of candidate "0" is "first", not a number`},
		{"two positions", map[string][]string{"b.rank.0": {"1", "2"}}, "", `candidate "0" has 2 positions`},
	})
}

func TestRankingFlatten(t *testing.T) {
	v := labValuer(t, rankYAML, "rank")
	if got := labFlatten(v, `["2","0","1"]`); got != "=2>0>1" {
		t.Errorf("Flatten = %q", got)
	}
}

// The page lists the candidates in the value's order (or the item's, with
// blank positions, before anything is ranked), with the hooks the script
// and the browser tests use, and escapes every text.
func TestRankingRender(t *testing.T) {
	data := map[string]any{"responses": []any{
		"**bold** <img src=x onerror=alert(1)> [x](javascript:alert(1))",
		"</li><script>alert(2)</script>",
		map[string]any{"id": `"><svg onload=alert(3)>`, "text": "third"},
	}}
	src := labConfig(rankYAML)
	html := labRender(t, src, data, nil)
	labNoneOf(t, html, "<img", "<script", "<svg", "javascript:", "data-ranked")
	labAllOf(t, html,
		`<ol class="rank-list" tabindex="-1" data-own-keys data-block="rank" aria-describedby="blk-rank-hint">`,
		`<li class="rank-item" data-id="0" data-name="Response A" aria-describedby="blk-rank-hint">`,
		`<button type="button" class="rank-up" aria-label="Move Response A up">`,
		`<button type="button" class="rank-down" aria-label="Move Response A down">`,
		`<select name="b.rank.0" aria-label="Position of Response A"><option value="" selected>–</option><option value="1">1</option><option value="2">2</option><option value="3">3</option></select>`,
		`<li class="rank-item" data-id="&#34;&gt;&lt;svg onload=alert(3)&gt;" data-name="Response C" aria-describedby="blk-rank-hint">`,
		`<strong>bold</strong>`,
		`aria-live="polite"`, "Not ranked yet.")
	if strings.Index(html, `data-id="0"`) > strings.Index(html, `data-id="1"`) {
		t.Error("candidates not in the item's order")
	}

	// Ranked: the value's order, positions selected, no blank option.
	html = labRender(t, src, data, values(t, `{"rank": ["1", "\"><svg onload=alert(3)>", "0"]}`))
	labNoneOf(t, html, "<script", "<svg", `<option value="" selected>`)
	labAllOf(t, html, "data-ranked", "Ranked.",
		`<select name="b.rank.1" aria-label="Position of Response B"><option value="1" selected>1</option>`,
		`<select name="b.rank.0" aria-label="Position of Response A"><option value="1">1</option><option value="2">2</option><option value="3" selected>3</option></select>`)
	b, c, a := strings.Index(html, `data-id="1"`), strings.Index(html, `data-name="Response C"`), strings.Index(html, `data-id="0"`)
	if !(b < c && c < a) {
		t.Errorf("order on the page: B at %d, C at %d, A at %d; want B, C, A", b, c, a)
	}

	// Plain text when markdown is off.
	html = labRender(t, labConfig("  - {type: ranking, name: rank, field: responses, markdown: false, candidate_label: Answer}\n"), data, nil)
	labNoneOf(t, html, "<strong>", "<img", "<script")
	labAllOf(t, html, `**bold** &lt;img src=x onerror=alert(1)&gt;`, `data-name="Answer A"`, "&lt;/li&gt;&lt;script&gt;")

	// An item whose field cannot be ranked shows why instead of failing.
	html = labRender(t, src, map[string]any{"responses": "<b>just text</b>"}, nil)
	labNoneOf(t, html, "<b>just", "rank-list")
	labAllOf(t, html, `This item cannot be ranked: the item&#39;s field &#34;responses&#34; is not a list of candidates`)
}

// A condition on a ranking never holds: the page's script cannot read a
// ranking, so the server must not either.
// A ranking cannot decide a visible_when: the page cannot read it.
func TestRankingCannotDecide(t *testing.T) {
	_, err := blocks.ParseConfig([]byte(labConfig(rankYAML + "  - {type: choice, name: c, options: [a, b], visible_when: {block: rank, equals: a}}\n")))
	if !strings.Contains(loupe.ErrorMessage(err), `visible_when names block "rank", a ranking, whose value cannot decide`) {
		t.Errorf("err = %v", err)
	}
}
