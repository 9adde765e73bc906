package blocks

// Thumbs is a block kind still to be built.
type Thumbs struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Thumbs) Check(c *Checker) { c.Errorf("type", "the thumbs block is not available yet") }
