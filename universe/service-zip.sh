#!/usr/bin/env bash
# Builds dist/hello-world-service.zip, the one artifact of the hello-world
# package that is not a taskkit binary (resource.json's service-zip): the
# service's svc.yml and config template, and hello-world.tar.gz (the example
# server and its check script), which scheduler-lite serves to the pods from
# its sandbox. Run after `make dist`; upload dist/ to {{artifact-dir}}.
#
#   universe/service-zip.sh            # linux/amd64
#   GOARCH=arm64 universe/service-zip.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v zip >/dev/null || { echo "service-zip: zip is not installed (apt-get install -y zip)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 GOOS=linux GOARCH="${GOARCH:-amd64}" go build -trimpath -ldflags "-s -w" -o "$work/server" ./examples/hello-world/server
cp examples/hello-world/scripts/check-up examples/hello-world/svc.yml examples/hello-world/hello.conf.mustache "$work/"
touch -d "2000-01-01T00:00:00Z" "$work"/* # reproducible archives
tar -C "$work" --owner=0 --group=0 --numeric-owner -czf "$work/hello-world.tar.gz" server check-up
touch -d "2000-01-01T00:00:00Z" "$work/hello-world.tar.gz"
mkdir -p dist
rm -f dist/hello-world-service.zip
(cd "$work" && zip -q -X hello-world-service.zip svc.yml hello.conf.mustache hello-world.tar.gz)
mv "$work/hello-world-service.zip" dist/
echo "dist/hello-world-service.zip: $(unzip -Z1 dist/hello-world-service.zip | tr '\n' ' ')"
