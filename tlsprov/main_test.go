package main

// Black-box tests: TestMain builds the tlsprov binary once; every test runs
// it with a controlled environment in a temporary directory and checks exit
// codes, files, modes and what reaches stderr. Interop with openssl, keytool
// and java lives in interop_test.go.

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/taskkit/taskkit/internal/pki"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tlsprov-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tlsprov")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tlsprov:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// runTool runs the binary in dir with only PATH, HOME and env set.
func runTool(t *testing.T, dir string, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running tlsprov: %v", err)
	}
	return result{out.String(), errb.String(), code}
}

// secrets is a test hierarchy: RSA root → ECDSA intermediate → ECDSA leaf
// for server.test, as PEM, plus what is needed to break it.
type secrets struct {
	root, inter            *pki.Issuer
	leaf                   *pki.Bundle
	key, chain, ca         string // PEM: leaf key, leaf+intermediate, root
	reversedChain          string // PEM: intermediate then leaf
	otherKey, otherCA      string // a key that matches nothing, a root that signed nothing here
	expiredKey, expiredCrt string // a leaf whose validity ended, with its key
	futureKey, futureCrt   string // a leaf not valid yet
}

var cached *secrets

func testSecrets(t *testing.T) *secrets {
	t.Helper()
	if cached != nil {
		return cached
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	keyPEM := func(k crypto.Signer) string {
		b, err := pki.EncodeKeyPEM(k)
		must(err)
		return string(b)
	}
	certs := func(cs ...*x509.Certificate) string { return string(pki.EncodeCertsPEM(cs...)) }
	s := &secrets{}
	var err error
	past := time.Now().Add(-72 * time.Hour) // room for an expired leaf
	s.root, err = pki.NewCA(pki.CARequest{CommonName: "Test Root", KeyType: pki.RSA2048, Now: past})
	must(err)
	s.inter, err = pki.NewCA(pki.CARequest{CommonName: "Test Intermediate", KeyType: pki.ECDSAP256, Parent: s.root, Now: past})
	must(err)
	s.leaf, err = s.inter.Issue(pki.LeafRequest{CommonName: "server", DNSNames: []string{"server.test", "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyType: pki.ECDSAP256})
	must(err)
	s.key = keyPEM(s.leaf.Key)
	s.chain = certs(s.leaf.Chain...)
	s.reversedChain = certs(s.inter.Cert, s.leaf.Chain[0])
	s.ca = certs(s.root.Cert)
	other, err := pki.NewCA(pki.CARequest{CommonName: "Other Root", KeyType: pki.ECDSAP256})
	must(err)
	s.otherCA = certs(other.Cert)
	k, err := pki.GenerateKey(pki.ECDSAP256)
	must(err)
	s.otherKey = keyPEM(k)
	expired, err := s.inter.Issue(pki.LeafRequest{CommonName: "old", KeyType: pki.ECDSAP256, Validity: time.Hour, Now: time.Now().Add(-2 * time.Hour)})
	must(err)
	s.expiredKey, s.expiredCrt = keyPEM(expired.Key), certs(expired.Chain...)
	future, err := s.inter.Issue(pki.LeafRequest{CommonName: "new", KeyType: pki.ECDSAP256, Validity: time.Hour, Now: time.Now().Add(24 * time.Hour)})
	must(err)
	s.futureKey, s.futureCrt = keyPEM(future.Key), certs(future.Chain...)
	cached = s
	return s
}

func (s *secrets) env(name string) map[string]string {
	p := "TLS_" + strings.ToUpper(name) + "_"
	return map[string]string{p + "KEY": s.key, p + "CERT": s.reversedChain, p + "CA": s.ca}
}

// secretLines are the lines of key material that must never be printed.
func secretLines(pems ...string) []string {
	var out []string
	for _, p := range pems {
		for _, l := range strings.Split(p, "\n") {
			if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
				out = append(out, l[:16])
			}
		}
	}
	return out
}

func assertNoSecrets(t *testing.T, output string, pems ...string) {
	t.Helper()
	for _, l := range secretLines(pems...) {
		if strings.Contains(output, l) {
			t.Fatalf("output contains key material %q:\n%s", l, output)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", filepath.Base(path), got, want)
	}
}

func TestMaterializeWritesTheSDKArtifactSet(t *testing.T) {
	s := testSecrets(t)
	dir := t.TempDir()
	// A world-readable key left by some earlier tool must end up 0600.
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "out", "server.key"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runTool(t, dir, s.env("server"), "", "materialize", "--name", "server", "--dir", "out", "--formats", "pem,jks,pkcs12")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	assertNoSecrets(t, r.stdout+r.stderr, s.key)
	out := filepath.Join(dir, "out")
	want := []string{"server.ca", "server.crt", "server.key", "server.keystore", "server.p12", "server.truststore"}
	if got := listDir(t, out); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files = %v, want %v (no temporary files left)", got, want)
	}
	for name, mode := range map[string]os.FileMode{"server.key": 0o600, "server.crt": 0o644, "server.ca": 0o644,
		"server.keystore": 0o600, "server.truststore": 0o644, "server.p12": 0o600} {
		assertMode(t, filepath.Join(out, name), mode)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("server.crt"); got != s.chain {
		t.Errorf("server.crt is not leaf then intermediate")
	}
	if got := read("server.ca"); got != s.ca {
		t.Errorf("server.ca is not the root")
	}
	if got := read("server.key"); !strings.HasPrefix(got, "-----BEGIN PRIVATE KEY-----\n") {
		t.Errorf("server.key is not PKCS#8 PEM")
	}
	c, err := pki.Inspect([]byte(read("server.keystore")), "notsecure")
	if err != nil || len(c.Entries) != 1 || c.Entries[0].Alias != "default" || len(c.Entries[0].Certs) != 3 {
		t.Fatalf("keystore: %v %+v", err, c)
	}
	// A second run with the same inputs succeeds and replaces the files.
	if r := runTool(t, dir, s.env("server"), "", "materialize", "--name", "server", "--dir", "out"); r.code != 0 {
		t.Fatalf("second run: exit %d: %s", r.code, r.stderr)
	}
}

func TestMaterializeInputForms(t *testing.T) {
	s := testSecrets(t)
	b64 := func(v string) string { return base64.StdEncoding.EncodeToString([]byte(v)) }
	esc := func(v string) string { return strings.ReplaceAll(v, "\n", `\n`) }
	tests := []struct {
		name  string
		env   map[string]string
		files map[string]string
		stdin string
		args  []string
	}{
		{name: "base64-wrapped values", env: map[string]string{"TLS_WEB_KEY": b64(s.key), "TLS_WEB_CERT": b64(s.chain), "TLS_WEB_CA": "__dcos_base64__" + b64(s.ca)}},
		{name: "files and a custom variable", files: map[string]string{"k.pem": s.key, "chain.pem": s.root.Cert.Subject.CommonName + "\n" + s.reversedChain},
			env: map[string]string{"ROOT": s.ca}, args: []string{"--key", "file:k.pem", "--cert", "file:chain.pem", "--ca", "env:ROOT"}},
		{name: "line breaks escaped as \\n (docker --env-file)", env: map[string]string{"TLS_WEB_KEY": esc(s.key), "TLS_WEB_CERT": esc(s.chain), "TLS_WEB_CA": esc(s.ca)}},
		{name: "one combined PEM on stdin", stdin: s.key + s.chain + s.ca, args: []string{"--key", "-", "--cert", "-", "--ca", "-"}},
		{name: "flags from TLSPROV_ variables", env: map[string]string{"TLSPROV_KEY": "env:K", "K": s.key, "TLSPROV_CERT": "env:C", "C": s.chain, "TLSPROV_CA": "env:R", "R": s.ca}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"materialize", "--name", "web", "--dir", "out"}, tt.args...)
			r := runTool(t, dir, tt.env, tt.stdin, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			crt, _ := os.ReadFile(filepath.Join(dir, "out", "web.crt"))
			if string(crt) != s.chain {
				t.Errorf("web.crt is not leaf then intermediate")
			}
		})
	}
}

func TestMaterializeDefaultDir(t *testing.T) {
	s := testSecrets(t)
	t.Run("MESOS_SANDBOX", func(t *testing.T) {
		dir, sandbox := t.TempDir(), t.TempDir()
		env := s.env("server")
		env["MESOS_SANDBOX"] = sandbox
		if r := runTool(t, dir, env, "", "materialize", "--name", "server"); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if got := listDir(t, sandbox); len(got) != 5 {
			t.Fatalf("sandbox holds %v", got)
		}
	})
	t.Run("working directory", func(t *testing.T) {
		dir := t.TempDir()
		if r := runTool(t, dir, s.env("server"), "", "materialize", "-n", "server"); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if got := listDir(t, dir); len(got) != 5 {
			t.Fatalf("working directory holds %v", got)
		}
	})
}

func TestMaterializeAll(t *testing.T) {
	s := testSecrets(t)
	env := s.env("node")
	for k, v := range s.env("my_broker") {
		env[k] = v
	}
	dir := t.TempDir()
	r := runTool(t, dir, env, "", "materialize", "--all", "--dir", ".", "--formats", "pem")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "my_broker.ca my_broker.crt my_broker.key node.ca node.crt node.key"
	if got := strings.Join(listDir(t, dir), " "); got != want {
		t.Fatalf("files = %s, want %s", got, want)
	}

	// One broken NAME: nothing is written for any NAME, and both failures are named.
	env["TLS_NODE_KEY"] = s.otherKey
	env["TLS_THIRD_KEY"] = s.key // no TLS_THIRD_CERT / _CA
	dir = t.TempDir()
	r = runTool(t, dir, env, "", "materialize", "--all", "--dir", ".")
	if r.code != 3 && r.code != 4 {
		t.Fatalf("exit %d, want 3 or 4: %s", r.code, r.stderr)
	}
	for _, want := range []string{"node:", "TLS_NODE_KEY", "third:", "TLS_THIRD_CERT", "TLS_THIRD_CA"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Fatalf("files written despite a failure: %v", got)
	}
	assertNoSecrets(t, r.stderr, s.key, s.otherKey)
}

// TestMaterializeAllReadsWhatItFinds: --all reads each NAME from the very
// variables it found it by, refuses variables that are one secret once
// mapped or whose NAME cannot be a file name, and names the variables that
// are set, never others (08-tlsprov-all-dashed-dotted-names).
func TestMaterializeAllReadsWhatItFinds(t *testing.T) {
	s := testSecrets(t)
	set := func(mids ...string) map[string]string {
		env := map[string]string{}
		for _, m := range mids {
			p := "TLS_" + m + "_"
			env[p+"KEY"], env[p+"CERT"], env[p+"CA"] = s.key, s.reversedChain, s.ca
		}
		return env
	}
	for _, tt := range []struct {
		name      string
		env       map[string]string
		code      int
		files     string   // with code 0
		want, not []string // in stderr, and not
	}{
		{"dashed and dotted NAMEs", set("web-1", "my.node", "PLAIN"), 0,
			"my.node.ca my.node.crt my.node.key plain.ca plain.crt plain.key web-1.ca web-1.crt web-1.key", nil, nil},
		{"one secret under two spellings", set("A_B", "A-B"), 3, "",
			[]string{"TLS_A_B_KEY", "TLS_A-B_KEY", "one secret"}, []string{"is not set"}},
		{"one secret in two cases", set("web", "WEB"), 3, "",
			[]string{"TLS_web_KEY", "TLS_WEB_KEY", "one secret"}, []string{"is not set"}},
		{"a NAME with a letter outside A-Z", set("CAFÉ"), 3, "",
			[]string{"TLS_CAFÉ_KEY"}, []string{"TLS_CAF__KEY", "is not set"}},
		{"a NAME that is no file name", set(".hidden"), 3, "",
			[]string{"TLS_.hidden_KEY", "not a valid name"}, []string{"--name", "is not set"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := runTool(t, dir, tt.env, "", "materialize", "--all", "--dir", ".", "--formats", "pem")
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tt.code, r.stderr)
			}
			if got := strings.Join(listDir(t, dir), " "); got != tt.files {
				t.Errorf("files = %q, want %q", got, tt.files)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(r.stderr, w) {
					t.Errorf("stderr says %q:\n%s", w, r.stderr)
				}
			}
			assertNoSecrets(t, r.stderr, s.key)
		})
	}
}

