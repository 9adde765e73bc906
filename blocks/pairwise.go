package blocks

// Pairwise is a block kind still to be built.
type Pairwise struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Pairwise) Check(c *Checker) { c.Errorf("type", "the pairwise block is not available yet") }
