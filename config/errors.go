package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a configuration, e.g.
//
//	peakend.yaml:14: detectors[late_delivery].minor: must be less than major (72 < 24)
//
// File and Line are set when the configuration came from a file (Line is 0
// when the field is missing and no enclosing field is in the file either);
// Field is the path of the field in YAML terms ("" for syntax errors). A
// detector is named by its name, "detectors[late_delivery]", when that name
// is valid and no other detector has it; otherwise by its index in the list,
// "detectors[3]", as every other list item is.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is several problems in a configuration, printed one per line.
// errors.As(err, &e) with e of type *Error finds the first.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives each *Error to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// err returns nil for no problems, the *Error itself for one, and es for several.
func (es Errors) err() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	return es
}

// sortByLine orders problems as they appear in the file; problems without
// a line come first, and problems on the same line keep their order.
func (es Errors) sortByLine() {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// nameEntries rewrites each problem's field "<section>[i]…" as
// "<section>[name]…" for the entries that entryRef names by name (a
// detector, a hotspot rule): names[i] is entry i's name.
func (es Errors) nameEntries(section string, names []string) {
	for _, e := range es {
		rest, ok := strings.CutPrefix(e.Field, section+"[")
		if !ok {
			continue
		}
		index, tail, ok := strings.Cut(rest, "]")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(index)
		if err != nil || i < 0 || i >= len(names) {
			continue
		}
		e.Field = entryRef(section, names, i) + tail
	}
}

// nameAll names the detectors and hotspot rules of c in es's fields.
func (es Errors) nameAll(c *Config) {
	ds := make([]string, len(c.Detectors))
	for i := range c.Detectors {
		ds[i] = c.Detectors[i].Name
	}
	hs := make([]string, len(c.Hotspots))
	for i := range c.Hotspots {
		hs[i] = c.Hotspots[i].Name
	}
	es.nameEntries("detectors", ds)
	es.nameEntries("hotspots", hs)
}

// entryRef is how messages name entry i of a section:
// "detectors[late_delivery]" when its name is valid and unique among
// names, else "detectors[3]" (no name, an invalid one, or one that two
// entries share).
func entryRef(section string, names []string, i int) string {
	name := names[i]
	if !detectorName.MatchString(name) {
		return fmt.Sprintf("%s[%d]", section, i)
	}
	for j := range names {
		if j != i && names[j] == name {
			return fmt.Sprintf("%s[%d]", section, i)
		}
	}
	return section + "[" + name + "]"
}

// List returns the problems in err: the elements of an Errors, a single
// *Error, or nil if err holds neither.
func List(err error) []*Error {
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var e *Error
	if errors.As(err, &e) {
		return []*Error{e}
	}
	return nil
}
