package main

// Black-box tests: build the bootstrap binary, run it with a controlled
// environment and a temporary sandbox, and check its exit code, output and
// files.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/taskkit/taskkit/internal/dnswait/dnstest"
	"github.com/taskkit/taskkit/internal/pki"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bootstrap-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "bootstrap")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("building bootstrap: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
	pid            int
}

// baseEnv is a minimal environment: no TASK_NAME, so no DNS wait unless a
// test asks for one, and a fixed task IP.
func baseEnv(sandbox string, extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"MESOS_SANDBOX=" + sandbox,
		"MESOS_CONTAINER_IP=127.0.0.9",
	}, extra...)
}

func runBin(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Start()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("bootstrap %v did not finish in 60s", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String(), pid: cmd.Process.Pid}
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
}

// listing is every path in dir, to prove nothing was half-written.
func listing(t *testing.T, dir string) string {
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		names = append(names, rel)
		return nil
	})
	return strings.Join(names, "\n")
}

func TestVersionAndHelp(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-version"}, {"--help"}, {"-h"}} {
		r := runBin(t, nil, args...)
		if r.code != 0 {
			t.Errorf("%v: exit %d", args, r.code)
		}
		if args[0] == "--version" && !strings.HasPrefix(r.stdout, "bootstrap ") {
			t.Errorf("--version printed %q", r.stdout)
		}
		if strings.Contains(args[0], "h") && !strings.Contains(r.stdout, "-resolve-timeout") {
			t.Errorf("--help lacks flags:\n%s", r.stdout)
		}
	}
}

