package jks_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/taskkit/taskkit/internal/jks"
	"github.com/taskkit/taskkit/internal/pki"
)

func TestPassword(t *testing.T) {
	tests := []struct {
		name, password string
		want           []byte
		err            string
	}{
		{"ASCII unchanged", `p$s w!"#%&'()*+,-./:;<=>?@[\]^_{|}~`, []byte(`p$s w!"#%&'()*+,-./:;<=>?@[\]^_{|}~`), ""},
		{"empty", "", []byte{}, ""},
		{"Latin-1 one byte per char", "pässwört", []byte{'p', 0xE4, 's', 's', 'w', 0xF6, 'r', 't'}, ""},
		{"U+00FF", "\u00ff", []byte{0xFF}, ""},
		{"euro sign", "pa€ss", nil, "password character 3 is above U+00FF"},
		{"outside the BMP", "pa😀", nil, "password character 3 is above U+00FF"},
		{"not UTF-8", "pa\xe4ss", nil, "password is not valid UTF-8 (byte 3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jks.Password(tt.password)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if !errors.Is(err, jks.ErrPassword) {
					t.Errorf("err %v is not jks.ErrPassword", err)
				}
				if strings.Contains(err.Error(), "€") || strings.Contains(err.Error(), "😀") || strings.Contains(err.Error(), "20AC") {
					t.Errorf("error tells the password's character: %v", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("= %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}

// TestStoreDigestIsJavas checks the integrity digest that ends a JKS file
// written with a password that is not ASCII against Java's definition
// (sun.security.provider.JavaKeyStore.getPreKeyedHash: SHA-1 over each
// UTF-16 char of the password as two bytes, high first, then "Mighty
// Aphrodite", then the store). keystore-go hashed the password's UTF-8
// bytes as chars, so keytool refused a store tlsprov wrote with
// --keystore-password pässwort as "Keystore was tampered with, or password
// was incorrect" (kurtbrose/pyjks#16 fixed the same in another JKS writer).
func TestStoreDigestIsJavas(t *testing.T) {
	ca, err := pki.NewCA(pki.CARequest{CommonName: "CA", KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"notsecure", "pässwört", "çédille-ß"} {
		t.Run(pw, func(t *testing.T) {
			ts, err := pki.EncodeJKSTruststore([]*x509.Certificate{ca.Cert}, "ca", pw, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			h := sha1.New()
			for _, c := range utf16.Encode([]rune(pw)) {
				h.Write([]byte{byte(c >> 8), byte(c)})
			}
			h.Write([]byte("Mighty Aphrodite"))
			h.Write(ts[:len(ts)-sha1.Size])
			if got := ts[len(ts)-sha1.Size:]; !bytes.Equal(got, h.Sum(nil)) {
				t.Errorf("store digest %x is not Java's %x for this password", got, h.Sum(nil))
			}
		})
	}
	if _, err := pki.EncodeJKSTruststore([]*x509.Certificate{ca.Cert}, "ca", "€uro", time.Now()); err == nil {
		t.Error("a password keystore-go cannot hash as Java does was accepted")
	}
}
