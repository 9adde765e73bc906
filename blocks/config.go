package blocks

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
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
	MaxIncludes    = 50
	MaxNameLen     = 64
	DefaultLease   = 30 // minutes
	MaxLease       = 24 * 60
)

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Config is a parsed and validated project config: settings plus the tree
// of blocks that makes the project's interface.
type Config struct {
	Title        string `yaml:"title" json:"title"`
	Description  string `yaml:"description,omitempty" json:"description,omitempty"`
	Instructions string `yaml:"instructions,omitempty" json:"instructions,omitempty"`
	Overlap      int    `yaml:"overlap,omitempty" json:"overlap"`
	LeaseMinutes int    `yaml:"lease_minutes,omitempty" json:"lease_minutes"`
	// Order is the queue's order: sequential, random, uncertainty or
	// disagreement.
	Order       string            `yaml:"order,omitempty" json:"order"`
	Predictions *PredictionConfig `yaml:"predictions,omitempty" json:"predictions,omitempty"`
	Review      *ReviewConfig     `yaml:"review,omitempty" json:"review,omitempty"`
	Blocks      []Block           `yaml:"blocks" json:"blocks"`

	iface  *Interface
	source []byte
}

// Interface returns the compiled block tree.
func (c *Config) Interface() *Interface { return c.iface }

// Source returns the config as it should be stored: as written when it
// includes no file, and otherwise with every include replaced by the
// blocks it names, so that the stored config never depends on files that
// may change or vanish.
func (c *Config) Source() []byte { return c.source }

// Source is a config to parse: its name (used in error messages, e.g. the
// file name), its text, and how to read the files it includes.
type Source struct {
	Name string
	Data []byte
	// Include returns the contents of an included file, named as written
	// in the config. nil means includes are not available.
	Include func(name string) ([]byte, error)
}

// ConfigError is one problem in a config: where it is and what is wrong.
type ConfigError struct {
	File    string
	Line    int
	Column  int
	Field   string
	Message string
}

// String renders the error as FILE:LINE:COL: FIELD: MESSAGE.
func (e *ConfigError) String() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		fmt.Fprintf(&b, "%s: ", e.Field)
	}
	b.WriteString(e.Message)
	return b.String()
}

// ConfigErrors is every problem found in a config. It is the error that
// Parse returns, wrapped in an EINVALID *loupe.Error.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

// ParseConfig parses a config given as text, with no includes; errors name
// it "config".
func ParseConfig(data []byte) (*Config, error) {
	return Parse(Source{Name: "config", Data: data})
}

// Parse parses a project config written in YAML (or JSON, which YAML reads
// too), expands its includes, validates it, and compiles its interface.
// Every problem found is reported, one a line, as FILE:LINE:COL: FIELD:
// MESSAGE, in an EINVALID error (ETOOLARGE for an oversized config).
func Parse(src Source) (*Config, error) {
	if src.Name == "" {
		src.Name = "config"
	}
	if len(src.Data) > MaxConfigBytes {
		return nil, loupe.Errorf(loupe.ETOOLARGE, "%s: config is larger than %d bytes", src.Name, MaxConfigBytes)
	}
	data := bytes.TrimPrefix(src.Data, []byte("\xef\xbb\xbf"))
	p := &parser{include: src.Include, origin: map[*yaml.Node]string{}}
	root, err := p.load(src.Name, data)
	if err != nil {
		return nil, configErrors(p.errs)
	}
	expanded := p.expand(root, src.Name, []string{src.Name})
	cfg := &Config{source: data}
	base := &Base{File: src.Name, Line: root.Line, Column: root.Column}
	p.decode(root, cfg, base, "", 0)
	if root.Kind == yaml.MappingNode {
		p.checkSettings(cfg, base)
		cfg.iface = p.compile(cfg.Blocks, base)
		p.checkPredictions(cfg, base, !base.failed["predictions"])
		if !base.failed["review"] {
			p.checkReview(cfg, base)
		}
	}
	if len(p.errs) > 0 {
		return nil, configErrors(p.errs)
	}
	if expanded {
		out, err := yaml.Marshal(root)
		if err != nil {
			return nil, fmt.Errorf("%s: write the expanded config: %w", src.Name, err)
		}
		cfg.source = out
	}
	return cfg, nil
}

// load parses one file's YAML into its root node.
func (p *parser) load(name string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.errs = append(p.errs, yamlSyntaxError(name, err))
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errs = append(p.errs, &ConfigError{File: name, Line: 1, Column: 1, Message: "the file is empty"})
		return nil, fmt.Errorf("empty")
	}
	root := doc.Content[0]
	p.mark(root, name)
	return root, nil
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
	if !c.Has("overlap") || base.failed["overlap"] {
		cfg.Overlap = 1
	} else if cfg.Overlap < 1 || cfg.Overlap > MaxOverlap {
		c.Errorf("overlap", "overlap must be between 1 and %d, got %d", MaxOverlap, cfg.Overlap)
	}
	if !c.Has("lease_minutes") || base.failed["lease_minutes"] {
		cfg.LeaseMinutes = DefaultLease
	} else if cfg.LeaseMinutes < 1 || cfg.LeaseMinutes > MaxLease {
		c.Errorf("lease_minutes", "lease_minutes must be between 1 and %d, got %d", MaxLease, cfg.LeaseMinutes)
	}
	if !c.Has("blocks") {
		c.Errorf("blocks", "a list of blocks is required")
	}
}

// configErrors sorts the problems by place (files in the order they were
// first met) and wraps them in an EINVALID error.
func configErrors(errs []*ConfigError) error {
	order := map[string]int{}
	for _, e := range errs {
		if _, ok := order[e.File]; !ok {
			order[e.File] = len(order)
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.File != b.File {
			return order[a.File] < order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return &loupe.Error{Code: loupe.EINVALID, Field: errs[0].Field, Message: ConfigErrors(errs).Error()}
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// yamlSyntaxError turns a YAML parser error into a ConfigError with its line.
func yamlSyntaxError(file string, err error) *ConfigError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &ConfigError{File: file, Message: msg}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		fmt.Sscanf(m[1], "%d", &e.Line)
		msg = strings.TrimSpace(yamlLineRE.ReplaceAllString(msg, ""))
		e.Message = strings.TrimPrefix(msg, ": ")
	}
	return e
}

// Checker collects config problems of one block, each tied to the line and
// column of the field at fault.
type Checker struct {
	p     *parser
	block *Base
}

// Errorf records a problem with the block's field (or with the block itself
// when field is "").
func (c *Checker) Errorf(field, format string, args ...any) {
	at := pos{file: c.block.File, line: c.block.Line, col: c.block.Column}
	if k, ok := c.block.keys[field]; ok {
		at = k
	}
	path := c.block.Path
	if field != "" {
		path = joinPath(path, field)
	}
	c.p.errs = append(c.p.errs, &ConfigError{File: at.file, Line: at.line, Column: at.col, Field: path, Message: fmt.Sprintf(format, args...)})
}

// ErrorAt records a problem at a given line and column of the block's file,
// for fields nested deeper than the block's own keys.
func (c *Checker) ErrorAt(line, col int, field, format string, args ...any) {
	if line == 0 {
		c.Errorf(field, format, args...)
		return
	}
	c.p.errs = append(c.p.errs, &ConfigError{File: c.block.File, Line: line, Column: col, Field: joinPath(c.block.Path, field), Message: fmt.Sprintf(format, args...)})
}

// Has reports whether the block's config set field.
func (c *Checker) Has(field string) bool {
	_, ok := c.block.keys[field]
	return ok
}
