package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture is a root → intermediate → leaf hierarchy.
type fixture struct {
	root, inter *Issuer
	leaf        *Bundle
}

func newFixture(t testing.TB, leafType KeyType, now time.Time, leafValidity time.Duration) fixture {
	t.Helper()
	root, err := NewCA(CARequest{CommonName: "Test Root", KeyType: ECDSAP256, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	inter, err := NewCA(CARequest{CommonName: "Test Intermediate", KeyType: ECDSAP256, Parent: root, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.Issue(LeafRequest{CommonName: "server", DNSNames: []string{"server.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyType: leafType, Validity: leafValidity, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{root: root, inter: inter, leaf: leaf}
}

func mustKeyPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	b, err := EncodeKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseKeyType(t *testing.T) {
	tests := []struct {
		in   string
		want KeyType
		err  bool
	}{
		{"", RSA2048, false},
		{"rsa-2048", RSA2048, false},
		{"RSA3072", RSA3072, false},
		{"ecdsa-p256", ECDSAP256, false},
		{"p256", ECDSAP256, false},
		{"Ed25519", Ed25519, false},
		{"rsa-1024", "", true},
		{"dsa", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKeyType(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Fatalf("ParseKeyType(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestGenerateKeyAndDescribe(t *testing.T) {
	want := map[KeyType]string{RSA2048: "RSA 2048", RSA3072: "RSA 3072", ECDSAP256: "ECDSA P-256", Ed25519: "Ed25519"}
	for _, kt := range KeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			if testing.Short() && kt == RSA3072 {
				t.Skip("slow key generation in -short mode")
			}
			k, err := GenerateKey(kt)
			if err != nil {
				t.Fatal(err)
			}
			if got := DescribeKey(k); got != want[kt] {
				t.Fatalf("DescribeKey = %q, want %q", got, want[kt])
			}
		})
	}
}

func TestParsePrivateKeyForms(t *testing.T) {
	rsaKey, _ := GenerateKey(RSA2048)
	ecKey, _ := GenerateKey(ECDSAP256)
	edKey, _ := GenerateKey(Ed25519)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))})
	sec1DER, _ := x509.MarshalECPrivateKey(ecKey.(*ecdsa.PrivateKey))
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})
	ecParams := []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")
	pkcs8ed := mustKeyPEM(t, edKey)
	pkcs8rsa := mustKeyPEM(t, rsaKey)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	b64 := func(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }
	wrapped := func(b []byte) []byte { // 64-column lines, as secret stores and base64(1) write them
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 64 {
			out.WriteString(s[:64] + "\n")
			s = s[64:]
		}
		out.WriteString(s + "\n")
		return []byte(out.String())
	}
	cert := newFixture(t, ECDSAP256, time.Time{}, 0).leaf.Chain[0]

	tests := []struct {
		name string
		in   []byte
		want crypto.Signer
	}{
		{"PKCS#1 PEM", pkcs1, rsaKey},
		{"PKCS#8 PEM RSA", pkcs8rsa, rsaKey},
		{"SEC1 PEM", sec1, ecKey},
		{"SEC1 PEM with EC PARAMETERS", append(append([]byte{}, ecParams...), sec1...), ecKey},
		{"PKCS#8 PEM Ed25519", pkcs8ed, edKey},
		{"PKCS#8 DER", edDER, edKey},
		{"base64 of PEM", b64(pkcs1), rsaKey},
		{"wrapped base64 of PEM", wrapped(sec1), ecKey},
		{"base64 of DER", b64(sec1DER), ecKey},
		{"raw-url base64 of DER", []byte(base64.RawURLEncoding.EncodeToString(edDER)), edKey},
		{"dcos base64 prefix", append([]byte(DCOSBase64Prefix), b64(pkcs8ed)...), edKey},
		{"key after certificate", append(EncodeCertsPEM(cert), pkcs8rsa...), rsaKey},
		{"CRLF line ends", bytes.ReplaceAll(pkcs1, []byte("\n"), []byte("\r\n")), rsaKey},
		// A docker --env-file or .env line cannot hold a line break.
		{"escaped line breaks", bytes.ReplaceAll(pkcs8rsa, []byte("\n"), []byte(`\n`)), rsaKey},
		{"escaped CRLF line breaks", bytes.ReplaceAll(sec1, []byte("\n"), []byte(`\r\n`)), ecKey},
		{"base64 of PEM with escaped line breaks", b64(bytes.ReplaceAll(pkcs8ed, []byte("\n"), []byte(`\n`))), edKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrivateKey(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want.Public()) {
				t.Fatal("parsed a different key")
			}
		})
	}
}

// TestParsePrivateKeyUnsupported: well-formed keys of kinds crypto/x509
// does not read were "malformed input: x509: unknown elliptic curve" or
// "... unknown algorithm: 1.2.840.113549.1.1.10"; the error now says what
// the key is and what to do (testdata/unsupported, made by OpenSSL 3).
func TestParsePrivateKeyUnsupported(t *testing.T) {
	tests := []struct{ file, want string }{
		{"ec-explicit-sec1.pem", "an EC key with explicit curve parameters (openssl -param_enc explicit)"},
		{"ec-explicit-pkcs8.pem", "openssl ec -in KEY -param_enc named_curve"},
		{"rsa-pss.pem", "an RSA-PSS key"},
		{"ed448.pem", "an Ed448 key"},
		{"secp256k1-pkcs8.pem", "an EC key on curve secp256k1"},
		{"brainpoolP256r1-sec1.pem", "an EC key on curve brainpoolP256r1"},
		{"x25519.pem", "key agreement only"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "unsupported", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParsePrivateKey(data)
			if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrUnsupported saying %q", err, tt.want)
			}
		})
	}
}

