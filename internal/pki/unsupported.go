package pki

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

// ErrUnsupported means the input is a well-formed private key of a kind
// pki does not read (RSA-PSS, Ed448, DSA, an elliptic curve other than
// P-224/P-256/P-384/P-521, explicit curve parameters).
var ErrUnsupported = errors.New("unsupported private key")

// Names of the key algorithms and curves crypto/x509 refuses, by OID, so
// the error says what the key is instead of "malformed input: x509:
// PKCS#8 wrapping contained private key with unknown algorithm:
// 1.2.840.113549.1.1.10".
var (
	unsupportedAlgorithms = map[string]string{
		"1.2.840.113549.1.1.10": "an RSA-PSS key (openssl genpkey -algorithm rsa-pss); use a plain RSA key: openssl genpkey -algorithm rsa",
		"1.3.101.113":           "an Ed448 key",
		"1.3.101.110":           "an X25519 key (key agreement only: it cannot sign)",
		"1.3.101.111":           "an X448 key (key agreement only: it cannot sign)",
		"1.2.840.10040.4.1":     "a DSA key",
		"1.2.156.10197.1.301":   "an SM2 key",
	}
	unsupportedCurves = map[string]string{
		"1.3.132.0.10":          "secp256k1",
		"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
		"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
		"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
		"1.2.840.10045.3.1.1":   "P-192 (prime192v1)",
	}
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

// pkcs8Outer and sec1Outer are the parts of PKCS#8 (RFC 5208) and SEC1
// (RFC 5915) private keys that name the algorithm and the curve.
type pkcs8Outer struct {
	Version   int
	Algorithm struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	PrivateKey []byte
}

type sec1Outer struct {
	Version    int
	PrivateKey []byte
	Parameters asn1.RawValue  `asn1:"optional,explicit,tag:0"`
	PublicKey  asn1.BitString `asn1:"optional,explicit,tag:1"`
}

// unsupportedKey returns an ErrUnsupported error saying what der is when
// it is a well-formed PKCS#8 or SEC1 key of a kind crypto/x509 does not
// read; nil otherwise.
func unsupportedKey(der []byte) error {
	var p8 pkcs8Outer
	if rest, err := asn1.Unmarshal(der, &p8); err == nil && len(rest) == 0 {
		if what, ok := unsupportedAlgorithms[p8.Algorithm.Algorithm.String()]; ok {
			return fmt.Errorf("%w: %s (want RSA, ECDSA or Ed25519)", ErrUnsupported, what)
		}
		if p8.Algorithm.Algorithm.Equal(oidECPublicKey) {
			return curveParams(p8.Algorithm.Parameters)
		}
		return nil
	}
	var s1 sec1Outer
	if rest, err := asn1.Unmarshal(der, &s1); err == nil && len(rest) == 0 && s1.Version == 1 {
		return curveParams(s1.Parameters)
	}
	return nil
}

func curveParams(params asn1.RawValue) error {
	if params.Class == asn1.ClassContextSpecific { // SEC1's [0] around them
		if _, err := asn1.Unmarshal(params.Bytes, &params); err != nil {
			return nil
		}
	}
	switch {
	case params.Tag == asn1.TagSequence:
		return fmt.Errorf("%w: an EC key with explicit curve parameters (openssl -param_enc explicit), which RFC 5480 forbids; name its curve instead: openssl ec -in KEY -param_enc named_curve", ErrUnsupported)
	case params.Tag == asn1.TagOID:
		var oid asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(params.FullBytes, &oid); err == nil {
			if name, ok := unsupportedCurves[oid.String()]; ok {
				return fmt.Errorf("%w: an EC key on curve %s (tlsprov reads P-224, P-256, P-384 and P-521 keys; TLS peers accept P-256, P-384 and P-521)", ErrUnsupported, name)
			}
		}
	}
	return nil
}
