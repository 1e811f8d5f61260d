package testreport

import (
	"bytes"
	"strings"
	"testing"
)

// stream is a `go test -json` run: a passing package with a tool skip and
// an ordinary skip, a failing package, a cached one, a build failure.
const stream = `{"Action":"start","Package":"ex/a"}
{"Action":"run","Package":"ex/a","Test":"TestOK"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"ex/a","Test":"TestOK","Elapsed":0.01}
{"Action":"run","Package":"ex/a","Test":"TestKeytool"}
{"Action":"output","Package":"ex/a","Test":"TestKeytool","Output":"=== RUN   TestKeytool\n"}
{"Action":"output","Package":"ex/a","Test":"TestKeytool","Output":"    a_test.go:9: requires tool keytool: not on PATH (apt-get install default-jdk-headless)\n"}
{"Action":"output","Package":"ex/a","Test":"TestKeytool","Output":"--- SKIP: TestKeytool (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestKeytool"}
{"Action":"run","Package":"ex/a","Test":"TestShort"}
{"Action":"output","Package":"ex/a","Test":"TestShort","Output":"    a_test.go:20: skipped with -short\n"}
{"Action":"skip","Package":"ex/a","Test":"TestShort"}
{"Action":"output","Package":"ex/a","Output":"ok  \tex/a\t0.5s\n"}
{"Action":"pass","Package":"ex/a","Elapsed":0.5}
{"Action":"run","Package":"ex/b","Test":"TestBad"}
{"Action":"output","Package":"ex/b","Test":"TestBad","Output":"    b_test.go:3: got 1, want 2\n"}
{"Action":"fail","Package":"ex/b","Test":"TestBad","Elapsed":0.02}
{"Action":"fail","Package":"ex/b","Elapsed":0.1}
{"Action":"output","Package":"ex/c","Output":"ok  \tex/c\t(cached)\n"}
{"Action":"pass","Package":"ex/c","Elapsed":0}
# ex/d
d.go:1:1: expected 'package', found bogus
{"Action":"output","Package":"ex/d","Output":"FAIL\tex/d [setup failed]\n"}
{"Action":"fail","Package":"ex/d","Elapsed":0}
`

func TestRead(t *testing.T) {
	var out bytes.Buffer
	s, err := Read(strings.NewReader(stream), &out, []string{"keytool", "openssl"})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(&out)
	if s.Passed != 1 || s.Failed != 1 || s.Skipped != 2 || s.OK() {
		t.Errorf("summary %+v", s)
	}
	if len(s.MissingTools) != 1 || s.MissingTools[0].Tool != "keytool" || len(s.Cached) != 1 || len(s.FailedPackages) != 2 {
		t.Errorf("missing %v cached %v failed %v", s.MissingTools, s.Cached, s.FailedPackages)
	}
	for _, want := range []string{
		"ok    ex/a ", "1 passed, 0 failed, 2 skipped",
		"--- FAIL: ex/b TestBad", "b_test.go:3: got 1, want 2",
		"d.go:1:1: expected 'package'", "FAIL  ex/d",
		"SKIP  ex/a TestKeytool: a_test.go:9: requires tool keytool: not on PATH",
		"SKIP  ex/a TestShort: a_test.go:20: skipped with -short",
		"ERROR ex/a TestKeytool skipped for want of keytool, which .ci/run installs",
		"ERROR ex/c: result from the test cache",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.HasSuffix(out.String(), "\n1 passed, 1 failed, 2 skipped\n") {
		t.Errorf("the last line is not the totals:\n%s", out.String())
	}

	// The same run without the tool among the required ones, the cache,
	// the failures: it passes.
	s, _ = Read(strings.NewReader(strings.SplitN(stream, `{"Action":"run","Package":"ex/b"`, 2)[0]), &bytes.Buffer{}, []string{"openssl"})
	if !s.OK() {
		t.Errorf("a run with only unrequired skips fails: %+v", s)
	}
}
