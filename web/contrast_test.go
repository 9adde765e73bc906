package web_test

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The colours of both themes meet WCAG 2.1 AA: 4.5:1 for text on the
// backgrounds it is drawn on, 3:1 for the focus ring.
func TestThemeContrast(t *testing.T) {
	css, err := os.ReadFile("static/loupe.css")
	if err != nil {
		t.Fatal(err)
	}
	light := themeVars(t, string(css), ":root {")
	dark := themeVars(t, string(css), "@media (prefers-color-scheme: dark) {")
	for name, v := range map[string]map[string]string{"light": light, "dark": dark} {
		pairs := []struct {
			fg, bg string
			min    float64
		}{
			{"--fg", "--bg", 4.5}, {"--fg", "--panel", 4.5}, {"--muted", "--bg", 4.5}, {"--muted", "--panel", 4.5},
			{"--accent", "--bg", 4.5}, {"--accent", "--panel", 4.5}, {"--accent", "--accent-bg", 4.5},
			{"--on-accent", "--accent", 4.5}, {"--bad", "--bad-bg", 4.5}, {"--bad", "--panel", 4.5},
			{"--focus", "--bg", 3}, {"--focus", "--panel", 3},
		}
		for _, p := range pairs {
			if c := contrast(t, v[p.fg], v[p.bg]); c < p.min {
				t.Errorf("%s theme: %s (%s) on %s (%s) has contrast %.2f, want ≥ %.1f", name, p.fg, v[p.fg], p.bg, v[p.bg], c, p.min)
			}
		}
	}
}

var varRE = regexp.MustCompile(`(--[a-z-]+):\s*(#[0-9a-fA-F]{6})`)

// themeVars reads the colour variables of the first block after marker.
func themeVars(t *testing.T, css, marker string) map[string]string {
	t.Helper()
	i := strings.Index(css, marker)
	if i < 0 {
		t.Fatalf("no %q in loupe.css", marker)
	}
	block := css[i:]
	block = block[:strings.Index(block, "}")]
	out := map[string]string{}
	for _, m := range varRE.FindAllStringSubmatch(block, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func contrast(t *testing.T, a, b string) float64 {
	t.Helper()
	la, lb := luminance(t, a), luminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 {
		t.Fatalf("colour %q is not #rrggbb", hex)
	}
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		n, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(n) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return l
}
