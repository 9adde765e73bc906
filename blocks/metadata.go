package blocks

import "sort"

// MaxMetadataFields is the most fields a metadata block may list.
const MaxMetadataFields = 100

// Metadata is a display block that shows chosen fields of the item as a
// table of names and values. The fields are optional: an item without one
// shows a dash, since metadata often differs from item to item.
type Metadata struct {
	Base   `yaml:",inline"`
	Names  []string          `yaml:"fields" json:"fields"` // the item fields shown
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Check implements Block.
func (m *Metadata) Check(c *Checker) {
	switch {
	case len(m.Names) == 0:
		c.Errorf("fields", "must not be empty: list the item fields to show")
	case len(m.Names) > MaxMetadataFields:
		c.Errorf("fields", "may list at most %d fields", MaxMetadataFields)
	}
	seen := map[string]bool{}
	for i, f := range m.Names {
		switch {
		case f == "":
			c.Errorf("fields", "field %d is empty", i+1)
		case seen[f]:
			c.Errorf("fields", "field %q is listed twice", f)
		}
		seen[f] = true
	}
	keys := make([]string, 0, len(m.Labels))
	for k := range m.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !seen[k] {
			c.Errorf("labels", "%q is not one of the fields listed in fields", k)
		}
	}
}

// MetadataRow is one row of a metadata table.
type MetadataRow struct {
	Name, Value string
	Missing     bool
}

// Rows returns the table of an item: one row per listed field, named by
// its label when the config gives one.
func (m *Metadata) Rows(data map[string]any) []MetadataRow {
	out := make([]MetadataRow, len(m.Names))
	for i, f := range m.Names {
		name := f
		if l := m.Labels[f]; l != "" {
			name = l
		}
		_, has := data[f]
		out[i] = MetadataRow{Name: name, Value: FieldText(data, f), Missing: !has || data[f] == nil}
	}
	return out
}
