package blocks

// Comment is a block kind still to be built.
type Comment struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Comment) Check(c *Checker) { c.Errorf("type", "the comment block is not available yet") }
