// Package spelling finds the name a user most likely meant when the one
// typed does not exist: a misspelt flag (--resolve-timout), svc.yml field
// (cpu, readiness_check) or command, so that the error can say what to
// write instead ("did you mean --resolve-timeout?").
//
// Names are compared case-insensitively, with '_' and '-' alike, by edit
// distance (github.com/xrash/smetrics' Wagner-Fischer: one insertion,
// deletion or substitution costs 1), where swapping two neighbouring
// characters also costs 1 (Damerau's transposition, the commonest typo).
// A name is suggested only when it is close for its length: at most one
// edit for names of up to 7 characters, two for longer ones, and fewer
// edits than the typed name has characters (any one letter is one edit from
// any other), so that an unrelated word ("bogus", "-b") gets no suggestion
// rather than a wrong one.
package spelling

import (
	"strings"

	"github.com/xrash/smetrics"
)

// Nearest returns the name in names nearest to typed, and true, when one is
// close enough to be what the user meant (see the package doc); the first
// of equally near names wins. typed itself, if it is in names, is not
// suggested: an exact name is no misspelling. It returns "", false when no
// name is close, or names is empty.
func Nearest(typed string, names []string) (string, bool) {
	t := fold(typed)
	limit := min(1, len([]rune(t))-1)
	if len([]rune(t)) > 7 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, n := range names {
		if n == typed {
			continue
		}
		if d := distance(t, fold(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best, best != ""
}

// fold is s lower-cased with '_' as '-'.
func fold(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "_", "-")
}

// distance is the edit distance of a and b, a swap of two neighbouring
// characters counting as one edit.
func distance(a, b string) int {
	d := smetrics.WagnerFischer(a, b, 1, 1, 1)
	if d == 2 && swapped(a, b) {
		return 1
	}
	return d
}

// swapped reports whether a is b with two neighbouring characters swapped.
func swapped(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	i := 0
	for i < len(ra) && ra[i] == rb[i] {
		i++
	}
	return i+1 < len(ra) && ra[i] == rb[i+1] && ra[i+1] == rb[i] && string(ra[i+2:]) == string(rb[i+2:])
}
