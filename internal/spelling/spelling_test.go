package spelling

import "testing"

func TestNearest(t *testing.T) {
	flags := []string{"resolve", "resolve-timeout", "resolve-hosts", "formats", "count", "wait", "name", "n"}
	fields := []string{"cpus", "memory", "readiness-check", "health-check", "env", "volume", "volumes", "goal"}
	tests := []struct {
		name  string
		typed string
		names []string
		want  string // "": no suggestion
	}{
		{"one letter left out", "resolve-timout", flags, "resolve-timeout"},
		{"plural", "format", flags, "formats"},
		{"neighbours swapped", "cuont", flags, "count"},
		{"underscore for dash", "readiness_check", fields, "readiness-check"},
		{"upper case", "CPUS", fields, "cpus"},
		{"short name, one letter", "cpu", fields, "cpus"},
		{"letter left out, long", "healt-check", fields, "health-check"},
		{"two edits in a long name", "readines-chek", fields, "readiness-check"},
		{"first of equals wins", "volumez", fields, "volume"},
		{"unrelated word", "bogus", flags, ""},
		{"one letter is no typo of another", "b", flags, ""},
		{"two letters, one wrong", "nm", flags, "n"},
		{"two edits in a short name", "memry2", fields, ""},
		{"exact name is no typo", "env", fields, ""},
		{"nothing to choose from", "cpu", nil, ""},
		{"empty", "", fields, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Nearest(tc.typed, tc.names)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Nearest(%q) = %q, %v; want %q", tc.typed, got, ok, tc.want)
			}
		})
	}
}
