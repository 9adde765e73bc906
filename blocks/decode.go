package blocks

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/loupehq/loupe"
	"go.yaml.in/yaml/v3"
)

// parser walks a YAML node tree into typed blocks, collecting every problem
// with its place instead of stopping at the first.
type parser struct {
	errs     []*ConfigError
	blocks   int
	includes int
	include  func(string) ([]byte, error)
	origin   map[*yaml.Node]string // the file each node came from
}

// at returns where a node stands.
func (p *parser) at(n *yaml.Node) pos {
	return pos{file: p.origin[n], line: n.Line, col: n.Column}
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	at := p.at(n)
	p.errs = append(p.errs, &ConfigError{File: at.file, Line: at.line, Column: at.col, Field: field, Message: fmt.Sprintf(format, args...)})
}

// mark records that every node of the tree under n came from file.
func (p *parser) mark(n *yaml.Node, file string) {
	p.origin[n] = file
	for _, c := range n.Content {
		p.mark(c, file)
	}
}

// expand replaces, in every list of blocks under n, each entry
// {include: FILE} by the blocks FILE holds (a list of blocks, or a mapping
// with blocks:), recursively. stack holds the files being expanded, to
// report cycles. It reports whether anything was included.
func (p *parser) expand(n *yaml.Node, file string, stack []string) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	did := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value != "blocks" || v.Kind != yaml.SequenceNode {
			did = p.expand(v, file, stack) || did
			continue
		}
		var out []*yaml.Node
		for _, entry := range v.Content {
			name, ok := includeOf(entry)
			if !ok {
				did = p.expand(entry, file, stack) || did
				out = append(out, entry)
				continue
			}
			did = true
			out = append(out, p.includeFile(entry, name, stack)...)
		}
		v.Content = out
	}
	return did
}

// includeOf reports whether a list entry is {include: NAME}.
func includeOf(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 || n.Content[0].Value != "include" {
		return "", false
	}
	return n.Content[1].Value, true
}

// includeFile loads an included file and returns its block nodes, already
// expanded. Problems are reported at the include entry.
func (p *parser) includeFile(at *yaml.Node, name string, stack []string) []*yaml.Node {
	field := "include"
	switch {
	case p.include == nil:
		p.errorf(at, field, "includes are not available here; paste the blocks in, or create the project with the CLI next to %q", name)
		return nil
	case name == "":
		p.errorf(at, field, "include needs a file name")
		return nil
	case p.includes >= MaxIncludes:
		p.errorf(at, field, "a config may include at most %d files", MaxIncludes)
		return nil
	}
	for _, f := range stack {
		if f == name {
			p.errorf(at, field, "include cycle: %s → %s", strings.Join(stack, " → "), name)
			return nil
		}
	}
	p.includes++
	data, err := p.include(name)
	if err != nil {
		p.errorf(at, field, "cannot include %q: %v", name, err)
		return nil
	}
	root, err := p.load(name, data)
	if err != nil {
		return nil
	}
	list := root
	if root.Kind == yaml.MappingNode {
		list = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "blocks" {
				list = root.Content[i+1]
			} else {
				p.errorf(root.Content[i], root.Content[i].Value, "an included file holds a list of blocks, or a mapping with only blocks:")
			}
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		p.errorf(root, "", "an included file holds a list of blocks, or a mapping with blocks:")
		return nil
	}
	wrapper := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "blocks"}, list}}
	p.expand(wrapper, name, append(stack, name))
	return list.Content
}

var blockListType = reflect.TypeOf([]Block(nil))

// decode fills the struct that target points to from a YAML mapping. Each key
// must name a field of the struct (by its yaml tag); each value is decoded on
// its own, so that a wrong value is reported at its line and field.
func (p *parser) decode(node *yaml.Node, target any, base *Base, path string, depth int) {
	node = resolve(node)
	if node.Kind != yaml.MappingNode {
		p.errorf(node, path, "expected a mapping of fields, got %s", describeNode(node))
		return
	}
	fields := map[string]reflect.Value{}
	yamlFields(reflect.ValueOf(target).Elem(), fields)
	base.keys = map[string]pos{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := resolve(node.Content[i]), node.Content[i+1]
		key := k.Value
		field := joinPath(path, key)
		if first, dup := base.keys[key]; dup {
			p.errorf(k, field, "field is given twice (first at line %d)", first.line)
			continue
		}
		base.keys[key] = p.at(k)
		f, ok := fields[key]
		switch {
		case !ok && key == "include":
			p.errorf(k, field, "include stands alone in a list of blocks: - include: FILE")
			continue
		case !ok:
			base.fail(key)
			p.errorf(k, field, "unknown field%s; known fields: %s", suggest(key, fields), strings.Join(sortedKeys(fields), ", "))
			continue
		case f.Type() == blockListType:
			f.Set(reflect.ValueOf(p.parseBlocks(v, field, depth+1)))
			continue
		}
		if err := v.Decode(f.Addr().Interface()); err != nil {
			base.fail(key)
			var ne *nodeError
			if errors.As(err, &ne) {
				p.errs = append(p.errs, &ConfigError{File: p.origin[v], Line: ne.line, Column: ne.col, Field: field, Message: ne.msg})
				continue
			}
			p.errorf(v, field, "%s", decodeMessage(err, f.Type(), v))
		}
	}
}

