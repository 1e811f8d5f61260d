package promcheck

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		wantErr    string // "" when the text is valid
	}{
		{"counter", "# HELP a_total Things.\n# TYPE a_total counter\na_total 3\n", ""},
		{"empty help", "# HELP a_total\n# TYPE a_total counter\na_total 3\n", ""},
		{"labels with spaces and commas", "# TYPE g gauge\ng{x=\"a b, c\",y=\"\\\"\"} 1\ng{x=\"d\"} 2\n", ""},
		{"summary", "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 2\n", ""},
		{"histogram", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n", ""},
		{"empty", "", ""},
		{"no final newline", "# TYPE a gauge\na 1", "newline"},
		{"untyped family", "a 1\n", "without) its TYPE"},
		{"type after sample", "a 1\n# TYPE a gauge\n", "TYPE"},
		{"family split", "# TYPE a gauge\na{x=\"1\"} 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n", "inside family b"},
		{"family typed twice", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n", "second TYPE"},
		{"family resumed", "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# HELP a More.\n", "appears again"},
		{"repeated series", "# TYPE a gauge\na{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n", "repeats line 2"},
		{"label twice", "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n", "duplicate label"},
		{"bad name", "# TYPE a.b gauge\na.b 1\n", "expfmt"},
		{"bad escape", "# TYPE a gauge\na{x=\"\\u200b\"} 1\n", "expfmt"},
		{"bad value", "# TYPE a gauge\na one\n", "expfmt"},
		{"bucket of a summary", "# TYPE s summary\ns_bucket{le=\"1\"} 1\n", "TYPE line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.text))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
