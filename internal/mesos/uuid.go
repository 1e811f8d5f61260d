package mesos

import (
	"crypto/rand"
	"encoding/hex"
)

// NewUUID returns 16 random bytes (a version 4 UUID), the form of status
// update UUIDs.
func NewUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// UUIDString formats 16 bytes as the canonical 8-4-4-4-12 text; other lengths
// are hex-encoded whole.
func UUIDString(b []byte) string {
	if len(b) != 16 {
		return hex.EncodeToString(b)
	}
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// NewID returns a fresh random UUID in text form, as Mesos uses for master,
// stream and container IDs.
func NewID() string { return UUIDString(NewUUID()) }
