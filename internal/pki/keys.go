package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// KeyType names a kind of key pki can generate.
type KeyType string

// The key types GenerateKey supports. RSA2048 is the default, as in the DC/OS SDK.
const (
	RSA2048   KeyType = "rsa-2048"
	RSA3072   KeyType = "rsa-3072"
	ECDSAP256 KeyType = "ecdsa-p256"
	Ed25519   KeyType = "ed25519"
)

// DefaultKeyType is the key type used when none is given.
const DefaultKeyType = RSA2048

// KeyTypes lists every supported KeyType, in the order help texts show them.
var KeyTypes = []KeyType{RSA2048, RSA3072, ECDSAP256, Ed25519}

// ParseKeyType parses a --key-type value; "" means DefaultKeyType. Matching is
// case-insensitive and accepts "rsa2048", "p256", "ecdsa" and "ec" as aliases.
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return DefaultKeyType, nil
	case "rsa-2048", "rsa2048", "rsa":
		return RSA2048, nil
	case "rsa-3072", "rsa3072":
		return RSA3072, nil
	case "ecdsa-p256", "ecdsa", "ec", "p256", "p-256", "ec-p256":
		return ECDSAP256, nil
	case "ed25519":
		return Ed25519, nil
	}
	names := make([]string, len(KeyTypes))
	for i, k := range KeyTypes {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown key type %q (want one of %s)", s, strings.Join(names, ", "))
}

// GenerateKey returns a new private key of type t.
func GenerateKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case RSA2048, "":
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key type %q", string(t))
}

// DescribeKey names the algorithm and size of a public or private key, for
// example "RSA 2048", "ECDSA P-256" or "Ed25519". It never includes key material.
func DescribeKey(k any) string {
	if s, ok := k.(crypto.Signer); ok {
		k = s.Public()
	}
	switch pub := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + pub.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case nil:
		return "none"
	}
	return fmt.Sprintf("unsupported (%T)", k)
}

// KeyMatches reports whether key is the private key for cert's public key.
func KeyMatches(key crypto.Signer, cert *x509.Certificate) bool {
	if key == nil || cert == nil {
		return false
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// signatureAlgorithm picks the signature algorithm a CA with key signs with;
// x509.UnknownSignatureAlgorithm lets crypto/x509 choose (SHA-256 based).
func signatureAlgorithm(key crypto.Signer) x509.SignatureAlgorithm {
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		return x509.SHA256WithRSA
	}
	return x509.UnknownSignatureAlgorithm
}
