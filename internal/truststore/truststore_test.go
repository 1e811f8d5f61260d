package truststore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/taskkit/taskkit/internal/testtools"
)

func newCA(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func writeJKS(t *testing.T, path, password string, certs map[string]*x509.Certificate) {
	t.Helper()
	ks := keystore.New()
	for alias, c := range certs {
		ks.SetTrustedCertificateEntry(alias, keystore.TrustedCertificateEntry{CreationTime: time.Now(), Certificate: keystore.Certificate{Type: "X509", Content: c.Raw}})
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(password)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeP12(t *testing.T, path, password string, entries []pkcs12.TrustStoreEntry) {
	t.Helper()
	enc := pkcs12.Modern2023
	if password == "" {
		enc = pkcs12.Passwordless
	}
	der, err := enc.EncodeTrustStoreEntries(entries, password)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, der, 0o644)
}

// aliases returns alias → subject CN of every trusted entry.
func aliases(t *testing.T, path, password string) map[string]string {
	t.Helper()
	data, _ := os.ReadFile(path)
	s, err := load(data, password)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	if s.format == JKS {
		for _, a := range s.jks.Aliases() {
			e, _ := s.jks.GetTrustedCertificateEntry(a)
			c, _ := x509.ParseCertificate(e.Certificate.Content)
			out[a] = c.Subject.CommonName
		}
		return out
	}
	for _, e := range s.entries {
		out[e.alias] = e.cert.Subject.CommonName
	}
	return out
}

func TestInstallIdempotentAndReplaces(t *testing.T) {
	system := newCA(t, "System Root")
	ca1 := newCA(t, "Cluster CA 1")
	ca2 := newCA(t, "Cluster CA 2")
	inter := newCA(t, "Cluster Extra")
	for _, tc := range []struct {
		name     string
		password string
		make     func(path string)
		format   Format
	}{
		{"jks", "changeit", func(p string) { writeJKS(t, p, "changeit", map[string]*x509.Certificate{"system root": system}) }, JKS},
		{"pkcs12 password-less (JDK 18+)", "", func(p string) {
			writeP12(t, p, "", []pkcs12.TrustStoreEntry{{Cert: system, FriendlyName: "system root [jdk]"}})
		}, PKCS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cacerts")
			tc.make(path)
			os.Chmod(path, 0o640)
			opts := Options{Path: path, Password: tc.password}

			res, err := Install([]*x509.Certificate{ca1, inter}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format || strings.Join(res.Added, ",") != "dcoscert,dcoscert-1" || res.WrittenTo != path {
				t.Fatalf("first install: %+v", res)
			}
			fi1, _ := os.Stat(path)
			if fi1.Mode().Perm() != 0o640 {
				t.Errorf("mode = %o, want 640 kept", fi1.Mode().Perm())
			}

			res, err = Install([]*x509.Certificate{ca1, inter}, opts)
			if err != nil {
				t.Fatal(err)
			}
			fi2, _ := os.Stat(path)
			if res.Changed() || len(res.Present) != 2 || fi2.Sys().(*syscall.Stat_t).Ino != fi1.Sys().(*syscall.Stat_t).Ino {
				t.Fatalf("second install changed the store: %+v", res)
			}

			// Rotation to a shorter bundle: exactly the new CA stays.
			res, err = Install([]*x509.Certificate{ca2}, opts)
			if err != nil || strings.Join(res.Replaced, ",") != "dcoscert" || strings.Join(res.Removed, ",") != "dcoscert-1" {
				t.Fatalf("rotated install: %+v, %v", res, err)
			}
			got := aliases(t, path, tc.password)
			wantSystem := "system root"
			if tc.format == PKCS12 {
				wantSystem = "system root [jdk]"
			}
			want := map[string]string{wantSystem: "System Root", "dcoscert": "Cluster CA 2"}
			if len(got) != len(want) {
				t.Fatalf("aliases = %v, want %v", got, want)
			}
			for a, cn := range want {
				if got[a] != cn {
					t.Errorf("alias %q = %q, want %q (all: %v)", a, got[a], cn, got)
				}
			}
		})
	}
}

func TestAlreadyTrustedUnderOtherAlias(t *testing.T) {
	ca := newCA(t, "Cluster CA")
	path := filepath.Join(t.TempDir(), "cacerts")
	writeJKS(t, path, "changeit", map[string]*x509.Certificate{"mine": ca})
	res, err := Install([]*x509.Certificate{ca}, Options{Path: path, Password: "changeit"})
	if err != nil || res.Changed() || len(res.Present) != 1 {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
}

func TestErrors(t *testing.T) {
	ca := newCA(t, "CA")
	dir := t.TempDir()
	jks := filepath.Join(dir, "jks")
	writeJKS(t, jks, "changeit", nil)
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("hello"), 0o644)
	for _, tc := range []struct {
		name, path, password, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "changeit", "no such file"},
		{"wrong password", jks, "wrong", "wrong password"},
		{"not a store", garbage, "changeit", "neither JKS nor PKCS#12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Install([]*x509.Certificate{ca}, Options{Path: tc.path, Password: tc.password})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("err = %v, want %q naming the path", err, tc.want)
			}
		})
	}
}

