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
	"Enter":      "submit",
	"s":          "skip",
	"Backspace":  "previous item",
	"ArrowLeft":  "previous item",
	"ArrowRight": "next item",
	"?":          "show keys",
	"c":          "clear suggestions",
	"r":          "ask the models again",
	"Escape":     "close",
	"Tab":        "move between controls",
}

// keyPool is the order in which keys are handed out to blocks whose config
// gives none: digits first, then letters, never a reserved key.
const keyPool = "1234567890qwetyuiopadfghjklzxvbnm"

// Interface is a project's compiled block tree: the blocks in order, the
// value-producing ones by name, the keys they bind and the conditions that
// show and hide them.
type Interface struct {
	Blocks []Block

	valuers []Valuer
	byName  map[string]Valuer
	fields  []string
	keys    []Shortcut
	kinds   []string
}

// Valuers returns the blocks that produce values, in config order.
func (in *Interface) Valuers() []Valuer { return in.valuers }

// Valuer returns the value-producing block named name.
func (in *Interface) Valuer(name string) (Valuer, bool) {
	v, ok := in.byName[name]
	return v, ok
}

// Fields returns the item data fields the blocks read, sorted.
func (in *Interface) Fields() []string { return in.fields }

// Shortcuts returns every key the blocks bind, in config order.
func (in *Interface) Shortcuts() []Shortcut { return in.keys }

// Kinds returns the block types the interface uses, sorted.
func (in *Interface) Kinds() []string { return in.kinds }

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

