package blocks_test

import (
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
)

func TestImageConfig(t *testing.T) {
	dispConfigErrors(t, []dispConfigCase{
		{"no field", "  - {type: image}\n",
			"config:3:5: blocks[0].field: an image block needs the name of the item field that holds the image's URL or media path"},
		{"empty alt field", "  - {type: image, field: f, alt_field: \"\"}\n",
			"config:3:29: blocks[0].alt_field: must name an item field, or be left out"},
		{"max height zero", "  - {type: image, field: f, max_height: 0}\n",
			"config:3:29: blocks[0].max_height: max_height is in pixels, between 1 and 4000; got 0"},
		{"max height huge", "  - type: image\n    field: f\n    max_height: 99999\n",
			"config:5:5: blocks[0].max_height: max_height is in pixels, between 1 and 4000; got 99999"},
		{"max height not a number", "  - {type: image, field: f, max_height: tall}\n",
			`config:3:41: blocks[0].max_height: expected a whole number, got "tall"`},
	})
	in := mustParse(t, "title: x\nblocks:\n  - {type: image, field: img, alt_field: alt}\n").Interface()
	if got := in.Fields(); len(got) != 1 || got[0] != "img" {
		t.Errorf("fields = %v, want [img] (the alt text is optional)", got)
	}
}

func TestIsMediaPath(t *testing.T) {
	good := []string{"cat.png", "photos/cat.png", "a b/ü.png", "x/y/z/%2e%2e.png", "dir.v2/file"}
	bad := []string{"", "/etc/passwd", "../x.png", "a/../../x", "./x", "a/./x", "a//x", "a/", ".hidden", "a/.git/config",
		`C:\Windows`, `a\b.png`, "C:/x", "x\x00.png", "x\n.png", "https://example.com/x.png", "\xff.png", strings.Repeat("a", blocks.MaxMediaPath+1)}
	for _, p := range good {
		if !blocks.IsMediaPath(p) {
			t.Errorf("IsMediaPath(%q) = false, want true", p)
		}
	}
	for _, p := range bad {
		if blocks.IsMediaPath(p) {
			t.Errorf("IsMediaPath(%q) = true, want false", p)
		}
	}
}

func TestImageRender(t *testing.T) {
	const cfg = "  - {type: image, field: img, alt_field: alt, max_height: 300, label: Photo}\n"
	tests := []struct {
		name string
		data map[string]any
		want []string
		not  []string
	}{
		{"media path", map[string]any{"img": "photos/cat.png", "alt": "a <b>cat</b>"},
			[]string{`<img src="/projects/p/media/photos/cat.png" alt="a &lt;b&gt;cat&lt;/b&gt;"`, `data-max-height="300"`}, []string{"Cannot show"}},
		{"https URL", map[string]any{"img": "https://example.com/a.png?x=1&y=2"},
			[]string{`src="https://example.com/a.png?x=1&amp;y=2"`, `alt="Photo"`}, nil},
		{"javascript", map[string]any{"img": "javascript:alert(1)"},
			[]string{"Cannot show this image", "<code>javascript:alert(1)</code>"}, []string{"<img"}},
		{"data URL", map[string]any{"img": "data:image/svg+xml,<svg onload=alert(1)>"},
			[]string{"Cannot show this image", "&lt;svg onload=alert(1)&gt;"}, []string{"<img", "<svg"}},
		{"an origin the admin did not allow", map[string]any{"img": "https://tracker.example/pixel.png"},
			[]string{"Cannot show this image"}, []string{"<img"}},
		{"traversal", map[string]any{"img": "../../admin/users"},
			[]string{"Cannot show this image"}, []string{"<img"}},
		{"absolute", map[string]any{"img": "/etc/passwd"},
			[]string{"Cannot show this image"}, []string{"<img"}},
		{"protocol-relative", map[string]any{"img": "//evil.example/x.png"},
			[]string{"Cannot show this image"}, []string{"<img"}},
		{"file", map[string]any{"img": "file:///etc/passwd"},
			[]string{"Cannot show this image"}, []string{"<img"}},
		{"empty", map[string]any{"img": ""},
			[]string{"Cannot show this image:</strong> the item's field <code>img</code> is empty"}, []string{"<img"}},
		{"attribute breakout", map[string]any{"img": `x.png" onerror="alert(1)`},
			[]string{`src="/projects/p/media/x.png%22%20onerror=%22alert%281%29"`}, []string{`" onerror="`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := dispRender(t, cfg, tt.data)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %s:\n%s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("output holds %s:\n%s", n, out)
				}
			}
		})
	}
}
