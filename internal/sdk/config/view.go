package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/taskkit/taskkit/internal/redact"
)

// View is a configuration as GET /v1/configurations/{id} answers it (the
// SDK answers its ServiceSpec as JSON):
//
//	{"id", "name", "user", "role", "region",
//	 "spec": the rendered svc.yml as JSON, in its order,
//	 "templates": {"<pod>/<task>/<name>": content},
//	 "taskcfg": {"TASKCFG_...": value}}
//
// Secrets never show: the value of every key that looks secret (redact's
// rules: PASSWORD, TOKEN, ...) is masked, in the spec and in taskcfg, and
// credentials inside other values too (user:password@ in a URL).
func (c *Configuration) View() ([]byte, error) {
	red := redact.Default()
	var spec bytes.Buffer
	var root yaml.Node
	if err := yaml.Unmarshal(c.Rendered, &root); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", c.ID, err)
	}
	if err := writeJSON(&spec, &root, "", red); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", c.ID, err)
	}
	taskcfg := map[string]string{}
	for _, kv := range c.TaskCfg {
		k, v, _ := strings.Cut(kv, "=")
		taskcfg[k] = red.Value(k, v)
	}
	return json.Marshal(struct {
		ID        string            `json:"id"`
		Name      string            `json:"name"`
		User      string            `json:"user,omitempty"`
		Role      string            `json:"role,omitempty"`
		Region    string            `json:"region,omitempty"`
		Spec      json.RawMessage   `json:"spec"`
		Templates map[string]string `json:"templates,omitempty"`
		TaskCfg   map[string]string `json:"taskcfg,omitempty"`
	}{c.ID, c.Spec.Name, c.User, c.Role, c.Region, spec.Bytes(), c.Templates(), taskcfg})
}

// writeJSON writes a YAML node as JSON: mappings in their order, scalars
// typed by their resolved tag (a number or bool stays one), every string
// masked as redact's Value masks it under the key it belongs to.
func writeJSON(b *bytes.Buffer, n *yaml.Node, key string, red *redact.Redactor) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			b.WriteString("null")
			return nil
		}
		return writeJSON(b, n.Content[0], key, red)
	case yaml.AliasNode:
		return writeJSON(b, n.Alias, key, red)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			k := n.Content[i].Value
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			if err := writeJSON(b, n.Content[i+1], k, red); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, c, key, red); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		if red.IsSecretKey(key) {
			b.WriteString(strconv.Quote(redact.Mask))
			return nil
		}
		switch n.ShortTag() {
		case "!!null":
			b.WriteString("null")
			return nil
		case "!!bool":
			var v bool
			if n.Decode(&v) == nil {
				b.WriteString(strconv.FormatBool(v))
				return nil
			}
		case "!!int":
			var v int64
			if n.Decode(&v) == nil {
				b.WriteString(strconv.FormatInt(v, 10))
				return nil
			}
		case "!!float":
			var v float64
			if n.Decode(&v) == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
				return nil
			}
		}
		vb, _ := json.Marshal(red.Value(key, n.Value))
		b.Write(vb)
	default:
		return fmt.Errorf("unexpected YAML node kind %d", n.Kind)
	}
	return nil
}
