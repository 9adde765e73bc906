package blocks

// Markdown is a block kind still to be built.
type Markdown struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Markdown) Check(c *Checker) { c.Errorf("type", "the markdown block is not available yet") }
