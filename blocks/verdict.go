package blocks

// Verdict is a block kind still to be built.
type Verdict struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Verdict) Check(c *Checker) { c.Errorf("type", "the verdict block is not available yet") }
