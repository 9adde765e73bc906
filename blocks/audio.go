package blocks

// Audio is a block kind still to be built.
type Audio struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Audio) Check(c *Checker) { c.Errorf("type", "the audio block is not available yet") }
