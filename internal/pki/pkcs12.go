package pki

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"
)

// The PKCS#12 writer (RFC 7292). go-pkcs12, which reads these files here,
// writes no friendlyName on a key entry, so the alias a keystore's key
// entry has (--key-alias) could not reach NAME.p12 and Java listed the entry
// as "1". The file is laid out as OpenSSL's PKCS12_create and
// `openssl pkcs12 -export -name ALIAS` lay it out, which keytool reads as a
// PrivateKeyEntry named ALIAS:
//
//	PFX
//	├─ authSafe: data
//	│  ├─ encryptedData (password-encrypted): SafeContents
//	│  │  ├─ certBag: the leaf   [friendlyName ALIAS, localKeyId]
//	│  │  └─ certBag: each further certificate of the chain
//	│  └─ data: SafeContents
//	│     └─ pkcs8ShroudedKeyBag: the key   [friendlyName ALIAS, localKeyId]
//	└─ macData: HMAC over the authSafe's content, keyed from the password
//
// localKeyId is the SHA-1 hash of the leaf, which ties the key to it.

var (
	oidP12Data             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidP12EncryptedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidP12KeyBag           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidP12ShroudedKeyBag   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidP12CertBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidP12X509Certificate  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidP12FriendlyName     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidP12LocalKeyID       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	oidP12PBES2            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidP12PBKDF2           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidP12HMACWithSHA256   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidP12AES256CBC        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidP12SHAAnd3KeyDESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidP12SHA1             = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidP12SHA256           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

// p12Profile is one set of PKCS#12 algorithms. The iteration counts and salt
// lengths are go-pkcs12's Modern2023 and LegacyDES ones, which tlsprov wrote
// before and OpenSSL's defaults match.
type p12Profile struct {
	legacy        bool // 3DES and a SHA-1 MAC, else PBES2/AES-256-CBC and SHA-256
	iterations    int  // of the encryption key derivation
	macIterations int
	saltLen       int
}

var (
	p12Modern = p12Profile{iterations: 2048, macIterations: 2048, saltLen: 16}
	p12Legacy = p12Profile{legacy: true, iterations: 2048, macIterations: 1, saltLen: 8}
)

type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  p12MacData `asn1:"optional"`
}

type p12MacData struct {
	Mac        p12DigestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type p12DigestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit"`
}

type p12EncryptedData struct {
	Version int
	Info    p12EncryptedContentInfo
}

type p12EncryptedContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Algorithm   pkix.AlgorithmIdentifier
	Content     []byte `asn1:"tag:0"`
}

type p12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue  `asn1:"tag:0,explicit"`
	Attributes []p12Attribute `asn1:"set,optional"`
}

