package mesos

import (
	"crypto/rand"
	"encoding/hex"
)

// NewUUID returns 16 random bytes (a version 4 UUID), the form of status
// update UUIDs.
func NewUUID() []byte {
	b := newUUID()
	return b[:]
}

// newUUID returns a random version 4 UUID.
func newUUID() [16]byte {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
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
	// Written in place: one allocation (a launch round names hundreds of
	// tasks, executors and reservations).
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// NewID returns a fresh random UUID in text form, as Mesos uses for master,
// stream and container IDs.
func NewID() string {
	b := newUUID()
	return UUIDString(b[:])
}
