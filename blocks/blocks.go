// Package blocks defines the reusable units a project's interface is made
// of, the config language that composes them, and the server-side
// validation of every value a block produces. It does no I/O: included
// files come through a resolver the caller gives.
//
// A block kind is one Go type that implements Block (plus Valuer when it
// produces a value), a template named "block/TYPE" in templates/, optional
// static/TYPE.js and static/TYPE.css, and one line in the kinds table of
// registry.go. docs/blocks.md is the guide.
package blocks

import (
	"encoding/json"
)

// Categories of block kinds.
const (
	CategoryDisplay  = "display"
	CategoryLabeling = "labeling"
	CategoryLayout   = "layout"
	CategoryFeedback = "feedback" // feedback on a prediction or an answer: each value is also a feedback event
)

// Base holds the fields every block has. Kinds embed it inline.
type Base struct {
	Type        string     `yaml:"type" json:"type"`
	Name        string     `yaml:"name,omitempty" json:"name,omitempty"`
	Label       string     `yaml:"label,omitempty" json:"label,omitempty"`
	Help        string     `yaml:"help,omitempty" json:"help,omitempty"`
	VisibleWhen *Condition `yaml:"visible_when,omitempty" json:"visible_when,omitempty"`

	// Where the block stands in the config, for error messages.
	Path   string         `yaml:"-" json:"-"`
	File   string         `yaml:"-" json:"-"`
	Line   int            `yaml:"-" json:"-"`
	Column int            `yaml:"-" json:"-"`
	keys   map[string]pos // field → where its key is
	parent *Base
	failed map[string]bool // fields that could not be read: checks of them would only repeat that
}

// pos is a place in a config file.
type pos struct {
	file      string
	line, col int
}

// Common returns the block's common fields.
func (b *Base) Common() *Base { return b }

// Title is the label shown for the block: its label, else its name.
func (b *Base) Title() string {
	if b.Label != "" {
		return b.Label
	}
	return b.Name
}

// DOMID is the block's HTML id on the labeling page.
func (b *Base) DOMID() string {
	if b.Name != "" {
		return "blk-" + b.Name
	}
	return "blk-" + pathID(b.Path)
}

// Block is one node of a project's interface tree.
type Block interface {
	// Common returns the fields every block has.
	Common() *Base
	// Check validates the block's own config fields, reporting each problem
	// through c so that it names the line and the field.
	Check(c *Checker)
}

// Referrer is a block whose config names other blocks of the interface (a
// verdict names its target). CheckRefs runs once every block of the
// interface is known, and reports problems through c like Check.
type Referrer interface {
	Block
	CheckRefs(c *Checker, in *Interface)
}

// Container is a layout block: it holds child blocks.
type Container interface {
	Block
	Children() []Block
}

// FieldReader is a block that reads fields of an item's data. Items lacking
// such a field are refused at import.
type FieldReader interface {
	Block
	Fields() []string
}

// Valuer is a block that produces a value: labeling blocks, and the
// prediction and feedback blocks that come later.
type Valuer interface {
	Block
	// IsRequired reports whether a submission must hold a value for the
	// block (when the block is visible).
	IsRequired() bool
	// ValidateValue checks a submitted value against the block's config and
	// the item's data, and returns it in canonical JSON. It returns an
	// EINVALID error whose message says what is wrong, in the labeler's
	// words.
	ValidateValue(v json.RawMessage, data map[string]any) (json.RawMessage, error)
	// FormValue reads the block's value from an HTML form: field is
	// "b.NAME", and the block may also use fields that start with field+".".
	// nil means no value was given.
	FormValue(form map[string][]string, field string) (json.RawMessage, error)
	// Flatten maps a valid value to export columns, for flat formats such
	// as CSV: the column is the block's name followed by Suffix.
	Flatten(v json.RawMessage) []Cell
}

// Cell is one flat export column of a value.
type Cell struct {
	Suffix string // "" for the block's own column, else ".part"
	Value  string
}

// Shortcut is a key bound on the labeling page, with what it does.
type Shortcut struct {
	Key    string `json:"key"`
	Action string `json:"action"`
}

// KeyTarget is one thing a block binds a key to, such as an option.
type KeyTarget struct {
	ID     string // what SetKey is called with
	Key    string // the key the config gave, or ""
	Prefer string // a key to take when it is free, before the shared pool
	Action string // what the key does, for the key legend
}

// keyMap holds the keys handed to a block's fixed choices (thumbs,
// pairwise, verdict), by choice.
type keyMap map[string]string

// set records the key of a choice (Keyed.SetKey).
func (m *keyMap) set(id, key string) {
	if *m == nil {
		*m = keyMap{}
	}
	(*m)[id] = key
}

// Keyed is a block that binds keys. Keys the config gives are checked for
// clashes; the others are handed out from a shared pool, so that no two
// blocks ever share a key.
type Keyed interface {
	Block
	KeyTargets() []KeyTarget
	SetKey(id, key string)
}

// Decider is a Valuer whose value may decide a visible_when. ConditionValue
// returns what conditions compare: the value itself for most kinds, a
// part of it for others (the choice of a pairwise); nil means none. Kinds
// whose values a condition cannot sensibly compare (spans, boxes,
// rankings) are not Deciders, and a visible_when naming one is a config
// error.
type Decider interface {
	Valuer
	ConditionValue(v json.RawMessage) json.RawMessage
}