type p12Attribute struct {
	ID     asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type p12CertBag struct {
	ID   asn1.ObjectIdentifier
	Cert []byte `asn1:"tag:0,explicit"`
}

type p12EncryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type p12PBES2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type p12PBKDF2Params struct {
	Salt       []byte
	Iterations int
	PRF        pkix.AlgorithmIdentifier
}

type p12PBEParams struct {
	Salt       []byte
	Iterations int
}

// EncodePKCS12 returns a PKCS#12 file holding key and chain (leaf first),
// with alias as the friendlyName of the key and the leaf, as
// `openssl pkcs12 -export -name` writes it: Java lists the key entry under
// alias, lower-cased as EncodeJKSKeystore stores it, so both stores of one
// key show one alias. It is protected by password. By default it uses PBES2
// with PBKDF2-HMAC-SHA-256 and AES-256-CBC and an HMAC-SHA-256 MAC, which
// OpenSSL 1.1.1+/3 and Java 12+ read; legacy selects 3DES and SHA-1 for
// older readers.
func EncodePKCS12(key crypto.Signer, chain []*x509.Certificate, alias, password string, legacy bool) ([]byte, error) {
	alias, err := jksAlias(alias)
	if err != nil {
		return nil, fmt.Errorf("PKCS#12: %w", err)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("PKCS#12: %w", ErrNoCertificate)
	}
	p := p12Modern
	if legacy {
		p = p12Legacy
	}
	out, err := p.encode(key, chain, alias, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12 with a %s key: %w", DescribeKey(key), err)
	}
	return out, nil
}

func (p p12Profile) encode(key crypto.Signer, chain []*x509.Certificate, alias, password string) ([]byte, error) {
	bmpPassword, err := bmpString(password)
	if err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	bmpPassword = append(bmpPassword, 0, 0) // RFC 7292 B.1: zero-terminated
	name, err := bmpString(alias)
	if err != nil {
		return nil, fmt.Errorf("alias %q: %w", alias, err)
	}
	keyID := sha1.Sum(chain[0].Raw)
	attrs, err := p12Attributes(name, keyID[:])
	if err != nil {
		return nil, err
	}

	var certBags []p12SafeBag
	for i, c := range chain {
		bag, err := asn1.Marshal(p12CertBag{ID: oidP12X509Certificate, Cert: c.Raw})
		if err != nil {
			return nil, err
		}
		b := p12SafeBag{ID: oidP12CertBag, Value: asn1.RawValue{FullBytes: explicit0(bag)}}
		if i == 0 {
			b.Attributes = attrs
		}
		certBags = append(certBags, b)
	}
	certSafe, err := asn1.Marshal(certBags)
	if err != nil {
		return nil, err
	}
	certAlg, encCerts, err := p.encrypt(certSafe, password, bmpPassword)
	if err != nil {
		return nil, err
	}
	encData, err := asn1.Marshal(p12EncryptedData{Info: p12EncryptedContentInfo{
		ContentType: oidP12Data, Algorithm: certAlg, Content: encCerts,
	}})
	if err != nil {
		return nil, err
	}

	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyAlg, encKey, err := p.encrypt(der, password, bmpPassword)
	if err != nil {
		return nil, err
	}
	shrouded, err := asn1.Marshal(p12EncryptedPrivateKeyInfo{Algorithm: keyAlg, Data: encKey})
	if err != nil {
		return nil, err
	}
	keySafe, err := asn1.Marshal([]p12SafeBag{{ID: oidP12ShroudedKeyBag, Value: asn1.RawValue{FullBytes: explicit0(shrouded)}, Attributes: attrs}})
	if err != nil {
		return nil, err
	}
	keySafeOctets, err := asn1.Marshal(keySafe)
	if err != nil {
		return nil, err
	}

	authSafe, err := asn1.Marshal([]p12ContentInfo{
		{ContentType: oidP12EncryptedData, Content: asn1.RawValue{FullBytes: explicit0(encData)}},
		{ContentType: oidP12Data, Content: asn1.RawValue{FullBytes: explicit0(keySafeOctets)}},
	})
	if err != nil {
		return nil, err
	}
	authSafeOctets, err := asn1.Marshal(authSafe)
	if err != nil {
		return nil, err
	}

	mac := p12MacData{MacSalt: make([]byte, p.saltLen), Iterations: p.macIterations}
	if _, err := rand.Read(mac.MacSalt); err != nil {
		return nil, err
	}
	newHash, macAlg := sha256.New, oidP12SHA256
	if p.legacy {
		newHash, macAlg = sha1.New, oidP12SHA1
	}
	macKey := pkcs12KDF(newHash, 3, bmpPassword, mac.MacSalt, mac.Iterations, newHash().Size())
	h := hmac.New(newHash, macKey)
	h.Write(authSafe)
	mac.Mac = p12DigestInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: macAlg, Parameters: asn1.NullRawValue}, Digest: h.Sum(nil)}

	return asn1.Marshal(p12PFX{
		Version:  3,
		AuthSafe: p12ContentInfo{ContentType: oidP12Data, Content: asn1.RawValue{FullBytes: explicit0(authSafeOctets)}},
		MacData:  mac,
	})
}

// p12Attributes returns the bag attributes of the key and the leaf: the
// friendlyName (a BMPString) and the localKeyId.
func p12Attributes(bmpName, keyID []byte) ([]p12Attribute, error) {
	id, err := asn1.Marshal(keyID)
	if err != nil {
		return nil, err
	}
	return []p12Attribute{
		{ID: oidP12FriendlyName, Values: []asn1.RawValue{{Class: asn1.ClassUniversal, Tag: asn1.TagBMPString, Bytes: bmpName}}},
		{ID: oidP12LocalKeyID, Values: []asn1.RawValue{{FullBytes: id}}},
	}, nil
}

// encrypt encrypts plain under the profile's password-based scheme with a
// fresh salt (and IV) and returns the scheme's AlgorithmIdentifier. PBES2
// derives its key from the password's UTF-8 bytes (RFC 8018 section 3, as
// OpenSSL and Java do); the PKCS#12 PBE from its zero-terminated BMPString.
func (p p12Profile) encrypt(plain []byte, password string, bmpPassword []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	salt := make([]byte, p.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return pkix.AlgorithmIdentifier{}, nil, err
	}
	var (
		block cipher.Block
		iv    []byte
		alg   pkix.AlgorithmIdentifier
	)
	if p.legacy {
		k := pkcs12KDF(sha1.New, 1, bmpPassword, salt, p.iterations, 24)
		iv = pkcs12KDF(sha1.New, 2, bmpPassword, salt, p.iterations, des.BlockSize)
		var err error
		if block, err = des.NewTripleDESCipher(k); err != nil {
			return alg, nil, err
		}
		params, err := asn1.Marshal(p12PBEParams{Salt: salt, Iterations: p.iterations})
		if err != nil {
			return alg, nil, err
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidP12SHAAnd3KeyDESCBC, Parameters: asn1.RawValue{FullBytes: params}}
	} else {
		k, err := pbkdf2.Key(sha256.New, password, salt, p.iterations, 32)
		if err != nil {
			return alg, nil, err
		}
		if block, err = aes.NewCipher(k); err != nil {
			return alg, nil, err
		}
		iv = make([]byte, aes.BlockSize)
		if _, err := rand.Read(iv); err != nil {
			return alg, nil, err
		}
		kdf, err := asn1.Marshal(p12PBKDF2Params{Salt: salt, Iterations: p.iterations,
			PRF: pkix.AlgorithmIdentifier{Algorithm: oidP12HMACWithSHA256, Parameters: asn1.NullRawValue}})
		if err != nil {
			return alg, nil, err
		}
		ivDER, err := asn1.Marshal(iv)
		if err != nil {
			return alg, nil, err
		}
		params, err := asn1.Marshal(p12PBES2Params{
			KDF:    pkix.AlgorithmIdentifier{Algorithm: oidP12PBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
			Scheme: pkix.AlgorithmIdentifier{Algorithm: oidP12AES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
		})
		if err != nil {
			return alg, nil, err
		}
		alg = pkix.AlgorithmIdentifier{Algorithm: oidP12PBES2, Parameters: asn1.RawValue{FullBytes: params}}
	}
	// PKCS#7 padding, then CBC.
	n := block.BlockSize() - len(plain)%block.BlockSize()
	out := make([]byte, len(plain)+n)
	copy(out, plain)
	for i := len(plain); i < len(out); i++ {
		out[i] = byte(n)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, out)
	return alg, out, nil
}

// explicit0 wraps der in a context-specific constructed [0] tag, the
// EXPLICIT tagging of ContentInfo's content and SafeBag's bagValue.
func explicit0(der []byte) []byte {
	b, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der})
	return b
}

