#!/usr/bin/env bash
# Builds the server-side apply referee offline from Debian's Go packages:
#   golang-go, golang-k8s-sigs-structured-merge-diff-dev (4.1.2) and its dependencies
#   golang-github-json-iterator-go-dev, golang-github-modern-go-reflect2-dev,
#   golang-github-modern-go-concurrent-dev, golang-gopkg-yaml.v2-dev.
# Each library is copied from /usr/share/gocode/src into target/referee-build/ with a one-line
# go.mod (the `replace` lines of simcluster/referee/go.mod point there), and the program is
# built with GOPROXY=off into target/referee/referee.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
src=/usr/share/gocode/src
build="$root/target/referee-build"
out="$root/target/referee"

command -v go >/dev/null 2>&1 || { echo "build.sh: go not found (apt-get install golang-go)" >&2; exit 1; }

copy() { # copy SRC_DIR NAME MODULE
  local from="$src/$1" to="$build/$2"
  [ -d "$from" ] || { echo "build.sh: $from missing (install the Debian package)" >&2; exit 1; }
  rm -rf "$to"
  mkdir -p "$to"
  cp -r "$from"/. "$to"/
  # Tests and command-line tools of the libraries are not needed and pull other modules.
  find "$to" -name '*_test.go' -delete
  rm -rf "$to/internal/cli" "$to/smd" "$to/go.sum"
  echo "module $3" >"$to/go.mod"
}

mkdir -p "$build" "$out"
copy sigs.k8s.io/structured-merge-diff structured-merge-diff sigs.k8s.io/structured-merge-diff/v4
copy github.com/json-iterator/go json-iterator github.com/json-iterator/go
copy github.com/modern-go/reflect2 modern-go-reflect2 github.com/modern-go/reflect2
copy github.com/modern-go/concurrent modern-go-concurrent github.com/modern-go/concurrent
copy gopkg.in/yaml.v2 yaml.v2 gopkg.in/yaml.v2

cd "$here"
export GOPROXY=off GOFLAGS=-mod=mod GOSUMDB=off GOTOOLCHAIN=local
export GOCACHE="${GOCACHE:-$root/target/referee-build/gocache}" GOPATH="$root/target/referee-build/gopath"
go build -o "$out/referee" .
echo "built $out/referee"