func TestParseCerts(t *testing.T) {
	a, b := newCA(t, "A"), newCA(t, "B")
	var bundle []byte
	for _, c := range []*x509.Certificate{a, b} {
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	certs, err := ParseCerts(bundle, "ca-bundle.crt")
	if err != nil || len(certs) != 2 || certs[1].Subject.CommonName != "B" {
		t.Fatalf("certs = %v, err = %v", certs, err)
	}
	if _, err := ParseCerts([]byte("junk"), "ca-bundle.crt"); err == nil || !strings.Contains(err.Error(), "ca-bundle.crt") {
		t.Fatalf("err = %v", err)
	}
}

// TestReadOnlyStoreFallsBack mounts the JDK directory read-only, as in a
// read-only image, and expects the updated store at the fallback path.
func TestReadOnlyStoreFallsBack(t *testing.T) {
	dir := t.TempDir()
	jdk := filepath.Join(dir, "jdk")
	os.Mkdir(jdk, 0o755)
	path := filepath.Join(jdk, "cacerts")
	writeJKS(t, path, "changeit", nil)
	if out, err := exec.Command("mount", "--bind", jdk, jdk).CombinedOutput(); err != nil {
		t.Skipf("SKIP: cannot bind-mount here (needs root and CAP_SYS_ADMIN): %v: %s", err, out)
	}
	defer exec.Command("umount", jdk).Run()
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", jdk).CombinedOutput(); err != nil {
		t.Skipf("SKIP: cannot remount read-only here: %v: %s", err, out)
	}
	fallback := filepath.Join(dir, "sandbox", ".ssl", "cacerts")
	res, err := Install([]*x509.Certificate{newCA(t, "CA")}, Options{Path: path, Password: "changeit", Fallback: fallback})
	if err != nil {
		t.Fatal(err)
	}
	if res.WrittenTo != fallback {
		t.Fatalf("written to %q, want %q", res.WrittenTo, fallback)
	}
	if got := aliases(t, fallback, "changeit"); got["dcoscert"] != "CA" {
		t.Errorf("fallback aliases = %v", got)
	}
}

// TestKeytoolReadsResult checks the stores with the JDK's own keytool: the
// alias is there once, as a trustedCertEntry, after two installs.
func TestKeytoolReadsResult(t *testing.T) {
	testtools.Require(t, "keytool", "default-jdk-headless")
	dir := t.TempDir()
	caPEM := filepath.Join(dir, "seed.pem")
	os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newCA(t, "Seed").Raw}), 0o644)
	ca := newCA(t, "Cluster CA")
	for _, storetype := range []string{"JKS", "PKCS12"} {
		t.Run(storetype, func(t *testing.T) {
			path := filepath.Join(dir, "cacerts-"+storetype)
			out, err := exec.Command("keytool", "-importcert", "-noprompt", "-alias", "seed", "-file", caPEM,
				"-keystore", path, "-storetype", storetype, "-storepass", "changeit").CombinedOutput()
			if err != nil {
				t.Fatalf("keytool -importcert: %v: %s", err, out)
			}
			for i := 0; i < 2; i++ {
				if _, err := Install([]*x509.Certificate{ca}, Options{Path: path, Password: "changeit"}); err != nil {
					t.Fatalf("install %d: %v", i+1, err)
				}
			}
			out, err = exec.Command("keytool", "-list", "-keystore", path, "-storepass", "changeit").CombinedOutput()
			if err != nil {
				t.Fatalf("keytool -list: %v: %s", err, out)
			}
			list := string(out)
			if !strings.Contains(list, "Your keystore contains 2 entries") || strings.Count(list, "dcoscert,") != 1 || !strings.Contains(list, "trustedCertEntry") {
				t.Errorf("keytool -list:\n%s", list)
			}
		})
	}
}

