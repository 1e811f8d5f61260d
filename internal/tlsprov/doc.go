// Package tlsprov is the logic behind the tlsprov binary: it turns TLS
// secrets into the files servers load, and creates CAs and leaf certificates
// with internal/pki.
//
// Materialize reads, per NAME, a private key, a certificate chain and CA
// certificates from Sources (env:VAR, file:PATH or stdin), validates them as a
// bundle and writes, with internal/safefile, all of these at once or none:
//
//	NAME.key         PKCS#8 PEM private key                         0600
//	NAME.crt         leaf then intermediates, PEM                   0644
//	NAME.ca          root CA(s), PEM                                0644
//	NAME.keystore    JKS, PrivateKeyEntry "default", full chain     0600
//	NAME.truststore  JKS, trustedCertEntry "dcos-root" (-2, -3 ...) 0644
//	NAME.p12         PKCS#12 (AES-256/PBKDF2/HMAC-SHA-256)          0600
//
// Environment variables read by default (NAME upper-cased, other characters
// than A-Z and 0-9 as "_"):
//
//	TLS_<NAME>_KEY   the private key (PEM or base64; PKCS#1, PKCS#8, SEC1)
//	TLS_<NAME>_CERT  the leaf and intermediates, any order
//	TLS_<NAME>_CA    the root CA(s)
//	MESOS_SANDBOX    the default output directory
//
// The flags' own variables (TLSPROV_*) are listed in the binary's --help and
// in docs/tlsprov.md. Every error names the input or file it concerns and
// carries one of the Exit* codes; no error or log line holds key material or
// the keystore password.
package tlsprov