func TestRendersTemplatesRelativeToSandbox(t *testing.T) {
	sb := t.TempDir()
	write(t, filepath.Join(sb, "tmpl", "app.conf.mustache"), "port={{PORT_HTTP}}\nip={{LIBPROCESS_IP}}\n{{#TLS}}tls on{{/TLS}}{{^TLS}}tls off{{/TLS}}\n", 0o644)
	write(t, filepath.Join(sb, "tmpl", "run.sh.mustache"), "#!/bin/sh\nexec server --port {{PORT_HTTP}}\n", 0o755)
	env := baseEnv(sb, "PORT_HTTP=8080", "TLS=false",
		"CONFIG_TEMPLATE_APP=tmpl/app.conf.mustache,conf/app.conf")
	r := runBin(t, env, "--config", "tmpl/run.sh.mustache,bin/run.sh")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	got, _ := os.ReadFile(filepath.Join(sb, "conf", "app.conf"))
	if string(got) != "port=8080\nip=127.0.0.9\ntls off\n" {
		t.Errorf("app.conf = %q", got)
	}
	fi, err := os.Stat(filepath.Join(sb, "bin", "run.sh"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh: %v, mode %v", err, fi)
	}
	if !strings.Contains(r.stderr, "+port=8080") {
		t.Errorf("no diff logged:\n%s", r.stderr)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	sb := t.TempDir()
	const pw, tok, custom = "pw-Zq8Xv3-unique", "tok-Hh4Kk9-unique", "ext-Rr7Jj2-unique"
	const htmlPw, urlPw, keyLine = `h&t<m>l"Pw-unique`, "urlpw-Kk2Mm4-unique", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCunique"
	write(t, filepath.Join(sb, "db.mustache"), "password={{{DB_PASSWORD}}}\ntoken={{AUTH_TOKEN}}\nkey={{MY_EXTRA}}\nurl=postgres://app:{{{DB_PASSWORD}}}@db/app\nhtml={{HTML_PASSWORD}}\n", 0o644)
	write(t, filepath.Join(sb, "db.conf"), "password=old\n", 0o644)
	env := baseEnv(sb, "DB_PASSWORD="+pw, "AUTH_TOKEN="+tok, "MY_EXTRA="+custom, "HTML_PASSWORD="+htmlPw,
		"DATABASE_URL=postgres://u:"+urlPw+"@h/db",
		"TLS_SERVER_KEY=-----BEGIN PRIVATE KEY-----\n"+keyLine+"\n-----END PRIVATE KEY-----\n",
		"JDBC_URL=jdbc:postgresql://db/app?password="+pw, "CONFIG_TEMPLATE_DB=db.mustache,db.conf")
	for _, format := range []string{"text", "json"} {
		os.WriteFile(filepath.Join(sb, "db.conf"), []byte("password=old\n"), 0o644)
		r := runBin(t, env, "-redact-keys", "^MY_EXTRA$", "-log-format", format)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", format, r.code, r.stderr)
		}
		all := r.stdout + r.stderr
		for _, secret := range []string{pw, tok, custom, urlPw, keyLine, "h&amp;t&lt;m&gt;l&#34;Pw-unique"} {
			if strings.Contains(all, secret) {
				t.Errorf("%s output leaks %q:\n%s", format, secret, all)
			}
		}
		if !strings.Contains(all, "DB_PASSWORD=********") || !strings.Contains(all, "password=********") {
			t.Errorf("%s: expected masked env and diff:\n%s", format, all)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(sb, "db.conf")); !strings.Contains(string(b), pw) {
		t.Error("the rendered file must hold the real secret")
	}
	r := runBin(t, env, "-insecure")
	if !strings.Contains(r.stderr, "DB_PASSWORD="+pw) {
		t.Errorf("-insecure should show secrets:\n%s", r.stderr)
	}
}

// TestSecretsOfEveryKindNeverPrinted: the kinds of secret helper-48 found
// printed (repro 02-05) — names written with dots, URL userinfo with an
// e-mail user, an apostrophe or no scheme, a PEM private key under a
// neutral name, a GCS signed URL — are masked in the environment print and
// in the diff of a template that writes them, in both log formats; a bare
// key's value is not, nor (in the text print) the shell's PWD.
func TestSecretsOfEveryKindNeverPrinted(t *testing.T) {
	sb := t.TempDir()
	const keyLine = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKindsTestOnly0"
	secrets := []string{"Do1Secretvalue", "Do2Secretvalue", "Sm1Secretvalue", "It's2Secretvalue", "Px3Secretvalue", "Gcs4Secretvalue", keyLine}
	env := baseEnv(sb,
		"jwt.private.key=Do1Secretvalue", "aws.access.key=Do2Secretvalue",
		"SMTP_URL=smtps://alerts@example.com:Sm1Secretvalue@smtp.example.com:465",
		"DATABASE_URL=postgres://app:It's2Secretvalue@db:5432/app",
		"HTTPS_PROXY=proxyuser:Px3Secretvalue@proxy.corp:3128",
		"ARTIFACT=https://storage.googleapis.com/b/app.tgz?X-Goog-Date=20261130T000000Z&X-Goog-Signature=Gcs4Secretvalue",
		"X=-----BEGIN PRIVATE KEY-----\n"+keyLine+"\n-----END PRIVATE KEY-----\n",
		"CONFIG_TEMPLATE_APP=app.mustache,app.conf", "PWD=/srv/app", "PRIMARY_KEY_COLUMN=id")
	write(t, filepath.Join(sb, "app.mustache"), "smtp={{{SMTP_URL}}}\ndb={{{DATABASE_URL}}}\nproxy={{{HTTPS_PROXY}}}\nartifact={{{ARTIFACT}}}\nkey={{{X}}}\n", 0o644)
	for _, format := range []string{"text", "json"} {
		os.Remove(filepath.Join(sb, "app.conf"))
		r := runBin(t, env, "-log-format", format)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", format, r.code, r.stderr)
		}
		all := r.stdout + r.stderr
		for _, secret := range secrets {
			if strings.Contains(all, secret) {
				t.Errorf("%s output leaks %q:\n%s", format, secret, all)
			}
		}
		for _, kept := range []string{"jwt.private.key=********", "smtps://alerts@example.com:********@smtp.example.com:465",
			"proxyuser:********@proxy.corp:3128", "X-Goog-Signature=********", "-----BEGIN PRIVATE KEY-----",
			"PRIMARY_KEY_COLUMN=id"} {
			if !strings.Contains(all, kept) {
				t.Errorf("%s output lacks %q:\n%s", format, kept, all)
			}
		}
		// The JSON record's lines pass the masking logger as text, where
		// PWD= is ODBC's password parameter.
		if format == "text" && !strings.Contains(all, "PWD=/srv/app") {
			t.Errorf("the shell's PWD is masked:\n%s", all)
		}
	}
}

func TestAllOrNothingAndExitCodes(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		args  []string
		code  int
		error string
	}{
		{"bad flag", nil, []string{"-no-such-flag"}, 2, "no-such-flag"},
		{"bad write mode", nil, []string{"-write-mode", "copy"}, 2, "-write-mode"},
		{"bad wait url", nil, []string{"-wait", "ftp://admin:TopSecretPw@x/"}, 2, "-wait"},
		{"bad redact regexp", nil, []string{"-redact-keys", "("}, 2, "-redact-keys"},
		{"bad log format", nil, []string{"-log-format", "xml"}, 2, "-log-format"},
		{"negative timeout", nil, []string{"-resolve-timeout", "-1s"}, 2, "-resolve-timeout"},
		{"tiny max interval", nil, []string{"-resolve-max-interval", "1ms"}, 2, "-resolve-max-interval"},
		{"zero attempt timeout", nil, []string{"-resolve-attempt-timeout", "0s"}, 2, "-resolve-attempt-timeout: must be positive"},
		{"negative attempt timeout variable", []string{"BOOTSTRAP_RESOLVE_ATTEMPT_TIMEOUT=-1s"}, nil, 2, "BOOTSTRAP_RESOLVE_ATTEMPT_TIMEOUT: must be positive"},
		{"bad env duration", []string{"BOOTSTRAP_RESOLVE_TIMEOUT=soon"}, nil, 2, "BOOTSTRAP_RESOLVE_TIMEOUT"},
		{"malformed template var", []string{"CONFIG_TEMPLATE_X=nocomma"}, nil, 2, "CONFIG_TEMPLATE_X"},
		{"missing template source", []string{"CONFIG_TEMPLATE_Y=missing.tmpl,y.conf"}, nil, 3, "CONFIG_TEMPLATE_Y"},
		{"strict miss", []string{"CONFIG_TEMPLATE_Z=ok.tmpl,z.conf"}, []string{"-strict"}, 3, "missing variables: UNSET_VAR"},
		{"template too big", []string{"CONFIG_TEMPLATE_Z=ok.tmpl,z.conf"}, []string{"-template-max-bytes", "3"}, 3, "over the limit"},
		{"exec not found", nil, []string{"--", "no-such-command-xyz"}, 6, "no-such-command-xyz"},
		// Both told, the template's exit code (it said only the command's).
		{"strict miss and exec not found", []string{"CONFIG_TEMPLATE_Z=ok.tmpl,z.conf"}, []string{"-strict", "--", "no-such-command-xyz"}, 3,
			`missing variables: UNSET_VAR; command "no-such-command-xyz": exec: "no-such-command-xyz": executable file not found in $PATH`},
		// A command only after "--": a word without it is no exec (it was: exit 6).
		{"command without --", nil, []string{"-strict", "./server"}, 2, `bootstrap: unexpected argument "./server": put the command to exec after --`},
		{"a true/false flag's value without =", nil, []string{"-strict", "false", "--", "true"}, 2, `bootstrap: unexpected argument "false": -strict, a true/false flag, takes its value only after "="`},
		{"nothing after --", nil, []string{"--"}, 2, "bootstrap: no command after --"},
		{"a flag missing its value before --", nil, []string{"-resolvers", "--", "true"}, 2, "bootstrap: missing value for -resolvers"},
		{"wait timeout", nil, []string{"-wait", "tcp://127.0.0.1:1", "-resolve-timeout", "300ms"}, 4, "tcp://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := t.TempDir()
			write(t, filepath.Join(sb, "ok.tmpl"), "a={{A}} u={{UNSET_VAR}}\n", 0o644)
			env := baseEnv(sb, append([]string{"A=1", "CONFIG_TEMPLATE_GOOD=ok.tmpl,out/good.conf"}, tt.env...)...)
			before := listing(t, sb)
			r := runBin(t, env, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.error) {
				t.Errorf("stderr lacks %q:\n%s", tt.error, r.stderr)
			}
			if strings.Contains(r.stderr, "TopSecretPw") {
				t.Errorf("stderr leaks the URL password:\n%s", r.stderr)
			}
			// Nothing written, a missing command after "--" included: it is
			// looked for before any template is written.
			if after := listing(t, sb); after != before {
				t.Errorf("sandbox changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestExecTellsAMissingInterpreter: a script saved with Windows line ends
// asks the kernel for "/bin/sh\r", and exec said only "no such file or
// directory" for a file that is there (GoteoFoundation/goteo#632).
func TestExecTellsAMissingInterpreter(t *testing.T) {
	sb := t.TempDir()
	write(t, filepath.Join(sb, "run.sh"), "#!/bin/sh\r\necho ran\r\n", 0o755)
	r := runBin(t, baseEnv(sb), "-print-env=false", "--", filepath.Join(sb, "run.sh"))
	if want := `its #! line asks for "/bin/sh\r": the script has Windows (CRLF) line ends`; r.code != 6 || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d (want 6), stderr lacks %q:\n%s", r.code, want, r.stderr)
	}
}

// TestCommandMayBeARenderedTemplate: the command after "--" may be a
// template's destination (it exists once the templates are written, just
// before the exec).
func TestCommandMayBeARenderedTemplate(t *testing.T) {
	sb := t.TempDir()
	write(t, filepath.Join(sb, "run.tmpl"), "#!/bin/sh\necho ran {{A}}\n", 0o755)
	r := runBin(t, baseEnv(sb, "A=1", "CONFIG_TEMPLATE_RUN=run.tmpl,"+filepath.Join(sb, "run.sh")), "-print-env=false", "--", filepath.Join(sb, "run.sh"))
	if r.code != 0 || !strings.Contains(r.stdout, "ran 1") {
		t.Fatalf("exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestEnvVarsAndDoubleDashFlags(t *testing.T) {
	sb := t.TempDir()
	r := runBin(t, baseEnv(sb, "BOOTSTRAP_PRINT_ENV=false"))
	if r.code != 0 || strings.Contains(r.stderr, "bootstrap environment") {
		t.Errorf("BOOTSTRAP_PRINT_ENV=false ignored: exit %d\n%s", r.code, r.stderr)
	}
	r = runBin(t, baseEnv(sb), "--print-env=false")
	if r.code != 0 || strings.Contains(r.stderr, "bootstrap environment") {
		t.Errorf("--print-env=false ignored:\n%s", r.stderr)
	}
	r = runBin(t, baseEnv(sb), "-get-task-ip")
	if r.code != 0 || r.stdout != "127.0.0.9\n" {
		t.Errorf("-get-task-ip: exit %d stdout %q", r.code, r.stdout)
	}
	r = runBin(t, baseEnv(sb, "BOOTSTRAP_GET_TASK_IP=true", "MESOS_CONTAINER_IP=", "LIBPROCESS_IP=10.1.2.3"))
	if r.stdout != "10.1.2.3\n" {
		t.Errorf("LIBPROCESS_IP fallback: %q", r.stdout)
	}
}

func TestExecReplacesProcess(t *testing.T) {
	sb := t.TempDir()
	r := runBin(t, baseEnv(sb, "A=1"), "-print-env=false", "--", "sh", "-c", `echo "pid=$$ ip=$LIBPROCESS_IP cip=$MESOS_CONTAINER_IP"; exit 7`)
	if r.code != 7 {
		t.Fatalf("exit %d, want the command's 7\n%s", r.code, r.stderr)
	}
	want := "pid=" + strconv.Itoa(r.pid) + " ip=127.0.0.9 cip=127.0.0.9\n"
	if r.stdout != want {
		t.Errorf("stdout %q, want %q (same PID as bootstrap)", r.stdout, want)
	}
}

func TestDNSWaits(t *testing.T) {
	dns, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	tests := []struct {
		name    string
		task    string
		setup   func(name string)
		later   func(name string)
		timeout string
		code    int
		stderr  string
	}{
		{"appears after a delay", "a", nil, func(n string) { dns.Set(n, "127.0.0.9") }, "20s", 0, "msg=ready"},
		{"dual stack contains the task IP", "b", func(n string) { dns.Set(n, "127.0.0.9", "::1") }, nil, "20s", 0, ""},
		{"wrong IP", "c", func(n string) { dns.Set(n, "127.0.0.8") }, nil, "1s", 4, "127.0.0.8"},
		{"never appears", "d", nil, nil, "1s", 4, "NXDOMAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := tt.task + ".svc.mesos"
			if tt.setup != nil {
				tt.setup(name)
			}
			if tt.later != nil {
				time.AfterFunc(300*time.Millisecond, func() { tt.later(name) })
			}
			env := baseEnv(t.TempDir(), "TASK_NAME="+tt.task, "FRAMEWORK_HOST=svc.mesos")
			r := runBin(t, env, "-print-env=false", "-resolvers", dns.Addr, "-resolve-timeout", tt.timeout)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.stderr) || (tt.code == 4 && !strings.Contains(r.stderr, name)) {
				t.Errorf("stderr lacks %q or %q:\n%s", tt.stderr, name, r.stderr)
			}
		})
	}
}

// TestResolveAttemptTimeout: one attempt at a -wait target may take up to
// -resolve-attempt-timeout (BOOTSTRAP_RESOLVE_ATTEMPT_TIMEOUT), so an
// endpoint that answers 200 after 2.5 s passes by default (it never did
// under the former hidden 2 s cap), and an attempt the setting cuts short
// says so, naming the setting.
func TestResolveAttemptTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2500 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	sb := t.TempDir()
	r := runBin(t, baseEnv(sb), "-print-env=false", "-resolve-timeout", "20s", "-wait", srv.URL+"/late")
	if r.code != 0 {
		t.Fatalf("default attempt timeout: exit %d, want 0\n%s", r.code, r.stderr)
	}
	r = runBin(t, baseEnv(sb, "BOOTSTRAP_RESOLVE_ATTEMPT_TIMEOUT=200ms"), "-print-env=false", "-resolve-timeout", "1s", "-wait", srv.URL+"/late")
	if want := "attempt timed out after 200ms (BOOTSTRAP_RESOLVE_ATTEMPT_TIMEOUT): timed out"; r.code != 4 || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d, want 4 and %q\n%s", r.code, want, r.stderr)
	}
}

// TestHTTPSWaitTrustsTheTaskCA: an https:// wait trusts the task's CA
// bundle (-ca-file, BOOTSTRAP_CA_FILE, by default the sandbox's
// .ssl/ca-bundle.crt) besides the system roots, so a peer with a
// certificate from the service's CA passes (repro h48/07); a bundle that
// cannot be used is a configuration error naming the setting and the file,
// before any wait.
func TestHTTPSWaitTrustsTheTaskCA(t *testing.T) {
	ca, err := pki.NewCA(pki.CARequest{CommonName: "service CA", KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafRequest{CommonName: "peer", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	peer := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	peer.Config.ErrorLog = log.New(io.Discard, "", 0)
	peer.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Leaf().Raw}, PrivateKey: leaf.Key}}}
	peer.StartTLS()
	defer peer.Close()
	caPEM := string(pki.EncodeCertsPEM(ca.Cert))
	tests := []struct {
		name   string
		bundle string // the sandbox's .ssl/ca-bundle.crt; "" = none
		env    []string
		args   []string
		code   int
		stderr string // SB: the sandbox
	}{
		{"the sandbox bundle", caPEM, nil, nil, 0, "https waits trust the system roots and the task's CA bundle"},
		{"-ca-file", "", nil, []string{"-ca-file", "mine/ca.pem"}, 0, "mine/ca.pem"},
		{"no bundle: system roots only", "", nil, nil, 4, "certificate signed by unknown authority"},
		{"-ca-file missing", "", nil, []string{"-ca-file", "nope.pem"}, 2, "-ca-file: CA bundle for https waits: open SB/nope.pem: no such file"},
		{"BOOTSTRAP_CA_FILE not PEM", "", []string{"BOOTSTRAP_CA_FILE=garbage.pem"}, nil, 2, "BOOTSTRAP_CA_FILE: CA bundle for https waits: SB/garbage.pem: no PEM CERTIFICATE block found"},
		{"the sandbox bundle not PEM", "garbage", nil, nil, 2, "the sandbox's CA bundle (the default of -ca-file): CA bundle for https waits: SB/.ssl/ca-bundle.crt: no PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := t.TempDir()
			if tt.bundle != "" {
				write(t, filepath.Join(sb, ".ssl", "ca-bundle.crt"), tt.bundle, 0o644)
			}
			write(t, filepath.Join(sb, "mine", "ca.pem"), caPEM, 0o644)
			write(t, filepath.Join(sb, "garbage.pem"), "not a certificate\n", 0o644)
			cmd := append([]string{"-print-env=false", "-install-certs=false", "-resolve-timeout", "1s", "-wait", peer.URL + "/health"}, tt.args...)
			r := runBin(t, baseEnv(sb, tt.env...), cmd...)
			if want := strings.ReplaceAll(tt.stderr, "SB", sb); r.code != tt.code || !strings.Contains(r.stderr, want) {
				t.Fatalf("exit %d, want %d and %q\n%s", r.code, tt.code, want, r.stderr)
			}
		})
	}
}