// TestKeytoolLatin1Password updates a JKS cacerts keytool made with a
// password that is not ASCII. Java hashes a JKS password as UTF-16 chars;
// bootstrap handed keystore-go the UTF-8 bytes, so -truststore-password
// pässwört failed with "loading JKS (wrong password?)" on keytool's store
// (kurtbrose/pyjks#16 fixed the same in another JKS reader).
func TestKeytoolLatin1Password(t *testing.T) {
	testtools.Require(t, "keytool", "default-jdk-headless")
	t.Setenv("LC_ALL", "C.UTF-8") // the JVM decodes its arguments by the locale
	const pw = "pässwört"
	dir := t.TempDir()
	caPEM := filepath.Join(dir, "seed.pem")
	os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: newCA(t, "Seed").Raw}), 0o644)
	path := filepath.Join(dir, "cacerts")
	if out, err := exec.Command("keytool", "-importcert", "-noprompt", "-alias", "seed", "-file", caPEM,
		"-keystore", path, "-storetype", "JKS", "-storepass", pw).CombinedOutput(); err != nil {
		t.Fatalf("keytool -importcert: %v: %s", err, out)
	}
	if _, err := Install([]*x509.Certificate{newCA(t, "Cluster CA")}, Options{Path: path, Password: pw}); err != nil {
		t.Fatalf("install: %v", err)
	}
	out, err := exec.Command("keytool", "-list", "-keystore", path, "-storepass", pw).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Your keystore contains 2 entries") {
		t.Fatalf("keytool -list: %v:\n%s", err, out)
	}
	if _, err := Install([]*x509.Certificate{newCA(t, "Cluster CA")}, Options{Path: path, Password: "pa€ss"}); err == nil || !strings.Contains(err.Error(), "above U+00FF") {
		t.Errorf("install with a password JKS cannot take here: %v", err)
	}
}

// TestPasswordProtectedPKCS12KeepsAliases rewrites password-protected
// PKCS#12 truststores, whose certificate bags (and so their aliases) are
// encrypted: keytool's (JDK 17, PBES2 with AES-256-CBC, committed in
// testdata, made by keytool -importcert -storetype PKCS12 with aliases
// "dcoscert" and "corp root") and go-pkcs12's Modern2023. Every alias stays as
// it was and dcoscert is replaced in place; before, every entry came back as
// cert-N (found by FuzzInstall).
func TestPasswordProtectedPKCS12KeepsAliases(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "keytool-named.p12"))
	if err != nil {
		t.Fatal(err)
	}
	const goldenPassword = "golden-Pa55"
	old, corp := newCA(t, "Golden old CA"), newCA(t, "Golden corp CA")
	modern, err := pkcs12.Modern2023.EncodeTrustStoreEntries([]pkcs12.TrustStoreEntry{{Cert: old, FriendlyName: DefaultAlias}, {Cert: corp, FriendlyName: "corp root"}}, goldenPassword)
	if err != nil {
		t.Fatal(err)
	}
	ca := newCA(t, "Cluster CA")
	for name, store := range map[string][]byte{"keytool": golden, "go-pkcs12 Modern2023": modern} {
		t.Run(name, func(t *testing.T) {
			if got := pkcs12Aliases(store, goldenPassword); !slices.Equal(got, []string{"corp root", DefaultAlias}) && !slices.Equal(got, []string{DefaultAlias, "corp root"}) {
				t.Fatalf("aliases read = %q", got)
			}
			path := filepath.Join(t.TempDir(), "cacerts")
			os.WriteFile(path, store, 0o644)
			res, err := Install([]*x509.Certificate{ca}, Options{Path: path, Password: goldenPassword})
			if err != nil || strings.Join(res.Replaced, ",") != DefaultAlias || len(res.Added) != 0 {
				t.Fatalf("install: %+v, %v", res, err)
			}
			got := aliases(t, path, goldenPassword)
			if len(got) != 2 || got[DefaultAlias] != "Cluster CA" || !strings.HasPrefix(got["corp root"], "Golden corp") {
				t.Fatalf("aliases after install = %v", got)
			}
		})
	}
}
