package truststore

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/taskkit/taskkit/internal/fuzzcheck"
)

// fuzzPassword protects the stores of FuzzInstall: distinctive, so that
// finding it in an error text is a leak.
const fuzzPassword = "fuzz-Pa55w0rd!store"

// fuzzStores returns JKS and PKCS#12 truststores (with a password and
// password-less) holding ca and another CA under a few aliases, and
// Debian's cacerts when the machine has one.
func fuzzStores(tb testing.TB, ca *x509.Certificate) [][]byte {
	tb.Helper()
	other := newCA(tb, "other")
	ks := keystore.New()
	for alias, c := range map[string]*x509.Certificate{DefaultAlias: other, DefaultAlias + "-1": ca, "mine": other} {
		ks.SetTrustedCertificateEntry(alias, keystore.TrustedCertificateEntry{CreationTime: time.Unix(0, 0), Certificate: keystore.Certificate{Type: "X509", Content: c.Raw}})
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(fuzzPassword)); err != nil {
		tb.Fatal(err)
	}
	out := [][]byte{buf.Bytes()}
	entries := []pkcs12.TrustStoreEntry{{Cert: other, FriendlyName: DefaultAlias}, {Cert: ca, FriendlyName: "ca"}}
	for _, enc := range []*pkcs12.Encoder{pkcs12.Modern2023, pkcs12.Passwordless} {
		pw := fuzzPassword
		if enc == pkcs12.Passwordless {
			pw = ""
		}
		der, err := enc.EncodeTrustStoreEntries(entries, pw)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, der)
	}
	if b, err := os.ReadFile("/etc/ssl/certs/java/cacerts"); err == nil {
		out = append(out, b)
	}
	return out
}

// FuzzInstall installs a CA into fuzzed truststores, JKS (its digest
// recomputed after mutation, fuzzcheck.FixJKSDigest) and PKCS#12, each in
// its own directory. Properties:
//   - no panic, and no error text holding the password;
//   - nothing but the store itself is left in its directory (no temporary
//     file, nothing beside it);
//   - after a successful install the store, read again, trusts the CA
//     under its alias, and installing again changes nothing;
//   - at most 32 MiB plus 8 times the store's size allocated.
func FuzzInstall(f *testing.F) {
	ca := newCA(f, "fuzz CA")
	for _, s := range fuzzStores(f, ca) {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, passwordless bool) {
		data = fuzzcheck.FixJKSDigest(data, fuzzPassword)
		b := fuzzcheck.Budget{Alloc: 32*fuzzcheck.MiB + 8*uint64(len(data))}
		if len(data) > 16<<10 {
			b.Check(t, "Install", func() { checkInstall(t, ca, data, passwordless) })
			return
		}
		checkInstall(t, ca, data, passwordless)
	})
}

func checkInstall(t *testing.T, ca *x509.Certificate, data []byte, passwordless bool) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cacerts")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Path: path, Password: fuzzPassword, Now: time.Unix(1, 0)}
	if passwordless {
		opts.Password = ""
	}
	res, err := Install([]*x509.Certificate{ca}, opts)
	if names := dirNames(t, dir); !slices.Equal(names, []string{"cacerts"}) {
		t.Fatalf("the store's directory holds %q after Install (%v)", names, err)
	}
	if err != nil {
		if strings.Contains(err.Error(), fuzzPassword) {
			t.Fatalf("the error holds the password: %v", err)
		}
		return
	}
	after, _ := os.ReadFile(path)
	s, err := load(after, opts.Password)
	if err != nil {
		t.Fatalf("the store Install wrote (%v) does not load: %v", res, err)
	}
	if atAlias, _ := s.find(DefaultAlias, ca); !slices.Contains(res.Present, "("+ca.Subject.String()+")") && (atAlias == nil || !atAlias.Equal(ca)) {
		t.Fatalf("after %+v the store does not hold the CA under %s", res, DefaultAlias)
	}
	res2, err := Install([]*x509.Certificate{ca}, opts)
	if err != nil || res2.Changed() {
		t.Fatalf("installing again: %+v, %v", res2, err)
	}
}

func dirNames(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestInstallBudget installs into 1 MiB stores within 32 MiB plus 8 times
// the store: a JKS truststore of many entries, and 1 MiB of garbage in
// each format's clothing.
func TestInstallBudget(t *testing.T) {
	ca := newCA(t, "fuzz CA")
	ks := keystore.New()
	for i := 0; i < fuzzcheck.MiB/len(ca.Raw); i++ {
		ks.SetTrustedCertificateEntry("a"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+time.Duration(i).String(), keystore.TrustedCertificateEntry{CreationTime: time.Unix(0, 0), Certificate: keystore.Certificate{Type: "X509", Content: ca.Raw}})
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(fuzzPassword)); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"JKS of many entries": buf.Bytes(),
		"JKS garbage":         fuzzcheck.FixJKSDigest(append([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1}, fuzzcheck.Sized([]byte{0xff}, fuzzcheck.MiB)...), fuzzPassword),
		"DER garbage":         append([]byte{0x30, 0x84, 0x00, 0x10, 0x00, 0x00}, fuzzcheck.Sized([]byte{0x30, 0x80}, fuzzcheck.MiB)...),
	} {
		b := fuzzcheck.Budget{Alloc: 32*fuzzcheck.MiB + 8*uint64(len(data))}
		c := b.Check(t, name, func() { checkInstall(t, ca, data, false) })
		t.Logf("%s: %v", name, c)
	}
}
