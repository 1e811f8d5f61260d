#!/usr/bin/env bash
# sdk-specs.sh: run every svc.yml of a dcos-commons checkout through
# scheduler-lite and print its verdict next to the SDK's.
#
#   scripts/sdk-specs.sh [--deploy] [--timeout 120s] DCOS_COMMONS_DIR
#
# The specs are every *.yml holding "pods:" under frameworks/ (rendered with
# the environment its package's defaults give the scheduler: scheduler-lite
# validate --package-dir frameworks/<name>/universe) and under
# sdk/scheduler/src/test/resources (rendered with no variables; the config
# templates of valid-*.yml stubbed, as the SDK's tests mock them); PORT0 and PORT_API are
# set as Marathon sets them. The SDK's verdict: the test resources
# DefaultServiceSpecTest expects to fail (invalid-*.yml, and
# valid-finished.yml for its FINISHED goal) are rejected, and so is
# valid-exhaustive.yml, whose plans name pods it lacks (PlanGenerator:
# "Unable to find pod"; its test builds the ServiceSpec only),
# helloworld's secrets.yml, whose secret paths default to "" (DefaultSecretSpec
# refuses an empty path; its tests pass options), and test-render.yml, whose
# volume size {{VOL_SIZE}} renders empty: RawVolume's int size is then 0,
# which DefaultResourceSpec refuses (TemplateUtilsTest renders it with
# VOL_SIZE=1024 and never loads it); every other spec is
# accepted, shared-resource-set.yml included: the SDK loads it, and its
# default deploy steps (two tasks of one step share a resource set) go to
# ERROR when the scheduler builds them (DefaultStepFactory), as they do
# with --deploy here.
#
# By default each spec is only validated (scheduler-lite validate). With
# --deploy an accepted spec is also deployed on the embedded testenv
# (scheduler-lite --master local --exit-after-deploy), one at a time, and
# the deploy's outcome is printed; BOOTSTRAP_URI then points to a zip of
# taskkit's bootstrap (with zip installed), the SDK's bootstrap.zip
# otherwise coming from a package build.
#
# Output: one line per spec, "<spec>  SDK:<verdict>  scheduler-lite:<verdict>
# [same|differs (not supported yet)|differs (by design)|DIFFERS]  <reason>",
# then a summary counting verdicts and the reasons for rejection. "By
# design" are the refusals docs/svc-yaml.md lists as stricter than the SDK:
# a config dest leaving the sandbox ("../other/conf/config-two.xml" in six
# valid-*.yml: the SDK's scheduler never checks it, its bootstrap writes
# wherever the path leads). Not run by CI (it needs a dcos-commons checkout).
# Exit status: 0 when every verdict agrees with the SDK's except for fields
# scheduler-lite does not support yet and refusals by design, 1 otherwise,
# 2 on usage errors.
set -euo pipefail

usage() { echo "usage: $0 [--deploy] [--timeout DURATION] [--only REGEX] DCOS_COMMONS_DIR" >&2; exit 2; }

deploy=false
timeout=120s
only=.
while [[ $# -gt 0 ]]; do
  case $1 in
    --deploy) deploy=true; shift ;;
    --timeout) [[ $# -ge 2 ]] || usage; timeout=$2; shift 2 ;;
    --only) [[ $# -ge 2 ]] || usage; only=$2; shift 2 ;;
    -h|--help) sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage ;;
    *) break ;;
  esac
done
[[ $# -eq 1 ]] || usage
src=$(cd "$1" && pwd) || usage
[[ -d $src/frameworks && -d $src/sdk/scheduler/src/test/resources ]] || { echo "$src: not a dcos-commons checkout (no frameworks/ or sdk/scheduler/src/test/resources)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
tpid=
# stop_cluster: stop the testenv started for one spec, if any, and wait for
# it (it kills every process it started).
stop_cluster() {
  [[ -n $tpid ]] || return 0
  kill -TERM "$tpid" 2>/dev/null || true
  wait "$tpid" 2>/dev/null || true
  tpid=
  rm -rf "$work/cluster" "$work/cluster.env" "$work/state.db"
}
trap 'stop_cluster; rm -rf "$work"' EXIT
echo "building scheduler-lite and the toolkit binaries into $work ..." >&2
(cd "$repo" && go build -o "$work/" ./scheduler-lite ./bootstrap ./healthd ./tlsprov ./executor ./testenv)
sl=$work/scheduler-lite

# sdk_verdict SPEC: what the SDK does with it.
sdk_verdict() {
  case $1 in
    sdk/scheduler/src/test/resources/invalid-*.yml | sdk/scheduler/src/test/resources/valid-finished.yml) echo rejected ;;
    sdk/scheduler/src/test/resources/valid-exhaustive.yml) echo rejected ;;
    sdk/scheduler/src/test/resources/test-render.yml) echo rejected ;;
    frameworks/helloworld/src/main/dist/secrets.yml) echo rejected ;;
    *) echo accepted ;;
  esac
}

