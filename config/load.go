package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes, completes (ApplyDefaults) and validates the
// configuration file at path. Problems come back as an *Error, or as Errors
// when there are several, each naming file, line and field.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for configuration text already in memory; file names it in
// errors. Unknown fields and values of the wrong type are errors.
// Environment variables named by url_env and secret_env are read with os.Getenv.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, os.Getenv)
}

func parse(file string, data []byte, getenv func(string) string) (*Config, error) {
	d := &decoder{file: file, lines: map[string]int{}}
	cfg := &Config{}
	if !d.decodeFile(data, cfg) {
		d.errs.nameAll(cfg)
		return nil, d.errs.err()
	}

	cfg.ApplyDefaults()
	cfg.File = file
	v := &validator{getenv: getenv, present: d.present}
	v.config(cfg)
	for _, e := range v.errs {
		if d.overlapsTypeError(e.Field) {
			continue // a consequence of a value we could not decode, already reported
		}
		e.File, e.Line = file, d.lineOf(e.Field)
		d.errs = append(d.errs, e)
	}
	if len(d.errs) > 0 {
		d.errs.nameAll(cfg)
		d.errs.sortByLine()
		return nil, d.errs.err()
	}
	return cfg, nil
}

// decoder decodes a yaml.Node tree into Go values field by field, so that
// every problem is reported with its line and field path, and the rest of
// the file is still decoded.
type decoder struct {
	file       string
	errs       Errors
	lines      map[string]int // field path -> line of its key (or list item)
	typeErrors []string       // field paths whose value could not be decoded
	visits     int            // nodes decoded, against alias bombs
	fields     map[reflect.Type]map[string]int
}

// maxVisits bounds the work of decoding a document whose aliases expand
// enormously; a real configuration has a few hundred nodes.
const maxVisits = 100_000

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeFile decodes data into cfg; it returns false if data is not a
// YAML mapping (or one too complex to decode), which leaves nothing worth
// validating.
func (d *decoder) decodeFile(data []byte, cfg *Config) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return true // empty file: all defaults
		}
		d.errs = append(d.errs, d.syntaxError(err))
		return false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			d.errs = append(d.errs, d.syntaxError(err))
		} else {
			d.errs = append(d.errs, &Error{File: d.file, Line: extra.Line,
				Msg: "only one YAML document is allowed (remove the second ---)"})
		}
		return false
	}
	if len(doc.Content) == 0 {
		return true
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		return true
	}
	if root.Kind != yaml.MappingNode {
		d.errs = append(d.errs, &Error{File: d.file, Line: root.Line,
			Msg: "expected a mapping of settings (kafka:, detectors:, ...), got " + describe(root)})
		return false
	}
	d.decode(root, reflect.ValueOf(cfg).Elem(), "")
	return d.visits <= maxVisits
}

// syntaxError turns a yaml parse error ("yaml: line 3: did not find ...")
// into an *Error with the line.
func (d *decoder) syntaxError(err error) *Error {
	msg := err.Error()
	if m := yamlLineError.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: d.file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{File: d.file, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

func (d *decoder) fail(n *yaml.Node, path, msg string) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Field: path, Msg: msg})
}

func (d *decoder) typeError(n *yaml.Node, path, msg string) {
	d.typeErrors = append(d.typeErrors, path)
	d.fail(n, path, msg)
}

// tooComplex counts a node decoded and reports whether the document has
// exceeded maxVisits (aliases and merge keys can expand it exponentially).
func (d *decoder) tooComplex(n *yaml.Node, path string) bool {
	d.visits++
	if d.visits == maxVisits+1 {
		d.errs = Errors{{File: d.file, Line: n.Line, Field: path, Msg: "document too complex (excessive aliasing)"}}
	}
	return d.visits > maxVisits
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// decode sets v from n; path is v's field path ("detectors[2].start").
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.tooComplex(n, path) {
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		v.SetZero() // "key:" with no value: keep the default
		return
	}
	if v.Kind() == reflect.Pointer {
		elem := reflect.New(v.Type().Elem())
		d.decode(n, elem.Elem(), path)
		v.Set(elem)
		return
	}
	if v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.typeError(n, path, err.Error())
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	default:
		if !decodeScalar(n, v) {
			d.typeError(n, path, fmt.Sprintf("expected %s, got %s", wantKind(v.Type()), describe(n)))
		}
	}
}

