// Package blocks defines the reusable units a project's interface is made
// of, the config language that composes them, and the server-side
// validation of every value a block produces. It does no I/O.
//
// A block kind is one Go type that implements Block, plus, when it produces
// a value, Valuer; a template named "block/TYPE" in templates/; and one line
// in the kinds table of registry.go. docs/blocks.md is the guide.
package blocks

import (
	"encoding/json"
)

// Categories of block kinds.
const (
	CategoryDisplay  = "display"
	CategoryLabeling = "labeling"
	CategoryLayout   = "layout"
)

// Base holds the fields every block has. Kinds embed it inline.
type Base struct {
	Type  string `yaml:"type" json:"type"`
	Name  string `yaml:"name,omitempty" json:"name,omitempty"`
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	Help  string `yaml:"help,omitempty" json:"help,omitempty"`

	// Where the block stands in the config, for error messages.
	Path string         `yaml:"-" json:"-"`
	Line int            `yaml:"-" json:"-"`
	keys map[string]int // key → line
}

// Common returns the block's common fields.
func (b *Base) Common() *Base { return b }

// Block is one node of a project's interface tree.
type Block interface {
	// Common returns the fields every block has.
	Common() *Base
	// Check validates the block's own config fields, reporting each problem
	// through c so that it names the line and the field.
	Check(c *Checker)
}

// Container is a layout block: it holds child blocks.
type Container interface {
	Block
	Children() []Block
}

// FieldReader is a display block that shows fields of an item's data. Items
// lacking such a field are refused at import.
type FieldReader interface {
	Block
	Fields() []string
}

// Valuer is a block that produces a value: labeling blocks, and the
// prediction and feedback blocks that come later.
type Valuer interface {
	Block
	// IsRequired reports whether a submission must hold a value for the block.
	IsRequired() bool
	// ValidateValue checks a submitted value against the block's config and
	// the item's data, and returns it in canonical JSON. It returns an
	// EINVALID error whose message says what is wrong.
	ValidateValue(v json.RawMessage, data map[string]any) (json.RawMessage, error)
	// FormValue turns the values of the HTML form field "b.NAME" into a
	// value; nil means no value was given.
	FormValue(form []string) (json.RawMessage, error)
}

// Shortcut is a key that acts on a block: pressing Key does Action.
type Shortcut struct {
	Key    string `json:"key"`
	Action string `json:"action"` // what the key does, shown in the key legend
}

// Shortcutter is a block that binds keys. Keys are checked for clashes
// across the whole interface.
type Shortcutter interface {
	Block
	Shortcuts() []Shortcut
}

// keyAssigner is a block that takes default keys from the interface when the
// config gives it none; the interface hands out digits to the first one.
type keyAssigner interface {
	assignKeys(keys []string)
}
