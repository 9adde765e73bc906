package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/loupehq/loupe"
)

// ReservedKeys are the keys the labeling page itself binds; no block may
// take them.
var ReservedKeys = map[string]string{
	"Enter":     "submit",
	"s":         "skip",
	"Backspace": "previous item",
	"ArrowLeft": "previous item",
	"?":         "show keys",
}

// Interface is a project's compiled block tree: the blocks in order, the
// value-producing ones by name, and the keys they bind.
type Interface struct {
	Blocks []Block

	valuers []Valuer
	byName  map[string]Valuer
	fields  []string
	keys    []Shortcut
}

// Valuers returns the blocks that produce values, in config order.
func (in *Interface) Valuers() []Valuer { return in.valuers }

// Valuer returns the value-producing block named name.
func (in *Interface) Valuer(name string) (Valuer, bool) {
	v, ok := in.byName[name]
	return v, ok
}

// Fields returns the item data fields the display blocks show, sorted.
func (in *Interface) Fields() []string { return in.fields }

// Shortcuts returns every key the blocks bind, in config order.
func (in *Interface) Shortcuts() []Shortcut { return in.keys }

// Walk calls fn for every block of the tree, parents before children.
func (in *Interface) Walk(fn func(Block)) { walk(in.Blocks, fn) }

func walk(bs []Block, fn func(Block)) {
	for _, b := range bs {
		fn(b)
		if c, ok := b.(Container); ok {
			walk(c.Children(), fn)
		}
	}
}

// compile checks every block, names and keys across the tree, and builds the
// Interface.
func (p *parser) compile(bs []Block, root *Base) *Interface {
	in := &Interface{Blocks: bs, byName: map[string]Valuer{}}
	if len(bs) == 0 {
		(&Checker{p: p, block: root}).Errorf("blocks", "the interface needs at least one block")
	}
	names := map[string]*Base{}
	fields := map[string]bool{}
	assigned := false
	walk(bs, func(b Block) {
		base := b.Common()
		c := &Checker{p: p, block: base}
		b.Check(c)
		v, isValuer := b.(Valuer)
		switch {
		case base.Name == "" && isValuer:
			c.Errorf("name", "a %s block needs a name: its value is stored under it", base.Type)
		case base.Name == "":
		case len(base.Name) > MaxNameLen || !nameRE.MatchString(base.Name):
			c.Errorf("name", "name %q must start with a letter or '_' and hold only letters, digits and '_' (at most %d)", base.Name, MaxNameLen)
		case names[base.Name] != nil:
			c.Errorf("name", "name %q is already used by the block at line %d", base.Name, names[base.Name].Line)
		default:
			names[base.Name] = base
		}
		if isValuer && base.Name != "" {
			if _, dup := in.byName[base.Name]; !dup {
				in.byName[base.Name] = v
				in.valuers = append(in.valuers, v)
			}
		}
		if fr, ok := b.(FieldReader); ok {
			for _, f := range fr.Fields() {
				if f != "" {
					fields[f] = true
				}
			}
		}
		if ka, ok := b.(keyAssigner); ok && !assigned {
			assigned = true
			ka.assignKeys([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"})
		}
	})
	keyOwner := map[string]*Base{}
	walk(bs, func(b Block) {
		s, ok := b.(Shortcutter)
		if !ok {
			return
		}
		c := &Checker{p: p, block: b.Common()}
		for _, k := range s.Shortcuts() {
			if what, reserved := ReservedKeys[k.Key]; reserved {
				c.Errorf("", "key %q is kept for %q; choose another", k.Key, what)
			} else if owner := keyOwner[k.Key]; owner != nil && owner != b.Common() {
				c.Errorf("", "key %q is already bound by the block at line %d", k.Key, owner.Line)
			} else if owner == nil {
				keyOwner[k.Key] = b.Common()
				in.keys = append(in.keys, k)
			} else {
				c.Errorf("", "key %q is bound twice in this block", k.Key)
			}
		}
	})
	for f := range fields {
		in.fields = append(in.fields, f)
	}
	sort.Strings(in.fields)
	return in
}

// CheckData returns EINVALID when an item's data lacks a field that a
// display block shows.
func (in *Interface) CheckData(data map[string]any) error {
	for _, f := range in.fields {
		v, ok := data[f]
		if !ok || v == nil {
			return loupe.FieldErrorf("data."+f, "field %q is missing; the interface shows it", f)
		}
	}
	return nil
}

// ValidateValues checks a submission: every name must be a value-producing
// block, every value must pass its block's rules, and every required block
// must have a value. It returns the values in canonical JSON, or an EINVALID
// error whose field is "values.NAME".
func (in *Interface) ValidateValues(values map[string]json.RawMessage, data map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(values))
	for _, name := range sortedKeys(values) {
		v, ok := in.byName[name]
		if !ok {
			return nil, loupe.FieldErrorf("values."+name, "no block is named %q; blocks with values: %s", name, strings.Join(in.valuerNames(), ", "))
		}
		raw := values[name]
		if isNull(raw) {
			continue
		}
		canon, err := v.ValidateValue(raw, data)
		if err != nil {
			return nil, loupe.FieldErrorf("values."+name, "%s", loupe.ErrorMessage(err))
		}
		out[name] = canon
	}
	for _, v := range in.valuers {
		name := v.Common().Name
		if _, ok := out[name]; !ok && v.IsRequired() {
			return nil, loupe.FieldErrorf("values."+name, "a value is required")
		}
	}
	return out, nil
}

func (in *Interface) valuerNames() []string {
	out := make([]string, len(in.valuers))
	for i, v := range in.valuers {
		out[i] = v.Common().Name
	}
	return out
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// invalidf returns an EINVALID error for a block value.
func invalidf(format string, args ...any) error {
	return loupe.Errorf(loupe.EINVALID, format, args...)
}

// quoteList renders values as a readable list: "a", "b", "c".
func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
