package blocks

// Ranking is a block kind still to be built.
type Ranking struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Ranking) Check(c *Checker) { c.Errorf("type", "the ranking block is not available yet") }
