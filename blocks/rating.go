package blocks

// Rating is a block kind still to be built.
type Rating struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Rating) Check(c *Checker) { c.Errorf("type", "the rating block is not available yet") }
