package blocks_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// FuzzParseConfig feeds the parser arbitrary text. It must never panic;
// every error must be an EINVALID or ETOOLARGE Loupe error; and a config it
// accepts must render and must parse again, from its stored source, into
// the same blocks. The seed corpus (the golden error configs and the
// configs of the tests and the project templates, which use every kind)
// runs in every ordinary `go test`.
func FuzzParseConfig(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/errors/*.yaml")
	templates, _ := filepath.Glob("../fixtures/templates/*.yaml")
	seeds = append(seeds, templates...)
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{sentimentYAML, condConfig, "", "{}", "[]", "title: x\nblocks: [{type: group, blocks: [{type: text, field: a}]}]\n",
		"title: x\nblocks:\n  - &a {type: text, field: a}\n  - *a\n"} {
		f.Add([]byte(s))
	}
	r, err := blocks.NewRenderer()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := blocks.ParseConfig(src)
		if err != nil {
			if c := loupe.ErrorCode(err); c != loupe.EINVALID && c != loupe.ETOOLARGE {
				t.Fatalf("error with code %q: %v", c, err)
			}
			return
		}
		in := cfg.Interface()
		data := map[string]any{}
		for _, field := range in.Fields() {
			data[field] = "sample"
		}
		var buf bytes.Buffer
		if err := r.Render(&buf, blocks.NewViews(in, blocks.Page{Data: data})); err != nil {
			t.Fatalf("render: %v", err)
		}
		again, err := blocks.ParseConfig(cfg.Source())
		if err != nil {
			t.Fatalf("stored source does not parse: %v\n%s", err, cfg.Source())
		}
		if a, b := len(again.Interface().Valuers()), len(in.Valuers()); a != b {
			t.Fatalf("re-parse has %d blocks with values, want %d", a, b)
		}
	})
}
