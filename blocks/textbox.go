package blocks

// Textbox is a block kind still to be built.
type Textbox struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Textbox) Check(c *Checker) { c.Errorf("type", "the textbox block is not available yet") }