# reason FILE: the rejection's summary: its first problem other than a
# field scheduler-lite does not support yet, then those fields.
reason() {
  local unsupported other
  unsupported=$(grep -o 'not supported by scheduler-lite ([^)]*)' "$1" | sed 's/.*(\(.*\))/\1/' | sort -u | paste -sd, - || true)
  other=$(grep -v 'not supported by scheduler-lite\|problems:$\|: warning' "$1" | head -n1 | sed 's/^scheduler-lite validate: //; s/^[^ :]*\.yml: //; s/^ *//' || true)
  if [[ -n $other && -n $unsupported ]]; then
    echo "$other; not supported: $unsupported"
  elif [[ -n $other ]]; then
    echo "$other"
  else
    echo "not supported: $unsupported"
  fi
}

declare -A count reasons dcount
differs=0
# cluster_flags SPEC_FILE: the testenv flags for what scheduler-lite's own
# local cluster (--master local) does not offer: MOUNT disks for a MOUNT
# volume, static reservations for a pre-reserved-role (DC/OS public agents
# reserve their resources for slave_public). Nothing for other specs.
cluster_flags() {
  local reserved= role
  if grep -q '^ *type: *"\{0,1\}MOUNT' "$1"; then
    printf '%s\n' --disk-mount 200 --disk-mount 200 --disk-mount 200
  fi
  for role in $(sed -n 's/^ *pre-reserved-role: *"\{0,1\}\([^" ]*\)"\{0,1\} *$/\1/p' "$1" | sort -u); do
    reserved+="${reserved:+;}cpus($role):2;mem($role):2048;disk($role):2048;ports($role):[20000-20999]"
  done
  [[ -z $reserved ]] || printf '%s\n' --reserved "$reserved"
}

# start_cluster FLAGS...: start testenv up with three agents and FLAGS in
# its own process group; set cluster_master to its master URL once its env
# file has it (within 30 s).
start_cluster() {
  rm -rf "$work/cluster" "$work/cluster.env"
  setsid "$work/testenv" up --agents 3 --listen 127.0.0.1:0 --agent-port 0 --work-dir "$work/cluster" \
    --env-file "$work/cluster.env" --executor "$work/executor" "$@" >"$work/testenv.log" 2>&1 &
  tpid=$!
  local i
  for ((i = 0; i < 300; i++)); do
    if grep -q '^MESOS_MASTER=' "$work/cluster.env" 2>/dev/null; then
      cluster_master=$(sed -n 's/^MESOS_MASTER=//p' "$work/cluster.env")
      return 0
    fi
    kill -0 "$tpid" 2>/dev/null || break
    sleep 0.1
  done
  echo "testenv up $* did not start within 30s: $(tail -n1 "$work/testenv.log")" >&2
  return 1
}

# spec_env SPEC: the scheduler environment a spec's integration test adds
# to its package's (test_taskcfg.py sets these after checking that the
# tasks fail without them), one KEY=VALUE a line.
spec_env() {
  case $1 in
    */taskcfg.yml) printf '%s\n' TASKCFG_ALL_OUTPUT_FILENAME=output TASKCFG_ALL_SLEEP_DURATION=1000 ;;
  esac
}

