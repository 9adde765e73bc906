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
	// display
	"text":     {Type: "text", Category: CategoryDisplay, New: func() Block { return &Text{} }},
	"markdown": {Type: "markdown", Category: CategoryDisplay, New: func() Block { return &Markdown{} }},
	"image":    {Type: "image", Category: CategoryDisplay, New: func() Block { return &Image{} }},
	"audio":    {Type: "audio", Category: CategoryDisplay, New: func() Block { return &Audio{} }},
	"chat":     {Type: "chat", Category: CategoryDisplay, New: func() Block { return &Chat{} }},
	"metadata": {Type: "metadata", Category: CategoryDisplay, New: func() Block { return &Metadata{} }},
	"pair":     {Type: "pair", Category: CategoryDisplay, New: func() Block { return &Pair{} }},
	// labeling
	"choice":      {Type: "choice", Category: CategoryLabeling, New: func() Block { return &Choice{} }},
	"multichoice": {Type: "multichoice", Category: CategoryLabeling, New: func() Block { return &MultiChoice{} }},
	"spans":       {Type: "spans", Category: CategoryLabeling, New: func() Block { return &Spans{} }},
	"boxes":       {Type: "boxes", Category: CategoryLabeling, New: func() Block { return &Boxes{} }},
	"textbox":     {Type: "textbox", Category: CategoryLabeling, New: func() Block { return &Textbox{} }},
	"rating":      {Type: "rating", Category: CategoryLabeling, New: func() Block { return &Rating{} }},
	"ranking":     {Type: "ranking", Category: CategoryLabeling, New: func() Block { return &Ranking{} }},
	"pairwise":    {Type: "pairwise", Category: CategoryLabeling, New: func() Block { return &Pairwise{} }},
	// feedback
	"verdict": {Type: "verdict", Category: CategoryFeedback, New: func() Block { return &Verdict{} }},
	"thumbs":  {Type: "thumbs", Category: CategoryFeedback, New: func() Block { return &Thumbs{} }},
	"comment": {Type: "comment", Category: CategoryFeedback, New: func() Block { return &Comment{} }},
	"flag":    {Type: "flag", Category: CategoryFeedback, New: func() Block { return &Flag{} }},
	// layout
	"group":  {Type: "group", Category: CategoryLayout, New: func() Block { return &Group{} }},
	"row":    {Type: "row", Category: CategoryLayout, New: func() Block { return &Row{} }},
	"column": {Type: "column", Category: CategoryLayout, New: func() Block { return &Column{} }},
	"tabs":   {Type: "tabs", Category: CategoryLayout, New: func() Block { return &Tabs{} }},
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
