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

usage() { echo "usage: $0 [--deploy] [--timeout DURATION] DCOS_COMMONS_DIR" >&2; exit 2; }

deploy=false
timeout=120s
while [[ $# -gt 0 ]]; do
  case $1 in
    --deploy) deploy=true; shift ;;
    --timeout) [[ $# -ge 2 ]] || usage; timeout=$2; shift 2 ;;
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
trap 'rm -rf "$work"' EXIT
echo "building scheduler-lite and the toolkit binaries into $work ..." >&2
(cd "$repo" && go build -o "$work/" ./scheduler-lite ./bootstrap ./healthd ./tlsprov ./executor)
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

declare -A count reasons
differs=0
specs=$(cd "$src" && grep -rl --include='*.yml' '^pods:' frameworks sdk/scheduler/src/test/resources | sort)
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
    if (cd "$dir" && env -i PATH="$PATH" HOME="$work" PORT0=8080 PORT_API=8080 "${envs[@]}" "$sl" --master local --api-listen 127.0.0.1:0 --exit-after-deploy --deploy-timeout "$timeout" --artifacts-dir "$work" "$(basename "$spec")") >"$work/deploy" 2>&1; then
      deployed="  deploy: COMPLETE"
    else
      # The deploy plan scheduler-lite prints at exit: its status and first
      # step message, else its last word.
      why_deploy=$(grep -o '^  "status": "[A-Z_]*"' "$work/deploy" | tail -n1 | sed 's/.*: //; s/"//g' || true)
      msg=$(grep -o '"message": "[^"][^"]*"' "$work/deploy" | head -n1 | sed 's/"message": //' || true)
      [[ -n $msg ]] || msg=$(grep '^scheduler-lite: ' "$work/deploy" | tail -n1 || true)
      deployed="  deploy: FAILED (${why_deploy:-no plan}: $msg)"
    fi
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
echo "== $differs verdict(s) differ for another reason than an unsupported field or a refusal by design"
[[ $differs -eq 0 ]]
