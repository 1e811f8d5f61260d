package spec

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/taskkit/taskkit/internal/spelling"
)

// decoder fills the Go types of this package from a YAML node tree as the
// SDK's Jackson mapper fills its Raw* classes (RawServiceSpec with
// STRICT_DUPLICATE_DETECTION, WriteOnceLinkedHashMap for every named map),
// but reports every problem with its path and line instead of stopping at the
// first:
//   - a key defined twice, at any level (pods and tasks included), names both
//     lines; the first definition is kept;
//   - a key with no field is an error: "not supported by scheduler-lite" for
//     the SDK fields listed in unsupported, "unknown field" otherwise (the SDK
//     ignores unknown pod fields; scheduler-lite does not);
//   - a field tagged spec:"required" that is absent or null is an error (the
//     SDK fails on them with a NullPointerException or a builder check);
//   - a scalar of the wrong kind is an error; numbers and booleans may be
//     quoted, and strings take any scalar, as Jackson coerces them.
//
// lines records the line of every path it visits (a mapping entry's key, a
// list item), so that later checks can name the line of the field they
// report on; nulls the paths whose value is null (absent, as for Jackson).
//
// Aliases are followed, so an anchored value counts once per alias; the
// values decoded may exceed the document's own by at most maxExpansion
// (expansionBudget), so that a few kilobytes of nested aliases (a "billion
// laughs") cannot make the decoder visit billions of values. SnakeYAML, the
// SDK's parser, bounds aliases too (maxAliasesForCollections).
type decoder struct {
	probs Problems
	lines map[string]int
	nulls map[string]bool
	// budget is how many more values decode may visit; past it, one
	// problem and nothing more is decoded.
	budget int
}

// maxExpansion is how many values aliases may add to a document's own.
const maxExpansion = 10000

// expansionBudget is a decoder's budget for the document under n: its own
// nodes (keys included, so at least the values decode visits without
// aliases) plus maxExpansion.
func expansionBudget(n *yaml.Node) int {
	count := 0
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		count++
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return count + maxExpansion
}

// unsupported are the SDK fields scheduler-lite knows but does not implement,
// by the type whose YAML mapping holds them, with what they are about.
var unsupported = map[reflect.Type]map[string]string{
	reflect.TypeFor[PodSpec](): {
		"image": "container images", "networks": "virtual networks",
		"share-pid-namespace": "PID namespaces", "host-volumes": "host volumes",
		"external-volumes": "external volumes", "seccomp-unconfined": "seccomp",
		"seccomp-profile-name": "seccomp", "ipc-mode": "IPC modes", "shm-size": "shared memory",
		"container": "container settings, a former field the SDK now ignores",
	},
	reflect.TypeFor[TaskSpec](): {
		"gpus": "GPUs", "ipc-mode": "IPC modes", "shm-size": "shared memory",
	},
	reflect.TypeFor[ResourceSet](): {"gpus": "GPUs"},
}

// orderedType is implemented by *Ordered[T]: the decoder appends entries
// through it.
type orderedType interface {
	// appendEntry appends a zero value under key and returns it, settable.
	appendEntry(key string) reflect.Value
}

var orderedIface = reflect.TypeFor[orderedType]()

