package spec

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Constraint is one placement rule: Field is "hostname", "@zone", "@region"
// or an agent attribute; Op is UNIQUE, MAX_PER, GROUP_BY, CLUSTER, IS,
// IS_NOT, LIKE or UNLIKE; Value its argument.
type Constraint struct {
	Field, Op, Value string
	// Regexp is Value compiled for LIKE and UNLIKE (anchored).
	Regexp *regexp.Regexp
	// N is Value as a number for MAX_PER and GROUP_BY.
	N int
}

// ParsePlacement parses a Marathon constraint string as the SDK's
// MarathonConstraintParser does: the JSON forms ["field","OP","value"] and
// [["field","OP","value"],...], or "field:OP[:value]" rows separated by
// commas, where a backslash escapes a comma or colon. Operators are
// case-insensitive; "" and "[]" mean no constraint.
func ParsePlacement(s string) ([]Constraint, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "[]" {
		return nil, nil
	}
	var items [][]string
	if strings.HasPrefix(s, "[") {
		var err error
		if items, err = jsonRows(s); err != nil {
			return nil, err
		}
	} else {
		for _, row := range escapedSplit(s, ',') {
			items = append(items, escapedSplit(row, ':'))
		}
	}
	var out []Constraint
	for _, it := range items {
		if len(it) < 2 || len(it) > 3 {
			return nil, fmt.Errorf("%q: want field:OPERATOR[:value]", strings.Join(it, ":"))
		}
		c := Constraint{Field: it[0], Op: strings.ToUpper(it[1])}
		hasValue := len(it) == 3
		if hasValue {
			c.Value = it[2]
		}
		switch c.Op {
		case "UNIQUE":
		case "MAX_PER":
			n, err := strconv.Atoi(c.Value)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%s:%s: want a number of at least 1, got %q", c.Field, c.Op, c.Value)
			}
			c.N = n
		case "GROUP_BY":
			if hasValue {
				n, err := strconv.Atoi(c.Value)
				if err != nil {
					return nil, fmt.Errorf("%s:%s: want a whole number, got %q", c.Field, c.Op, c.Value)
				}
				c.N = n
			}
		case "CLUSTER", "IS", "IS_NOT":
			if !hasValue {
				return nil, fmt.Errorf("%s:%s: needs a value", c.Field, c.Op)
			}
		case "LIKE", "UNLIKE":
			if !hasValue {
				return nil, fmt.Errorf("%s:%s: needs a value", c.Field, c.Op)
			}
			re, err := regexp.Compile("^(?:" + c.Value + ")$")
			if err != nil {
				return nil, fmt.Errorf("%s:%s: %v", c.Field, c.Op, err)
			}
			c.Regexp = re
		default:
			return nil, fmt.Errorf("%s: unknown operator %q: want UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS or IS_NOT", c.Field, it[1])
		}
		out = append(out, c)
	}
	return out, nil
}

// jsonRows reads ["a","b","c"] as one row and [["a","b"],["c","d"]] as
// rows; numbers and booleans become their text, as Jackson reads them into
// strings.
func jsonRows(s string) ([][]string, error) {
	var raw []any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("%q: not a JSON list of constraints: %v", s, err)
	}
	row := func(vs []any) ([]string, bool) {
		out := make([]string, len(vs))
		for i, v := range vs {
			switch v := v.(type) {
			case string:
				out[i] = v
			case float64:
				out[i] = strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				out[i] = strconv.FormatBool(v)
			default:
				return nil, false
			}
		}
		return out, true
	}
	if r, ok := row(raw); ok {
		return [][]string{r}, nil
	}
	var rows [][]string
	for _, v := range raw {
		vs, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%q: want a list of [field, OPERATOR, value] lists", s)
		}
		r, ok := row(vs)
		if !ok {
			return nil, fmt.Errorf("%q: want a list of [field, OPERATOR, value] lists", s)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// escapedSplit splits s at sep, except where a backslash escapes it, and
// trims each part (the SDK's escapedSplit).
func escapedSplit(s string, sep rune) []string {
	var parts []string
	var b strings.Builder
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			if c != sep {
				b.WriteRune('\\')
			}
			b.WriteRune(c)
			escaped = false
		case c == '\\':
			escaped = true
		case c == sep:
			parts = append(parts, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteRune(c)
		}
	}
	if escaped {
		b.WriteRune('\\')
	}
	return append(parts, strings.TrimSpace(b.String()))
}
