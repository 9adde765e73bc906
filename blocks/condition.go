package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Condition shows a block only when another block has some value:
//
//	visible_when: {block: sentiment, equals: negative}
//	visible_when: {block: issues, in: [wrong, unsafe]}
//	visible_when: {block: rating, not: 5}
//
// equals holds when the value is X (or, for a list value, contains X); in
// when it is one of the list (or shares an element with it); not when
// equals would not. A block with no value (or hidden itself) equals
// nothing.
type Condition struct {
	Block string   `json:"block"`
	Op    string   `json:"op"`     // "equals", "in" or "not"
	Value []string `json:"values"` // canonical JSON of each value compared with

	line, col int
}

// UnmarshalYAML reads {block: NAME, equals|in|not: VALUE}.
func (c *Condition) UnmarshalYAML(n *yaml.Node) error {
	c.line, c.col = n.Line, n.Column
	if n.Kind != yaml.MappingNode {
		return invalidf("visible_when is a mapping: {block: NAME, equals: VALUE} (or in: [VALUES], or not: VALUE)")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "block":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return invalidf("visible_when.block names the block whose value decides")
			}
			c.Block = v.Value
		case "equals", "not", "in":
			if c.Op != "" {
				return invalidf("visible_when takes one of equals, in and not, not both %s and %s", c.Op, k.Value)
			}
			c.Op = k.Value
			var vals []any
			if k.Value == "in" {
				if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
					return invalidf("visible_when.in is a list of values")
				}
				if err := v.Decode(&vals); err != nil {
					return invalidf("visible_when.in is a list of values")
				}
			} else {
				var one any
				if err := v.Decode(&one); err != nil || v.Kind != yaml.ScalarNode {
					return invalidf("visible_when.%s is one value (a text, number or true/false)", k.Value)
				}
				vals = []any{one}
			}
			for _, x := range vals {
				b, err := json.Marshal(x)
				if err != nil {
					return invalidf("visible_when.%s: %v", k.Value, err)
				}
				c.Value = append(c.Value, string(b))
			}
		default:
			return invalidf("visible_when: unknown field %q; known fields: block, equals, in, not", k.Value)
		}
	}
	if c.Block == "" || c.Op == "" {
		return invalidf("visible_when needs block and one of equals, in, not: {block: NAME, equals: VALUE}")
	}
	return nil
}

// String describes the condition for people: `sentiment is "negative"`.
func (c *Condition) String() string {
	switch c.Op {
	case "equals":
		return fmt.Sprintf("%s is %s", c.Block, c.Value[0])
	case "not":
		return fmt.Sprintf("%s is not %s", c.Block, c.Value[0])
	}
	return fmt.Sprintf("%s is one of %s", c.Block, strings.Join(c.Value, ", "))
}

// JSON is the condition as the labeling page's script reads it.
func (c *Condition) JSON() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Holds reports whether the condition is met by the deciding block's value
// (nil when it has none).
func (c *Condition) Holds(v json.RawMessage) bool {
	match := false
	if len(v) > 0 {
		var list []json.RawMessage
		if bytes.HasPrefix(bytes.TrimSpace(v), []byte("[")) && json.Unmarshal(v, &list) == nil {
			for _, el := range list {
				match = match || c.matches(el)
			}
		} else {
			match = c.matches(v)
		}
	}
	if c.Op == "not" {
		return !match
	}
	return match
}

func (c *Condition) matches(v json.RawMessage) bool {
	canon := canonical(v)
	for _, want := range c.Value {
		if canon == want {
			return true
		}
	}
	return false
}

// canonical re-encodes a JSON value so that equal values compare equal as
// text (1.0 and 1, spacing, key order).
func canonical(v json.RawMessage) string {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return string(v)
	}
	b, _ := json.Marshal(x)
	return string(b)
}