func TestParsePrivateKeyErrors(t *testing.T) {
	key, _ := GenerateKey(ECDSAP256)
	good := mustKeyPEM(t, key)
	body := strings.Split(string(good), "\n")[1] // a line of key material
	cert := newFixture(t, ECDSAP256, time.Time{}, 0).leaf.Chain[0]
	encrypted := []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n")
	legacyEncrypted := []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", []byte(" \n\t"), ErrEmpty},
		{"garbage base64", []byte("this is not base64!!"), ErrMalformed},
		{"base64 of text", []byte(base64.StdEncoding.EncodeToString([]byte("hello world"))), ErrMalformed},
		{"truncated PEM", good[:len(good)/2], ErrMalformed},
		{"corrupted PEM body", bytes.Replace(good, []byte(body[:20]), []byte("!!!!!!!!!!!!!!!!!!!!"), 1), ErrMalformed},
		{"corrupted DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01}}), ErrMalformed},
		{"certificate only", EncodeCertsPEM(cert), ErrNoKey},
		{"two keys", append(append([]byte{}, good...), good...), ErrMalformed},
		{"encrypted PKCS#8", encrypted, ErrEncrypted},
		{"encrypted PKCS#1", legacyEncrypted, ErrEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), body[:16]) {
				t.Fatalf("error leaks key material: %v", err)
			}
		})
	}
}

func TestParseCertificates(t *testing.T) {
	f := newFixture(t, ECDSAP256, time.Time{}, 0)
	leaf, inter, root := f.leaf.Chain[0], f.inter.Cert, f.root.Cert
	var der []byte
	for _, c := range []*x509.Certificate{inter, leaf} {
		der = append(der, c.Raw...)
	}
	tests := []struct {
		name string
		in   []byte
		want []*x509.Certificate
		err  error
	}{
		{"PEM in given order", EncodeCertsPEM(root, leaf, inter), []*x509.Certificate{root, leaf, inter}, nil},
		{"duplicates dropped", EncodeCertsPEM(leaf, inter, leaf), []*x509.Certificate{leaf, inter}, nil},
		{"concatenated DER", der, []*x509.Certificate{inter, leaf}, nil},
		{"base64 of DER", []byte(base64.StdEncoding.EncodeToString(der)), []*x509.Certificate{inter, leaf}, nil},
		{"base64 of PEM", []byte(base64.StdEncoding.EncodeToString(EncodeCertsPEM(root))), []*x509.Certificate{root}, nil},
		{"escaped line breaks", bytes.ReplaceAll(EncodeCertsPEM(leaf, inter), []byte("\n"), []byte(`\n`)), []*x509.Certificate{leaf, inter}, nil},
		{"key only", mustKeyPEM(t, f.leaf.Key), nil, ErrNoCertificate},
		{"truncated", EncodeCertsPEM(leaf)[:300], nil, ErrMalformed},
		{"empty", nil, nil, ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCertificates(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d certificates, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("certificate %d = %s, want %s", i, got[i].Subject, tt.want[i].Subject)
				}
			}
		})
	}
}

