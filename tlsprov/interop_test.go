package main

// Interop tests: the artifacts tlsprov writes are read by the real tools users
// run — openssl, keytool and a Java TLS server and client — and tlsprov reads
// what openssl writes. Each test skips, loudly, when its tool is missing;
// .ci/run installs them (apt-get install openssl default-jdk-headless).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskkit/taskkit/internal/testtools"
)

func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	return testtools.Require(t, name, pkg)
}

// tool runs a real tool in dir and returns its combined output; a non-zero
// exit fails the test unless wantFail.
func tool(t *testing.T, dir string, wantFail bool, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantFail {
		t.Fatalf("%s %s: %v (want failure: %v)\n%s", name, strings.Join(args, " "), err, wantFail, out)
	}
	return string(out)
}

// materializeFixture writes the test hierarchy's artifacts (root → intermediate
// → leaf for server.test) in every format into a new directory, with a second,
// unrelated root in NAME.ca / NAME.truststore when twoRoots.
func materializeFixture(t *testing.T, twoRoots bool, extra ...string) string {
	t.Helper()
	s := testSecrets(t)
	dir := t.TempDir()
	env := s.env("server")
	if twoRoots {
		env["TLS_SERVER_CA"] = s.otherCA + s.ca
	}
	args := append([]string{"materialize", "--name", "server", "--formats", "pem,jks,pkcs12"}, extra...)
	if r := runTool(t, dir, env, "", args...); r.code != 0 {
		t.Fatalf("materialize: exit %d: %s", r.code, r.stderr)
	}
	return dir
}