// decode fills v (settable) from n; path names n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.probs = append(d.probs, &Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf("aliases expand the document past %d values more than its own; not decoded further", maxExpansion)})
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if isNull(n) {
		// Absent: the zero value, except that an entry of a named map
		// (pods.hello: with nothing under it) is an empty mapping, so that
		// its required fields are reported.
		return
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if o, ok := v.Addr().Interface().(orderedType); ok {
		d.mapping(n, path, func(key string, val *yaml.Node, p string) {
			e := o.appendEntry(key)
			d.entry(val, e, p)
		})
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		d.mapping(n, path, func(key string, val *yaml.Node, p string) {
			e := reflect.New(v.Type().Elem()).Elem()
			d.entry(val, e, p)
			v.SetMapIndex(reflect.ValueOf(key), e)
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.wrongKind(n, path, "a list")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = c.Line
			d.decode(c, s.Index(i), p)
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.wrongKind(n, path, "a string")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, ok := scalarBool(n)
		if !ok {
			d.wrongKind(n, path, "true or false")
			return
		}
		v.SetBool(b)
	case reflect.Int:
		i, ok := scalarInt(n)
		if !ok {
			d.wrongKind(n, path, "a whole number")
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, ok := scalarFloat(n)
		if !ok {
			d.wrongKind(n, path, "a number")
			return
		}
		v.SetFloat(f)
	default:
		panic("spec: no YAML decoding for " + v.Type().String())
	}
}

// entry decodes the value of a named map's entry: a null entry of a struct
// type is an empty mapping (its required fields are then reported), as the
// SDK fails on a null pod, task, port, ...
func (d *decoder) entry(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) && t.Kind() == reflect.Struct {
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	}
	d.decode(n, v, path)
}

// mapping calls each for every entry of mapping n whose key is new, after
// reporting keys that are not scalars or are defined twice.
func (d *decoder) mapping(n *yaml.Node, path string, each func(key string, val *yaml.Node, path string)) {
	if n.Kind != yaml.MappingNode {
		d.wrongKind(n, path, "a mapping")
		return
	}
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			d.probs = append(d.probs, &Problem{Path: path, Line: k.Line, Msg: "a key must be a plain name"})
			continue
		}
		p := join(path, k.Value)
		if line, dup := first[k.Value]; dup {
			d.probs = append(d.probs, &Problem{Path: p, Line: k.Line, Msg: fmt.Sprintf("defined twice: first at line %d", line)})
			continue
		}
		first[k.Value] = k.Line
		d.lines[p] = k.Line
		if isNull(val) {
			d.nulls[p] = true
		}
		each(k.Value, val, p)
	}
}

// structure decodes mapping n into struct v by the fields' yaml tags and
// reports unknown and missing required fields.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	seen := map[string]bool{}
	d.mapping(n, path, func(key string, val *yaml.Node, p string) {
		i, ok := fieldIndex(t, key)
		if !ok {
			msg := "unknown field"
			if near, ok := spelling.Nearest(key, fieldNames(t)); ok {
				msg += ": did you mean " + near + "?"
			}
			if what, known := unsupported[t][key]; known {
				msg = "not supported by scheduler-lite (" + what + ")"
			} else if t == reflect.TypeFor[PodSpec]() {
				msg += " (the SDK ignores unknown pod fields; scheduler-lite rejects them)"
			}
			d.probs = append(d.probs, &Problem{Path: p, Line: d.lines[p], Msg: msg})
			return
		}
		if !isNull(val) {
			seen[key] = true
		}
		d.decode(val, v.Field(i), p)
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := tagName(f)
		if f.Tag.Get("spec") == "required" && !seen[name] {
			line := d.lines[path]
			if line == 0 {
				line = n.Line
			}
			d.probs = append(d.probs, &Problem{Path: join(path, name), Line: line, Msg: "required", absent: true})
		}
	}
}

func (d *decoder) wrongKind(n *yaml.Node, path, want string) {
	var got string
	switch n.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.SequenceNode:
		got = "a list"
	default:
		got = strconv.Quote(n.Value)
	}
	d.probs = append(d.probs, &Problem{Path: path, Line: n.Line, Msg: fmt.Sprintf("want %s, got %s", want, got)})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalarBool reads true/false, quoted or not.
func scalarBool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode {
		return false, false
	}
	var b bool
	if n.ShortTag() == "!!bool" && n.Decode(&b) == nil {
		return b, true
	}
	switch strings.ToLower(n.Value) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// scalarInt reads a whole number, quoted or not; 2.0 is 2.
func scalarInt(n *yaml.Node) (int64, bool) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		var i int64
		err := n.Decode(&i)
		return i, err == nil
	}
	f, ok := scalarFloat(n)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// scalarFloat reads a finite number, quoted or not.
func scalarFloat(n *yaml.Node) (float64, bool) {
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.ShortTag() {
	case "!!int":
		var i int64
		err := n.Decode(&i)
		return float64(i), err == nil
	case "!!float", "!!str":
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// fieldNames lists the svc.yml names of struct t's fields, in order.
func fieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if name := tagName(t.Field(i)); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

func fieldIndex(t reflect.Type, key string) (int, bool) {
	for i := 0; i < t.NumField(); i++ {
		if name := tagName(t.Field(i)); name == key && name != "-" {
			return i, true
		}
	}
	return 0, false
}