func TestAssemble(t *testing.T) {
	now := time.Now()
	f := newFixture(t, ECDSAP256, now, 0)
	leaf, inter, root := f.leaf.Chain[0], f.inter.Cert, f.root.Cert
	other, _ := NewCA(CARequest{CommonName: "Other Root", KeyType: ECDSAP256})
	stranger, _ := other.Issue(LeafRequest{CommonName: "stranger", KeyType: ECDSAP256})
	soon := newFixture(t, ECDSAP256, now, 10*24*time.Hour)
	wrongKey, _ := GenerateKey(ECDSAP256)

	tests := []struct {
		name       string
		key        crypto.Signer
		certs, cas []*x509.Certificate
		opts       VerifyOptions
		err        error
		chain      []*x509.Certificate // want Chain
		roots      []*x509.Certificate // want Roots
		warn       string              // a substring of some warning
	}{
		{name: "ordered", key: f.leaf.Key, certs: []*x509.Certificate{leaf, inter}, cas: []*x509.Certificate{root},
			chain: []*x509.Certificate{leaf, inter}, roots: []*x509.Certificate{root}},
		{name: "reversed with root", key: f.leaf.Key, certs: []*x509.Certificate{root, inter, leaf}, cas: []*x509.Certificate{root},
			chain: []*x509.Certificate{leaf, inter}, roots: []*x509.Certificate{root}},
		{name: "intermediate given with the CA", key: f.leaf.Key, certs: []*x509.Certificate{leaf}, cas: []*x509.Certificate{inter, root},
			chain: []*x509.Certificate{leaf, inter}, roots: []*x509.Certificate{root}},
		{name: "several roots, anchor first", key: f.leaf.Key, certs: []*x509.Certificate{leaf, inter}, cas: []*x509.Certificate{other.Cert, root},
			chain: []*x509.Certificate{leaf, inter}, roots: []*x509.Certificate{root, other.Cert}},
		{name: "unrelated certificate left out", key: f.leaf.Key, certs: []*x509.Certificate{leaf, stranger.Chain[0], inter}, cas: []*x509.Certificate{root},
			chain: []*x509.Certificate{leaf, inter}, roots: []*x509.Certificate{root}, warn: `"CN=stranger" is not part of the chain`},
		{name: "self-signed leaf", key: other.Key, certs: []*x509.Certificate{other.Cert}, cas: []*x509.Certificate{other.Cert},
			chain: []*x509.Certificate{other.Cert}, roots: []*x509.Certificate{other.Cert}},
		{name: "expiring soon warns", key: soon.leaf.Key, certs: soon.leaf.Chain, cas: soon.leaf.Roots,
			chain: soon.leaf.Chain, roots: soon.leaf.Roots, warn: "expires in 9 days"},
		{name: "key mismatch", key: wrongKey, certs: []*x509.Certificate{leaf, inter}, cas: []*x509.Certificate{root}, err: ErrKeyMismatch},
		{name: "wrong CA", key: f.leaf.Key, certs: []*x509.Certificate{leaf, inter}, cas: []*x509.Certificate{other.Cert}, err: ErrUntrusted},
		{name: "missing intermediate", key: f.leaf.Key, certs: []*x509.Certificate{leaf}, cas: []*x509.Certificate{root}, err: ErrUntrusted},
		{name: "expired", key: f.leaf.Key, certs: f.leaf.Chain, cas: f.leaf.Roots, opts: VerifyOptions{Now: now.Add(2 * 365 * 24 * time.Hour)}, err: ErrExpired},
		{name: "not yet valid", key: f.leaf.Key, certs: f.leaf.Chain, cas: f.leaf.Roots, opts: VerifyOptions{Now: now.Add(-time.Hour)}, err: ErrNotYetValid},
		{name: "expired but allowed", key: f.leaf.Key, certs: f.leaf.Chain, cas: f.leaf.Roots,
			opts:  VerifyOptions{Now: now.Add(2 * 365 * 24 * time.Hour), AllowExpired: true},
			chain: f.leaf.Chain, roots: f.leaf.Roots, warn: "expired at"},
		{name: "no CA", key: f.leaf.Key, certs: f.leaf.Chain, err: ErrNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, warnings, err := Assemble(tt.key, tt.certs, tt.cas, tt.opts)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			sameCerts(t, "Chain", b.Chain, tt.chain)
			sameCerts(t, "Roots", b.Roots, tt.roots)
			if tt.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warn) {
				t.Errorf("warnings %q lack %q", warnings, tt.warn)
			}
			if tt.warn == "" && len(warnings) > 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

func sameCerts(t *testing.T, what string, got, want []*x509.Certificate) {
	t.Helper()
	names := func(cs []*x509.Certificate) []string {
		var s []string
		for _, c := range cs {
			s = append(s, c.Subject.CommonName)
		}
		return s
	}
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, names(got), names(want))
	}
	for i := range got {
		if !got[i].Equal(want[i]) {
			t.Fatalf("%s = %v, want %v", what, names(got), names(want))
		}
	}
}

