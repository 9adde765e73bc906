package blocks

// Group is a layout block: a titled box around its child blocks.
type Group struct {
	Base   `yaml:",inline"`
	Blocks []Block `yaml:"blocks" json:"blocks"`
}

// Check implements Block.
func (g *Group) Check(c *Checker) {
	if len(g.Blocks) == 0 {
		c.Errorf("blocks", "a group needs at least one child block")
	}
}

// Children implements Container.
func (g *Group) Children() []Block { return g.Blocks }
