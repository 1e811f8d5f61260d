// Package pki is taskkit's library for TLS keys and certificates: it
// generates keys, creates certificate authorities, issues leaf certificates
// without a CSR, reads keys and certificates in the forms secret stores hand
// them out, orders and verifies certificate chains, and encodes the result as
// PEM, JKS and PKCS#12.
//
// tlsprov uses it to materialize a task's TLS files; scheduler-lite uses it to
// issue certificates for tasks. The package does no file or network I/O and
// never formats key material into an error or a string.
//
// A typical issuing flow:
//
//	ca, err := pki.NewCA(pki.CARequest{CommonName: "my CA"})
//	b, err := ca.Issue(pki.LeafRequest{CommonName: "web", DNSNames: []string{"web.example"}})
//	key, err := pki.EncodeKeyPEM(b.Key)
//	crt := pki.EncodeCertsPEM(b.Chain...)
//	jks, err := pki.EncodeJKSKeystore(b.Key, b.FullChain(), "default", "notsecure", time.Now())
//
// A typical materializing flow starts from untrusted input:
//
//	key, err := pki.ParsePrivateKey(keyBytes)     // PEM or base64; PKCS#1, PKCS#8, SEC1
//	certs, err := pki.ParseCertificates(crtBytes) // any order
//	cas, err := pki.ParseCertificates(caBytes)
//	b, warnings, err := pki.Assemble(key, certs, cas, pki.VerifyOptions{})
//
// Assemble returns errors that match the sentinels ErrKeyMismatch,
// ErrUntrusted, ErrExpired and ErrNotYetValid with errors.Is; parse errors
// match ErrMalformed, ErrNoKey, ErrNoCertificate, ErrEncrypted or ErrUnsupported.
package pki