func (b *Base) fail(field string) {
	if b.failed == nil {
		b.failed = map[string]bool{}
	}
	b.failed[field] = true
}

// nodeError is an error that a field's UnmarshalYAML found at a place
// inside the field's value (for example one option of a list).
type nodeError struct {
	line, col int
	msg       string
}

func (e *nodeError) Error() string { return e.msg }

func (p *parser) parseBlocks(node *yaml.Node, path string, depth int) []Block {
	node = resolve(node)
	if depth > MaxDepth {
		p.errorf(node, path, "blocks are nested more than %d deep", MaxDepth)
		return nil
	}
	if node.Kind != yaml.SequenceNode {
		p.errorf(node, path, "expected a list of blocks, got %s", describeNode(node))
		return nil
	}
	out := make([]Block, 0, len(node.Content))
	for i, n := range node.Content {
		if b := p.parseBlock(n, fmt.Sprintf("%s[%d]", path, i), depth); b != nil {
			out = append(out, b)
		}
	}
	return out
}

func (p *parser) parseBlock(node *yaml.Node, path string, depth int) Block {
	node = resolve(node)
	p.blocks++
	if p.blocks == MaxBlocks+1 {
		p.errorf(node, path, "a config may hold at most %d blocks", MaxBlocks)
	}
	if node.Kind != yaml.MappingNode {
		p.errorf(node, path, "expected a block (a mapping with a type), got %s", describeNode(node))
		return nil
	}
	var typeNode *yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "type" {
			typeNode = resolve(node.Content[i+1])
		}
	}
	if typeNode == nil {
		p.errorf(node, joinPath(path, "type"), "a block needs a type; known types: %s", strings.Join(kindTypes(), ", "))
		return nil
	}
	kind, ok := LookupKind(typeNode.Value)
	if !ok || typeNode.Kind != yaml.ScalarNode {
		p.errorf(typeNode, joinPath(path, "type"), "unknown block type %q%s; known types: %s", typeNode.Value, suggest(typeNode.Value, kinds), strings.Join(kindTypes(), ", "))
		return nil
	}
	b := kind.New()
	base := b.Common()
	at := p.at(node)
	base.Path, base.File, base.Line, base.Column = path, at.file, at.line, at.col
	p.decode(node, b, base, path, depth)
	return b
}

// resolve follows YAML aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the yaml keys of a struct (and of the structs it embeds
// inline) to its settable fields.
func yamlFields(v reflect.Value, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		switch {
		case name == "-":
			continue
		case sf.Anonymous && strings.Contains(opts, "inline"):
			yamlFields(v.Field(i), out)
			continue
		case !sf.IsExported():
			continue
		case name == "":
			name = strings.ToLower(sf.Name)
		}
		out[name] = v.Field(i)
	}
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

// decodeMessage says in plain words why a value could not be decoded.
func decodeMessage(err error, t reflect.Type, v *yaml.Node) string {
	var te *yaml.TypeError
	var le *loupe.Error
	if errors.As(err, &le) {
		return le.Message
	}
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got %s", describeType(t), describeNode(resolve(v)))
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggest returns ` (did you mean "x"?)` for the known key closest to key,
// when one is close enough to be a likely typo.
func suggest[V any](key string, known map[string]V) string {
	best, bestD := "", 3
	for _, k := range sortedKeys(known) {
		if d := editDistance(strings.ToLower(key), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance counts the insertions, deletions, substitutions and swaps of
// neighbouring letters that turn a into b (optimal string alignment).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// strictKeys checks, before a field's custom UnmarshalYAML decodes it, that
// every mapping key under n names a field of the struct v points to (by
// yaml tag, following nested structs and lists of structs), so that a typo
// is an error at its place instead of a silent default.
func strictKeys(n *yaml.Node, v any) error {
	return strictType(resolve(n), reflect.TypeOf(v).Elem())
}

func strictType(n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			if name != "" && name != "-" && sf.IsExported() {
				fields[name] = sf.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				return &nodeError{k.Line, k.Column, fmt.Sprintf("unknown field %q%s; known fields: %s", k.Value, suggest(k.Value, fields), strings.Join(sortedKeys(fields), ", "))}
			}
			if err := strictType(resolve(n.Content[i+1]), ft); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, el := range n.Content {
			if err := strictType(resolve(el), t.Elem()); err != nil {
				return err
			}
		}
	}
	return nil
}
