package blocks_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/blocks"
)

// dispRender renders the interface of a config whose blocks are given, for
// one item.
func dispRender(t *testing.T, blocksYAML string, data map[string]any) string {
	t.Helper()
	cfg := mustParse(t, "title: x\nblocks:\n"+blocksYAML)
	r, err := blocks.NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	media := func(p string) string { return "/projects/p/media/" + p }
	var buf bytes.Buffer
	if err := r.Render(&buf, blocks.NewViews(cfg.Interface(), blocks.Page{Data: data, Media: media, Origins: []string{"https://example.com"}})); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

type dispConfigCase struct {
	name, blocks, want string
}

// dispConfigErrors checks that each config fails with a line holding want.
func dispConfigErrors(t *testing.T, tests []dispConfigCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := blocks.ParseConfig([]byte("title: x\nblocks:\n" + tt.blocks))
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want %s", tt.want)
			}
			if got := loupe.ErrorMessage(err); !strings.Contains(got, tt.want) {
				t.Errorf("errors:\n%s\nwant a line with\n%s", got, tt.want)
			}
		})
	}
}

// dangerRE finds what must never reach the page from item content: a live
// tag that runs script or loads a document, an event handler attribute, a
// script-like URL, or an HTML comment.
var dangerRE = regexp.MustCompile(`(?i)<\s*(script|svg|iframe|object|embed|style|math|form|input|img[^>]*onerror|meta|link|base)\b|\son[a-z]+\s*=|(javascript|vbscript|data)\s*:|<!--`)

func TestMarkdownConfig(t *testing.T) {
	dispConfigErrors(t, []dispConfigCase{
		{"no field", "  - {type: markdown}\n",
			"config:3:5: blocks[0].field: a markdown block needs the name of the item field that holds the Markdown"},
		{"typo", "  - {type: markdown, field: m, feild: n}\n",
			`config:3:32: blocks[0].feild: unknown field (did you mean "field"?)`},
		{"field not text", "  - {type: markdown, field: [a]}\n",
			"config:3:29: blocks[0].field: expected text, got a list"},
	})
	in := mustParse(t, "title: x\nblocks:\n  - {type: markdown, field: body}\n").Interface()
	if got := in.Fields(); len(got) != 1 || got[0] != "body" {
		t.Errorf("fields = %v, want [body]: items without it are refused", got)
	}
}

// RELIABILITY case 1: Markdown from an item never carries script, event
// handlers, dangerous URLs or raw HTML into the page; raw HTML shows as
// the text it is.
func TestMarkdownSanitises(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // in the output
	}{
		{"img onerror", `<img src=x onerror=alert(1)>`, []string{"&lt;img src=x onerror=alert(1)&gt;"}},
		{"img onerror inline", `see <img src=x onerror=alert(1)> here`, []string{"see &lt;img src=x onerror=alert(1)&gt; here"}},
		{"svg onload", `<svg onload=alert(1)>`, []string{"&lt;svg onload=alert(1)&gt;"}},
		{"svg inline", "a <svg/onload=alert(1)> b", []string{"&lt;svg/onload=alert(1)&gt;"}},
		{"script block", "<script>\nalert(1)\n</script>", []string{"&lt;script&gt;"}},
		{"script close", `</script><script>alert(1)</script>`, []string{"&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"comment", "<!-- hidden -->\n\nshown", []string{"&lt;!-- hidden --&gt;", "<p>shown</p>"}},
		{"inline comment", "a <!-- x --> b", []string{"&lt;!-- x --&gt;"}},
		{"javascript link", `[click](javascript:alert(1))`, []string{"click"}},
		{"javascript link, case", `[click](JaVaScRiPt:alert(1))`, []string{"click"}},
		{"javascript link, entity", `[click](java&#x73;cript:alert(1))`, []string{"click"}},
		{"javascript link, tab", "[click](\tjavascript:alert(1))", []string{"click"}},
		{"javascript link, spaces", "[click]( javascript:alert(1) )", []string{"click"}},
		{"vbscript link", `[v](vbscript:msgbox(1))`, []string{"v"}},
		{"data link", `[d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)`, []string{"d"}},
		{"data image", `![i](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)`, []string{`alt="i"`}},
		{"javascript autolink", `<javascript:alert(1)>`, nil},
		{"javascript reference link", "[a][r]\n\n[r]: javascript:alert(1)", []string{">a<"}},
		{"javascript reference image", "![a][r]\n\n[r]: javascript:alert(1)", nil},
		{"attribute breakout", `[x](https://a.example" onmouseover="alert(1))`, nil},
		{"title breakout", `[x](https://a.example "t\" onmouseover=\"alert(1)")`, []string{`href="https://a.example"`}},
		{"html link", `<a href="javascript:alert(1)" onclick="alert(2)">z</a>`, []string{"&lt;a href="}},
		{"iframe", `<iframe src="https://evil.example"></iframe>`, []string{"&lt;iframe"}},
		{"style", "<style>body{display:none}</style>", []string{"&lt;style&gt;"}},
		{"code keeps text", "```\n<script>alert(1)</script>\n```", []string{"<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := string(blocks.RenderMarkdown(tt.src))
			// The escaped text may show the payload; nothing live may.
			if m := dangerRE.FindString(unescapedTags(out)); m != "" {
				t.Errorf("output holds %q:\n%s", m, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %s:\n%s", w, out)
				}
			}
		})
	}
}

// unescapedTags keeps only the markup of HTML: the tags and their
// attributes, without the text between them (where escaped payloads are
// harmless).
func unescapedTags(h string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(h, '<')
		if i < 0 {
			return b.String()
		}
		j := strings.IndexByte(h[i:], '>')
		if j < 0 {
			b.WriteString(h[i:])
			return b.String()
		}
		b.WriteString(h[i : i+j+1])
		h = h[i+j+1:]
	}
}

