package main

import "testing"

// TestDemo runs the README's demo end to end: the DNS name appears late,
// bootstrap waits, renders and exits 0.
func TestDemo(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