// TestBadInputMatrix: each bad input is a clear error naming the input, a
// documented non-zero exit code, no file written and no secret printed.
func TestBadInputMatrix(t *testing.T) {
	s := testSecrets(t)
	truncated := s.key[:len(s.key)/2]
	encrypted := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n"
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	with := func(k, v string) map[string]string {
		env := s.env("server")
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
		return env
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		setup func(t *testing.T, out string)
		code  int
		want  []string // substrings of stderr
	}{
		{name: "mismatched key", env: with("TLS_SERVER_KEY", s.otherKey), code: 4,
			want: []string{"env:TLS_SERVER_KEY", "env:TLS_SERVER_CERT", "does not match"}},
		{name: "wrong CA", env: with("TLS_SERVER_CA", s.otherCA), code: 4,
			want: []string{"env:TLS_SERVER_CA", "does not verify", "unknown authority"}},
		{name: "missing intermediate", env: with("TLS_SERVER_CERT", string(pki.EncodeCertsPEM(s.leaf.Chain[0]))), code: 4,
			want: []string{"env:TLS_SERVER_CERT", "does not verify"}},
		{name: "expired leaf", env: map[string]string{"TLS_SERVER_KEY": s.expiredKey, "TLS_SERVER_CERT": s.expiredCrt, "TLS_SERVER_CA": s.ca}, code: 4,
			want: []string{"env:TLS_SERVER_CERT", "expired", "CN=old"}},
		{name: "not yet valid leaf", env: map[string]string{"TLS_SERVER_KEY": s.futureKey, "TLS_SERVER_CERT": s.futureCrt, "TLS_SERVER_CA": s.ca}, code: 4,
			want: []string{"env:TLS_SERVER_CERT", "not yet valid"}},
		{name: "truncated PEM", env: with("TLS_SERVER_KEY", truncated), code: 3,
			want: []string{"env:TLS_SERVER_KEY", "truncated"}},
		{name: "garbage base64", env: with("TLS_SERVER_CERT", "bm90IGEgY2VydGlmaWNhdGU@@@"), code: 3,
			want: []string{"env:TLS_SERVER_CERT", "neither PEM nor valid base64"}},
		{name: "encrypted key", env: with("TLS_SERVER_KEY", encrypted), code: 3,
			want: []string{"env:TLS_SERVER_KEY", "encrypted"}},
		{name: "missing variable", env: with("TLS_SERVER_CA", ""), code: 3,
			want: []string{"TLS_SERVER_CA is not set (set them, or name other inputs with --key, --cert and --ca: env:VAR, file:PATH or -)"}},
		{name: "empty variable", env: with("TLS_SERVER_CERT", "  "), code: 3,
			want: []string{"TLS_SERVER_CERT is empty"}},
		{name: "missing file", env: s.env("server"), args: []string{"--key", "file:/nonexistent/server.key"}, code: 3,
			want: []string{"file:/nonexistent/server.key", "no such file"}},
		{name: "key and certificate swapped", env: map[string]string{"TLS_SERVER_KEY": s.chain, "TLS_SERVER_CERT": s.key, "TLS_SERVER_CA": s.ca}, code: 3,
			want: []string{"env:TLS_SERVER_KEY: reading the private key: no private key found", "env:TLS_SERVER_CERT: reading the certificates: no certificate found"}},
		{name: "unwritable directory", env: s.env("server"), args: []string{"--dir", filepath.Join(notADir, "sub")}, code: 5,
			want: []string{notADir, "none written"}},
		{name: "a destination is a directory", env: s.env("server"), code: 5,
			setup: func(t *testing.T, out string) {
				if err := os.MkdirAll(filepath.Join(out, "server.truststore"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"server.truststore: destination is not a regular file", "none written"}},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct {
			name  string
			env   map[string]string
			args  []string
			setup func(t *testing.T, out string)
			code  int
			want  []string
		}{name: "read-only directory", env: s.env("server"), code: 5,
			setup: func(t *testing.T, out string) {
				if err := os.Chmod(out, 0o500); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(out, 0o700) })
			},
			want: []string{"permission denied"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			if err := os.Mkdir(out, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, out)
			}
			args := append([]string{"materialize", "--name", "server", "--dir", out, "--formats", "pem,jks,pkcs12"}, tt.args...)
			r := runTool(t, dir, tt.env, "", args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tt.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			var leftover []string
			for _, name := range listDir(t, out) {
				if name != "server.truststore" || tt.setup == nil {
					leftover = append(leftover, name)
				}
			}
			if len(leftover) != 0 {
				t.Errorf("files written: %v", leftover)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty: %q", r.stdout)
			}
			assertNoSecrets(t, r.stderr, s.key, s.otherKey, s.expiredKey, s.futureKey, truncated)
		})
	}
}

