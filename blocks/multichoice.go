package blocks

// MultiChoice is a block kind still to be built.
type MultiChoice struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *MultiChoice) Check(c *Checker) {
	c.Errorf("type", "the multichoice block is not available yet")
}
