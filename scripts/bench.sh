#!/usr/bin/env bash
# The end-to-end benchmark of docs/performance.md: builds the release binary, then runs the
# hidden `reconciler bench` at 1.5k, 15k and 40k objects next to kubectl on a simulated cluster.
# Prints the tables; writes docs/performance.svg (the plot) and docs/performance.json (every
# figure). Extra arguments go to `reconciler bench`, e.g. `--sizes 1500,15000` for a quick run,
# `--no-kubectl`, `--kubectl-timeout 5m`, `--work DIR` to keep the repositories and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p reconciler
exec target/release/reconciler bench --svg docs/performance.svg --json docs/performance.json "$@"
