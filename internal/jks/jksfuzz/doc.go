// Package jksfuzz holds FuzzLoad, the fuzz target of JKS files (jks.Check,
// then keystore-go), and nothing else, in a test binary of its own. Go's
// fuzzing engine clears, copies and compares every coverage counter of the
// test binary for each execution, so its cost per input grows with all the
// instrumented code linked in; jks's own tests link pki (its certificate
// and key code) to write stores. The seed stores pki wrote are committed in
// testdata/fuzz/FuzzLoad instead (jks's TestCheck checks fresh ones).
package jksfuzz
