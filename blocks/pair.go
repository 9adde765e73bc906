package blocks

// Pair is a block kind still to be built.
type Pair struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Pair) Check(c *Checker) { c.Errorf("type", "the pair block is not available yet") }
