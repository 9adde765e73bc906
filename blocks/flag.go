package blocks

// Flag is a block kind still to be built.
type Flag struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Flag) Check(c *Checker) { c.Errorf("type", "the flag block is not available yet") }
