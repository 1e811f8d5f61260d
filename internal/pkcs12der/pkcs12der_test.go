package pkcs12der

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
)

func TestBMPString(t *testing.T) {
	for _, tt := range []struct {
		s       string
		bmp     []byte
		wantErr bool
	}{
		{"", []byte{}, false},
		{"ab", []byte{0, 'a', 0, 'b'}, false},
		{"corp root", []byte{0, 'c', 0, 'o', 0, 'r', 0, 'p', 0, ' ', 0, 'r', 0, 'o', 0, 'o', 0, 't'}, false},
		{"ü€", []byte{0x00, 0xfc, 0x20, 0xac}, false},
		{"a😀", nil, true}, // outside the BMP: UCS-2 cannot hold it
	} {
		got, err := EncodeBMPString(tt.s)
		if (err != nil) != tt.wantErr {
			t.Fatalf("EncodeBMPString(%q) error %v, want error %v", tt.s, err, tt.wantErr)
		}
		if tt.wantErr {
			continue
		}
		if !bytes.Equal(got, tt.bmp) {
			t.Errorf("EncodeBMPString(%q) = %x, want %x", tt.s, got, tt.bmp)
		}
		back, err := DecodeBMPString(got)
		if err != nil || back != tt.s {
			t.Errorf("DecodeBMPString(%x) = %q, %v, want %q", got, back, err, tt.s)
		}
	}
	if s, err := DecodeBMPString([]byte{0, 'a', 0}); err == nil {
		t.Errorf("DecodeBMPString of 3 bytes = %q, want an error", s)
	}
}

func TestFriendlyName(t *testing.T) {
	name, err := EncodeBMPString("web")
	if err != nil {
		t.Fatal(err)
	}
	utf8, err := asn1.MarshalWithParams("web", "utf8")
	if err != nil {
		t.Fatal(err)
	}
	localKeyID := Attribute{ID: OIDLocalKeyID, Values: []asn1.RawValue{{Class: asn1.ClassUniversal, Tag: asn1.TagOctetString, Bytes: []byte{1}}}}
	for _, tt := range []struct {
		name  string
		attrs []Attribute
		want  string
	}{
		{"none", nil, ""},
		{"friendlyName", []Attribute{localKeyID, FriendlyNameAttribute(name)}, "web"},
		{"not a BMPString", []Attribute{{ID: OIDFriendlyName, Values: []asn1.RawValue{{FullBytes: utf8}}}}, ""},
		{"odd length", []Attribute{FriendlyNameAttribute([]byte{0, 'w', 0})}, ""},
		{"two values", []Attribute{{ID: OIDFriendlyName, Values: []asn1.RawValue{FriendlyNameAttribute(name).Values[0], FriendlyNameAttribute(name).Values[0]}}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Through DER, as a reader sees the bag.
			der, err := asn1.Marshal([]SafeBag{{ID: OIDCertBag, Value: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: []byte{5, 0}}, Attributes: tt.attrs}})
			if err != nil {
				t.Fatal(err)
			}
			bags, err := ParseSafeContents(der)
			if err != nil || len(bags) != 1 {
				t.Fatalf("ParseSafeContents: %d bags, %v", len(bags), err)
			}
			if got := bags[0].FriendlyName(); got != tt.want {
				t.Errorf("FriendlyName() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPBES2 encrypts and decrypts plain texts around the AES block size, and
// checks that a wrong password, an iteration count over the bound and a
// scheme other than PBES2 are refused.
func TestPBES2(t *testing.T) {
	const password = "pkcs12der-Pa55"
	for _, n := range []int{0, 1, 15, 16, 17, 100} {
		plain := bytes.Repeat([]byte{byte(n)}, n)
		alg, text, err := EncryptPBES2(plain, password, 16, 2048)
		if err != nil {
			t.Fatalf("EncryptPBES2 of %d bytes: %v", n, err)
		}
		if len(text) != (n/16+1)*16 {
			t.Errorf("EncryptPBES2 of %d bytes: %d bytes of ciphertext, want %d", n, len(text), (n/16+1)*16)
		}
		got, err := DecryptPBES2(alg, text, password)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("DecryptPBES2 of %d bytes = %x, %v, want %x", n, got, err, plain)
		}
		if got, err := DecryptPBES2(alg, text, password+"x"); err == nil && bytes.Equal(got, plain) {
			t.Errorf("DecryptPBES2 with a wrong password returned the plain text of %d bytes", n)
		}
	}

	// The same ciphertext, its PBKDF2 parameters claiming one iteration too
	// many (the key is never derived, so the test costs nothing).
	alg, text, err := EncryptPBES2([]byte("x"), password, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	var p2 PBES2Params
	var kdf PBKDF2Params
	if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p2); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(p2.KDF.Parameters.FullBytes, &kdf); err != nil {
		t.Fatal(err)
	}
	kdf.Iterations = MaxPBKDF2Iterations + 1
	if p2.KDF.Parameters.FullBytes, err = asn1.Marshal(kdf); err != nil {
		t.Fatal(err)
	}
	if alg.Parameters.FullBytes, err = asn1.Marshal(p2); err != nil {
		t.Fatal(err)
	}
	if _, err := DecryptPBES2(alg, text, password); err == nil || !strings.Contains(err.Error(), "iteration count") {
		t.Errorf("DecryptPBES2 with %d iterations, over MaxPBKDF2Iterations: %v, want the iteration count refused", MaxPBKDF2Iterations+1, err)
	}
	params, err := asn1.Marshal(PBEParams{Salt: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	legacy := pkix.AlgorithmIdentifier{Algorithm: OIDPBEWithSHAAnd3DES, Parameters: asn1.RawValue{FullBytes: params}}
	if _, err := DecryptPBES2(legacy, make([]byte, 16), password); err == nil || !strings.Contains(err.Error(), "is not PBES2") {
		t.Errorf("DecryptPBES2 of pbeWithSHAAnd3-KeyTripleDES-CBC: %v, want it refused as not PBES2", err)
	}
}
