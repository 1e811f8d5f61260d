package testtools

import (
	"strings"
	"testing"
)

func TestMessageMatchesPattern(t *testing.T) {
	msg := Message("keytool", "not on PATH (apt-get install default-jdk-headless)")
	m := SkipPattern.FindStringSubmatch("    x_test.go:12: " + msg)
	if m == nil || m[1] != "keytool" {
		t.Fatalf("%q: match %v", msg, m)
	}
	if SkipPattern.MatchString("skipped with -short") {
		t.Error("an ordinary skip matches")
	}
}

func TestRequire(t *testing.T) {
	if p := Require(t, "sh", "dash"); !strings.HasSuffix(p, "/sh") {
		t.Errorf("Require(sh) = %q", p)
	}
	var skipped string
	ft := &fakeT{TB: t, skip: func(args ...any) { skipped = args[0].(string) }}
	Require(ft, "no-such-tool-xyz", "nothing")
	if skipped != "requires tool no-such-tool-xyz: not on PATH (apt-get install nothing)" {
		t.Errorf("skip message %q", skipped)
	}
}

// fakeT records Skip instead of stopping the test.
type fakeT struct {
	testing.TB
	skip func(args ...any)
}

func (f *fakeT) Skip(args ...any) { f.skip(args...) }
func (f *fakeT) Helper()          {}
