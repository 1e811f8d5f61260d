package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a svc.yml: the dotted path of the field
// (pods.hello.tasks.server.cpus; list items as steps[0]), the line of the
// rendered svc.yml it is on (0 when it has none), what is wrong, and the
// check that found it (a validator's name, or "decode" for the decoding).
// A Warning does not make the file invalid: it reports what the SDK accepts
// but ignores.
type Problem struct {
	Path    string
	Line    int
	Msg     string
	Rule    string
	Warning bool

	// absent marks a required field's absence: unlike a value that could
	// not be decoded, it hides nothing from the later checks.
	absent bool
}

func (p *Problem) Error() string {
	var b strings.Builder
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	if p.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Msg)
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	return b.String()
}

// Problems is every problem found in one svc.yml, in line order. As an error
// it reads "N problems:" and then one indented problem per line (a single
// problem reads as itself).
type Problems []*Problem

func (ps Problems) Error() string {
	if len(ps) == 1 {
		return ps[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(ps))
	for _, p := range ps {
		b.WriteString("\n  " + p.Error())
	}
	return b.String()
}

// add appends a problem at path.
func (ps *Problems) add(path, format string, args ...any) {
	*ps = append(*ps, &Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// warn appends a warning at path.
func (ps *Problems) warn(path, format string, args ...any) {
	*ps = append(*ps, &Problem{Path: path, Msg: fmt.Sprintf(format, args...), Warning: true})
}

// split returns the errors and the warnings, each in line order (then path
// order, for problems on the same line or without one).
func (ps Problems) split() (errs, warnings Problems) {
	ps = slices.Clone(ps)
	slices.SortStableFunc(ps, func(a, b *Problem) int {
		if c := cmp.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
	for _, p := range ps {
		if p.Warning {
			warnings = append(warnings, p)
		} else {
			errs = append(errs, p)
		}
	}
	return errs, warnings
}
