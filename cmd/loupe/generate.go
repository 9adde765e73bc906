package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
)

// runGenerate fills a project with generated items and annotations, for
// measuring Loupe at scale. It goes through the ordinary import (checks,
// batches, one final commit, history events), so the project is what a
// real import of that size would make.
func runGenerate(ctx context.Context, args []string, env *Env) error {
	fs := newFlags("generate", `generate --project SLUG [--items N] [--annotated N] [--labelers K] [--seed S] [--db FILE]

Adds N generated items to a project, the first --annotated of them with
one annotation each from K generated labelers (disabled accounts named
gen-1 … gen-K), for measuring Loupe at scale. Every field the project's
blocks read gets generated text; choice, multichoice, rating, textbox,
comment and thumbs blocks get generated values (a required block of
another kind is refused). The same seed makes the same items.`, env)
	db := dbFlag(fs)
	slug := fs.String("project", "", "the project's `slug` (required)")
	items := fs.Int("items", 1_000_000, "items to add")
	annotated := fs.Int("annotated", -1, "how many of them get an annotation (default: all)")
	labelers := fs.Int("labelers", 20, "generated labelers the annotations are spread over")
	seed := fs.Uint64("seed", 1, "the generator's seed")
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if *annotated < 0 {
		*annotated = *items
	}
	switch {
	case *items < 1:
		return fmt.Errorf("%w: --items must be at least 1", errUsage)
	case *annotated > *items:
		return fmt.Errorf("%w: --annotated (%d) is more than --items (%d)", errUsage, *annotated, *items)
	case *labelers < 1:
		return fmt.Errorf("%w: --labelers must be at least 1", errUsage)
	}
	d, p, err := openProjectFlag(ctx, *db, *slug)
	if err != nil {
		return err
	}
	defer d.Close()
	g, err := newGenerator(p.Config.Interface(), *items, *annotated, *labelers, *seed)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := d.ImportItems(ctx, p, g, annotate.ImportOptions{Format: "generated", Progress: importProgress(env, nil, 0)})
	if isTerminal(env.Stderr) {
		fmt.Fprintln(env.Stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Generated %d items and %d annotations in %s (%s) in %s.\n", res.Added, res.Annotations, p.Slug, p.Title, time.Since(start).Round(time.Second))
	return nil
}

// generator is an ItemReader of generated items.
type generator struct {
	in                  *blocks.Interface
	n, annotated, users int
	i                   int
	rnd                 *rand.Rand
	fields              []string
	run                 string // tells this run's ids apart from earlier runs'
}

// words make up the generated texts.
var words = strings.Fields(`the kettle lamp charger blender phone case battery screen delivery price quality
	arrived broke works fine slow fast cheap expensive loud quiet bright dim heavy light small large great poor
	after before every week day month again never always well badly warm cold returned kept gift box`)

func newGenerator(in *blocks.Interface, n, annotated, users int, seed uint64) (*generator, error) {
	for _, v := range in.Valuers() {
		if v.IsRequired() && generateValue(v, rand.New(rand.NewPCG(1, 1))) == nil {
			return nil, fmt.Errorf("the required block %q is a %s, which loupe generate cannot fill; make it optional or generate into another project", v.Common().Name, v.Common().Type)
		}
	}
	return &generator{in: in, n: n, annotated: annotated, users: users, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		fields: in.Fields(), run: strconv.FormatInt(time.Now().UnixNano(), 36)}, nil
}

func (g *generator) Next() (*annotate.ItemRecord, error) {
	if g.i == g.n {
		return nil, io.EOF
	}
	g.i++
	data := map[string]any{}
	for _, f := range g.fields {
		data[f] = g.sentence()
	}
	line := map[string]any{"id": "gen-" + g.run + "-" + strconv.Itoa(g.i), "data": data}
	if g.i <= g.annotated {
		values := map[string]json.RawMessage{}
		for _, v := range g.in.Valuers() {
			if x := generateValue(v, g.rnd); x != nil {
				values[v.Common().Name] = x
			}
		}
		// A block hidden by the values chosen (visible_when) takes none.
		for vis := g.in.Visibility(values); ; vis = g.in.Visibility(values) {
			dropped := false
			for _, v := range g.in.Valuers() {
				if _, ok := values[v.Common().Name]; ok && !vis[v.Common()] {
					delete(values, v.Common().Name)
					dropped = true
				}
			}
			if !dropped {
				break
			}
		}
		line["annotations"] = []map[string]any{{"user": "gen-" + strconv.Itoa(1+g.rnd.IntN(g.users)), "values": values}}
	}
	b, err := json.Marshal(line)
	if err != nil {
		return nil, err
	}
	return annotate.ParseItemLine(b, g.i)
}

func (g *generator) sentence() string {
	n := 6 + g.rnd.IntN(14)
	out := make([]string, n)
	for i := range out {
		out[i] = words[g.rnd.IntN(len(words))]
	}
	return strings.ToUpper(out[0][:1]) + strings.Join(out, " ")[1:] + "."
}

// generateValue makes a valid value for the block kinds it knows, nil for
// the others.
func generateValue(v blocks.Valuer, rnd *rand.Rand) json.RawMessage {
	var x any
	switch b := v.(type) {
	case *blocks.Choice:
		x = b.Options[rnd.IntN(len(b.Options))].Value
	case *blocks.MultiChoice:
		n := max(b.Min, 1)
		if b.Max > 0 {
			n = min(n, b.Max)
		}
		perm := rnd.Perm(len(b.Options))[:min(n, len(b.Options))]
		var picked []string
		for _, i := range perm {
			picked = append(picked, b.Options[i].Value)
		}
		x = picked
	case *blocks.Rating:
		x = 1 + rnd.IntN(max(b.Scale, 1))
	case *blocks.Textbox:
		x = strings.Repeat("ok ", max(b.MinLength/3+1, 1))
	case *blocks.Comment:
		x = "generated comment"
	case *blocks.Thumbs:
		x = []string{blocks.ThumbUp, blocks.ThumbDown}[rnd.IntN(2)]
	default:
		return nil
	}
	b, _ := json.Marshal(x)
	return b
}
