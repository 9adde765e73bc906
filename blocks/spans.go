package blocks

// Spans is a block kind still to be built.
type Spans struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Spans) Check(c *Checker) { c.Errorf("type", "the spans block is not available yet") }
