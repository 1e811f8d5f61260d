package pki

import (
	"testing"
	"time"
)

// Run with: go test -run '^$' -bench . -benchmem ./internal/pki/
// Figures are recorded in BENCHMARKS.md (## tlsprov).

func BenchmarkGenerateKey(b *testing.B) {
	for _, kt := range []KeyType{ECDSAP256, Ed25519, RSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := GenerateKey(kt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIssue issues a leaf, key generation included, from an ECDSA CA.
func BenchmarkIssue(b *testing.B) {
	ca, err := NewCA(CARequest{CommonName: "Bench Root", KeyType: ECDSAP256})
	if err != nil {
		b.Fatal(err)
	}
	for _, kt := range []KeyType{ECDSAP256, RSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := ca.Issue(LeafRequest{CommonName: "bench", DNSNames: []string{"bench.test"}, KeyType: kt}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMaterialize is tlsprov materialize's work without file I/O: parse
// the PEM inputs, assemble and verify root → intermediate → leaf, and encode
// NAME.key/.crt/.ca/.keystore/.truststore.
func BenchmarkMaterialize(b *testing.B) {
	for _, kt := range []KeyType{ECDSAP256, RSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			f := newFixture(b, kt, time.Time{}, 0)
			keyPEM := mustKeyPEM(b, f.leaf.Key)
			chainPEM := EncodeCertsPEM(f.leaf.Chain...)
			caPEM := EncodeCertsPEM(f.leaf.Roots...)
			pw := DefaultStorePassword
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key, err := ParsePrivateKey(keyPEM)
				if err != nil {
					b.Fatal(err)
				}
				certs, _ := ParseCertificates(chainPEM)
				cas, _ := ParseCertificates(caPEM)
				bundle, _, err := Assemble(key, certs, cas, VerifyOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := EncodeKeyPEM(bundle.Key); err != nil {
					b.Fatal(err)
				}
				_ = EncodeCertsPEM(bundle.Chain...)
				_ = EncodeCertsPEM(bundle.Roots...)
				if _, err := EncodeJKSKeystore(bundle.Key, bundle.FullChain(), DefaultKeyAlias, pw, time.Now()); err != nil {
					b.Fatal(err)
				}
				if _, err := EncodeJKSTruststore(bundle.Roots, DefaultCAAlias, pw, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodePKCS12(b *testing.B) {
	f := newFixture(b, ECDSAP256, time.Time{}, 0)
	for _, legacy := range []bool{false, true} {
		name := "modern"
		if legacy {
			name = "legacy"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := EncodePKCS12(f.leaf.Key, f.leaf.FullChain(), DefaultKeyAlias, DefaultStorePassword, legacy); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
