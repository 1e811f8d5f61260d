package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/taskkit/taskkit/internal/jks"
)

// SDK defaults for the Java stores, as the DC/OS SDK writes them.
const (
	DefaultStorePassword = "notsecure"
	DefaultKeyAlias      = "default"
	DefaultCAAlias       = "dcos-root"
)

// EncodeKeyPEM returns key as an unencrypted PKCS#8 PEM block ("PRIVATE KEY").
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding %s private key as PKCS#8: %w", DescribeKey(key), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodeCertsPEM returns certs as consecutive CERTIFICATE PEM blocks.
func EncodeCertsPEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

// TrustAliases returns n truststore aliases: first, then first-2, first-3, ...
func TrustAliases(first string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = first
		if i > 0 {
			out[i] = first + "-" + strconv.Itoa(i+1)
		}
	}
	return out
}

// jksAlias validates alias and returns it as Java stores it: lower case.
func jksAlias(alias string) (string, error) {
	if strings.TrimSpace(alias) == "" {
		return "", errors.New("empty keystore alias")
	}
	return strings.ToLower(alias), nil
}

// EncodeJKSKeystore returns a JKS keystore with one PrivateKeyEntry under
// alias holding key and chain (leaf first, normally up to and including the
// root), protected — store and key alike — by password, hashed as Java
// does (jks.Password: a character above U+00FF is an error).
func EncodeJKSKeystore(key crypto.Signer, chain []*x509.Certificate, alias, password string, created time.Time) ([]byte, error) {
	alias, err := jksAlias(alias)
	if err != nil {
		return nil, err
	}
	pw, err := jks.Password(password)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("keystore entry %q: %w", alias, ErrNoCertificate)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keystore entry %q: encoding the %s key: %w", alias, DescribeKey(key), err)
	}
	entry := keystore.PrivateKeyEntry{CreationTime: created, PrivateKey: der}
	for _, c := range chain {
		entry.CertificateChain = append(entry.CertificateChain, keystore.Certificate{Type: "X509", Content: c.Raw})
	}
	ks := keystore.New(keystore.WithOrderedAliases())
	if err := ks.SetPrivateKeyEntry(alias, entry, pw); err != nil {
		return nil, fmt.Errorf("keystore entry %q: %w", alias, err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, pw); err != nil {
		return nil, fmt.Errorf("encoding keystore: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodeJKSTruststore returns a JKS truststore holding each of cas as a
// trustedCertEntry, under TrustAliases(firstAlias, len(cas)), protected by
// password as EncodeJKSKeystore's.
func EncodeJKSTruststore(cas []*x509.Certificate, firstAlias, password string, created time.Time) ([]byte, error) {
	first, err := jksAlias(firstAlias)
	if err != nil {
		return nil, err
	}
	pw, err := jks.Password(password)
	if err != nil {
		return nil, fmt.Errorf("truststore: %w", err)
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("truststore: %w", ErrNoCertificate)
	}
	ks := keystore.New(keystore.WithOrderedAliases())
	for i, alias := range TrustAliases(first, len(cas)) {
		e := keystore.TrustedCertificateEntry{CreationTime: created, Certificate: keystore.Certificate{Type: "X509", Content: cas[i].Raw}}
		if err := ks.SetTrustedCertificateEntry(alias, e); err != nil {
			return nil, fmt.Errorf("truststore entry %q: %w", alias, err)
		}
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, pw); err != nil {
		return nil, fmt.Errorf("encoding truststore: %w", err)
	}
	return buf.Bytes(), nil
}
