// Package deptest holds the tests that keep the in-task binaries (bootstrap,
// healthd, tlsprov) what a task can fetch cheaply: none links mesos-go or
// any protobuf package, and each stays at most MaxBytes stripped (built as
// scripts/dist.sh builds it). It has no code of its own.
package deptest

// MaxBytes is the size limit of a stripped in-task binary: 10 MiB.
const MaxBytes = 10 << 20
