// Package taskenvfuzz holds taskenv's fuzz targets (FuzzParseConfigTemplate,
// FuzzEnv) and nothing else, in a test binary of their own. Go's fuzzing
// engine clears, copies and compares every coverage counter of the test
// binary for each execution, so its cost per input grows with all the
// instrumented code linked in: taskenv's own tests link bootstrap, render,
// tlsprov and pki (12 times the counters), which made these parsers of a
// few microseconds run at a fifth of the speed. Only taskenv's exported API
// is fuzzed.
package taskenvfuzz
