// Package testtools is how a test says it needs a tool from the machine (a
// program such as keytool or openssl, a server such as ZooKeeper, a browser)
// and skips, when the tool is missing, with a message of one fixed form:
//
//	requires tool NAME: REASON
//
// CI reads that form (see SkipPattern and .ci/run): a test skipped for a
// tool that .ci/run installs fails the CI run, so a missing install step
// cannot hide behind a green run. Tests skipped for other reasons (no root,
// -short) use t.Skip as usual.
package testtools

import (
	"fmt"
	"os/exec"
	"regexp"
	"testing"
)

// SkipPattern matches the message of a test skipped by Skip or Require;
// its first group is the tool's name.
var SkipPattern = regexp.MustCompile(`requires tool ([A-Za-z0-9._+-]+): `)

// Skip skips t because tool is not available; why says what is missing and
// how to install it ("not on PATH (apt-get install openssl)").
func Skip(t testing.TB, tool, why string) {
	t.Helper()
	t.Skip(Message(tool, why))
}

// Message is the skip message for tool, in the form SkipPattern matches.
func Message(tool, why string) string {
	return fmt.Sprintf("requires tool %s: %s", tool, why)
}

// Require returns the path of program on PATH, or skips t naming program
// and the Debian package that installs it.
func Require(t testing.TB, program, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		Skip(t, program, fmt.Sprintf("not on PATH (apt-get install %s)", debianPackage))
	}
	return p
}