// bmpString returns s as a BMPString's content: UCS-2, big-endian. A
// character outside the Basic Multilingual Plane is an error, as UCS-2
// cannot hold it.
func bmpString(s string) ([]byte, error) {
	out := make([]byte, 0, 2*len(s))
	for _, r := range s {
		if utf16.IsSurrogate(r) || r > 0xFFFF {
			return nil, errors.New("a character outside Unicode's Basic Multilingual Plane (a BMPString cannot hold it)")
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return out, nil
}

// pkcs12KDF derives n bytes for purpose id (1: an encryption key, 2: an IV,
// 3: a MAC key) from a zero-terminated BMPString password and salt, after
// RFC 7292 appendix B.2. The MAC key is derived this way whatever the MAC's
// hash, as OpenSSL and Java do.
func pkcs12KDF(newHash func() hash.Hash, id byte, password, salt []byte, iterations, n int) []byte {
	h := newHash()
	v := h.BlockSize() // 64 bytes for SHA-1 and SHA-256
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fill(salt, v), fill(password, v)...)
	var out []byte
	for {
		h.Reset()
		h.Write(d)
		h.Write(in)
		a := h.Sum(nil)
		for j := 1; j < iterations; j++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= n {
			return out[:n]
		}
		// Each v-byte block of in becomes (block + B + 1) mod 2^(8v), B
		// being a repeated to v bytes.
		b := make([]byte, v)
		for i := range b {
			b[i] = a[i%len(a)]
		}
		for j := 0; j < len(in); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				s := int(in[j+k]) + int(b[k]) + carry
				in[j+k] = byte(s)
				carry = s >> 8
			}
		}
	}
}

// fill repeats s to the shortest multiple of v bytes that holds it (nothing
// for an empty s).
func fill(s []byte, v int) []byte {
	if len(s) == 0 {
		return nil
	}
	out := make([]byte, (len(s)+v-1)/v*v)
	for i := range out {
		out[i] = s[i%len(s)]
	}
	return out
}

// pkcs12KeyAlias returns the friendlyName of the first key bag of a PKCS#12
// file, as Java lists the key entry (keytool -list): "" when it has none,
// or the file is not laid out as OpenSSL, Java and EncodePKCS12 write it
// (the key's bag in a SafeContents of its own, not encrypted but for the
// key itself, whose attributes are in the clear). The caller has checked
// the file's MAC.
func pkcs12KeyAlias(data []byte) string {
	var pfx p12PFX
	if _, err := asn1.Unmarshal(data, &pfx); err != nil || !pfx.AuthSafe.ContentType.Equal(oidP12Data) {
		return ""
	}
	var authSafe []byte
	if _, err := asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return ""
	}
	var infos []p12ContentInfo
	if _, err := asn1.Unmarshal(authSafe, &infos); err != nil {
		return ""
	}
	for _, ci := range infos {
		if !ci.ContentType.Equal(oidP12Data) {
			continue // an encryptedData safe: the certificates
		}
		var safe []byte
		var bags []p12SafeBag
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &safe); err != nil {
			continue
		}
		if _, err := asn1.Unmarshal(safe, &bags); err != nil {
			continue
		}
		for _, b := range bags {
			if !b.ID.Equal(oidP12ShroudedKeyBag) && !b.ID.Equal(oidP12KeyBag) {
				continue
			}
			for _, a := range b.Attributes {
				if a.ID.Equal(oidP12FriendlyName) && len(a.Values) == 1 && a.Values[0].Tag == asn1.TagBMPString && len(a.Values[0].Bytes)%2 == 0 {
					u := make([]uint16, len(a.Values[0].Bytes)/2)
					for i := range u {
						u[i] = uint16(a.Values[0].Bytes[2*i])<<8 | uint16(a.Values[0].Bytes[2*i+1])
					}
					return string(utf16.Decode(u))
				}
			}
			return ""
		}
	}
	return ""
}
