#!/usr/bin/env bash
# Benchmark of `reconciler diff --base`: two revisions of a synthetic repository of about
# 15,000 objects (50 domains x 60 servers x 4 versions), the second shifting the weights of
# every 10th server to a new version. Prints wall time and peak memory of three runs.
#
#   scripts/bench-diff-base.sh [DOMAINS SERVERS VERSIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
domains=${1:-50} servers=${2:-60} versions=${3:-4}

cargo build --release -q -p reconciler -p xtask
bin=$PWD/target/release/reconciler
xtask=$PWD/target/release/xtask
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git -C "$work" init -q
"$xtask" generate --out "$work/src" --domains "$domains" --servers "$servers" --versions "$versions"
git -C "$work" add -A
git -C "$work" -c user.name=bench -c user.email=bench@localhost commit -qm base
"$xtask" generate --out "$work/src" --domains "$domains" --servers "$servers" --versions "$versions" --bump-every 10

for run in 1 2 3; do
  # Exit 1 means "changes found"; the shell wrapper keeps time(1) from reporting it.
  /usr/bin/time -f "run $run: %e s wall, %M KiB peak RSS" \
    sh -c '"$0" diff "$1" --base HEAD --format json >"$2"; [ $? -le 1 ]' "$bin" "$work/src" "$work/report.json"
done
python3 - "$work/report.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
print(f"report: {s['create']} to create, {s['update']} to update, {s['delete']} to delete, {s['rollouts']} rollouts")
PY
