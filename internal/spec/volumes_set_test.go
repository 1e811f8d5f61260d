package spec

import (
	"strings"
	"testing"
)

// twoVolumes is a running target whose task has two volumes.
const twoVolumes = `name: svc
pods:
  db:
    count: 3
    tasks:
      node:
        cmd: "sleep 1000"
        cpus: 0.1
        memory: 32
        volumes:
          data: {path: data, type: ROOT, size: 100}
          commitlog: {path: commitlog, type: ROOT, size: 50}
`

// TestVolumesComparedAsASet: TaskVolumesCannotChange compares a task's
// volumes as a collection, not a list: the SDK's TaskUtils.volumesEqual is
// CollectionUtils.isEqualCollection of the resource sets' volumes
// (config/validate/TaskVolumesCannotChange.java), so the same volumes
// listed in another order (svc.yml's volumes map reordered, say by a
// package upgrade) are no change and the update is accepted; the pods
// keep the volumes, which a relaunch finds by path. scheduler-lite's
// volumesEqual compares in order and refuses it.
func TestVolumesComparedAsASet(t *testing.T) {
	reordered := strings.Replace(twoVolumes,
		"          data: {path: data, type: ROOT, size: 100}\n          commitlog: {path: commitlog, type: ROOT, size: 50}\n",
		"          commitlog: {path: commitlog, type: ROOT, size: 50}\n          data: {path: data, type: ROOT, size: 100}\n", 1)
	if reordered == twoVolumes {
		t.Fatal("the volumes were not reordered")
	}
	old, err := Decode([]byte(twoVolumes))
	if err != nil {
		t.Fatal(err)
	}
	next, err := Decode([]byte(reordered))
	if err != nil {
		t.Fatal(err)
	}
	if errs, _ := Check(old, next).split(); len(errs) > 0 {
		t.Errorf("reordering the same volumes is refused: %v", errs)
	}
}
