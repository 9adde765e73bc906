package blocks

// Chat is a block kind still to be built.
type Chat struct {
	Base `yaml:",inline"`
}

// Check implements Block.
func (b *Chat) Check(c *Checker) { c.Errorf("type", "the chat block is not available yet") }
