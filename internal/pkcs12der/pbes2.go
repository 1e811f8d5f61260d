package pkcs12der

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
)

// MaxPBKDF2Iterations bounds the key derivation DecryptPBES2 does for a
// file it is handed; keytool writes 10,000 iterations and go-pkcs12's
// Modern2023 2,048.
const MaxPBKDF2Iterations = 1 << 20

// EncryptPBES2 encrypts plain under PBES2 (RFC 8018 section 6.2) with
// PBKDF2-HMAC-SHA-256 (a fresh salt of saltLen bytes, iterations) and
// AES-256-CBC (a fresh IV), as OpenSSL 3 and keytool (JDK 12+) write it, and
// returns the scheme's AlgorithmIdentifier with the ciphertext. The key is
// derived from the password's UTF-8 bytes (RFC 8018 section 3, as OpenSSL
// and Java do), not from the BMPString of PKCS#12's own PBE.
func EncryptPBES2(plain []byte, password string, saltLen, iterations int) (pkix.AlgorithmIdentifier, []byte, error) {
	var alg pkix.AlgorithmIdentifier
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return alg, nil, err
	}
	k, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return alg, nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return alg, nil, err
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return alg, nil, err
	}
	kdf, err := asn1.Marshal(PBKDF2Params{Salt: salt, Iterations: iterations,
		PRF: pkix.AlgorithmIdentifier{Algorithm: OIDHMACWithSHA256, Parameters: asn1.NullRawValue}})
	if err != nil {
		return alg, nil, err
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return alg, nil, err
	}
	params, err := asn1.Marshal(PBES2Params{
		KDF:              pkix.AlgorithmIdentifier{Algorithm: OIDPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		EncryptionScheme: pkix.AlgorithmIdentifier{Algorithm: OIDAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return alg, nil, err
	}
	alg = pkix.AlgorithmIdentifier{Algorithm: OIDPBES2, Parameters: asn1.RawValue{FullBytes: params}}
	return alg, EncryptCBC(block, iv, plain), nil
}

// DecryptPBES2 decrypts text, encrypted under alg: PBES2 with PBKDF2
// (HMAC-SHA-1, -256, -384 or -512, at most MaxPBKDF2Iterations) and AES-CBC
// (128, 192 or 256 bits), what keytool (JDK 12+), OpenSSL 3 and go-pkcs12's
// Modern encoders write. password is read as UTF-8 (RFC 8018 section 3).
// A wrong password shows as bad padding, or as garbage the caller cannot
// decode; the caller checks the file's MAC first.
func DecryptPBES2(alg pkix.AlgorithmIdentifier, text []byte, password string) ([]byte, error) {
	if !alg.Algorithm.Equal(OIDPBES2) {
		return nil, fmt.Errorf("encryption algorithm %v is not PBES2", alg.Algorithm)
	}
	var params PBES2Params
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil {
		return nil, fmt.Errorf("PBES2 parameters: %w", err)
	}
	if !params.KDF.Algorithm.Equal(OIDPBKDF2) {
		return nil, fmt.Errorf("PBES2 key derivation %v is not PBKDF2", params.KDF.Algorithm)
	}
	var kdf PBKDF2Params
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil {
		return nil, fmt.Errorf("PBKDF2 parameters: %w", err)
	}
	if kdf.Iterations < 1 || kdf.Iterations > MaxPBKDF2Iterations {
		return nil, fmt.Errorf("PBKDF2 iteration count %d is outside 1 to %d", kdf.Iterations, MaxPBKDF2Iterations)
	}
	var prf func() hash.Hash
	switch a := kdf.PRF.Algorithm; {
	case a == nil || a.Equal(OIDHMACWithSHA1):
		prf = sha1.New
	case a.Equal(OIDHMACWithSHA256):
		prf = sha256.New
	case a.Equal(OIDHMACWithSHA384):
		prf = sha512.New384
	case a.Equal(OIDHMACWithSHA512):
		prf = sha512.New
	default:
		return nil, fmt.Errorf("PBKDF2 pseudo-random function %v is not supported", a)
	}
	var keyLen int
	switch a := params.EncryptionScheme.Algorithm; {
	case a.Equal(OIDAES128CBC):
		keyLen = 16
	case a.Equal(OIDAES192CBC):
		keyLen = 24
	case a.Equal(OIDAES256CBC):
		keyLen = 32
	default:
		return nil, fmt.Errorf("PBES2 encryption scheme %v is not supported", a)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, errors.New("PBES2: the AES-CBC IV is not an OCTET STRING of 16 bytes")
	}
	if len(text) == 0 || len(text)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("ciphertext of %d bytes is not a whole number of AES blocks", len(text))
	}
	key, err := pbkdf2.Key(prf, password, kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return DecryptCBC(block, iv, text)
}

// EncryptCBC pads plain as PKCS #7 pads it (RFC 5652 section 6.3) and
// encrypts it with block in CBC mode from iv.
func EncryptCBC(block cipher.Block, iv, plain []byte) []byte {
	n := block.BlockSize() - len(plain)%block.BlockSize()
	out := make([]byte, len(plain)+n)
	copy(out, plain)
	for i := len(plain); i < len(out); i++ {
		out[i] = byte(n)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, out)
	return out
}

// DecryptCBC decrypts text with block in CBC mode from iv and removes its
// PKCS #7 padding.
func DecryptCBC(block cipher.Block, iv, text []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(text) == 0 || len(text)%bs != 0 {
		return nil, fmt.Errorf("ciphertext of %d bytes is not a whole number of %d-byte blocks", len(text), bs)
	}
	out := make([]byte, len(text))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, text)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs {
		return nil, errors.New("bad padding (wrong password?)")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("bad padding (wrong password?)")
		}
	}
	return out[:len(out)-pad], nil
}