func TestInteropOpenSSL(t *testing.T) {
	openssl := requireTool(t, "openssl", "openssl")
	dir := materializeFixture(t, false)

	t.Run("verify leaf through intermediate to root", func(t *testing.T) {
		// openssl verify reads only the first certificate of its target file, so
		// the intermediates in server.crt are passed as -untrusted.
		out := tool(t, dir, false, openssl, "verify", "-CAfile", "server.ca", "-untrusted", "server.crt", "server.crt")
		if strings.TrimSpace(out) != "server.crt: OK" {
			t.Fatalf("openssl verify: %s", out)
		}
		// Without the intermediate, or against another root, it must fail.
		tool(t, dir, true, openssl, "verify", "-CAfile", "server.ca", "server.crt")
	})
	t.Run("pkey reads the PKCS#8 key and it matches the certificate", func(t *testing.T) {
		tool(t, dir, false, openssl, "pkey", "-in", "server.key", "-noout")
		keyPub := tool(t, dir, false, openssl, "pkey", "-in", "server.key", "-pubout")
		crtPub := tool(t, dir, false, openssl, "x509", "-in", "server.crt", "-noout", "-pubkey")
		if keyPub != crtPub {
			t.Fatalf("public keys differ:\n%s\n%s", keyPub, crtPub)
		}
	})
	t.Run("pkcs12 modern encryption", func(t *testing.T) {
		info := tool(t, dir, false, openssl, "pkcs12", "-in", "server.p12", "-passin", "pass:notsecure", "-info", "-noout")
		for _, want := range []string{"MAC: sha256", "PBES2, PBKDF2, AES-256-CBC", "Shrouded Keybag: PBES2"} {
			if !strings.Contains(info, want) {
				t.Errorf("openssl pkcs12 -info lacks %q:\n%s", want, info)
			}
		}
		pems := tool(t, dir, false, openssl, "pkcs12", "-in", "server.p12", "-passin", "pass:notsecure", "-nodes")
		if n := strings.Count(pems, "BEGIN CERTIFICATE"); n != 3 || !strings.Contains(pems, "BEGIN PRIVATE KEY") {
			t.Errorf("openssl pkcs12 found %d certificates (want 3) or no key", n)
		}
	})
	t.Run("pkcs12 -export -name: inspect lists the alias", func(t *testing.T) {
		tool(t, dir, false, openssl, "pkcs12", "-export", "-in", "server.crt", "-inkey", "server.key", "-name", "Mixed Case",
			"-passout", "pass:notsecure", "-out", "openssl.p12")
		r := runTool(t, dir, nil, "", "inspect", "openssl.p12")
		if r.code != 0 || !strings.Contains(r.stdout, `alias "Mixed Case": PrivateKeyEntry`) {
			t.Errorf("exit %d, want the key entry under openssl's -name:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("pkcs12 legacy encryption", func(t *testing.T) {
		dir := materializeFixture(t, false, "--pkcs12-legacy")
		info := tool(t, dir, false, openssl, "pkcs12", "-in", "server.p12", "-passin", "pass:notsecure", "-info", "-noout")
		if !strings.Contains(info, "pbeWithSHA1And3-KeyTripleDES-CBC") || !strings.Contains(info, "MAC: sha1") {
			t.Errorf("legacy p12 info:\n%s", info)
		}
	})
}

// TestInteropOpenSSLInputs materializes keys and certificates made by openssl
// in the forms it writes: PKCS#1 RSA, SEC1 EC, PKCS#8 Ed25519.
func TestInteropOpenSSLInputs(t *testing.T) {
	openssl := requireTool(t, "openssl", "openssl")
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n")
	write("leaf.ext", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:app.test\n")
	tool(t, dir, false, openssl, "genrsa", "-traditional", "-out", "root.key", "2048")
	tool(t, dir, false, openssl, "req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=OpenSSL Root", "-days", "30", "-out", "root.crt",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	tests := []struct {
		name   string
		keygen []string
		marker string // the PEM type openssl wrote
	}{
		{"RSA PKCS#1", []string{"genrsa", "-traditional", "-out", "leaf.key", "2048"}, "BEGIN RSA PRIVATE KEY"},
		{"EC SEC1", []string{"ecparam", "-name", "prime256v1", "-genkey", "-out", "leaf.key"}, "BEGIN EC PRIVATE KEY"},
		{"Ed25519 PKCS#8", []string{"genpkey", "-algorithm", "ed25519", "-out", "leaf.key"}, "BEGIN PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool(t, dir, false, openssl, tt.keygen...)
			key, _ := os.ReadFile(filepath.Join(dir, "leaf.key"))
			if !strings.Contains(string(key), tt.marker) {
				t.Fatalf("openssl wrote no %q key", tt.marker)
			}
			tool(t, dir, false, openssl, "req", "-new", "-key", "leaf.key", "-subj", "/CN=app", "-out", "leaf.csr")
			tool(t, dir, false, openssl, "x509", "-req", "-in", "leaf.csr", "-CA", "root.crt", "-CAkey", "root.key", "-CAcreateserial",
				"-days", "10", "-extfile", "leaf.ext", "-out", "leaf.crt")
			r := runTool(t, dir, nil, "", "materialize", "--name", "app", "--dir", "out", "--formats", "pem,jks,pkcs12",
				"--key", "file:leaf.key", "--cert", "file:leaf.crt", "--ca", "file:root.crt")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "expires in 9 days") {
				t.Errorf("no expiry warning for a 10-day certificate:\n%s", r.stderr)
			}
			tool(t, filepath.Join(dir, "out"), false, openssl, "verify", "-CAfile", "app.ca", "app.crt")
		})
	}
}

func TestInteropKeytool(t *testing.T) {
	keytool := requireTool(t, "keytool", "default-jdk-headless")
	dir := materializeFixture(t, true)

	t.Run("keystore", func(t *testing.T) {
		out := tool(t, dir, false, keytool, "-list", "-v", "-keystore", "server.keystore", "-storepass", "notsecure")
		for _, want := range []string{"Your keystore contains 1 entry", "Alias name: default", "Entry type: PrivateKeyEntry",
			"Certificate chain length: 3", "Owner: CN=server", "Owner: CN=Test Intermediate", "Owner: CN=Test Root"} {
			if !strings.Contains(out, want) {
				t.Errorf("keytool -list -v lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("truststore holds every CA", func(t *testing.T) {
		out := tool(t, dir, false, keytool, "-list", "-v", "-keystore", "server.truststore", "-storepass", "notsecure")
		for _, want := range []string{"Your keystore contains 2 entries", "Alias name: dcos-root\n", "Alias name: dcos-root-2\n", "Owner: CN=Test Root", "Owner: CN=Other Root"} {
			if !strings.Contains(out, want) {
				t.Errorf("keytool -list -v lacks %q:\n%s", want, out)
			}
		}
		if n := strings.Count(out, "Entry type: trustedCertEntry"); n != 2 {
			t.Errorf("%d trustedCertEntry, want 2", n)
		}
		// The root that anchors the chain comes first, whatever the input order.
		if strings.Index(out, "Owner: CN=Test Root") > strings.Index(out, "Owner: CN=Other Root") {
			t.Errorf("dcos-root is not the anchoring root:\n%s", out)
		}
	})
	t.Run("pkcs12", func(t *testing.T) {
		out := tool(t, dir, false, keytool, "-list", "-v", "-storetype", "PKCS12", "-keystore", "server.p12", "-storepass", "notsecure")
		for _, want := range []string{"Alias name: default\n", "Entry type: PrivateKeyEntry", "Certificate chain length: 3"} {
			if !strings.Contains(out, want) {
				t.Errorf("keytool -list -v lacks %q:\n%s", want, out)
			}
		}
	})
}

// TestInteropKeyAlias checks that --key-alias names the key entry of
// NAME.p12 as it names NAME.keystore's: the PKCS#12 file carried no
// friendlyName, so keytool listed its entry as "1" whatever the flag said.
// openssl shows the name on the key's and the leaf's bags (as
// `openssl pkcs12 -export -name` writes them); keytool lists the entry by it.
func TestInteropKeyAlias(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		args := []string{"--key-alias", "Web-Server"}
		if legacy {
			args = append(args, "--pkcs12-legacy")
		}
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := materializeFixture(t, false, args...)
			t.Run("openssl pkcs12 -info", func(t *testing.T) {
				openssl := requireTool(t, "openssl", "openssl")
				info := tool(t, dir, false, openssl, "pkcs12", "-in", "server.p12", "-passin", "pass:notsecure", "-info", "-nodes")
				if n := strings.Count(info, "friendlyName: web-server\n"); n != 2 {
					t.Errorf("friendlyName web-server on %d bags, want 2 (the key and the leaf):\n%s", n, info)
				}
			})
			t.Run("tlsprov inspect", func(t *testing.T) {
				r := runTool(t, dir, nil, "", "inspect", "server.keystore", "server.p12")
				if r.code != 0 || strings.Count(r.stdout, `alias "web-server": PrivateKeyEntry`) != 2 {
					t.Errorf("exit %d, want both files' key entry under alias web-server:\n%s%s", r.code, r.stdout, r.stderr)
				}
			})
			t.Run("keytool -list", func(t *testing.T) {
				keytool := requireTool(t, "keytool", "default-jdk-headless")
				for _, f := range []string{"server.keystore", "server.p12"} {
					out := tool(t, dir, false, keytool, "-list", "-v", "-keystore", f, "-storepass", "notsecure")
					for _, want := range []string{"Your keystore contains 1 entry", "Alias name: web-server\n", "Entry type: PrivateKeyEntry", "Certificate chain length: 3"} {
						if !strings.Contains(out, want) {
							t.Errorf("keytool -list -v %s lacks %q:\n%s", f, want, out)
						}
					}
				}
			})
		})
	}
}

// TestInteropKeytoolLatin1Password opens stores written with a password
// that is not ASCII. Java hashes a JKS password as UTF-16 chars; tlsprov
// handed keystore-go the UTF-8 bytes, so keytool refused the keystore and
// the truststore as "Keystore was tampered with, or password was incorrect"
// (kurtbrose/pyjks#16 fixed the same in another JKS writer).
func TestInteropKeytoolLatin1Password(t *testing.T) {
	keytool := requireTool(t, "keytool", "default-jdk-headless")
	const pw = "pässwört-çé"
	t.Setenv("LC_ALL", "C.UTF-8") // the JVM decodes its arguments by the locale
	dir := materializeFixture(t, false, "--keystore-password", pw)
	for _, f := range []string{"server.keystore", "server.truststore"} {
		t.Run(f, func(t *testing.T) {
			out := tool(t, dir, false, keytool, "-list", "-keystore", f, "-storepass", pw)
			if !strings.Contains(out, "Your keystore contains 1 entry") {
				t.Errorf("keytool -list:\n%s", out)
			}
		})
	}
}

// TestInteropJavaTLS runs a Java TLS server on NAME.keystore (and NAME.p12)
// and a client that trusts only NAME.truststore and verifies the server's DNS
// name, in one JVM (testdata/TLSCheck.java, run by the source launcher).
func TestInteropJavaTLS(t *testing.T) {
	java := requireTool(t, "java", "default-jdk-headless")
	dir := materializeFixture(t, true)
	src, err := filepath.Abs(filepath.Join("testdata", "TLSCheck.java"))
	if err != nil {
		t.Fatal(err)
	}
	out := tool(t, dir, false, java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", src,
		"server.truststore", "notsecure", "server.test", "wrong.test", "server.keystore", "server.p12")
	for _, want := range []string{
		"OK server.keystore: handshake with server.test", "OK server.keystore: rejected wrong.test",
		"OK server.p12: handshake with server.test", "OK server.p12: rejected wrong.test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("TLSCheck output lacks %q:\n%s", want, out)
		}
	}
}
