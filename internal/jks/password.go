package jks

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrPassword is what every error of Password is (errors.Is): a password
// this package cannot hash as Java does, so that a caller can name where
// the password came from (a flag, a variable) without repeating it.
var ErrPassword = errors.New("password JKS files cannot hold")

// passwordError is an error of Password: its own message, and ErrPassword.
type passwordError string

func (e passwordError) Error() string        { return string(e) }
func (e passwordError) Is(target error) bool { return target == ErrPassword }

// Password returns password in the form github.com/pavlo-v-chernykh/keystore-go
// takes it: one byte per Java char.
//
// Java's JKS (sun.security.provider.JavaKeyStore and its KeyProtector)
// hashes a password as its UTF-16 chars, each as two bytes, high byte
// first. keystore-go hashes each byte b of the password it is given as the
// char (0, b), so handing it the UTF-8 bytes of a password that is not
// ASCII ("pässwort" is 0xC3 0xA4 for ä) writes a store that keytool and
// every JVM refuse as "Keystore was tampered with, or password was
// incorrect", and cannot open a store keytool wrote. Passing each char
// U+0000..U+00FF as its one byte gives Java's hash exactly. A char above
// U+00FF (€, Cyrillic, CJK) has a high byte keystore-go cannot express:
// that is an error here rather than a store no JVM opens; every error is
// ErrPassword and names the character's position, never the password.
func Password(password string) ([]byte, error) {
	out := make([]byte, 0, len(password))
	for i, r := range password {
		switch {
		case r == utf8.RuneError && !validAt(password, i):
			return nil, passwordError(fmt.Sprintf("password is not valid UTF-8 (byte %d)", i+1))
		case r > 0xFF:
			return nil, passwordError(fmt.Sprintf("password character %d is above U+00FF, which JKS files cannot hold here: use ASCII and Latin-1 characters (such as ä, é, ß), or PKCS#12", utf8.RuneCountInString(password[:i])+1))
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// validAt reports whether s holds a real U+FFFD at byte i, not an invalid
// byte decoded as one.
func validAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}