func TestAllowExpired(t *testing.T) {
	s := testSecrets(t)
	dir := t.TempDir()
	env := map[string]string{"TLS_OLD_KEY": s.expiredKey, "TLS_OLD_CERT": s.expiredCrt, "TLS_OLD_CA": s.ca, "TLSPROV_ALLOW_EXPIRED": "true"}
	r := runTool(t, dir, env, "", "materialize", "--name", "old")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "level=WARN") || !strings.Contains(r.stderr, "expired at") {
		t.Errorf("no expiry warning:\n%s", r.stderr)
	}
}

func TestCAAndIssue(t *testing.T) {
	dir := t.TempDir()
	r := runTool(t, dir, nil, "", "ca", "--dir", "ca", "--cn", "Build CA", "--key-type", "ecdsa-p256", "--validity", "2y")
	if r.code != 0 {
		t.Fatalf("ca: exit %d: %s", r.code, r.stderr)
	}
	assertMode(t, filepath.Join(dir, "ca", "ca.key"), 0o600)
	assertMode(t, filepath.Join(dir, "ca", "ca.crt"), 0o644)
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca", "ca.crt"))

	r = runTool(t, dir, nil, "", "ca", "--dir", "ca")
	if r.code != 5 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("replacing a CA without --force: exit %d: %s", r.code, r.stderr)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ca", "ca.crt")); !bytes.Equal(again, caPEM) {
		t.Fatal("CA changed without --force")
	}

	for _, kt := range []string{"ecdsa-p256", "rsa-2048", "ed25519"} {
		t.Run(kt, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+kt)
			r := runTool(t, dir, nil, "", "issue", "--ca-dir", "ca", "--name", "web", "--cn", "web",
				"--san", "dns:web.test,ip:127.0.0.1", "--san", "localhost", "--key-type", kt, "--validity", "30d",
				"--dir", out, "--formats", "pem,jks,pkcs12")
			if r.code != 0 {
				t.Fatalf("issue: exit %d: %s", r.code, r.stderr)
			}
			if got := len(listDir(t, out)); got != 6 {
				t.Fatalf("%d files", got)
			}
			crt, _ := os.ReadFile(filepath.Join(out, "web.crt"))
			certs, err := pki.ParseCertificates(crt)
			if err != nil {
				t.Fatal(err)
			}
			c := certs[0]
			if strings.Join(c.DNSNames, ",") != "web.test,localhost" || len(c.IPAddresses) != 1 || c.Subject.CommonName != "web" {
				t.Errorf("SANs %v %v CN %q", c.DNSNames, c.IPAddresses, c.Subject.CommonName)
			}
			if d := c.NotAfter.Sub(c.NotBefore); d < 30*24*time.Hour || d > 30*24*time.Hour+pki.Backdate {
				t.Errorf("validity %v", d)
			}
			ca, _ := os.ReadFile(filepath.Join(out, "web.ca"))
			if !bytes.Equal(ca, caPEM) {
				t.Error("web.ca is not the CA certificate")
			}
		})
	}

	t.Run("bad SAN", func(t *testing.T) {
		r := runTool(t, dir, nil, "", "issue", "--ca-dir", "ca", "--name", "x", "--san", "dns:bad name")
		if r.code != 2 || !strings.Contains(r.stderr, "--san") {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
	t.Run("missing CA", func(t *testing.T) {
		r := runTool(t, dir, nil, "", "issue", "--ca-dir", "nope", "--name", "x", "--dir", "o")
		if r.code != 3 || !strings.Contains(r.stderr, "nope/ca.crt") || len(listDir(t, filepath.Join(dir, "o"))) != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	})
}

func TestInspect(t *testing.T) {
	s := testSecrets(t)
	dir := t.TempDir()
	if r := runTool(t, dir, s.env("server"), "", "materialize", "--name", "server", "--formats", "pem,jks,pkcs12"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	files := []string{"server.key", "server.crt", "server.ca", "server.keystore", "server.truststore", "server.p12"}
	r := runTool(t, dir, nil, "", append([]string{"inspect"}, files...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"server.key: PEM, 1 entry\n  PrivateKey, key ECDSA P-256, key matches certificate: yes",
		`alias "default": PrivateKeyEntry, key ECDSA P-256, key matches certificate: yes, chain length 3`,
		`alias "dcos-root": trustedCertEntry`,
		"server.p12: PKCS#12, 1 entry",
		"SANs:    DNS:server.test, DNS:localhost, IP:127.0.0.1",
		"issuer:  CN=Test Root (self-signed)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, r.stdout)
		}
	}
	assertNoSecrets(t, r.stdout+r.stderr, s.key)

	r = runTool(t, dir, nil, "", "inspect", "--json", "server.keystore")
	var got []struct {
		Path    string
		Format  string
		Entries []struct {
			Alias      string
			KeyMatches *bool `json:"key_matches"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 || got[0].Format != "JKS" || got[0].Entries[0].Alias != "default" || !*got[0].Entries[0].KeyMatches {
		t.Fatalf("json: %v %+v\n%s", err, got, r.stdout)
	}

	os.WriteFile(filepath.Join(dir, "junk"), []byte("junk"), 0o644)
	r = runTool(t, dir, nil, "", "inspect", "--password", "wrong", "server.crt", "junk", "server.keystore")
	if r.code != 3 || !strings.Contains(r.stdout, "server.crt: PEM") || !strings.Contains(r.stderr, "junk:") || !strings.Contains(r.stderr, "server.keystore:") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestUsage(t *testing.T) {
	s := testSecrets(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stdout+stderr
	}{
		{"help", nil, []string{"--help"}, 0, "Exit codes: 0 success"},
		{"materialize help", nil, []string{"materialize", "--help"}, 0, "TLS_<NAME>_KEY"},
		{"materialize help lists env vars", nil, []string{"materialize", "--help"}, 0, "$TLSPROV_KEYSTORE_PASSWORD"},
		{"ca help", nil, []string{"ca", "--help"}, 0, "--key-type TYPE"},
		{"issue help", nil, []string{"issue", "--help"}, 0, "dns:NAME, ip:ADDR"},
		{"inspect help", nil, []string{"inspect", "--help"}, 0, "never"},
		{"inspect help: --verbose writes no file list", nil, []string{"inspect", "--help"}, 0, "no effect: inspect writes no file"},
		{"ca help: --verbose lists the files written", nil, []string{"ca", "--help"}, 0, "also log each file written"},
		{"version", nil, []string{"--version"}, 0, "tlsprov dev"},
		{"no command", nil, nil, 2, "no command given"},
		{"unknown command", nil, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"materialize", "--nmae", "x"}, 2, "materialize: unknown flag --nmae: did you mean --name?\nusage: tlsprov materialize"},
		{"no name", nil, []string{"materialize"}, 2, "--name is required"},
		{"bad name", nil, []string{"materialize", "--name", "../x"}, 2, "not a valid name"},
		{"name and all", nil, []string{"materialize", "--name", "x", "--all"}, 2, "--all and --name exclude each other"},
		{"all without variables", nil, []string{"materialize", "--all"}, 3, "no TLS_<NAME>_KEY variable"},
		{"bad formats", s.env("x"), []string{"materialize", "--name", "x", "--formats", "pem,der"}, 2, `--formats: unknown format "der"`},
		{"bad source", s.env("x"), []string{"materialize", "--name", "x", "--key", "/etc/key"}, 2, "--key: \"/etc/key\" is not env:VAR, file:PATH or -"},
		{"JKS password above U+00FF", s.env("x"), []string{"materialize", "--name", "x", "--keystore-password", "pa€ss"}, 2, "--keystore-password: password character 3 is above U+00FF"},
		{"bad log format", s.env("x"), []string{"materialize", "--name", "x", "--log-format", "xml"}, 2, "--log-format"},
		{"stray argument", s.env("x"), []string{"materialize", "--name", "x", "extra"}, 2, `unexpected argument "extra"`},
		{"bad key type", nil, []string{"ca", "--dir", "d", "--key-type", "dsa"}, 2, "--key-type"},
		{"bad validity", nil, []string{"ca", "--dir", "d", "--validity", "forever"}, 2, "--validity"},
		{"inspect flag after file", nil, []string{"inspect", "a.pem", "--json"}, 2, "flags must come before the files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := runTool(t, dir, tt.env, "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.want) {
				t.Fatalf("exit %d (want %d), output lacks %q?\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, tt.want, r.stdout, r.stderr)
			}
			if tt.code != 0 && len(listDir(t, dir)) != 0 {
				t.Fatalf("files written: %v", listDir(t, dir))
			}
		})
	}
}

func TestJSONLogs(t *testing.T) {
	s := testSecrets(t)
	dir := t.TempDir()
	for _, tt := range []struct {
		env  map[string]string
		code int
	}{{s.env("server"), 0}, {map[string]string{"TLS_SERVER_KEY": s.otherKey, "TLS_SERVER_CERT": s.chain, "TLS_SERVER_CA": s.ca}, 4}} {
		r := runTool(t, dir, tt.env, "", "materialize", "--name", "server", "--log-format", "json")
		if r.code != tt.code {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
		}
		assertNoSecrets(t, r.stderr, s.key, s.otherKey)
	}
}

// TestNoMesosOrProtobuf keeps the in-task binary small and free of the
// scheduler's dependencies.
func TestNoMesosOrProtobuf(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "mesos") || strings.Contains(dep, "protobuf") {
			t.Errorf("tlsprov depends on %s", dep)
		}
	}
}
