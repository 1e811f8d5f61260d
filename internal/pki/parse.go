package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// Sentinel errors of the parsing functions; match them with errors.Is. The
// messages that wrap them describe the input's structure (block numbers and
// types), never its content.
var (
	// ErrEmpty means the input holds nothing but white space.
	ErrEmpty = errors.New("input is empty")
	// ErrMalformed means the input is neither well-formed PEM, nor base64,
	// nor DER of the expected kind (a truncated PEM block, garbage base64,
	// a corrupted DER structure).
	ErrMalformed = errors.New("malformed input")
	// ErrNoKey means the input parsed but holds no private key.
	ErrNoKey = errors.New("no private key found")
	// ErrNoCertificate means the input parsed but holds no certificate.
	ErrNoCertificate = errors.New("no certificate found")
	// ErrEncrypted means the private key is password-encrypted; pki reads
	// only unencrypted keys (secret stores protect them instead).
	ErrEncrypted = errors.New("encrypted private keys are not supported")
)

// DCOSBase64Prefix marks a base64-encoded binary secret in the DC/OS secret
// store; Unwrap strips it.
const DCOSBase64Prefix = "__dcos_base64__"

// Unwrap returns the PEM text or DER bytes that data carries. PEM input is
// returned as is, but for line breaks written as the two characters \n
// (unescapeNewlines). Anything else is taken as base64 (standard or URL alphabet,
// padded or not, line breaks allowed, optionally after DCOSBase64Prefix),
// which may itself wrap PEM or DER; input that is not base64 but looks like
// DER (an ASN.1 SEQUENCE) is returned as DER. isPEM tells which one out is.
// White space around text is ignored; DER, being binary, is never trimmed
// at its end (its last byte, a key's or a signature's, may be 0x20 or
// 0x09-0x0d).
func Unwrap(data []byte) (out []byte, isPEM bool, err error) {
	text := bytes.TrimSpace(data)
	text = bytes.TrimPrefix(text, []byte(DCOSBase64Prefix))
	if len(text) == 0 {
		return nil, false, ErrEmpty
	}
	if bytes.Contains(text, []byte("-----BEGIN ")) {
		return unescapeNewlines(text), true, nil
	}
	dec, ok := decodeBase64(text)
	if !ok {
		if text[0] == 0x30 { // ASN.1 SEQUENCE: raw DER
			return bytes.TrimLeft(data, " \t\r\n\v\f"), false, nil
		}
		return nil, false, fmt.Errorf("%w: neither PEM nor valid base64", ErrMalformed)
	}
	if bytes.Contains(dec, []byte("-----BEGIN ")) {
		return unescapeNewlines(bytes.TrimSpace(dec)), true, nil
	}
	if len(dec) == 0 || dec[0] != 0x30 {
		return nil, false, fmt.Errorf("%w: base64 decodes to neither PEM nor DER", ErrMalformed)
	}
	return dec, false, nil
}

// unescapeNewlines turns the two characters \n (and \r\n) back into the
// line breaks they stand for. PEM holds no backslash, so they can only be
// line breaks escaped by a format that cannot hold one: a docker
// --env-file line, a .env file, a JSON string, a CI variable. pem.Decode
// needs the breaks after the BEGIN line and before the END line, so such a
// value was "truncated or corrupted" (Clawdi-AI/clawdi#597,
// box/box-node-sdk#259).
func unescapeNewlines(text []byte) []byte {
	if !bytes.Contains(text, []byte(`\n`)) {
		return text
	}
	text = bytes.ReplaceAll(text, []byte(`\r\n`), []byte("\n"))
	return bytes.ReplaceAll(text, []byte(`\n`), []byte("\n"))
}

func decodeBase64(data []byte) ([]byte, bool) {
	compact := make([]byte, 0, len(data))
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			compact = append(compact, c)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out := make([]byte, enc.DecodedLen(len(compact)))
		if n, err := enc.Decode(out, compact); err == nil {
			return out[:n], true
		}
	}
	return nil, false
}

// pemBlocks decodes every PEM block in text. A BEGIN line without a matching
// END line, or a block whose body is not valid base64, is ErrMalformed.
func pemBlocks(text []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := text
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if bytes.Contains(rest, []byte("-----BEGIN ")) {
		return nil, fmt.Errorf("%w: PEM block %d is truncated or corrupted", ErrMalformed, len(blocks)+1)
	}
	return blocks, nil
}