# expected_failure SPEC: why its deploy cannot (or need not) complete here,
# as it would not on DC/OS without what it needs; empty when it should
# complete.
expected_failure() {
  case $1 in
    frameworks/cassandra/*/svc.yml | frameworks/hdfs/*/svc.yml)
      echo "needs its package's artifacts (JRE, server tarballs) from a package build and the network" ;;
    */uri.yml) echo "fetches its pods' uris from github.com, and this machine has no network" ;;
    */canary.yml) echo "its canary strategy waits for 'plan continue', as on DC/OS" ;;
    */crash-loop.yml | */non_recoverable_state.yml) echo "fails by design" ;;
    */discovery.yml) echo "checks Mesos-DNS with dig after 75 s" ;;
    */valid-secrets-env.yml | */valid-secrets.yml) echo "needs its secrets under --secrets-dir (DC/OS secret store)" ;;
    */static-port.yml) echo "asks for port 555, below the local agents' 1024-65535, and runs ./task-cmd, which the SDK's test spec never ships" ;;
    */resource-set-seq.yml) echo "its tasks write to name-data/, but its volume is at name-path (the SDK's test only builds its plans)" ;;
    */shared-resource-set.yml) echo "its default steps share a resource set: ERROR, as in the SDK's DefaultStepFactory" ;;
    *)
      # Most test specs run ./task-cmd, which they never ship: the task
      # exits 127 at once, after TASK_RUNNING completed its step, unless a
      # readiness check must pass first.
      if grep -q '^ *cmd: *"\{0,1\}\./task-cmd' "$src/$1" && grep -q '^ *readiness-check:' "$src/$1"; then
        echo "runs ./task-cmd, which the SDK's test spec never ships: the step completes only if its readiness check passes before the task exits 127"
      fi ;;
  esac
}

