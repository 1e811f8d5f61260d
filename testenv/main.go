// Command testenv runs a Mesos-compatible cluster on this machine: a master
// serving the v1 scheduler HTTP API, agents each on their own loopback
// address (127.0.N.M, a /24 per cluster) serving the v1 executor HTTP API, and a
// Mesos-DNS-like DNS server — all in one process. Any v1 HTTP framework runs
// against it unchanged.
//
//	testenv up [--agents N] [--cpus C] [--mem MB] [--disk MB] [--disk-mount MB]... [--ports 1024-65535]
//	           [--reserved 'cpus(ROLE):2;...'] [--attribute NAME=VALUE]...
//	           [--listen 127.0.0.1:5050,127.0.0.1:0] [--agent-ip 127.0.N.1] [--agent-port 5051]
//	           [--dns 127.0.0.1:0] [--dns-forward refuse|system|HOST:PORT]
//	           [--work-dir DIR] [--executor PATH] [--env-file PATH|none] [--auth FILE]
//	           [--agent-ping-timeout 15secs] [--max-agent-ping-timeouts 5] [--agent-reregister-timeout 10mins]
//	           [--launcher linux|posix] [--isolation posix/cpu,posix/mem|cgroups/cpu]
//	           [--cgroups-hierarchy /sys/fs/cgroup] [--cgroups-root mesos]
//	           [--log-format text|json] [--verbose]
//
// "up" writes the master URL, the DNS address and the agents to the env
// file (MESOS_MASTER=..., TESTENV_DNS_ADDR=..., ...; by default testenv.env
// in the cluster's work dir), then prints them, and runs until SIGINT or
// SIGTERM, then stops everything and kills every process it started. One
// cluster at a time holds a work dir. Every flag also reads TESTENV_<FLAG>
// from the environment.
//
// Exit codes: 0 stopped by a signal; 1 runtime error; 2 usage or
// configuration error.
//
// See docs/testenv.md; the code is in internal/testenv.
package main

import (
	"context"
	"os"

	"github.com/taskkit/taskkit/internal/testenv"
)

func main() {
	os.Exit(testenv.Run(context.Background(), os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}
