package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupehq/loupe/blocks"
)

func TestChatConfig(t *testing.T) {
	dispConfigErrors(t, []dispConfigCase{
		{"no field", "  - {type: chat}\n",
			"config:3:5: blocks[0].field: a chat block needs the name of the item field that holds the list of messages"},
		{"markdown not a bool", "  - {type: chat, field: m, markdown: maybe}\n",
			`config:3:38: blocks[0].markdown: expected true or false, got "maybe"`},
	})
	in := mustParse(t, "title: x\nblocks:\n  - {type: chat, field: messages}\n").Interface()
	if got := in.Fields(); len(got) != 1 || got[0] != "messages" {
		t.Errorf("fields = %v, want [messages]: items without it are refused", got)
	}
	if err := in.CheckData(map[string]any{"other": 1}); err == nil {
		t.Error("CheckData accepts an item without the conversation")
	}
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseMessages(t *testing.T) {
	tests := []struct {
		name, data string
		want       string // role: content | …, or the error
	}{
		{"plain", `[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]`, "user: hi | assistant: hello"},
		{"all roles", `[{"role": "system", "content": "s"}, {"role": "tool", "content": "t"}, {"role": "critic", "content": "c"}]`, "system: s | tool: t | critic: c"},
		{"JSON text", `"[{\"role\": \"user\", \"content\": \"hi\"}]"`, "user: hi"},
		{"content parts", `[{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "x"}}]}]`,
			`user: a` + "\n\n" + `{"image_url":{"url":"x"},"type":"image_url"}`},
		{"tool call", `[{"role": "assistant", "content": null, "tool_calls": [{"id": "1"}]}]`, `assistant: {"tool_calls":[{"id":"1"}]}`},
		{"no content", `[{"role": "assistant"}]`, "assistant: "},
		{"number content", `[{"role": "user", "content": 42}]`, "user: 42"},
		{"text", `"just words"`, "error: is text, not a list of {role, content} messages"},
		{"bad JSON text", `"[{\"role\": "`, "error: is not a valid JSON list of messages"},
		{"mapping", `{"role": "user", "content": "hi"}`, "error: is not a list of {role, content} messages"},
		{"number", `3`, "error: is not a list of {role, content} messages"},
		{"null", `null`, "error: is missing"},
		{"empty", `[]`, "error: holds no messages"},
		{"not a mapping", `[{"role": "user", "content": "a"}, "b"]`, "error: is not a list of {role, content} messages: message 2 is not a mapping"},
		{"no role", `[{"content": "a"}]`, "error: is not a list of {role, content} messages: message 1 has no role"},
		{"blank role", `[{"role": " ", "content": "a"}]`, "message 1 has no role"},
		{"role not text", `[{"role": 1, "content": "a"}]`, "message 1 has no role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := blocks.ParseMessages(decodeJSON(t, tt.data))
			var got string
			if err != nil {
				got = "error: " + err.Error()
			} else {
				parts := make([]string, len(msgs))
				for i, m := range msgs {
					parts[i] = m.Role + ": " + m.Content
				}
				got = strings.Join(parts, " | ")
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestChatRender(t *testing.T) {
	conv := decodeJSON(t, `[
		{"role": "system", "content": "Be <b>nice</b>."},
		{"role": "user", "content": "<img src=x onerror=alert(1)>\n\n**bold**"},
		{"role": "assistant", "content": "[x](javascript:alert(1)) *ok*"},
		{"role": "<script>alert(1)</script>", "content": "odd"}
	]`)
	out := dispRender(t, "  - {type: chat, field: conv, label: Talk}\n", map[string]any{"conv": conv})
	for _, w := range []string{`<ol class="chat-log" tabindex="0" aria-label="Talk">`, `<li class="chat-msg role-system"><p class="chat-role">system</p>`,
		`<div class="chat-content chat-plain">&lt;img src=x onerror=alert(1)&gt;` + "\n\n**bold**</div>",
		`<li class="chat-msg role-other"><p class="chat-role">&lt;script&gt;alert(1)&lt;/script&gt;</p>`} {
		if !strings.Contains(out, w) {
			t.Errorf("plain output lacks %s:\n%s", w, out)
		}
	}
	if m := dangerRE.FindString(unescapedTags(out)); m != "" {
		t.Errorf("plain output holds %q:\n%s", m, out)
	}

	out = dispRender(t, "  - {type: chat, field: conv, markdown: true}\n", map[string]any{"conv": conv})
	for _, w := range []string{`<strong>bold</strong>`, `<em>ok</em>`, `aria-label="conversation"`, `class="chat-content markdown-body"`} {
		if !strings.Contains(out, w) {
			t.Errorf("markdown output lacks %s:\n%s", w, out)
		}
	}
	if m := dangerRE.FindString(unescapedTags(out)); m != "" {
		t.Errorf("markdown output holds %q:\n%s", m, out)
	}

	out = dispRender(t, "  - {type: chat, field: conv}\n", map[string]any{"conv": "<b>not a chat</b>"})
	if !strings.Contains(out, `Cannot show this conversation:</strong> the item&#39;s field &#34;conv&#34; is text, not a list of {role, content} messages.`) || strings.Contains(out, "<b>") {
		t.Errorf("a field that is no conversation is not reported:\n%s", out)
	}
}
