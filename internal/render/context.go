package render

import (
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

// Context turns env (KEY=VALUE entries) into the mustache context: every
// variable by name, "false" values made falsy. Later duplicates win, as in
// os.Getenv on a duplicated environment.
func Context(env []string) map[string]any {
	ctx := make(map[string]any, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if isFalse(v) {
			ctx[k] = newFalsy(v)
		} else {
			ctx[k] = v
		}
	}
	return ctx
}

// truthy mirrors mustache's section rule for a context built by Context:
// missing, blank and "false" values are false.
func truthy(ctx map[string]any, name string) bool {
	v, ok := ctx[name]
	if !ok {
		return false
	}
	s, ok := v.(string)
	return ok && strings.TrimSpace(s) != ""
}

// Missing lists the variables a parsed template would print that ctx (built
// by Context) lacks, in the order they appear, following sections the way
// rendering does: a variable inside a section that does not render is not
// missing. A variable that the template also names as an inverted section —
// the default idiom {{X}}{{^X}}default{{/X}} — is optional, not missing.
func Missing(tmpl *mustache.Template, ctx map[string]any) []string {
	optional := map[string]bool{}
	var inverted func([]mustache.Tag)
	inverted = func(tags []mustache.Tag) {
		for _, t := range tags {
			switch t.Type() {
			case mustache.InvertedSection:
				optional[t.Name()] = true
				inverted(t.Tags())
			case mustache.Section:
				inverted(t.Tags())
			}
		}
	}
	inverted(tmpl.Tags())

	var out []string
	seen := map[string]bool{}
	var walk func([]mustache.Tag)
	walk = func(tags []mustache.Tag) {
		for _, t := range tags {
			switch t.Type() {
			case mustache.Variable:
				name := t.Name()
				if _, ok := ctx[name]; !ok && name != "." && !seen[name] && !optional[name] {
					seen[name] = true
					out = append(out, name)
				}
			case mustache.Section:
				if truthy(ctx, t.Name()) {
					walk(t.Tags())
				}
			case mustache.InvertedSection:
				if !truthy(ctx, t.Name()) {
					walk(t.Tags())
				}
			}
		}
	}
	walk(tmpl.Tags())
	return out
}
