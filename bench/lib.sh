# Shared by the scheduler benchmark scripts; source it, do not run it.

# build DIR BINARY... builds each taskkit binary into DIR (static, trimmed).
build() {
  dir=$1; shift
  for b in "$@"; do
    CGO_ENABLED=0 go build -trimpath -o "$dir/$b" "./$b"
  done
}

# bench_svc NAME PODS TASKS SLEEP prints a svc.yml: one pod type p of PODS
# instances, each with TASKS tiny tasks running "sleep SLEEP", all in one
# parallel deploy phase.
bench_svc() {
  printf 'name: %s\npods:\n  p:\n    count: %s\n    tasks:\n' "$1" "$2"
  i=0
  while [ $i -lt "$3" ]; do
    echo "      t$i: {goal: RUNNING, cmd: 'exec sleep $4', cpus: 0.01, memory: 1}"
    i=$((i + 1))
  done
  printf 'plans:\n  deploy:\n    phases:\n      p: {pod: p, strategy: parallel}\n'
}
