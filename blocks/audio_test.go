package blocks_test

import (
	"strings"
	"testing"
)

func TestAudioConfig(t *testing.T) {
	dispConfigErrors(t, []dispConfigCase{
		{"no field", "  - {type: audio}\n",
			"config:3:5: blocks[0].field: an audio block needs the name of the item field that holds the sound's URL or media path"},
		{"bad key", "  - {type: audio, field: f, key: F1}\n",
			`config:3:29: blocks[0].key: key "F1" must be one lower-case letter or digit`},
		{"reserved key", "  - {type: audio, field: f, key: s}\n",
			`config:3:5: blocks[0]: key "s" is kept for "skip"; choose another`},
		{"key clash", "  - {type: audio, field: f, key: x}\n  - {type: choice, name: c, options: [{value: a, key: x}, b]}\n",
			`blocks[1]: key "x" is already bound by the block at config:3`},
	})
}

// The play key is "p" when free, the config's own when given, and never
// one another block holds.
func TestAudioKeys(t *testing.T) {
	tests := []struct{ blocks, want string }{
		{"  - {type: audio, field: f}\n  - {type: choice, name: c, options: [a, b]}\n", "p=play or pause the sound,1=choose a,2=choose b"},
		{"  - {type: audio, field: f, label: Clip, key: m}\n", "m=play or pause Clip"},
		{"  - {type: choice, name: c, options: [a, {value: b, key: p}]}\n  - {type: audio, field: f}\n", "1=choose a,p=choose b,2=play or pause the sound"},
	}
	for _, tt := range tests {
		var got []string
		for _, s := range mustParse(t, "title: x\nblocks:\n"+tt.blocks).Interface().Shortcuts() {
			got = append(got, s.Key+"="+s.Action)
		}
		if strings.Join(got, ",") != tt.want {
			t.Errorf("keys = %s\nwant %s", strings.Join(got, ","), tt.want)
		}
	}
}

func TestAudioRender(t *testing.T) {
	const cfg = "  - {type: audio, field: snd, label: \"<i>Clip</i>\"}\n"
	out := dispRender(t, cfg, map[string]any{"snd": "clips/a b.mp3"})
	for _, w := range []string{`<audio controls preload="metadata" src="/projects/p/media/clips/a%20b.mp3" aria-label="&lt;i&gt;Clip&lt;/i&gt;">`,
		`data-key="p"`, `<kbd>p</kbd>`, ` hidden>`} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %s:\n%s", w, out)
		}
	}
	out = dispRender(t, cfg, map[string]any{"snd": "javascript:alert(1)"})
	if strings.Contains(out, "<audio") || !strings.Contains(out, "Cannot play this sound") {
		t.Errorf("a javascript: sound is not refused:\n%s", out)
	}
}
