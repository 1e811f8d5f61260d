// Package testenv is a Mesos-compatible cluster on loopback in one process:
// a master serving the v1 scheduler HTTP API, agents each on their own
// loopback address (127.0.N.M) serving the v1 executor HTTP API, and a
// Mesos-DNS-like DNS server. Any v1 HTTP framework runs against it
// unchanged; taskkit's end-to-end tests and scheduler-lite's local mode
// import it, and the testenv binary is a thin command around it.
//
// Clusters on one host stay apart: each claims its own /24 of loopback
// addresses for its agents (block.go), offers only ports no other process
// holds on its agents' addresses (hostnet.go), and has its own master and
// DNS ports and work directory, which it holds an flock on while it runs
// (workdir.go: a second cluster on it fails with ErrWorkDirInUse). See
// docs/testenv.md, "Many clusters on one host", for what that guarantees.
//
// Start brings a cluster up and returns once every server listens; the
// cluster stops — killing every process it started — when the context
// ends. Wait blocks until it has stopped.
//
//	cl, err := testenv.Start(ctx, testenv.Config{Agents: 3, WorkDir: dir})
//	... point a framework at cl.MasterURL() ...
//	cancel(); cl.Wait()
//
// What it implements follows ../../shared/research/mesos-protocol.md
// (and docs/testenv.md): SUBSCRIBE streams with Mesos-Stream-Id and
// heartbeats, offers with cpus/mem/disk/ports, attributes and fault
// domains, ACCEPT with LAUNCH, LAUNCH_GROUP and the reservation and
// volume operations (operations.go), DECLINE filters, REVIVE,
// SUPPRESS, KILL, SHUTDOWN, ACKNOWLEDGE with reliable in-order status
// updates, RECONCILE, MESSAGE, TEARDOWN, framework failover; the command
// executor's semantics for bare CommandInfo tasks, their health checks
// and checks included (commandchecks.go); custom executors as
// processes with the Mesos executor environment; the fetcher; DNS names
// for running tasks; a /state endpoint; and fault injection (KillAgent,
// RestartAgent, KillExecutor, DropFramework) as methods and as HTTP
// endpoints under /testenv/.
//
// Concurrency: one mutex guards the whole cluster's state (master and
// agents alike). Nothing blocking runs under it: events go into per-stream
// queues that the stream's HTTP handler drains, and process starts,
// fetches and waits run in goroutines owned by the cluster, which end when
// the cluster stops.
package testenv
