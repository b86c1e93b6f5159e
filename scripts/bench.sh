#!/usr/bin/env bash
# The end-to-end benchmark of docs/performance.md: builds the release binaries, then runs
# `xtask bench` (the workspace's benchmark tool, not part of the product binary) on the
# `reconciler` binary at 1.5k, 15k, 40k and 100k objects next to kubectl on a simulated
# cluster, on loopback and again with every request delayed 5 ms (`--latency`).
# Prints the tables and, last, the goals of issue 18 next to their figures; writes
# docs/performance.svg (time, requests and RSS against objects) and docs/performance.json
# (every figure). Extra arguments go to `xtask bench`, e.g. `--sizes 1500,15000` for a quick
# run, `--no-kubectl`, `--kubectl-timeout 5m`, `--latency 0s` (no latency mode),
# `--write-latency 7ms`, `--work DIR` to keep the repositories and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p reconciler -p xtask
exec target/release/xtask bench --reconciler target/release/reconciler --svg docs/performance.svg --json docs/performance.json "$@"
