// Package jks checks the structure of a Java KeyStore (JKS) file before
// github.com/pavlo-v-chernykh/keystore-go reads it. That reader trusts the
// file's counts and lengths: it allocates whatever a length field says (up
// to 4 GiB for one certificate, and a certificate chain of up to 2^32
// entries, an unrecoverable out-of-memory crash) before finding that the
// bytes are not there, and its key decryption indexes past the end of an
// encrypted key shorter than its salt and digest (a panic). Check walks
// the same structure without allocating and refuses such a file, so what
// keystore-go then allocates is bounded by the file's size.
//
// The format (sun.security.provider.JavaKeyStore, as keystore-go reads
// it): magic 0xFEEDFEED, version (1 or 2), entry count; each entry a tag
// (1 private key, 2 trusted certificate), an alias (uint16 length and
// bytes) and a creation time (8 bytes); a private key entry then holds
// the encrypted key (uint32 length and bytes) and a certificate chain
// (uint32 count, then certificates); a trusted entry one certificate. A
// certificate is, in version 2, a type (uint16 length and bytes), then
// its DER (uint32 length and bytes). A 20-byte SHA-1 digest ends the file.
package jks

import (
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error of Check.
var ErrMalformed = errors.New("malformed JKS file")

// Entry tags and versions of the format.
const (
	tagPrivateKey  = 1
	tagTrustedCert = 2
	version1       = 1
	version2       = 2
)

// minEncryptedKey is the shortest encrypted key keystore-go can decrypt:
// its 20-byte salt and 20-byte digest (keyprotector.go).
const minEncryptedKey = 20 + sha1.Size

// reader consumes a JKS file, failing when a field runs past its end.
type reader struct {
	data []byte
	off  int
}

func (r *reader) take(n uint64, what string) ([]byte, error) {
	if n > uint64(len(r.data)-r.off) {
		return nil, fmt.Errorf("%w: %s of %d bytes at offset %d runs past the end of the %d-byte file", ErrMalformed, what, n, r.off, len(r.data))
	}
	b := r.data[r.off : r.off+int(n)]
	r.off += int(n)
	return b, nil
}

func (r *reader) uint16(what string) (uint16, error) {
	b, err := r.take(2, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (r *reader) uint32(what string) (uint32, error) {
	b, err := r.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

// chunk takes a uint16- or uint32-length-prefixed field.
func (r *reader) chunk(long bool, what string) ([]byte, error) {
	var n uint64
	if long {
		v, err := r.uint32(what + " length")
		if err != nil {
			return nil, err
		}
		n = uint64(v)
	} else {
		v, err := r.uint16(what + " length")
		if err != nil {
			return nil, err
		}
		n = uint64(v)
	}
	return r.take(n, what)
}

// Check returns nil when every count and length of the JKS file data fits
// in data (and every encrypted key is long enough to decrypt), else an
// error wrapping ErrMalformed that describes the structure, never the
// content. It does not check the digest: keystore-go does, with the
// password.
func Check(data []byte) error {
	r := &reader{data: data}
	magic, err := r.uint32("magic")
	if err != nil {
		return err
	}
	if magic != 0xfeedfeed {
		return fmt.Errorf("%w: no JKS magic", ErrMalformed)
	}
	version, err := r.uint32("version")
	if err != nil {
		return err
	}
	if version != version1 && version != version2 {
		return fmt.Errorf("%w: version %d", ErrMalformed, version)
	}
	count, err := r.uint32("entry count")
	if err != nil {
		return err
	}
	cert := func(what string) error {
		if version == version2 {
			if _, err := r.chunk(false, what+" type"); err != nil {
				return err
			}
		}
		_, err := r.chunk(true, what)
		return err
	}
	for i := uint32(1); i <= count; i++ {
		what := fmt.Sprintf("entry %d", i)
		tag, err := r.uint32(what + " tag")
		if err != nil {
			return err
		}
		if _, err := r.chunk(false, what+" alias"); err != nil {
			return err
		}
		if _, err := r.take(8, what+" creation time"); err != nil {
			return err
		}
		switch tag {
		case tagPrivateKey:
			key, err := r.chunk(true, what+" encrypted key")
			if err != nil {
				return err
			}
			if err := checkEncryptedKey(key); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
			}
			n, err := r.uint32(what + " chain length")
			if err != nil {
				return err
			}
			for j := uint32(1); j <= n; j++ {
				if err := cert(fmt.Sprintf("%s certificate %d", what, j)); err != nil {
					return err
				}
			}
		case tagTrustedCert:
			if err := cert(what + " certificate"); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: %s has tag %d", ErrMalformed, what, tag)
		}
	}
	if _, err := r.take(sha1.Size, "digest"); err != nil {
		return err
	}
	return nil
}

// checkEncryptedKey refuses an encrypted key that parses (keystore-go
// reports one that does not) but is shorter than a salt and a digest.
func checkEncryptedKey(der []byte) error {
	var info struct {
		Algo       pkix.AlgorithmIdentifier
		PrivateKey []byte
	}
	if _, err := asn1.Unmarshal(der, &info); err != nil {
		return nil
	}
	if len(info.PrivateKey) < minEncryptedKey {
		return fmt.Errorf("encrypted key of %d bytes, shorter than its salt and digest (%d)", len(info.PrivateKey), minEncryptedKey)
	}
	return nil
}