specs=$(cd "$src" && grep -rl --include='*.yml' '^pods:' frameworks sdk/scheduler/src/test/resources | sort | grep -E -- "$only" || true)
for spec in $specs; do
  pkg=
  if [[ $spec == frameworks/* ]]; then
    pkg=$src/frameworks/$(echo "$spec" | cut -d/ -f2)/universe
  fi
  want=$(sdk_verdict "$spec")
  out=$work/out
  args=()
  [[ -n $pkg && -d $pkg ]] && args=(--package-dir "$pkg")
  dir=$(dirname "$src/$spec")
  if [[ $spec == sdk/*/valid-*.yml ]]; then
    # DefaultServiceSpecTest mocks the template reader for these: stub the
    # templates that do not exist.
    dir=$work/spec && rm -rf "$dir" && mkdir -p "$dir" && cp "$src/$spec" "$dir/"
    for tmpl in $(sed -n 's/^ *template: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$src/$spec"); do
      [[ -e $(dirname "$src/$spec")/$tmpl ]] && cp "$(dirname "$src/$spec")/$tmpl" "$dir/" ||
        echo "stub of $tmpl" >"$dir/$tmpl"
    done
  fi
  # Render from the package (or nothing) alone, not this shell's variables.
  if (cd "$dir" && env -i PATH="$PATH" PORT0=8080 PORT_API=8080 "$sl" validate "${args[@]}" "$(basename "$spec")") >"$out" 2>&1; then
    got=accepted why=
  else
    got=rejected why=$(reason "$out")
  fi
  verdict=same
  if [[ $got != "$want" ]]; then
    if [[ $why == *'must be a relative path inside the sandbox'* ]]; then
      verdict="differs (by design)"
    elif [[ $why == "not supported: "* ]]; then
      verdict="differs (not supported yet)"
    else
      verdict=DIFFERS
      differs=$((differs + 1))
    fi
  fi
  count[$want/$got]=$(( ${count[$want/$got]:-0} + 1 ))
  [[ $got == rejected ]] && reasons[$why]=$(( ${reasons[$why]:-0} + 1 ))
  deployed=
  if $deploy && [[ $got == accepted ]]; then
    envs=()
    if [[ ${#args[@]} -gt 0 ]]; then
      mapfile -d '' envs < <("$sl" validate "${args[@]}" --print-env)
    fi
    # The SDK's bootstrap.zip: taskkit's bootstrap is its drop-in.
    [[ -e $work/bootstrap.zip ]] || (cd "$work" && zip -q bootstrap.zip bootstrap) || true
    [[ -e $work/bootstrap.zip ]] && envs+=("BOOTSTRAP_URI=file://$work/bootstrap.zip")
    mapfile -t -O "${#envs[@]}" envs < <(spec_env "$spec")
    master=(--master local)
    mapfile -t cflags < <(cluster_flags "$src/$spec")
    if [[ ${#cflags[@]} -gt 0 ]]; then
      cluster_master=http://127.0.0.1:1 # no cluster: the deploy fails saying so
      start_cluster "${cflags[@]}" || true
      master=(--master "$cluster_master" --state "file:$work/state.db")
    fi
    expected=$(expected_failure "$spec")
    # An RLIMIT_NOFILE option above this user's hard limit is lowered to
    # it, as an operator would set the option: a Mesos agent runs as root
    # and may raise the limit, this user may not.
    nofile=$(ulimit -Hn) lowered=
    for i in "${!envs[@]}"; do
      if [[ $nofile != unlimited && ${envs[i]} =~ ^([A-Z_]*RLIMIT_NOFILE_(SOFT|HARD))=([0-9]+)$ ]] && ((BASH_REMATCH[3] > nofile)); then
        envs[i]=${BASH_REMATCH[1]}=$nofile
        grep -q "{{${BASH_REMATCH[1]}}}" "$src/$spec" && lowered=" (RLIMIT_NOFILE ${BASH_REMATCH[3]} lowered to $nofile, this user's hard limit)"
      fi
    done
    if (cd "$dir" && env -i PATH="$PATH" HOME="$work" PORT0=8080 PORT_API=8080 "${envs[@]}" "$sl" "${master[@]}" --api-listen 127.0.0.1:0 --exit-after-deploy --deploy-timeout "$timeout" --artifacts-dir "$work" "$(basename "$spec")") >"$work/deploy" 2>&1; then
      deployed="  deploy: COMPLETE$lowered"
      dcount[complete]=$(( ${dcount[complete]:-0} + 1 ))
      [[ -z $expected ]] || deployed+=" (can fail here: $expected)"
    else
      # The deploy plan scheduler-lite prints at exit: its status and first
      # step message, else its last word.
      why_deploy=$(grep -o '^  "status": "[A-Z_]*"' "$work/deploy" | tail -n1 | sed 's/.*: //; s/"//g' || true)
      msg=$(grep -oE '"message": "([^"\\]|\\.)+"' "$work/deploy" | head -n1 | sed 's/"message": //' || true)
      [[ -n $msg ]] || msg=$(grep '^scheduler-lite: ' "$work/deploy" | tail -n1 || true)
      deployed="  deploy: FAILED (${why_deploy:-no plan}: $msg)$lowered"
      if [[ -n $expected ]]; then
        deployed+=" expected: $expected"
        dcount[expected]=$(( ${dcount[expected]:-0} + 1 ))
      else
        dcount[failed]=$(( ${dcount[failed]:-0} + 1 ))
      fi
    fi
    stop_cluster
  fi
  printf '%-75s SDK:%-8s scheduler-lite:%-8s %-28s %s%s\n' "$spec" "$want" "$got" "$verdict" "$why" "$deployed"
done

echo
echo "== summary"
for k in "${!count[@]}"; do
  printf '%4d  SDK %s, scheduler-lite %s\n' "${count[$k]}" "${k%/*}" "${k#*/}"
done | sort -k3
echo "== reasons for rejection"
for k in "${!reasons[@]}"; do
  printf '%4d  %s\n' "${reasons[$k]}" "$k"
done | sort -rn
if $deploy; then
  echo "== deploys"
  printf '%4d  COMPLETE\n%4d  FAILED as expected (the spec needs what this machine lacks, or fails by design)\n%4d  FAILED otherwise\n' \
    "${dcount[complete]:-0}" "${dcount[expected]:-0}" "${dcount[failed]:-0}"
fi
echo "== $differs verdict(s) differ for another reason than an unsupported field or a refusal by design"
[[ $differs -eq 0 && ${dcount[failed]:-0} -eq 0 ]]