// compile checks every block, names, conditions and keys across the tree,
// and builds the Interface.
func (p *parser) compile(bs []Block, root *Base) *Interface {
	in := &Interface{Blocks: bs, byName: map[string]Valuer{}}
	if _, given := root.keys["blocks"]; given && len(bs) == 0 {
		(&Checker{p: p, block: root}).Errorf("blocks", "the interface needs at least one block")
	}
	names := map[string]*Base{}
	fields := map[string]bool{}
	kinds := map[string]bool{}
	setParents(bs, nil)
	walk(bs, func(b Block) {
		base := b.Common()
		kinds[base.Type] = true
		c := &Checker{p: p, block: base}
		if len(base.failed) == 0 {
			b.Check(c)
		}
		v, isValuer := b.(Valuer)
		switch {
		case base.Name == "" && isValuer:
			c.Errorf("name", "a %s block needs a name: its value is stored under it", base.Type)
		case base.Name == "":
		case len(base.Name) > MaxNameLen || !nameRE.MatchString(base.Name):
			c.Errorf("name", "name %q must start with a letter or '_' and hold only letters, digits and '_' (at most %d)", base.Name, MaxNameLen)
		case names[base.Name] != nil:
			c.Errorf("name", "name %q is already used by the block at %s", base.Name, where(names[base.Name]))
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
	})
	p.checkRefs(bs, in)
	p.checkConditions(bs, in)
	in.keys = p.assignKeys(bs)
	for f := range fields {
		in.fields = append(in.fields, f)
	}
	sort.Strings(in.fields)
	for k := range kinds {
		in.kinds = append(in.kinds, k)
	}
	sort.Strings(in.kinds)
	return in
}

func setParents(bs []Block, parent *Base) {
	for _, b := range bs {
		b.Common().parent = parent
		if c, ok := b.(Container); ok {
			setParents(c.Children(), b.Common())
		}
	}
}

// where names a block's place for messages: "line 7", or "other.yaml:7".
func where(b *Base) string {
	return fmt.Sprintf("%s:%d", b.File, b.Line)
}

// checkConditions checks every visible_when: it names a block with a value,
// not the block itself or one of its own children, and conditions do not
// depend on each other in a circle.
func (p *parser) checkConditions(bs []Block, in *Interface) {
	deps := map[*Base]*Base{} // block → block its condition reads
	walk(bs, func(b Block) {
		base := b.Common()
		cond := base.VisibleWhen
		if cond == nil {
			return
		}
		c := &Checker{p: p, block: base}
		target, ok := in.byName[cond.Block]
		_, decides := target.(Decider)
		switch {
		case ok && !decides:
			c.Errorf("visible_when", "visible_when names block %q, a %s, whose value cannot decide what is shown; name a choice, multichoice, rating, pairwise, textbox, verdict, thumbs, flag or comment block", cond.Block, target.Common().Type)
		case !ok:
			c.Errorf("visible_when", "visible_when names block %q, which does not exist or has no value%s; blocks with values: %s",
				cond.Block, suggest(cond.Block, in.byName), strings.Join(in.valuerNames(), ", "))
		case target.Common() == base:
			c.Errorf("visible_when", "a block cannot be shown or hidden by its own value")
		case isAncestor(base, target.Common()):
			c.Errorf("visible_when", "a block cannot be shown or hidden by a block inside it (%q)", cond.Block)
		default:
			deps[base] = target.Common()
		}
	})
	// A block is visible when its parents are and its condition holds, so
	// visibility depends on parents and on condition targets; a circle
	// there has no answer.
	state := map[*Base]int{} // 1 visiting, 2 done
	var visit func(b *Base, chain []string) bool
	visit = func(b *Base, chain []string) bool {
		if b == nil || state[b] == 2 {
			return true
		}
		if state[b] == 1 {
			(&Checker{p: p, block: b}).Errorf("visible_when", "visible_when conditions form a circle: %s", strings.Join(append(chain, label(b)), " → "))
			return false
		}
		state[b] = 1
		chain = append(chain, label(b))
		ok := visit(b.parent, chain) && visit(deps[b], chain)
		state[b] = 2
		return ok
	}
	walk(bs, func(b Block) { visit(b.Common(), nil) })
}

func label(b *Base) string {
	if t := b.Title(); t != "" {
		return t
	}
	return b.Path
}

func isAncestor(a, b *Base) bool {
	for p := b.parent; p != nil; p = p.parent {
		if p == a {
			return true
		}
	}
	return false
}

// assignKeys gives every key target a key: the config's own first (checked
// for clashes), then each target's preferred key when free, then the next
// free key of the pool. When the pool runs out, targets go without a key;
// they stay reachable with Tab.
func (p *parser) assignKeys(bs []Block) []Shortcut {
	owner := map[string]*Base{}
	taken := func(k string) bool { _, r := ReservedKeys[k]; return r || owner[k] != nil }
	walk(bs, func(b Block) {
		kb, ok := b.(Keyed)
		if !ok {
			return
		}
		c := &Checker{p: p, block: b.Common()}
		for _, t := range kb.KeyTargets() {
			switch {
			case t.Key == "":
			case ReservedKeys[t.Key] != "":
				c.Errorf("", "key %q is kept for %q; choose another", t.Key, ReservedKeys[t.Key])
			case owner[t.Key] == b.Common():
				c.Errorf("", "key %q is bound twice in this block", t.Key)
			case owner[t.Key] != nil:
				c.Errorf("", "key %q is already bound by the block at %s", t.Key, where(owner[t.Key]))
			default:
				owner[t.Key] = b.Common()
			}
		}
	})
	// Preferred keys go first, so that a rating keeps its digits even
	// after a choice; then the pool, in config order.
	chosen := map[*Base]map[string]string{}
	give := func(b *Base, id, key string) {
		owner[key] = b
		if chosen[b] == nil {
			chosen[b] = map[string]string{}
		}
		chosen[b][id] = key
	}
	walk(bs, func(b Block) {
		if kb, ok := b.(Keyed); ok {
			for _, t := range kb.KeyTargets() {
				if t.Key == "" && t.Prefer != "" && !taken(t.Prefer) {
					give(b.Common(), t.ID, t.Prefer)
				}
			}
		}
	})
	pool := keyPool
	var out []Shortcut
	walk(bs, func(b Block) {
		kb, ok := b.(Keyed)
		if !ok {
			return
		}
		for _, t := range kb.KeyTargets() {
			key := t.Key
			if key == "" {
				key = chosen[b.Common()][t.ID]
			}
			for key == "" && pool != "" {
				if k := pool[:1]; !taken(k) {
					key = k
					give(b.Common(), t.ID, k)
				}
				pool = pool[1:]
			}
			if key == "" {
				continue
			}
			if t.Key == "" {
				kb.SetKey(t.ID, key)
			}
			out = append(out, Shortcut{Key: key, Action: t.Action})
		}
	})
	return out
}

// CheckData returns EINVALID when an item's data lacks a field that a
// block reads.
func (in *Interface) CheckData(data map[string]any) error {
	for _, f := range in.fields {
		v, ok := data[f]
		if !ok || v == nil {
			return loupe.FieldErrorf("data."+f, "field %q is missing; the interface shows it", f)
		}
	}
	return nil
}

// Visibility returns, for every block with a name or a condition, whether
// it is shown given the values: its parents are shown, and its condition
// (if any) holds for the deciding block's value, counted as absent when
// that block is itself hidden.
func (in *Interface) Visibility(values map[string]json.RawMessage) map[*Base]bool {
	vis := map[*Base]bool{}
	var visible func(b *Base) bool
	visible = func(b *Base) bool {
		if v, ok := vis[b]; ok {
			return v
		}
		v := b.parent == nil || visible(b.parent)
		if v && b.VisibleWhen != nil {
			var val json.RawMessage
			if t, ok := in.byName[b.VisibleWhen.Block].(Decider); ok && visible(t.Common()) {
				if raw, ok := values[b.VisibleWhen.Block]; ok {
					val = t.ConditionValue(raw)
				}
			}
			v = b.VisibleWhen.Holds(val)
		}
		vis[b] = v
		return v
	}
	in.Walk(func(b Block) { visible(b.Common()) })
	return vis
}

// ValidateValues checks a submission: every name must be a value-producing
// block, every value must pass its block's rules, a hidden block takes no
// value, and every visible required block must have one. Empty values
// ("", [], {}) count as none. It returns the values in canonical JSON, or
// an EINVALID error whose field is "values.NAME".
func (in *Interface) ValidateValues(values map[string]json.RawMessage, data map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(values))
	for _, name := range sortedKeys(values) {
		v, ok := in.byName[name]
		if !ok {
			return nil, loupe.FieldErrorf("values."+name, "no block is named %q; blocks with values: %s", name, strings.Join(in.valuerNames(), ", "))
		}
		raw := values[name]
		if isEmpty(raw) {
			continue
		}
		canon, err := v.ValidateValue(raw, data)
		if err != nil {
			return nil, loupe.FieldErrorf("values."+name, "%s", loupe.ErrorMessage(err))
		}
		if !isEmpty(canon) {
			out[name] = canon
		}
	}
	vis := in.Visibility(out)
	for _, v := range in.valuers {
		b := v.Common()
		_, has := out[b.Name]
		switch {
		case has && !vis[b]:
			return nil, loupe.FieldErrorf("values."+b.Name, "this block is hidden (%s) and takes no value", hiddenBecause(b, vis))
		case !has && vis[b] && v.IsRequired():
			return nil, loupe.FieldErrorf("values."+b.Name, "a value is required")
		}
	}
	return out, nil
}

