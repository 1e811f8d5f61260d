package pki

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// TestEncodePKCS12Alias reads EncodePKCS12's files back with go-pkcs12, an
// independent reader that checks the MAC and decrypts both safes: the key
// and the chain come back, and the key and the leaf carry the alias as
// their friendlyName with one localKeyId. EncodePKCS12 wrote no
// friendlyName, so --key-alias never reached NAME.p12 (keytool listed its
// key entry as "1").
func TestEncodePKCS12Alias(t *testing.T) {
	tests := []struct {
		name      string
		keyType   KeyType
		alias     string
		password  string
		legacy    bool
		wantAlias string
	}{
		{"modern RSA default alias", RSA2048, DefaultKeyAlias, DefaultStorePassword, false, "default"},
		{"legacy RSA default alias", RSA2048, DefaultKeyAlias, DefaultStorePassword, true, "default"},
		{"modern ECDSA alias lower-cased as in JKS", ECDSAP256, "Kafka-Broker", DefaultStorePassword, false, "kafka-broker"},
		{"legacy ECDSA alias", ECDSAP256, "server", DefaultStorePassword, true, "server"},
		{"modern Latin-1 alias and password", ECDSAP256, "schlüssel", "pässwört", false, "schlüssel"},
		{"legacy Latin-1 password", ECDSAP256, "web", "pässwört", true, "web"},
		{"modern empty password", ECDSAP256, "web", "", false, "web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.keyType, time.Time{}, 0)
			p12, err := EncodePKCS12(f.leaf.Key, f.leaf.FullChain(), tt.alias, tt.password, tt.legacy)
			if err != nil {
				t.Fatal(err)
			}
			key, leaf, cas, err := pkcs12.DecodeChain(p12, tt.password)
			if err != nil {
				t.Fatalf("go-pkcs12 cannot read it: %v", err)
			}
			if !KeyMatches(f.leaf.Key, leaf) || !leaf.Equal(f.leaf.Chain[0]) {
				t.Error("key or leaf differ")
			}
			if k, ok := key.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !k.Equal(f.leaf.Key) {
				t.Error("decoded key differs from the encoded one")
			}
			if len(cas) != 2 || !cas[0].Equal(f.inter.Cert) || !cas[1].Equal(f.root.Cert) {
				t.Errorf("%d further certificates, want the intermediate and the root", len(cas))
			}
			if _, _, _, err := pkcs12.DecodeChain(p12, tt.password+"x"); !errors.Is(err, pkcs12.ErrIncorrectPassword) {
				t.Errorf("wrong password: %v, want ErrIncorrectPassword", err)
			}

			blocks, err := pkcs12.ToPEM(p12, tt.password)
			if err != nil {
				t.Fatal(err)
			}
			leafID := sha1.Sum(leaf.Raw)
			var names []string
			for _, b := range blocks {
				name, id := b.Headers["friendlyName"], b.Headers["localKeyId"]
				isLeaf := b.Type == "CERTIFICATE" && mustParse(t, b.Bytes).Equal(leaf)
				switch {
				case b.Type != "CERTIFICATE" || isLeaf:
					if name != tt.wantAlias || id != hex.EncodeToString(leafID[:]) {
						t.Errorf("%s: friendlyName %q localKeyId %s, want %q %x", b.Type, name, id, tt.wantAlias, leafID)
					}
					names = append(names, b.Type)
				case name != "" || id != "":
					t.Errorf("CA certificate carries friendlyName %q localKeyId %q", name, id)
				}
			}
			if len(names) != 2 {
				t.Errorf("alias on %v, want the key and the leaf", names)
			}
		})
	}
}

func TestEncodePKCS12Errors(t *testing.T) {
	f := newFixture(t, ECDSAP256, time.Time{}, 0)
	tests := []struct {
		name, alias, password string
		chain                 []*x509.Certificate
		want                  string
	}{
		{"empty alias", " ", "x", f.leaf.FullChain(), "empty keystore alias"},
		{"no certificate", "a", "x", nil, ErrNoCertificate.Error()},
		{"alias outside the BMP", "key-😀", "x", f.leaf.FullChain(), "alias"},
		{"password outside the BMP", "a", "pw-😀", f.leaf.FullChain(), "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodePKCS12(f.leaf.Key, tt.chain, tt.alias, tt.password, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "pw-") {
				t.Errorf("error repeats the password: %v", err)
			}
		})
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
