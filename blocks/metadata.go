package blocks

// Metadata is a block kind still to be built.
type Metadata struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Metadata) Check(c *Checker) { c.Errorf("type", "the metadata block is not available yet") }
