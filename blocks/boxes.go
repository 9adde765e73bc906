package blocks

// Boxes is a block kind still to be built.
type Boxes struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Boxes) Check(c *Checker) { c.Errorf("type", "the boxes block is not available yet") }
