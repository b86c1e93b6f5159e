#!/usr/bin/env bash
# The end-to-end benchmark of docs/performance.md: builds the release binaries, then runs
# `xtask bench` (the workspace's benchmark tool, not part of the product binary) on the
# `reconciler` binary at 1.5k, 15k and 40k objects next to kubectl on a simulated cluster.
# Prints the tables; writes docs/performance.svg (the plot) and docs/performance.json (every
# figure). Extra arguments go to `xtask bench`, e.g. `--sizes 1500,15000` for a quick run,
# `--no-kubectl`, `--kubectl-timeout 5m`, `--work DIR` to keep the repositories and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p reconciler -p xtask
exec target/release/xtask bench --reconciler target/release/reconciler --svg docs/performance.svg --json docs/performance.json "$@"
