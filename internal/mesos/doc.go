// Package mesos is the protocol glue shared by taskkit's Mesos programs —
// testenv (master and agents), the executor and scheduler-lite — on top of
// mesos-go v0.0.11's generated types:
//
//   - content negotiation for the v1 HTTP APIs (RequestCodec, ResponseCodec)
//     with the status codes Mesos answers (400, 406, 415);
//   - RecordIO event streams (EventWriter) framed as "<length>\n<record>",
//     read by clients with a bound on each record (BoundedStreams, through
//     internal/recordio);
//   - 16-byte status-update UUIDs (NewUUID, UUIDString);
//   - durations in Mesos units ("5secs", "15mins", "1.0625days": FormatDuration
//     prints exactly what stout's Duration prints, ParseDuration reads what
//     stout's Duration::parse reads, no sign, out of range an error), which
//     mesos-go's executor/config requires in the executor environment;
//   - task-state helpers (IsTerminal);
//   - a container's rlimits (RLimits: ContainerInfo.rlimit_info with the
//     posix/rlimits isolator's rules, for internal/rlimit).
//
// The fetcher, which puts CommandInfo URIs into a sandbox, is package
// internal/fetcher.
package mesos
