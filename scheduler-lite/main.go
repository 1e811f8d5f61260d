// Command scheduler-lite deploys a DC/OS SDK ServiceSpec (svc.yml) on Mesos
// through the v1 HTTP scheduler API: pods become plans, plans launch task
// groups, tasks get bootstrap, healthd and tlsprov as fetched artifacts.
//
//	scheduler-lite [flags] SVC.yml
//	scheduler-lite package render [--package-dir universe] [--options FILE]
//	scheduler-lite uninstall --master URL --state SPEC [SVC.yml]
//	scheduler-lite validate [--package-dir DIR [--print-env]] [--strict] [SVC.yml]
//
// With --master local (the default when MESOS_MASTER is unset) it starts an
// embedded testenv cluster and prints its endpoints. Every flag also reads
// an environment variable (see --help and docs/scheduler-lite.md).
//
// Exit codes: 0 stopped by SIGINT/SIGTERM (or deploy complete with
// --exit-after-deploy); 1 runtime failure; 2 usage error or invalid svc.yml.
//
// The code is in internal/schedulerlite, internal/sdk/..., internal/spec,
// internal/plan, internal/store and internal/api.
package main

import (
	"context"
	"os"

	"github.com/taskkit/taskkit/internal/schedulerlite"
)

func main() {
	schedulerlite.TuneGC(os.Environ()) // process-wide: the GC target for its bursty launch rounds
	os.Exit(schedulerlite.Run(context.Background(), os.Args, os.Environ(), os.Stdin, os.Stdout, os.Stderr))
}