// ParsePrivateKey reads exactly one unencrypted RSA, ECDSA or Ed25519 private
// key in PKCS#1, PKCS#8 or SEC1 form, as PEM, base64 or DER (see Unwrap).
// Other PEM blocks, such as certificates in a combined file, are ignored.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	text, isPEM, err := Unwrap(data)
	if err != nil {
		return nil, err
	}
	if !isPEM {
		return parseKeyDER(text, "")
	}
	blocks, err := pemBlocks(text)
	if err != nil {
		return nil, err
	}
	var keys []crypto.Signer
	for i, b := range blocks {
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d (%s): %w", i+1, b.Type, ErrEncrypted)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, ok := b.Headers["DEK-Info"]; ok {
				return nil, fmt.Errorf("PEM block %d (%s): %w", i+1, b.Type, ErrEncrypted)
			}
			k, err := parseKeyDER(b.Bytes, b.Type)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (%s): %w", i+1, b.Type, err)
			}
			keys = append(keys, k)
		}
	}
	switch len(keys) {
	case 0:
		return nil, ErrNoKey
	case 1:
		return keys[0], nil
	}
	return nil, fmt.Errorf("%w: %d private keys, want exactly one", ErrMalformed, len(keys))
}

// parseKeyDER parses DER of the form pemType implies, or tries every form
// when pemType is "".
func parseKeyDER(der []byte, pemType string) (crypto.Signer, error) {
	var k any
	var err error
	switch pemType {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(der)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(der)
	default:
		if k, err = x509.ParsePKCS8PrivateKey(der); err != nil {
			if k2, err2 := x509.ParsePKCS1PrivateKey(der); err2 == nil {
				k, err = k2, nil
			} else if k3, err3 := x509.ParseECPrivateKey(der); err3 == nil {
				k, err = k3, nil
			} else {
				err = errors.New("not a PKCS#8, PKCS#1 or SEC1 private key")
			}
		}
	}
	if err != nil {
		if uerr := unsupportedKey(der); uerr != nil {
			return nil, uerr
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch key := k.(type) {
	case *rsa.PrivateKey:
		return key, nil
	case *ecdsa.PrivateKey:
		return key, nil
	case ed25519.PrivateKey:
		return key, nil
	}
	if _, ok := k.(*ecdh.PrivateKey); ok {
		return nil, fmt.Errorf("%w: an X25519 or ECDH key (key agreement only: it cannot sign; want RSA, ECDSA or Ed25519)", ErrUnsupported)
	}
	return nil, fmt.Errorf("%w: a %T (want RSA, ECDSA or Ed25519)", ErrUnsupported, k)
}

// ParseCertificates reads every X.509 certificate in data — PEM blocks of
// type CERTIFICATE, or DER (one or several concatenated), or a PKCS#7
// bundle (.p7b: PEM PKCS7, or DER) — either possibly
// base64-wrapped (see Unwrap) — in the order given, without duplicates.
// Other PEM blocks, such as a private key in a combined file, are ignored.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	text, isPEM, err := Unwrap(data)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	if !isPEM {
		if certs, err = x509.ParseCertificates(text); err != nil {
			p7, p7err := parsePKCS7Certificates(text)
			switch {
			case errors.Is(p7err, errNotPKCS7):
				return nil, fmt.Errorf("%w: DER: %v", ErrMalformed, err)
			case p7err != nil:
				return nil, fmt.Errorf("%w: PKCS#7: %v", ErrMalformed, p7err)
			}
			certs = p7
		}
	} else {
		blocks, err := pemBlocks(text)
		if err != nil {
			return nil, err
		}
		for i, b := range blocks {
			if pkcs7PEMTypes[b.Type] {
				p7, err := parsePKCS7Certificates(b.Bytes)
				if err != nil {
					return nil, fmt.Errorf("%w: PEM block %d (%s): %v", ErrMalformed, i+1, b.Type, err)
				}
				certs = append(certs, p7...)
				continue
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: PEM block %d (CERTIFICATE): %v", ErrMalformed, i+1, err)
			}
			certs = append(certs, c)
		}
	}
	certs = dedupe(certs)
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	return certs, nil
}

func dedupe(certs []*x509.Certificate) []*x509.Certificate {
	out := certs[:0:0]
	for _, c := range certs {
		if !containsCert(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}
