package blocks

import (
	"fmt"
)

// Count is how many things a block takes — choices, spans, boxes: at
// least Min, at most Max (0: no limit). Kinds embed it inline, so that
// min and max read, check and read out the same way everywhere.
type Count struct {
	Min int `yaml:"min,omitempty" json:"min,omitempty"`
	Max int `yaml:"max,omitempty" json:"max,omitempty"`
}

// noun names what is counted, for messages: "option"/"options".
type noun struct{ one, many string }

func (n noun) of(k int) string {
	if k == 1 {
		return n.one
	}
	return n.many
}

// check reports a min or max below 0 or above limit, and a max below min.
// limitWhy says where the limit comes from ("there are only 3 options").
func (r Count) check(c *Checker, limit int, limitWhy string) {
	switch {
	case r.Min < 0:
		c.Errorf("min", "min must not be negative, got %d", r.Min)
	case r.Min > limit:
		c.Errorf("min", "min is %d, but %s", r.Min, limitWhy)
	}
	switch {
	case r.Max < 0:
		c.Errorf("max", "max must not be negative, got %d (0 means no limit)", r.Max)
	case r.Max > limit:
		c.Errorf("max", "max is %d, but %s", r.Max, limitWhy)
	case r.Max > 0 && r.Min > r.Max:
		c.Errorf("max", "max (%d) is smaller than min (%d)", r.Max, r.Min)
	}
}

// checkValue returns EINVALID when n things are too few or too many: verb
// says what the labeler does ("choose", "mark", "draw").
func (r Count) checkValue(n int, verb string, what noun) error {
	switch {
	case n < r.Min:
		return invalidf("too few: %s at least %d %s, not %d", verb, r.Min, what.of(r.Min), n)
	case r.Max > 0 && n > r.Max:
		return invalidf("too many: %s at most %d %s, not %d", verb, r.Max, what.of(r.Max), n)
	}
	return nil
}

// text says on the page how many are wanted ("Draw 1 to 3 boxes."), or ""
// when any number will do. Verb is capitalised.
func (r Count) text(verb string, what noun) string {
	switch {
	case r.Min > 0 && r.Max > 0 && r.Min == r.Max:
		return fmt.Sprintf("%s exactly %d %s.", verb, r.Min, what.of(r.Min))
	case r.Min > 0 && r.Max > 0:
		return fmt.Sprintf("%s %d to %d %s.", verb, r.Min, r.Max, what.many)
	case r.Min > 0:
		return fmt.Sprintf("%s at least %d %s.", verb, r.Min, what.of(r.Min))
	case r.Max > 0:
		return fmt.Sprintf("%s at most %d %s.", verb, r.Max, what.of(r.Max))
	}
	return ""
}
