// Package promcheck reads a Prometheus text exposition (format 0.0.4,
// https://prometheus.io/docs/instrumenting/exposition_formats/) the way a
// Prometheus server does, and more strictly: it is how tests check that what
// a metrics library writes for taskkit is valid exposition, not only that it
// contains some expected lines.
//
// Parse runs github.com/prometheus/common/expfmt's text parser (legacy
// metric and label names, [a-zA-Z_:][a-zA-Z0-9_:]*) and adds the rules that
// parser leaves to its callers: the text ends with a newline; every family has
// one TYPE line, before its samples; a family's lines form one group; no
// series (name and label set) appears twice, whatever its labels' order.
//
// Only tests import this package; no binary links expfmt.
package promcheck

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse parses text and returns its metric families by name. The error names
// the first line that breaks a rule (1-based) and the rule.
func Parse(text []byte) (map[string]*dto.MetricFamily, error) {
	if len(text) > 0 && !bytes.HasSuffix(text, []byte("\n")) {
		return nil, fmt.Errorf("the exposition does not end with a newline")
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("expfmt: %w", err)
	}
	if err := checkGroups(string(text), families); err != nil {
		return nil, err
	}
	return families, nil
}

// checkGroups checks the rules expfmt does not: a TYPE line before a
// family's samples, one group per family, no repeated series.
func checkGroups(text string, families map[string]*dto.MetricFamily) error {
	done := map[string]bool{} // families whose group has ended
	typed := map[string]bool{}
	series := map[string]int{}
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "# TYPE "), strings.HasPrefix(line, "# HELP "):
			name := strings.Fields(line)[2]
			if name != current {
				if done[name] {
					return fmt.Errorf("line %d: family %s appears again after other families", n, name)
				}
				if current != "" {
					done[current] = true
				}
				current = name
			}
			if strings.HasPrefix(line, "# TYPE ") {
				typed[name] = true // expfmt refuses a second one
			}
		case strings.HasPrefix(line, "#"):
			continue
		default:
			key := sampleKey(line)
			fam := familyOf(key, families)
			if fam == "" {
				return fmt.Errorf("line %d: sample %s belongs to no parsed family", n, key)
			}
			if !typed[fam] {
				return fmt.Errorf("line %d: sample of %s before (or without) its TYPE line", n, fam)
			}
			if fam != current {
				return fmt.Errorf("line %d: sample of %s inside family %s's group", n, fam, current)
			}
			id := seriesID(key)
			if prev, dup := series[id]; dup {
				return fmt.Errorf("line %d: series %s repeats line %d", n, key, prev)
			}
			series[id] = n
		}
	}
	return nil
}

// familyOf returns the family a sample named by key (name{labels}) belongs
// to: its own name, or for a summary or histogram the name less _sum, _count
// or _bucket.
func familyOf(key string, families map[string]*dto.MetricFamily) string {
	name, _, _ := strings.Cut(key, "{")
	if _, ok := families[name]; ok {
		return name
	}
	for _, suffix := range []string{"_sum", "_count", "_bucket"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		mf, ok := families[base]
		if !ok {
			continue
		}
		switch t := mf.GetType(); {
		case t == dto.MetricType_HISTOGRAM, t == dto.MetricType_SUMMARY && suffix != "_bucket":
			return base
		}
	}
	return ""
}

// seriesID is key with its label pairs sorted, so that the same series
// written with its labels in another order is recognised (expfmt has already
// refused a label name given twice).
func seriesID(key string) string {
	name, labels, ok := strings.Cut(key, "{")
	if !ok {
		return name
	}
	pairs := splitLabels(strings.TrimSuffix(labels, "}"))
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// sampleKey returns the name and label set that open a sample line, up to
// the closing brace outside quotes (a label value may hold spaces), or up to
// the first space when there are no labels.
func sampleKey(line string) string {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return line[:i+1]
		case !quoted && c == ' ' && !strings.Contains(line[:i], "{"):
			return line[:i]
		}
	}
	return line
}

// splitLabels splits a="x",b="y" at the commas between pairs, leaving commas
// inside quoted values alone.
func splitLabels(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
