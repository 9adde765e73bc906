package blocks

import (
	"sort"
)

// Kind describes one block kind: the name used as `type:` in a config, its
// category, and how to make an empty block of it.
type Kind struct {
	Type     string
	Category string
	New      func() Block
}

// kinds is the table of every block kind. Registering a kind is one line here.
var kinds = map[string]Kind{
	"text":   {Type: "text", Category: CategoryDisplay, New: func() Block { return &Text{} }},
	"choice": {Type: "choice", Category: CategoryLabeling, New: func() Block { return &Choice{} }},
	"group":  {Type: "group", Category: CategoryLayout, New: func() Block { return &Group{} }},
}

// Kinds returns every registered kind, sorted by type.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// LookupKind returns the kind registered under typ.
func LookupKind(typ string) (Kind, bool) {
	k, ok := kinds[typ]
	return k, ok
}

func kindTypes() []string {
	var out []string
	for _, k := range Kinds() {
		out = append(out, k.Type)
	}
	return out
}
