#!/usr/bin/env bash
# Builds every taskkit binary static (CGO_ENABLED=0), stripped and trimmed,
# and packs each as the SDK's bootstrap.zip shape: a zip holding the one binary
# at its top level, so a task fetches <binary>.zip by URI and runs ./<binary>.
#
#   dist/<binary>.zip               linux/amd64
#   dist/<binary>-linux-arm64.zip   linux/arm64
#   dist/SHA256SUMS                 sha256sum -c compatible
#
# With --local it only builds bin/<binary> for this machine, and
# bin/hello-world.tar.gz, the example service's artifact.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-dev}
TAGS=urfave_cli_no_docs # drops urfave/cli's man-page generator (~250 KB per binary)
# The revision too, for builds where Go embeds none (-buildvcs=false).
REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || true)
LDFLAGS="-s -w -X github.com/taskkit/taskkit/internal/buildinfo.Version=${VERSION} -X github.com/taskkit/taskkit/internal/buildinfo.Revision=${REVISION}"
BINARIES=(bootstrap healthd tlsprov executor scheduler-lite testenv)

present=()
for b in "${BINARIES[@]}"; do
	[ -f "$b/main.go" ] && present+=("$b")
done

if [ "${1:-}" = "--local" ]; then
	# One go build for all of them, so Go builds them in parallel.
	mkdir -p bin
	# go build says nothing while it works: minutes with an empty build cache.
	echo "building: ${present[*]} hello-world.tar.gz (one go build; minutes the first time, with an empty Go build cache)"
	CGO_ENABLED=0 go build -tags "$TAGS" -trimpath -ldflags "$LDFLAGS" -o bin/ "${present[@]/#/./}"
	# The hello-world example's own artifact, its server and check script:
	# scheduler-lite serves what is next to it, so that
	# `bin/scheduler-lite --master local examples/hello-world/svc.yml` runs as is.
	ex=$(mktemp -d)
	trap 'rm -rf "$ex"' EXIT
	CGO_ENABLED=0 go build -trimpath -o "$ex/server" ./examples/hello-world/server
	cp examples/hello-world/scripts/check-up "$ex/"
	tar -czf bin/hello-world.tar.gz -C "$ex" server check-up
	echo "built: ${present[*]} hello-world.tar.gz -> bin/"
	exit 0
fi

command -v zip >/dev/null || { echo "dist: zip is not installed (apt-get install -y zip)" >&2; exit 1; }
rm -rf dist
mkdir -p dist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for arch in amd64 arm64; do
	# One go build per architecture, so Go builds the binaries in parallel.
	mkdir -p "$work/$arch"
	echo "building: ${present[*]} for linux/$arch (one go build; minutes the first time)"
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -tags "$TAGS" -trimpath -ldflags "$LDFLAGS" -o "$work/$arch/" "${present[@]/#/./}"
	for b in "${present[@]}"; do
		name="$b.zip"
		[ "$arch" = amd64 ] || name="$b-linux-$arch.zip"
		touch -d "2000-01-01T00:00:00Z" "$work/$arch/$b" # reproducible zips
		(cd "$work/$arch" && zip -q -X "../$name" "$b")
		mv "$work/$name" "dist/$name"
		printf '%-16s %-6s %8d bytes\n' "$b" "$arch" "$(stat -c %s "$work/$arch/$b")"
	done
done
(cd dist && sha256sum -- *.zip > SHA256SUMS)
echo "dist/: $(ls dist | tr '\n' ' ')"
