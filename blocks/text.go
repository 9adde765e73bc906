package blocks

// Text is a display block that shows one field of the item as plain text.
// Long texts scroll inside the block.
type Text struct {
	Base  `yaml:",inline"`
	Field string `yaml:"field" json:"field"`
}

// Check implements Block.
func (t *Text) Check(c *Checker) {
	if t.Field == "" {
		c.Errorf("field", "a text block needs the name of the item field it shows")
	}
}

// Fields implements FieldReader.
func (t *Text) Fields() []string { return []string{t.Field} }

// LabelStudioObjects implements LabelStudioObjecter: a Text object.
func (t *Text) LabelStudioObjects() []LSObject { return []LSObject{{Tag: "Text", Field: t.Field}} }
