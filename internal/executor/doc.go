// Package executor is taskkit's Mesos executor: the semantics of Mesos'
// DEFAULT executor (task groups, kill policies, health checks, checks) as a
// v1 HTTP executor built on mesos-go, with the DC/OS SDK's extras —
// non-essential tasks, readiness reported in-band as check_status, and
// CommandInfo URIs fetched per task.
//
// The executor reads the environment the agent gives every executor:
//
//	MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID   identify the executor (required)
//	MESOS_DIRECTORY, MESOS_SANDBOX          the executor sandbox (required)
//	MESOS_AGENT_ENDPOINT                    ip:port of the agent (required)
//	MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD    e.g. "5secs" (required)
//	MESOS_CHECKPOINT                        1: survive agent disconnections
//	MESOS_RECOVERY_TIMEOUT                  with checkpointing: how long to retry
//	MESOS_SUBSCRIPTION_BACKOFF_MAX          with checkpointing: the largest retry pause
//	MESOS_EXECUTOR_AUTHENTICATION_TOKEN     sent as "Authorization: Bearer" if set
//	LIBPROCESS_IP                           the container IP (else the agent's IP)
//
// Each task of a LAUNCH_GROUP (or a single LAUNCH, run as a group of one)
// moves through these states; every arrow is a status update sent to the
// agent and re-sent until ACKNOWLEDGED:
//
//	LAUNCH_GROUP ─ bad (health) check, max_completion_time ─> TASK_ERROR
//	    │
//	    ▼
//	TASK_STARTING ── sandbox, fetch or exec fails ──────────> TASK_FAILED
//	    │ process started
//	    ▼
//	TASK_RUNNING ─┬─ exit 0 ────────────────────────────────> TASK_FINISHED
//	    ▲   │     ├─ exit N or signal ──────────────────────> TASK_FAILED
//	    │   │     ├─ max_completion_time passed: SIGKILL ───> TASK_FAILED
//	    └───┘     └─ KILL, SHUTDOWN, health threshold or a
//	healthy and      sibling's failure: SIGTERM, grace,
//	check_status     SIGKILL ───────────────────────────────> TASK_KILLED
//	updates
//
// A task ending FAILED or KILLED kills the rest of its group unless it is
// labelled essential=false, each with DefaultKillGrace (as SHUTDOWN kills
// every task); a KILL or a failed health check uses the KILL's or the
// task's kill policy. The executor exits once it has no task left and
// every update is acknowledged (at most AckWait), after SHUTDOWN, or when
// it loses the agent (at once without checkpointing, after
// MESOS_RECOVERY_TIMEOUT with it); after SHUTDOWN or losing the agent, at
// the end of MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD at the latest. Task processes run in their own process
// groups with a parent-death signal, so they do not outlive the executor.
//
// See docs/executor.md for the comparison with Mesos' DEFAULT executor.
package executor
