package universe

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// Schema is the subset of JSON Schema (draft 4) that Universe packages use
// in config.json: type, properties, required, additionalProperties, default,
// enum, minimum/maximum, minLength and pattern. Other keywords are accepted
// and ignored, as Cosmos's validator would not make an install fail on them.
type Schema struct {
	Type                 string             `json:"type"`
	Description          string             `json:"description"`
	Default              any                `json:"default"`
	Properties           map[string]*Schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Enum                 []any              `json:"enum"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	MinLength            *int               `json:"minLength"`
	Pattern              string             `json:"pattern"`
	Items                *Schema            `json:"items"`
}

// check reports the schema's own problems: a leaf without a default, a
// default of the wrong type, a required name that is not a property, a bad
// pattern. path names the property ("" for the root).
func (s *Schema) check(path string) error {
	var errs *multierror.Error
	at := func(format string, a ...any) {
		errs = multierror.Append(errs, fmt.Errorf("config.json: %s: %s", orRoot(path), fmt.Sprintf(format, a...)))
	}
	switch s.Type {
	case "object":
		if len(s.Properties) == 0 {
			at("an object without properties")
		}
		for _, r := range s.Required {
			if _, ok := s.Properties[r]; !ok {
				at("required %q is not a property", r)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
			if err := s.Properties[k].check(join(path, k)); err != nil {
				errs = multierror.Append(errs, err)
			}
		}
	case "string", "integer", "number", "boolean", "array":
		if s.Default == nil {
			at("no default (every property needs one, so that an install works without options)")
		} else if err := s.validate(path, s.Default); err != nil {
			at("the default does not fit the property: %v", err)
		}
	default:
		at("type %q: want object, string, integer, number, boolean or array", s.Type)
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err != nil {
			at("pattern: %v", err)
		}
	}
	return errs.ErrorOrNil()
}

// defaults returns the value the schema gives when no option is set: for an
// object, its properties' defaults.
func (s *Schema) defaults() any {
	if s.Type != "object" {
		return s.Default
	}
	m := map[string]any{}
	for k, p := range s.Properties {
		if v := p.defaults(); v != nil {
			m[k] = v
		}
	}
	return m
}

// validate checks v against the schema; every problem is reported, each
// naming its option path. A partial value (the user's options, before the
// defaults are merged in) may lack required properties.
func (s *Schema) validate(path string, v any) error { return s.validateIn(path, v, false) }

func (s *Schema) validateIn(path string, v any, partial bool) error {
	var errs *multierror.Error
	at := func(format string, a ...any) {
		errs = multierror.Append(errs, fmt.Errorf("%s: %s", orRoot(path), fmt.Sprintf(format, a...)))
	}
	if !s.typeOK(v) {
		at("want %s, got %s", s.Type, jsonType(v))
		return errs.ErrorOrNil()
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok && !partial {
				at("required property %q is missing", r)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			p, ok := s.Properties[k]
			if !ok {
				if s.AdditionalProperties != nil && !*s.AdditionalProperties {
					at("unknown property %q (config.json has %s)", k, strings.Join(slices.Sorted(maps.Keys(s.Properties)), ", "))
				}
				continue
			}
			if err := p.validateIn(join(path, k), x[k], partial); err != nil {
				errs = multierror.Append(errs, err)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if s.Minimum != nil && f < *s.Minimum {
			at("%s is below the minimum %v", x, *s.Minimum)
		}
		if s.Maximum != nil && f > *s.Maximum {
			at("%s is above the maximum %v", x, *s.Maximum)
		}
	case string:
		if s.MinLength != nil && len(x) < *s.MinLength {
			at("%q is shorter than %d", x, *s.MinLength)
		}
		if s.Pattern != "" {
			if re, err := regexp.Compile(s.Pattern); err == nil && !re.MatchString(x) {
				at("%q does not match %s", x, s.Pattern)
			}
		}
	case []any:
		if s.Items != nil {
			for i, e := range x {
				if err := s.Items.validateIn(fmt.Sprintf("%s[%d]", path, i), e, partial); err != nil {
					errs = multierror.Append(errs, err)
				}
			}
		}
	}
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		at("%v is not one of %v", v, s.Enum)
	}
	return errs.ErrorOrNil()
}

func (s *Schema) typeOK(v any) bool {
	switch s.Type {
	case "":
		return true
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	}
	return false
}

// jsonType names v's JSON type (a number with a fraction is "number").
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// merge returns base with over laid on it: objects merge key by key, any
// other value in over replaces base's.
func merge(base, over any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		if over == nil {
			return base
		}
		return over
	}
	out := maps.Clone(bm)
	for k, v := range om {
		out[k] = merge(bm[k], v)
	}
	return out
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}