// TestWaitForeverInterruptedBySignal: -resolve-timeout=0 waits without a
// deadline (the SDK crashed here) until a signal ends it with 128+signal.
func TestWaitForeverInterruptedBySignal(t *testing.T) {
	dns, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	cmd := exec.Command(binary, "-print-env=false", "-resolvers", dns.Addr, "-resolve-timeout=0")
	cmd.Env = baseEnv(t.TempDir(), "TASK_NAME=never", "FRAMEWORK_HOST=svc.mesos")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until it has asked at least twice, then stop it.
	deadline := time.Now().Add(30 * time.Second)
	for len(dns.Queries("never.svc.mesos")) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 128+int(syscall.SIGTERM) {
		t.Fatalf("wait: %v, want exit 143\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "never.svc.mesos") {
		t.Errorf("stderr does not name the pending host:\n%s", errb.String())
	}
}

func TestInstallCertsIdempotent(t *testing.T) {
	sb, javaHome, store := javaTruststore(t)

	env := baseEnv(sb, "JAVA_HOME="+javaHome)
	r := runBin(t, env, "-print-env=false")
	if r.code != 0 || !strings.Contains(r.stderr, "CA installed") {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	r = runBin(t, env, "-print-env=false")
	if r.code != 0 || !strings.Contains(r.stderr, "CA already in the truststore") {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	os.WriteFile(store, []byte("corrupt"), 0o644)
	r = runBin(t, env, "-print-env=false")
	if r.code != 5 || !strings.Contains(r.stderr, store) {
		t.Fatalf("corrupt store: exit %d, want 5\n%s", r.code, r.stderr)
	}
	r = runBin(t, baseEnv(sb), "-print-env=false") // no JAVA_HOME: skipped
	if r.code != 0 || !strings.Contains(r.stderr, "JAVA_HOME unset") {
		t.Fatalf("no JAVA_HOME: exit %d\n%s", r.code, r.stderr)
	}
}

// TestTruststorePasswordJKSCannotHoldNamed: a truststore password with a
// character a JKS file cannot hold here (above U+00FF) fails naming the
// flag or variable it came from, not only the truststore file, and never
// the password itself.
func TestTruststorePasswordJKSCannotHoldNamed(t *testing.T) {
	sb, javaHome, _ := javaTruststore(t)

	const pw = "pa€ss"
	for _, tc := range []struct {
		name, source string
		env, args    []string
	}{
		{"flag", "-truststore-password", nil, []string{"-truststore-password", pw}},
		{"variable", "BOOTSTRAP_TRUSTSTORE_PASSWORD", []string{"BOOTSTRAP_TRUSTSTORE_PASSWORD=" + pw}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv(sb, append([]string{"JAVA_HOME=" + javaHome}, tc.env...)...)
			r := runBin(t, env, append([]string{"-print-env=false"}, tc.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, "above U+00FF") {
				t.Fatalf("exit %d, want a failure saying why\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.source) {
				t.Errorf("the error does not name %s:\n%s", tc.source, r.stderr)
			}
			if strings.Contains(r.stderr, pw) {
				t.Errorf("the password is in stderr:\n%s", r.stderr)
			}
		})
	}
}

// TestMissesWarnedWithoutStrict: without -strict a variable a template
// prints but the environment lacks renders empty, as in the SDK, and a
// warning names the template and every such variable (a misspelt name is
// not only an empty value in the file); -dry-run says the same; a template
// missing nothing gets no warning.
func TestMissesWarnedWithoutStrict(t *testing.T) {
	const warn = "level=WARN msg=\"template prints what the environment lacks: rendered empty (-strict makes it an error)\""
	for _, tc := range []struct {
		name, tmpl, want string
		args             []string
		warned           bool
	}{
		{name: "missing", tmpl: "a={{A}} u={{UNSET_VAR}} {{{OTHER}}}\n", want: "a=1 u= \n", warned: true},
		{name: "missing, dry run", tmpl: "a={{A}} u={{UNSET_VAR}} {{{OTHER}}}\n", args: []string{"-dry-run"}, warned: true},
		{name: "nothing missing", tmpl: "a={{A}}\n", want: "a=1\n"},
		{name: "a default given with the idiom", tmpl: "u={{UNSET_VAR}}{{^UNSET_VAR}}x{{/UNSET_VAR}}\n", want: "u=x\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := t.TempDir()
			write(t, filepath.Join(sb, "t.tmpl"), tc.tmpl, 0o644)
			r := runBin(t, baseEnv(sb, "A=1", "CONFIG_TEMPLATE_T=t.tmpl,t.conf"), append([]string{"-print-env=false"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if got := strings.Contains(r.stderr, warn); got != tc.warned {
				t.Errorf("warned %v, want %v:\n%s", got, tc.warned, r.stderr)
			}
			if tc.warned && !strings.Contains(r.stderr, warn+" template=CONFIG_TEMPLATE_T variables=UNSET_VAR,OTHER\n") {
				t.Errorf("the warning does not name the template and both variables:\n%s", r.stderr)
			}
			if tc.want != "" {
				if got, _ := os.ReadFile(filepath.Join(sb, "t.conf")); string(got) != tc.want {
					t.Errorf("t.conf = %q, want %q", got, tc.want)
				}
			}
		})
	}
}

// javaTruststore makes a sandbox with a cluster CA in .ssl/ca-bundle.crt
// and a JAVA_HOME whose lib/security/cacerts (store) is an empty JKS
// truststore with the password changeit.
func javaTruststore(t *testing.T) (sb, javaHome, store string) {
	t.Helper()
	sb, javaHome = t.TempDir(), t.TempDir()
	store = filepath.Join(javaHome, "lib", "security", "cacerts")
	os.MkdirAll(filepath.Dir(store), 0o755)
	var buf bytes.Buffer
	keystore.New().Store(&buf, []byte("changeit"))
	os.WriteFile(store, buf.Bytes(), 0o644)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "DC/OS CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	write(t, filepath.Join(sb, ".ssl", "ca-bundle.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	return sb, javaHome, store
}
