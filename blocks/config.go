package blocks

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/loupehq/loupe"
	"go.yaml.in/yaml/v3"
)

// Limits of the config language.
const (
	MaxConfigBytes = 1 << 20
	MaxTitleLen    = 200
	MaxOverlap     = 100
	MaxBlocks      = 500
	MaxDepth       = 16
	MaxNameLen     = 64
	DefaultLease   = 30 // minutes
	MaxLease       = 24 * 60
)

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Config is a parsed and validated project config: settings plus the tree
// of blocks that makes the project's interface.
type Config struct {
	Title        string  `yaml:"title" json:"title"`
	Description  string  `yaml:"description,omitempty" json:"description,omitempty"`
	Instructions string  `yaml:"instructions,omitempty" json:"instructions,omitempty"`
	Overlap      int     `yaml:"overlap,omitempty" json:"overlap"`
	LeaseMinutes int     `yaml:"lease_minutes,omitempty" json:"lease_minutes"`
	Blocks       []Block `yaml:"blocks" json:"blocks"`

	iface *Interface
}

// Interface returns the compiled block tree.
func (c *Config) Interface() *Interface { return c.iface }

// ConfigError is one problem in a config: where it is and what is wrong.
type ConfigError struct {
	Line    int
	Field   string
	Message string
}

func (e *ConfigError) String() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "%s: ", e.Field)
	}
	b.WriteString(e.Message)
	return b.String()
}

// ParseConfig parses a project config written in YAML (or JSON, which YAML
// reads too), validates it, and compiles its interface. Every problem found
// is reported, one a line, each naming its line and field, in an EINVALID
// error.
func ParseConfig(src []byte) (*Config, error) {
	if len(src) > MaxConfigBytes {
		return nil, loupe.Errorf(loupe.ETOOLARGE, "config is larger than %d bytes", MaxConfigBytes)
	}
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, configErrors([]*ConfigError{yamlSyntaxError(err)})
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, configErrors([]*ConfigError{{Line: 1, Message: "config is empty"}})
	}
	root := doc.Content[0]
	p := &parser{}
	cfg := &Config{}
	base := &Base{Line: root.Line}
	p.decode(root, cfg, base, "", 0)
	if len(p.errs) == 0 {
		p.checkSettings(cfg, base)
		cfg.iface = p.compile(cfg.Blocks, base)
	}
	if len(p.errs) > 0 {
		return nil, configErrors(p.errs)
	}
	return cfg, nil
}

func (p *parser) checkSettings(cfg *Config, base *Base) {
	c := &Checker{p: p, block: base}
	cfg.Title = strings.TrimSpace(cfg.Title)
	switch {
	case cfg.Title == "":
		c.Errorf("title", "a title is required")
	case len(cfg.Title) > MaxTitleLen:
		c.Errorf("title", "title is longer than %d characters", MaxTitleLen)
	}
	if _, ok := base.keys["overlap"]; !ok {
		cfg.Overlap = 1
	} else if cfg.Overlap < 1 || cfg.Overlap > MaxOverlap {
		c.Errorf("overlap", "overlap must be between 1 and %d, got %d", MaxOverlap, cfg.Overlap)
	}
	if _, ok := base.keys["lease_minutes"]; !ok {
		cfg.LeaseMinutes = DefaultLease
	} else if cfg.LeaseMinutes < 1 || cfg.LeaseMinutes > MaxLease {
		c.Errorf("lease_minutes", "lease_minutes must be between 1 and %d, got %d", MaxLease, cfg.LeaseMinutes)
	}
	if _, ok := base.keys["blocks"]; !ok {
		c.Errorf("blocks", "a list of blocks is required")
	}
}

func configErrors(errs []*ConfigError) error {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.String()
	}
	return &loupe.Error{Code: loupe.EINVALID, Field: errs[0].Field, Message: "config: " + strings.Join(lines, "\nconfig: ")}
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// yamlSyntaxError turns a YAML parser error into a ConfigError with its line.
func yamlSyntaxError(err error) *ConfigError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &ConfigError{Message: msg}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		fmt.Sscanf(m[1], "%d", &e.Line)
		msg = strings.TrimSpace(yamlLineRE.ReplaceAllString(msg, ""))
		e.Message = strings.TrimPrefix(msg, ": ")
	}
	return e
}

// Checker collects config problems of one block, each tied to the line of
// the field at fault.
type Checker struct {
	p     *parser
	block *Base
}

// Errorf records a problem with the block's field (or with the block itself
// when field is "").
func (c *Checker) Errorf(field, format string, args ...any) {
	line := c.block.Line
	if l, ok := c.block.keys[field]; ok {
		line = l
	}
	path := c.block.Path
	if field != "" {
		if path != "" {
			path += "."
		}
		path += field
	}
	c.p.errs = append(c.p.errs, &ConfigError{Line: line, Field: path, Message: fmt.Sprintf(format, args...)})
}

// Has reports whether the block's config set field.
func (c *Checker) Has(field string) bool {
	_, ok := c.block.keys[field]
	return ok
}
