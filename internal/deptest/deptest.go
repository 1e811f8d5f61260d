// Package deptest holds the test that keeps the in-task binaries small and
// free of the Mesos protocol stack: bootstrap, healthd and tlsprov must not
// link mesos-go or any protobuf package. It has no code of its own.
package deptest