// hiddenBecause explains why a block is hidden: the condition of the
// outermost hidden block on its way to the root.
func hiddenBecause(b *Base, vis map[*Base]bool) string {
	for x := b; x != nil; x = x.parent {
		if !vis[x] && (x.parent == nil || vis[x.parent]) && x.VisibleWhen != nil {
			if x == b {
				return "it is shown only when " + x.VisibleWhen.String()
			}
			return fmt.Sprintf("its %s %q is shown only when %s", x.Type, label(x), x.VisibleWhen.String())
		}
	}
	return "its group is hidden"
}

func (in *Interface) valuerNames() []string {
	out := make([]string, len(in.valuers))
	for i, v := range in.valuers {
		out[i] = v.Common().Name
	}
	return out
}

func isEmpty(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	switch string(t) {
	case "", "null", `""`, "[]", "{}":
		return true
	}
	return false
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

// pathID turns a config path such as blocks[1].blocks[0] into an id part.
func pathID(path string) string {
	r := strings.NewReplacer("blocks[", "", "]", "", ".", "-", "[", "-")
	return r.Replace(path)
}

// checkRefs runs CheckRefs of every Referrer of the tree whose own fields
// were read. compile calls it once every name is known.
func (p *parser) checkRefs(bs []Block, in *Interface) {
	walk(bs, func(b Block) {
		r, ok := b.(Referrer)
		if !ok || len(b.Common().failed) > 0 {
			return
		}
		r.CheckRefs(&Checker{p: p, block: b.Common()}, in)
	})
}
