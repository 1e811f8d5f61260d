package render

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cbroglie/mustache"
)

// falsy is how a "false" value enters the mustache context: a zero-length
// slice is empty to mustache (so {{#X}} skips and {{^X}} renders), while its
// capacity still holds the original text, which String prints for {{X}}. This
// keeps the SDK's rule that "false" (any case) is false in sections but
// renders as itself.
type falsy []byte

func newFalsy(s string) falsy { return falsy([]byte(s)[:0:len(s)]) }

func (f falsy) String() string { return string(f[:cap(f)]) }

// isFalse reports whether an environment value counts as false in sections.
func isFalse(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "false") }

// envValue is an environment value as the mustache context holds it.
func envValue(v string) any {
	if isFalse(v) {
		return newFalsy(v)
	}
	return v
}

// ownValue is the key under which a node keeps the value of the environment
// variable named by its own path; no mustache tag can name it.
const ownValue = "\x00"

// node is a name that prefixes dotted environment keys. The environment is
// flat, but mustache reads {{catalina.home}} as "home" inside "catalina", so
// catalina.home=/opt/tomcat enters the context as a node "catalina" holding
// "home". A node prints its own variable's value (catalina=... when that is
// set too, else nothing) and, being a map, is true in sections.
type node map[string]any

// String is what {{catalina}} prints: the variable's own value, if any.
func (n node) String() string {
	if v, ok := n[ownValue]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// Context turns env (KEY=VALUE entries) into the mustache context: every
// variable by name, "false" values made falsy, dotted names split into nodes
// so that {{a.b}} finds the variable a.b. Later duplicates win, as in
// os.Getenv on a duplicated environment.
func Context(env []string) map[string]any {
	ctx := make(map[string]any, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if !strings.Contains(k, ".") || k == "." {
			if n, isNode := ctx[k].(node); isNode {
				n[ownValue] = envValue(v)
			} else {
				ctx[k] = envValue(v)
			}
			continue
		}
		setPath(ctx, strings.Split(k, "."), envValue(v))
	}
	return ctx
}

// setPath stores v at path, turning values met on the way into nodes that
// keep them as their own value.
func setPath(m map[string]any, path []string, v any) {
	for _, seg := range path[:len(path)-1] {
		next, ok := m[seg].(node)
		if !ok {
			next = node{}
			if old, had := m[seg]; had {
				next[ownValue] = old
			}
			m[seg] = next
		}
		m = next
	}
	last := path[len(path)-1]
	if n, isNode := m[last].(node); isNode {
		n[ownValue] = v
	} else {
		m[last] = v
	}
}

// missRecorder collects the names whose lookup failed while a template
// rendered, in the order they were printed, each once.
type missRecorder struct {
	names []string
}

func (r *missRecorder) record(name string) {
	if !slices.Contains(r.names, name) {
		r.names = append(r.names, name)
	}
}

// miss stands in the context for a name the environment lacks. Like falsy,
// it is an empty slice (false in sections, no children) whose capacity holds
// what it needs: when the renderer prints it, String records the name and
// prints nothing, exactly what a missing name prints. So the misses are what
// the renderer itself looked up and did not find.
type miss []missInfo

type missInfo struct {
	name string
	rec  *missRecorder
}

func newMiss(name string, rec *missRecorder) miss {
	m := make(miss, 1)
	m[0] = missInfo{name, rec}
	return m[:0]
}

// String records the miss and prints nothing.
func (m miss) String() string {
	info := m[:1][0]
	info.rec.record(info.name)
	return ""
}

// tagNames lists a parsed template's tag names: variables, sections and
// inverted sections (partials are followed by the caller).
type tagNames struct {
	variables, sections, inverted []string
	partials                      []string
	firstSegments                 map[string]bool
}

func (tn *tagNames) walk(tags []mustache.Tag) {
	if tn.firstSegments == nil {
		tn.firstSegments = map[string]bool{}
	}
	for _, t := range tags {
		name := t.Name()
		first, _, _ := strings.Cut(name, ".")
		switch t.Type() {
		case mustache.Variable:
			tn.variables = append(tn.variables, name)
			tn.firstSegments[first] = true
		case mustache.Section:
			tn.sections = append(tn.sections, name)
			tn.firstSegments[first] = true
			tn.walk(t.Tags())
		case mustache.InvertedSection:
			tn.sections = append(tn.sections, name)
			tn.inverted = append(tn.inverted, name)
			tn.firstSegments[first] = true
			tn.walk(t.Tags())
		case mustache.Partial:
			tn.partials = append(tn.partials, name)
		}
	}
}

// recordingContext returns ctx (built by Context, and changed in place)
// with a miss standing in for every variable the template names that ctx
// lacks, so that rendering records the misses it prints. A miss is only put
// where it cannot change what the template renders: where nothing but the
// lookup of that very variable can reach it. Concretely, a dotted name
// a.b.c gets its miss only if every prefix that is also a section name
// ({{#a}}, {{#a.b}}) is already a node or a non-false value, and the next
// segment is not the first segment of any tag (it would shadow that tag
// inside the section). Otherwise the name's miss is not recorded.
func recordingContext(ctx map[string]any, tn *tagNames, rec *missRecorder) map[string]any {
	sections := map[string]bool{}
	for _, s := range tn.sections {
		sections[s] = true
	}
	// Longer names first, so that the miss of a.b is in place before a's
	// own miss becomes the node's value.
	names := slices.Clone(tn.variables)
	slices.SortStableFunc(names, func(a, b string) int { return strings.Count(b, ".") - strings.Count(a, ".") })
	for _, name := range names {
		if name == "." {
			continue
		}
		path := []string{name}
		if strings.Contains(name, ".") {
			path = strings.Split(name, ".")
		}
		if canRecord(ctx, path, sections, tn.firstSegments) {
			setPath(ctx, path, newMiss(name, rec))
		}
	}
	return ctx
}

// canRecord reports whether a miss for path can be added without changing
// what the template renders (see recordingContext).
func canRecord(ctx map[string]any, path []string, sections, firstSegments map[string]bool) bool {
	var cur any = node(ctx)
	for i, seg := range path {
		n, ok := cur.(node)
		if !ok {
			// A value met on the way would become a node: only harmless
			// when the value is true in sections, or never a section.
			s, isString := cur.(string)
			if sections[strings.Join(path[:i], ".")] && (!isString || strings.TrimSpace(s) == "") {
				return false
			}
			n = nil
		}
		if i == len(path)-1 {
			switch v := n[seg].(type) {
			case nil:
				return true
			case node:
				// Only a prefix of other names: prints nothing, like a
				// missing name; its miss goes where its own value would.
				_, hasOwn := v[ownValue]
				return !hasOwn
			}
			return false // found
		}
		prefix := strings.Join(path[:i+1], ".")
		next, has := n[seg]
		if sections[prefix] {
			if !has {
				return false // a new node would make {{#prefix}} true
			}
			if firstSegments[path[i+1]] {
				return false // the child would shadow that tag inside {{#prefix}}
			}
		}
		if !has {
			// The rest of the path is new and not a section prefix unless
			// checked on the next turn.
			cur = node(nil)
			continue
		}
		if _, isMiss := next.(miss); isMiss {
			return false // a shorter name's miss is there; leave it be
		}
		cur = next
	}
	return true
}