func TestIssue(t *testing.T) {
	now := time.Now()
	root, err := NewCA(CARequest{CommonName: "Root", KeyType: ECDSAP256, Validity: 30 * 24 * time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		req      LeafRequest
		usage    x509.KeyUsage
		dns      []string
		ips      int
		notAfter time.Time
	}{
		{"RSA gets keyEncipherment", LeafRequest{CommonName: "a.test", KeyType: RSA2048, Now: now},
			x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, []string{"a.test"}, 0, root.Cert.NotAfter},
		{"ECDSA digitalSignature only", LeafRequest{CommonName: "b", DNSNames: []string{"b.test", "*.b.test"}, KeyType: ECDSAP256, Validity: time.Hour, Now: now},
			x509.KeyUsageDigitalSignature, []string{"b.test", "*.b.test"}, 0, now.Add(time.Hour).UTC().Truncate(time.Second)},
		{"Ed25519 with IP CN", LeafRequest{CommonName: "10.0.0.1", KeyType: Ed25519, Validity: time.Hour, Now: now},
			x509.KeyUsageDigitalSignature, nil, 1, now.Add(time.Hour).UTC().Truncate(time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := root.Issue(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			c := b.Leaf()
			if c.KeyUsage != tt.usage {
				t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, tt.usage)
			}
			if len(c.ExtKeyUsage) != 2 || c.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth || c.ExtKeyUsage[1] != x509.ExtKeyUsageClientAuth {
				t.Errorf("ExtKeyUsage = %v", c.ExtKeyUsage)
			}
			if strings.Join(c.DNSNames, ",") != strings.Join(tt.dns, ",") || len(c.IPAddresses) != tt.ips {
				t.Errorf("SANs = %v %v", c.DNSNames, c.IPAddresses)
			}
			if c.IsCA || !c.NotAfter.Equal(tt.notAfter) {
				t.Errorf("IsCA %v NotAfter %v, want false %v", c.IsCA, c.NotAfter, tt.notAfter)
			}
			if c.Subject.CommonName != tt.req.CommonName || len(c.SubjectKeyId) != 20 || !bytes.Equal(c.AuthorityKeyId, root.Cert.SubjectKeyId) {
				t.Errorf("subject/key ids wrong: %v", c.Subject)
			}
			if _, _, err := Assemble(b.Key, b.Chain, b.Roots, VerifyOptions{Now: now, ExpiryWarning: -1}); err != nil {
				t.Fatalf("issued bundle does not verify: %v", err)
			}
		})
	}
	t.Run("invalid DNS SAN", func(t *testing.T) {
		if _, err := root.Issue(LeafRequest{CommonName: "x", DNSNames: []string{"bad name"}, KeyType: ECDSAP256}); err == nil {
			t.Fatal("want error")
		}
	})
	t.Run("empty CN", func(t *testing.T) {
		if _, err := root.Issue(LeafRequest{KeyType: ECDSAP256}); err == nil {
			t.Fatal("want error")
		}
	})
}

func TestNewCAIntermediate(t *testing.T) {
	f := newFixture(t, ECDSAP256, time.Time{}, 0)
	if !f.inter.Cert.IsCA || f.inter.Root() != f.root.Cert || len(f.inter.Chain) != 1 {
		t.Fatalf("intermediate: IsCA %v, chain %d", f.inter.Cert.IsCA, len(f.inter.Chain))
	}
	if f.root.Cert.KeyUsage&x509.KeyUsageCertSign == 0 || !f.root.Cert.BasicConstraintsValid {
		t.Fatal("root lacks keyCertSign or basic constraints")
	}
	sameCerts(t, "leaf Chain", f.leaf.Chain[1:], []*x509.Certificate{f.inter.Cert})
	sameCerts(t, "FullChain", f.leaf.FullChain(), []*x509.Certificate{f.leaf.Chain[0], f.inter.Cert, f.root.Cert})
}

func TestValidDNSName(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "server.test": true, "*.svc.test": true, "pod-0_x.svc": true, "xn--bcher-kva.example": true,
		"": false, ".": false, "a..b": false, "-a": false, "a-": false, "a b": false, "*": false, "a.*.b": false,
		strings.Repeat("a", 64): false,
	} {
		if got := ValidDNSName(name); got != want {
			t.Errorf("ValidDNSName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestEncodeAndInspect(t *testing.T) {
	f := newFixture(t, ECDSAP256, time.Time{}, 0)
	other, _ := NewCA(CARequest{CommonName: "Other Root", KeyType: Ed25519})
	created := time.Now()
	pw := DefaultStorePassword

	ks, err := EncodeJKSKeystore(f.leaf.Key, f.leaf.FullChain(), "Default", pw, created)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := EncodeJKSTruststore([]*x509.Certificate{f.root.Cert, other.Cert}, DefaultCAAlias, pw, created)
	if err != nil {
		t.Fatal(err)
	}
	p12, err := EncodePKCS12(f.leaf.Key, f.leaf.FullChain(), DefaultKeyAlias, DefaultStorePassword, false)
	if err != nil {
		t.Fatal(err)
	}
	p12legacy, err := EncodePKCS12(f.leaf.Key, f.leaf.FullChain(), DefaultKeyAlias, DefaultStorePassword, true)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := mustKeyPEM(t, f.leaf.Key)

	tests := []struct {
		name    string
		data    []byte
		format  string
		aliases []string
		kinds   []string
		chain   int // certificates of the first entry
		match   bool
	}{
		{"JKS keystore", ks, FormatJKS, []string{"default"}, []string{KindPrivateKeyEntry}, 3, true},
		{"JKS truststore", ts, FormatJKS, []string{"dcos-root", "dcos-root-2"}, []string{KindTrustedCertEntry, KindTrustedCertEntry}, 1, false},
		{"PKCS#12", p12, FormatPKCS12, []string{"default"}, []string{KindPrivateKeyEntry}, 3, true},
		{"PKCS#12 legacy", p12legacy, FormatPKCS12, []string{"default"}, []string{KindPrivateKeyEntry}, 3, true},
		{"PEM key and chain", append(append([]byte{}, keyPEM...), EncodeCertsPEM(f.leaf.Chain...)...), FormatPEM, []string{"", ""}, []string{KindPrivateKey, KindCertificates}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Inspect(tt.data, DefaultStorePassword)
			if err != nil {
				t.Fatal(err)
			}
			if c.Format != tt.format || len(c.Entries) != len(tt.kinds) {
				t.Fatalf("format %s with %d entries, want %s with %d", c.Format, len(c.Entries), tt.format, len(tt.kinds))
			}
			for i, e := range c.Entries {
				if e.Alias != tt.aliases[i] || e.Kind != tt.kinds[i] {
					t.Errorf("entry %d = %q %s, want %q %s", i, e.Alias, e.Kind, tt.aliases[i], tt.kinds[i])
				}
			}
			e := c.Entries[0]
			if len(e.Certificates) != tt.chain {
				t.Errorf("first entry has %d certificates, want %d", len(e.Certificates), tt.chain)
			}
			if tt.match && (e.KeyMatches == nil || !*e.KeyMatches) {
				t.Errorf("key does not match")
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		for _, data := range [][]byte{ks, p12} {
			if _, err := Inspect(data, "wrong"); err == nil {
				t.Error("want error")
			}
		}
	})
	t.Run("aliases", func(t *testing.T) {
		if got := strings.Join(TrustAliases("dcos-root", 3), ","); got != "dcos-root,dcos-root-2,dcos-root-3" {
			t.Fatal(got)
		}
	})
}

func TestKeyMatches(t *testing.T) {
	f := newFixture(t, Ed25519, time.Time{}, 0)
	other, _ := GenerateKey(Ed25519)
	if !KeyMatches(f.leaf.Key, f.leaf.Leaf()) || KeyMatches(other, f.leaf.Leaf()) || KeyMatches(nil, f.leaf.Leaf()) {
		t.Fatal("KeyMatches wrong")
	}
	if _, ok := f.leaf.Key.(ed25519.PrivateKey); !ok {
		t.Fatalf("Ed25519 key is %T", f.leaf.Key)
	}
}

// TestParseCertificatesPKCS7: a PKCS#7 bundle (.p7b, what Windows and
// several CAs hand out, and keytool -importcert reads) gave "no
// certificate found" (PEM) or "malformed tbs certificate" (DER); cfssl
// added the same (cloudflare/cfssl#97). Its certificates are read, in
// order, as from PEM.
func TestParseCertificatesPKCS7(t *testing.T) {
	dir := filepath.Join("testdata", "pkcs7")
	pemData, err := os.ReadFile(filepath.Join(dir, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseCertificates(pemData)
	if err != nil || len(want) != 2 {
		t.Fatalf("chain.pem: %d certificates, %v", len(want), err)
	}
	derP7, _ := os.ReadFile(filepath.Join(dir, "chain-der.p7b"))
	for _, tt := range []struct {
		name     string
		file     string
		data     []byte
		anyOrder bool
	}{
		{name: "PEM PKCS7", file: "chain.p7b"},
		{name: "DER", file: "chain-der.p7b"},
		{name: "base64 of DER", data: []byte(base64.StdEncoding.EncodeToString(derP7))},
		{name: "PKCS #7 SIGNED DATA label (RFC 7468)", data: pem.EncodeToMemory(&pem.Block{Type: "PKCS #7 SIGNED DATA", Bytes: derP7})},
		// BER with indefinite lengths, as Bouncy Castle's CMS and openssl
		// cms -stream write it and keytool reads it; encoding/asn1 reads
		// only DER ("indefinite length found (not DER)"). The SET keeps
		// OpenSSL's order, CA first.
		{name: "BER (openssl cms -stream)", file: "chain-ber.p7b", anyOrder: true},
		{name: "next to a PEM certificate, deduplicated", data: append(pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: derP7}), pemData...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if tt.file != "" {
				if data, err = os.ReadFile(filepath.Join(dir, tt.file)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ParseCertificates(data)
			if err != nil || len(got) != len(want) {
				t.Fatalf("%d certificates, %v; want %d", len(got), err, len(want))
			}
			for i := range want {
				found := got[i].Equal(want[i])
				for j := 0; tt.anyOrder && j < len(got); j++ {
					found = found || got[j].Equal(want[i])
				}
				if !found {
					t.Errorf("certificate %d is %s, want %s", i, got[i].Subject, want[i].Subject)
				}
			}
		})
	}
	// A PKCS#7 block that is not SignedData is an error, not silence.
	bad := pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}})
	if _, err := ParseCertificates(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("broken PKCS7 block: %v, want ErrMalformed", err)
	}
}

// TestInspectDER: inspect describes a DER certificate and a DER PKCS#7
// bundle; it failed on them with "not a PKCS#8, PKCS#1 or SEC1 private
// key", the key parser's verdict on bytes that were certificates.
func TestInspectDER(t *testing.T) {
	pemData, _ := os.ReadFile(filepath.Join("testdata", "pkcs7", "chain.pem"))
	certs, err := ParseCertificates(pemData)
	if err != nil {
		t.Fatal(err)
	}
	derP7, _ := os.ReadFile(filepath.Join("testdata", "pkcs7", "chain-der.p7b"))
	for name, tt := range map[string]struct {
		data []byte
		n    int
	}{"DER certificate": {certs[0].Raw, 1}, "DER PKCS#7": {derP7, 2}} {
		t.Run(name, func(t *testing.T) {
			c, err := Inspect(tt.data, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Entries) != 1 || c.Entries[0].Kind != KindCertificates || len(c.Entries[0].Certificates) != tt.n {
				t.Fatalf("entries %+v", c.Entries)
			}
		})
	}
}
