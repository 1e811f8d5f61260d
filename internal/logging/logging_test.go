package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/go-multierror"

	"github.com/taskkit/taskkit/internal/redact"
)

func TestErrorText(t *testing.T) {
	one := multierror.Append(nil, errors.New("template app.conf: line 3: x is not set"))
	two := multierror.Append(nil, errors.New("a failed"), errors.New("b failed"))
	nested := multierror.Append(nil, errors.New("outer"), fmt.Errorf("inner: %w", two))
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New("boom"), "boom"},
		{"one in a multierror", one, "template app.conf: line 3: x is not set"},
		{"two, wrapped", fmt.Errorf("rendering templates: %w", two), "rendering templates: 2 errors: a failed; b failed"},
		{"nested lists", nested, "2 errors: outer; inner: 2 errors: a failed; b failed"},
		{"errors.Join", fmt.Errorf("waiting: %w", errors.Join(errors.New("x"), errors.New("y"))), "waiting: 2 errors: x; y"},
		{"several %w are not a list", fmt.Errorf("%w: %w", errors.New("x"), errors.New("y")), "x: y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorText(tc.err); got != tc.want {
				t.Errorf("ErrorText = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLoggerMasksAndWritesListsOnOneLine logs through Masked in both formats:
// secrets learned from the environment are masked everywhere, and an error
// list takes one line.
func TestLoggerMasksAndWritesListsOnOneLine(t *testing.T) {
	s := redact.NewShared(redact.Default())
	s.LearnEnv([]string{"DB_PASSWORD=hunter2-pw", "PLAIN=shown"})
	err := fmt.Errorf("rendering: %w", multierror.Append(nil, errors.New("a uses hunter2-pw"), errors.New("b")))
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			log, lerr := Masked(&buf, format, false, s)
			if lerr != nil {
				t.Fatal(lerr)
			}
			log.With("conn", "postgres://u:hunter2-pw@db/x").Error("failed hunter2-pw", "error", err, "plain", "shown", "env", []string{"X=hunter2-pw"})
			out := buf.String()
			if strings.Contains(out, "hunter2") || !strings.Contains(out, "shown") || strings.Count(out, "\n") != 1 {
				t.Errorf("log:\n%s", out)
			}
			if !strings.Contains(out, "rendering: 2 errors: a uses ********; b") {
				t.Errorf("error list not on one line:\n%s", out)
			}
			if format == "json" {
				var rec map[string]any
				if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
					t.Fatal(err)
				}
				if _, ok := rec["env"].([]any); !ok {
					t.Errorf("a []string attribute is no longer a list: %#v", rec["env"])
				}
			}
		})
	}
	if _, err := Masked(&bytes.Buffer{}, "xml", false, nil); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("unknown format: %v", err)
	}
}
