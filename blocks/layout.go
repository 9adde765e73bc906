package blocks

// Layout is what every layout block shares: child blocks.
type Layout struct {
	Base   `yaml:",inline"`
	Blocks []Block `yaml:"blocks" json:"blocks"`
}

// Children implements Container.
func (l *Layout) Children() []Block { return l.Blocks }

func (l *Layout) checkChildren(c *Checker, what string) {
	if len(l.Blocks) == 0 {
		c.Errorf("blocks", "a %s needs at least one child block", what)
	}
}

// Group is a layout block: a titled box around its child blocks.
type Group struct {
	Layout `yaml:",inline"`
}

// Check implements Block.
func (g *Group) Check(c *Checker) { g.checkChildren(c, "group") }

// Row lays its child blocks out side by side (stacking them on narrow
// screens).
type Row struct {
	Layout `yaml:",inline"`
}

// Check implements Block.
func (r *Row) Check(c *Checker) { r.checkChildren(c, "row") }

// Column stacks its child blocks; inside a row it makes one column.
type Column struct {
	Layout `yaml:",inline"`
}

// Check implements Block.
func (col *Column) Check(c *Checker) { col.checkChildren(c, "column") }

// Tabs shows one of its child groups at a time; each group's label names
// its tab. Keys 1..9 are not used for tabs: Tab and the arrow keys move
// between them, as in any tab list.
type Tabs struct {
	Layout `yaml:",inline"`
}

// Check implements Block: every child must be a group with a label.
func (t *Tabs) Check(c *Checker) {
	t.checkChildren(c, "tabs block")
	for _, b := range t.Blocks {
		g, ok := b.(*Group)
		switch {
		case !ok:
			c.Errorf("blocks", "each tab is a group of blocks; the block at %s is a %s", where(b.Common()), b.Common().Type)
		case g.Label == "":
			c.Errorf("blocks", "each tab's group needs a label, its tab's name (the group at %s has none)", where(g.Common()))
		}
	}
}
