package blocks

// Image is a block kind still to be built.
type Image struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Image) Check(c *Checker) { c.Errorf("type", "the image block is not available yet") }
