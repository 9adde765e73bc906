package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
)

func TestRatingConfig(t *testing.T) {
	labConfigErrors(t, []labConfigCase{
		{"scale too small", "  - type: rating\n    name: r\n    scale: 1\n", "config:5:5: blocks[0].scale: scale must be between 2 and 10, got 1"},
		{"scale too large", "  - type: rating\n    name: r\n    scale: 11\n", "config:5:5: blocks[0].scale: scale must be between 2 and 10, got 11"},
		{"scale not a number", "  - type: rating\n    name: r\n    scale: five\n", `config:5:12: blocks[0].scale: expected a whole number, got "five"`},
		{"label out of range", "  - type: rating\n    name: r\n    scale: 5\n    labels:\n      1: poor\n      6: too good\n", "config:6:5: blocks[0].labels: the label at line 8 is for 6, outside the scale 1 to 5"},
		{"label below range", "  - type: rating\n    name: r\n    labels: {0: none}\n", "config:5:5: blocks[0].labels: the label at line 5 is for 0, outside the scale 1 to 5"},
		{"label key not a number", "  - type: rating\n    name: r\n    labels:\n      1: poor\n      best: 5\n", `config:7:7: blocks[0].labels: "best" is not a point of the scale: labels maps whole numbers to labels, e.g. {1: poor, 5: excellent}`},
		{"labels a list", "  - type: rating\n    name: r\n    labels: [poor, good]\n", "config:5:13: blocks[0].labels: labels is a mapping from a point of the scale to its label, e.g. {1: poor, 5: excellent}"},
		{"empty label", "  - type: rating\n    name: r\n    labels: {3: \"\"}\n", "config:5:5: blocks[0].labels: the label of 3 is empty"},
		{"label not a text", "  - type: rating\n    name: r\n    labels: {3: [a]}\n", "config:5:17: blocks[0].labels: the label of 3 must be a text"},
		{"long label", "  - type: rating\n    name: r\n    labels: {3: " + strings.Repeat("x", 101) + "}\n", "config:5:5: blocks[0].labels: the label of 3 is longer than 100 characters"},
		{"unknown field", "  - type: rating\n    name: r\n    scales: 5\n", `config:5:5: blocks[0].scales: unknown field (did you mean "scale"?); known fields: help, label, labels, name, required, scale, type, visible_when`},
	})
	r := labValuer(t, "  - {type: rating, name: r}\n", "r").(*blocks.Rating)
	if r.Scale != blocks.DefaultScale {
		t.Errorf("default scale = %d, want %d", r.Scale, blocks.DefaultScale)
	}
}

func TestRatingValue(t *testing.T) {
	v := labValuer(t, "  - {type: rating, name: r, scale: 5}\n", "r")
	labValues(t, v, nil, []labValueCase{
		{"one", `1`, `1`, ""},
		{"five", `5`, `5`, ""},
		{"5.0 is 5", `5.0`, `5`, ""},
		{"exponent", `4e0`, `4`, ""},
		{"zero", `0`, "", "rating 0 is out of range: choose from 1 to 5"},
		{"six", `6`, "", "rating 6 is out of range: choose from 1 to 5"},
		{"negative", `-1`, "", "out of range: choose from 1 to 5"},
		{"huge", `1e300`, "", "out of range"},
		{"fraction", `4.5`, "", "a rating is a whole number from 1 to 5, got 4.5"},
		{"a string", `"5"`, "", `expected a rating as a number from 1 to 5, got "5"`},
		{"a list", `[5]`, "", "expected a rating as a number"},
		{"true", `true`, "", "expected a rating as a number"},
		{"not JSON", `5x`, "", "expected a rating from 1 to 5"},
	})
	v = labValuer(t, "  - {type: rating, name: r, scale: 10}\n", "r")
	labValues(t, v, nil, []labValueCase{{"ten", `10`, `10`, ""}, {"eleven", `11`, "", "choose from 1 to 10"}})
}

func TestRatingFormAndFlatten(t *testing.T) {
	v := labValuer(t, "  - {type: rating, name: r, scale: 7}\n", "r")
	labForms(t, v, []labFormCase{
		{"absent", map[string][]string{}, "", ""},
		{"blank", map[string][]string{"b.r": {""}}, "", ""},
		{"seven", map[string][]string{"b.r": {"7"}}, `7`, ""},
		{"out of range is for the server", map[string][]string{"b.r": {"9"}}, `9`, ""},
		{"words", map[string][]string{"b.r": {"good"}}, "", `a rating is a whole number from 1 to 7, got "good"`},
		{"two", map[string][]string{"b.r": {"1", "2"}}, "", "choose one rating, not 2"},
	})
	if got := labFlatten(v, `4`); got != "=4" {
		t.Errorf("Flatten = %q", got)
	}
}

// Ratings take their own digits when no other block holds them (0 for
// 10); otherwise keys come from the pool.
func TestRatingKeys(t *testing.T) {
	keysOf := func(src string) string {
		var out []string
		for _, s := range mustParse(t, labConfig(src)).Interface().Shortcuts() {
			out = append(out, s.Key+"="+s.Action)
		}
		return strings.Join(out, ",")
	}
	got := keysOf("  - {type: rating, name: r, scale: 10, label: Helpful, labels: {1: no, 10: very}}\n")
	want := "1=Helpful: rate 1 (no),2=Helpful: rate 2,3=Helpful: rate 3,4=Helpful: rate 4,5=Helpful: rate 5,6=Helpful: rate 6,7=Helpful: rate 7,8=Helpful: rate 8,9=Helpful: rate 9,0=Helpful: rate 10 (very)"
	if got != want {
		t.Errorf("keys = %s\nwant %s", got, want)
	}
	// A choice with its own key "2" takes it: rating 2 gets another key
	// from the pool, and no key is bound twice.
	got = keysOf("  - {type: choice, name: c, options: [{value: a, key: \"2\"}, {value: b, key: q}]}\n  - {type: rating, name: r, scale: 3}\n")
	if !strings.HasPrefix(got, "2=choose a,q=choose b,1=r: rate 1,") {
		t.Errorf("keys = %s", got)
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(got, ",") {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] {
			t.Errorf("key %s bound twice: %s", k, got)
		}
		seen[k] = true
	}
}

// Radios carry the number as JSON, the point's key and its label; the
// current value is checked; labels are escaped.
func TestRatingRender(t *testing.T) {
	src := labConfig("  - {type: rating, name: r, scale: 4, required: true, label: \"<b>Quality</b>\", labels: {1: \"<img src=x onerror=alert(1)>\", 4: great}}\n")
	html := labRender(t, src, nil, map[string]json.RawMessage{"r": json.RawMessage(`3`)})
	labNoneOf(t, html, "<img", "<b>Quality")
	labAllOf(t, html,
		`<input type="radio" name="b.r" value="1" data-json data-key="1" required><span class="rating-n">1</span><span class="rating-label">&lt;img src=x onerror=alert(1)&gt;</span><kbd>1</kbd>`,
		`<input type="radio" name="b.r" value="3" data-json data-key="3" checked required>`,
		`<span class="rating-label">great</span><kbd>4</kbd>`)
	if strings.Count(html, "checked") != 1 {
		t.Errorf("want exactly one checked radio:\n%s", html)
	}
}