func TestMarkdownRenders(t *testing.T) {
	tests := []struct{ src, want string }{
		{"# Title\n\n*em* **strong** ~~gone~~", "<h1>Title</h1>\n<p><em>em</em> <strong>strong</strong> <del>gone</del></p>"},
		{"[site](https://example.com)", `<a href="https://example.com" rel="nofollow noopener" target="_blank">site</a>`},
		{"see https://example.com/x", `<a href="https://example.com/x" rel="nofollow noopener" target="_blank">https://example.com/x</a>`},
		{"[mail](mailto:a@example.com)", `<a href="mailto:a@example.com" rel="nofollow">mail</a>`},
		{"| a | b |\n|---|---|\n| 1 | 2 |", "<td>1</td>"},
		{"- one\n- two", "<li>one</li>"},
		{"`a < b`", "<code>a &lt; b</code>"},
	}
	for _, tt := range tests {
		if got := string(blocks.RenderMarkdown(tt.src)); !strings.Contains(got, tt.want) {
			t.Errorf("RenderMarkdown(%q) =\n%s\nwant it to hold\n%s", tt.src, got, tt.want)
		}
	}
}

// Texts the parser would take too long over are shown as plain text, fast;
// ordinary long texts still render.
func TestMarkdownLimits(t *testing.T) {
	var llm strings.Builder
	for i := range 20 {
		llm.WriteString("## Step\n\nDo **this** with `f()` and [a link](https://example.com/x_y), _then_ (maybe) that.\n\n- item `a`\n- item *b*\n\n```go\n")
		llm.WriteString(strings.Repeat("if x := y[2] * (z + 1); x > 0 { // <ok>\n\tf(\"a-b\", x.Name)\n}\n", 20+i))
		llm.WriteString("```\n\n")
	}
	prose := strings.Repeat(strings.Repeat("Hello, *world*; this is (mostly) plain text. ", 40)+"\n\n", 100)
	for name, src := range map[string]string{"answer": llm.String(), "prose": prose} {
		if out := string(blocks.RenderMarkdown(src)); strings.HasPrefix(out, `<pre class="markdown-plain">`) {
			t.Errorf("%s (%d bytes) was not rendered as Markdown", name, len(src))
		}
	}
	nestedList := strings.Repeat("- ", 3000) + "a"
	var deepQuotes strings.Builder
	for i := range 300 {
		deepQuotes.WriteString(strings.Repeat("> ", i) + "a\n\n")
	}
	costly := map[string]string{
		"too long":                    strings.Repeat("a", blocks.MaxMarkdownBytes+1),
		"emphasis":                    strings.Repeat("_a*", 30000),
		"emphasis in 60 paragraphs":   strings.Repeat(strings.Repeat("_a*", 1500)+"\n\n", 60),
		"open links":                  strings.Repeat("[](", 30000),
		"open links, many":            strings.Repeat(strings.Repeat("[a](", 1500)+"\n\n", 50),
		"nested quotes":               strings.Repeat(">", 20000),
		"nested lists":                nestedList,
		"nested ordered lists":        strings.Repeat("1. ", 3000) + "a",
		"quotes, line by line":        deepQuotes.String(),
		"paragraphs joined by NBSP":   strings.Repeat(strings.Repeat("_a*", 1500)+"\n\u00a0\n", 60),
		"code fence in an HTML block": "<div>\n```\n\n" + strings.Repeat("_a*", 30000),
	}
	for name, src := range costly {
		start := time.Now()
		out := string(blocks.RenderMarkdown(src))
		if !strings.HasPrefix(out, `<pre class="markdown-plain">`) {
			t.Errorf("%s: rendered as Markdown, want plain text", name)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
	if got := string(blocks.RenderMarkdown(strings.Repeat("<b>", 30000))); strings.Contains(got, "<b>") {
		t.Error("plain fallback is not escaped")
	}
}

func TestMarkdownBlockRender(t *testing.T) {
	out := dispRender(t, "  - {type: markdown, field: body, label: \"<i>Doc</i>\", help: \"<u>h</u>\"}\n",
		map[string]any{"body": "# Hi\n\n<img src=x onerror=alert(1)> [x](javascript:alert(1))"})
	if m := dangerRE.FindString(unescapedTags(out)); m != "" {
		t.Errorf("rendered block holds %q:\n%s", m, out)
	}
	for _, want := range []string{`<h1>Hi</h1>`, `&lt;i&gt;Doc&lt;/i&gt;`, `&lt;u&gt;h&lt;/u&gt;`, `class="markdown-body" tabindex="0"`} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered block lacks %s:\n%s", want, out)
		}
	}
}
