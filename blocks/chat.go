package blocks

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
)

// Chat is a display block that shows a conversation: a field of the item
// holding a list of {role, content} messages (roles system, user,
// assistant and tool; any other role is shown as given). Content is plain
// text, or sanitised Markdown with markdown: true. A field holding that
// list as JSON text (as a CSV import gives it) is read too.
type Chat struct {
	Base     `yaml:",inline"`
	Field    string `yaml:"field" json:"field"`
	Markdown bool   `yaml:"markdown,omitempty" json:"markdown,omitempty"`
}

// Check implements Block.
func (ch *Chat) Check(c *Checker) {
	if ch.Field == "" {
		c.Errorf("field", "a chat block needs the name of the item field that holds the list of messages")
	}
}

// Fields implements FieldReader.
func (ch *Chat) Fields() []string { return []string{ch.Field} }

// ChatMessage is one message of a conversation, ready to show.
type ChatMessage struct {
	Role    string
	Content string
	HTML    template.HTML // the content as sanitised Markdown, with markdown: true
}

// Class returns the CSS class of the message's role: role-user,
// role-assistant, role-system, role-tool, or role-other.
func (m ChatMessage) Class() string {
	switch m.Role {
	case "system", "user", "assistant", "tool":
		return "role-" + m.Role
	}
	return "role-other"
}

// Conversation is an item's conversation as the template shows it: its
// messages, or the reason they cannot be shown.
type Conversation struct {
	Messages []ChatMessage
	Problem  string
}

// Conversation reads the block's field of an item.
func (ch *Chat) Conversation(data map[string]any) Conversation {
	msgs, err := ParseMessages(data[ch.Field])
	if err != nil {
		return Conversation{Problem: fmt.Sprintf("the item's field %q %s", ch.Field, err)}
	}
	if ch.Markdown {
		for i := range msgs {
			msgs[i].HTML = RenderMarkdown(msgs[i].Content)
		}
	}
	return Conversation{Messages: msgs}
}

// ParseMessages reads a conversation: a list of {role, content} mappings,
// or JSON text holding one. Content may be text, nothing, or a list of
// parts ({type: text, text: ...}, as chat APIs send it), whose texts are
// joined; anything else is shown as JSON. The error says, after the
// field's name, why the value is not a conversation.
func ParseMessages(v any) ([]ChatMessage, error) {
	if s, ok := v.(string); ok {
		if !strings.HasPrefix(strings.TrimSpace(s), "[") {
			return nil, fmt.Errorf("is text, not a list of {role, content} messages")
		}
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("is not a valid JSON list of messages")
		}
	}
	list, ok := v.([]any)
	switch {
	case v == nil:
		return nil, fmt.Errorf("is missing")
	case !ok:
		return nil, fmt.Errorf("is not a list of {role, content} messages")
	case len(list) == 0:
		return nil, fmt.Errorf("holds no messages")
	}
	out := make([]ChatMessage, len(list))
	for i, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("is not a list of {role, content} messages: message %d is not a mapping", i+1)
		}
		role, ok := m["role"].(string)
		if !ok || strings.TrimSpace(role) == "" {
			return nil, fmt.Errorf("is not a list of {role, content} messages: message %d has no role", i+1)
		}
		out[i] = ChatMessage{Role: role, Content: messageText(m)}
	}
	return out, nil
}

// messageText returns a message's content as text.
func messageText(m map[string]any) string {
	switch c := m["content"].(type) {
	case string:
		return c
	case nil:
		// A message without content (a tool call, say): show what it holds.
		rest := map[string]any{}
		for k, v := range m {
			if k != "role" && k != "content" {
				rest[k] = v
			}
		}
		if len(rest) == 0 {
			return ""
		}
		return jsonText(rest)
	case []any:
		parts := make([]string, len(c))
		for i, p := range c {
			if pm, ok := p.(map[string]any); ok {
				if t, ok := pm["text"].(string); ok {
					parts[i] = t
					continue
				}
			}
			parts[i] = jsonText(p)
		}
		return strings.Join(parts, "\n\n")
	default:
		return jsonText(c)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// LabelStudioObjects implements LabelStudioObjecter: a Paragraphs object
// laid out as a dialogue of {role, content} messages.
func (ch *Chat) LabelStudioObjects() []LSObject {
	return []LSObject{{Tag: "Paragraphs", Field: ch.Field, Attrs: []LSAttr{{"layout", "dialogue"}, {"nameKey", "role"}, {"textKey", "content"}}}}
}
