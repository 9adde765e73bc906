package blocks

import (
	"bytes"
	"html/template"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// Limits of Markdown rendering. A text over either is shown as plain
// text: the Markdown parser takes time quadratic in the punctuation of a
// paragraph, so that one crafted item could otherwise stall its page.
const (
	// MaxMarkdownBytes is the longest text rendered as Markdown.
	MaxMarkdownBytes = 256 << 10
	// MaxMarkdownCost bounds the sum, over the paragraphs of a text (runs
	// of non-blank lines), of the paragraph's bytes times its punctuation
	// characters: about 50 ms of parsing at worst. Ordinary prose with
	// paragraphs of a few kilobytes stays far below it.
	MaxMarkdownCost = 100_000_000
)

// Markdown is a display block that shows one field of the item as
// Markdown, sanitised: raw HTML is shown as text, and no script, event
// handler or javascript:, vbscript: or data: link survives.
type Markdown struct {
	Base  `yaml:",inline"`
	Field string `yaml:"field" json:"field"`
}

// Check implements Block.
func (m *Markdown) Check(c *Checker) {
	if m.Field == "" {
		c.Errorf("field", "a markdown block needs the name of the item field that holds the Markdown")
	}
}

// Fields implements FieldReader.
func (m *Markdown) Fields() []string { return []string{m.Field} }

// HTML returns the block's field of an item rendered as sanitised HTML.
func (m *Markdown) HTML(data map[string]any) template.HTML {
	return RenderMarkdown(FieldText(data, m.Field))
}

// markdown is the converter and the sanitiser, built once: both are safe
// for concurrent use.
var markdown = sync.OnceValues(func() (goldmark.Markdown, *bluemonday.Policy) {
	// Without html.WithUnsafe the converter empties dangerous link
	// destinations; rawHTMLText shows raw HTML as the text it is.
	md := goldmark.New(
		goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify),
		goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(rawHTMLText{}, 100))), // a lower number wins over the default (1000)
	)
	p := bluemonday.UGCPolicy()
	p.AddTargetBlankToFullyQualifiedLinks(true) // with rel="nofollow noopener"
	return md, p
})

// RenderMarkdown renders Markdown text as HTML that is safe to put in a
// page. Raw HTML in the text is shown escaped, as text; the converter's
// output then goes through an allow-list sanitiser that keeps only
// harmless elements and attributes, and links to http, https, mailto and
// relative URLs (external ones get rel="nofollow noopener" and open in a
// new tab). A text beyond MaxMarkdownBytes or MaxMarkdownCost is returned
// as escaped plain text.
func RenderMarkdown(src string) template.HTML {
	if !markdownAffordable(src) {
		return plainMarkdown(src)
	}
	md, policy := markdown()
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		return plainMarkdown(src) // only a failing writer fails, and a buffer does not
	}
	return template.HTML(policy.SanitizeBytes(buf.Bytes())) // sanitised just now
}

func plainMarkdown(src string) template.HTML {
	return template.HTML(`<pre class="markdown-plain">` + template.HTMLEscapeString(src) + `</pre>`)
}

// markdownAffordable reports whether src is within the Markdown limits, in
// time linear in src. The cost of a paragraph (a run of non-blank lines)
// is its size times its markup characters (emphasis, links, code, raw
// HTML, list markers), plus the square of each line's nesting. Code
// blocks count like the rest: telling where one ends takes a full parser
// (an HTML block may hide its fence), and an estimate must never count
// less than the parser will do.
func markdownAffordable(src string) bool {
	if len(src) > MaxMarkdownBytes {
		return false
	}
	cost, size, marks := 0, 0, 0
	for len(src) > 0 {
		line, rest, _ := strings.Cut(src, "\n")
		src = rest
		if strings.Trim(line, " \t\r") == "" { // blank as Markdown sees it: not U+00A0, say
			cost += size * marks
			size, marks = 0, 0
			continue
		}
		size += len(line) + 1
		d := nesting(line)
		cost += d * d * nestingWeight
		for i := range len(line) {
			marks += int(markWeight[line[i]])
		}
		if cost+size*marks > MaxMarkdownCost {
			return false
		}
	}
	return true
}

// nestingWeight is the cost of each line per square of its nesting, which
// costs the parser some thirty times more than inline markup.
const nestingWeight = 32

// nesting estimates, from above, how deep in lists and block quotes a line
// is: by its indentation (a nested list needs two more columns) and by the
// list markers and ">" that open it.
func nesting(line string) int {
	cols := 0
	for i := 0; i < len(line); {
		switch c := line[i]; {
		case c == ' ':
			cols++
			i++
		case c == '\t':
			cols += 4
			i++
		case c == '>':
			cols += 2
			i++
		case (c == '-' || c == '*' || c == '+') && (i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t'):
			cols += 2
			i++
		case '0' <= c && c <= '9':
			j := i
			for j < len(line) && j-i < 10 && '0' <= line[j] && line[j] <= '9' {
				j++
			}
			if j < len(line) && (line[j] == '.' || line[j] == ')') && (j+1 == len(line) || line[j+1] == ' ' || line[j+1] == '\t') {
				cols += 2
				i = j + 1
				continue
			}
			return cols / 2
		default:
			return cols / 2
		}
	}
	return cols / 2
}

// markWeight is how much each character adds to a paragraph's markup
// count: the characters of inline markup, and of containers (lists and
// block quotes) that a line can open many of at once; ">" costs the
// parser most.
var markWeight = func() (w [256]uint8) {
	for _, c := range "*_[]()<`~!.-+" {
		w[c] = 1
	}
	w['>'] = 2
	return w
}()

// rawHTMLText renders raw HTML, inline or as a block, as escaped text: an
// item's markup is shown as written, never dropped and never run.
type rawHTMLText struct{}

// RegisterFuncs implements renderer.NodeRenderer.
func (rawHTMLText) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, func(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			segs := node.(*ast.RawHTML).Segments
			for i := range segs.Len() {
				seg := segs.At(i)
				template.HTMLEscape(w, seg.Value(source))
			}
		}
		return ast.WalkSkipChildren, nil
	})
	reg.Register(ast.KindHTMLBlock, func(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
		n := node.(*ast.HTMLBlock)
		if entering {
			w.WriteString("<pre><code>")
			lines := n.Lines()
			for i := range lines.Len() {
				line := lines.At(i)
				template.HTMLEscape(w, line.Value(source))
			}
			if n.HasClosure() {
				template.HTMLEscape(w, n.ClosureLine.Value(source))
			}
			w.WriteString("</code></pre>\n")
		}
		return ast.WalkContinue, nil
	})
}

// LabelStudioObjects implements LabelStudioObjecter: the Markdown shown as
// a Text object (its source, as ML backends read it).
func (m *Markdown) LabelStudioObjects() []LSObject {
	return []LSObject{{Tag: "Text", Field: m.Field}}
}
