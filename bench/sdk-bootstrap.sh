#!/usr/bin/env bash
# Builds the DC/OS SDK's bootstrap (dcos-commons sdk/bootstrap, with the
# dependencies the repository vendors under govendor/) for the paired
# benchmark in bench/bootstrap.sh. Nothing of it enters this repository: it is
# built from a dcos-commons git directory (a bare clone or a mirror, such as
# the one `fetch github:mesosphere/dcos-commons` brings) into OUT.
#
#   bench/sdk-bootstrap.sh DCOS_COMMONS_GIT_DIR OUT
set -euo pipefail
git_dir=${1:?usage: sdk-bootstrap.sh DCOS_COMMONS_GIT_DIR OUT}
out=${2:?usage: sdk-bootstrap.sh DCOS_COMMONS_GIT_DIR OUT}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/sdkbootstrap/vendor"
git --git-dir="$git_dir" archive HEAD govendor sdk/bootstrap/main.go 2>/dev/null | tar -x -C "$work" || true
[ -f "$work/sdk/bootstrap/main.go" ] || { echo "sdk-bootstrap: no sdk/bootstrap/main.go in $git_dir" >&2; exit 1; }
cp -r "$work/govendor/." "$work/src/sdkbootstrap/vendor/"
cp "$work/sdk/bootstrap/main.go" "$work/src/sdkbootstrap/"
# The SDK predates modules: GOPATH mode with its vendor directory.
(cd "$work/src/sdkbootstrap" && GO111MODULE=off GOPATH="$work" CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out" .)
echo "built $out ($(stat -c %s "$out") bytes)"