// decodeScalar sets a string, bool, number or whole number from n; unlike
// yaml, it does not truncate 2.5 to make a whole number.
func decodeScalar(n *yaml.Node, v reflect.Value) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var x any
		if n.Decode(&x) != nil {
			return false
		}
		switch x := x.(type) {
		case int:
			if v.OverflowInt(int64(x)) {
				return false
			}
			v.SetInt(int64(x))
			return true
		case float64: // 1e3 or 50.0
			if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 || v.OverflowInt(int64(x)) {
				return false
			}
			v.SetInt(int64(x))
			return true
		}
		return false
	}
	return n.Decode(v.Addr().Interface()) == nil
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if d.tooComplex(n, path) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.typeError(n, path, "expected a mapping (key: value), got "+describe(n))
		return
	}
	// Merged mappings ("<<: *defaults") first: the mapping's own fields override them.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			d.merge(n.Content[i+1], v, path)
		}
	}
	fields := d.yamlFields(v.Type())
	seen := map[string]int{} // key -> line
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if isMerge(key) {
			continue
		}
		if key.Kind != yaml.ScalarNode {
			d.fail(key, path, "expected a field name, got "+describe(key))
			continue
		}
		name := key.Value
		field := join(path, name)
		if line, dup := seen[name]; dup {
			d.fail(key, field, fmt.Sprintf("set twice (first at line %d)", line))
			continue
		}
		seen[name] = key.Line
		index, ok := fields[name]
		if !ok {
			d.fail(key, field, "unknown field")
			continue
		}
		d.lines[field] = key.Line
		d.decode(val, v.Field(index), field)
	}
}

func isMerge(key *yaml.Node) bool {
	return key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge"
}

// merge applies a YAML merge key ("<<: *defaults"): the merged mappings'
// fields, which the mapping's own fields then override.
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode {
		for _, item := range n.Content {
			d.merge(item, v, path)
		}
		return
	}
	d.decodeStruct(n, v, path)
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && v.Type().Elem().Kind() == reflect.String {
		// "outcome: failed" means [failed].
		v.Set(reflect.ValueOf([]string{n.Value}).Convert(v.Type()))
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, path, "expected a list, got "+describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		field := fmt.Sprintf("%s[%d]", path, i)
		d.lines[field] = item.Line
		d.decode(item, s.Index(i), field)
	}
	v.Set(s)
}

// present reports whether the file sets the field at path.
func (d *decoder) present(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// lineOf is the line of the field at path or, if the file does not set it,
// of the nearest enclosing field that it does set.
func (d *decoder) lineOf(path string) int {
	for p := path; p != ""; p = parent(p) {
		if line, ok := d.lines[p]; ok {
			return line
		}
	}
	return 0
}

// overlapsTypeError reports whether path is, contains or is inside a field
// whose value could not be decoded.
func (d *decoder) overlapsTypeError(path string) bool {
	for _, bad := range d.typeErrors {
		if within(path, bad) || within(bad, path) {
			return true
		}
	}
	return false
}

// within reports whether path is p or a field inside it.
func within(path, p string) bool {
	if !strings.HasPrefix(path, p) {
		return false
	}
	rest := path[len(p):]
	return p == "" || rest == "" || rest[0] == '.' || rest[0] == '['
}

// parent strips the last element of a field path: "a.b[2]" -> "a.b" -> "a" -> "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// yamlFields maps the yaml field names of struct type t to field indexes.
func (d *decoder) yamlFields(t reflect.Type) map[string]int {
	if fields, ok := d.fields[t]; ok {
		return fields
	}
	fields := map[string]int{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	if d.fields == nil {
		d.fields = map[reflect.Type]map[string]int{}
	}
	d.fields[t] = fields
	return fields
}

func wantKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

// describe names a node's value for messages: a quoted scalar, "a list" or "a mapping".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return describe(n.Alias)
	}
	if r := []rune(n.Value); len(r) > 40 {
		return strconv.Quote(string(r[:37]) + "...")
	}
	return strconv.Quote(n.Value)
}
