#!/usr/bin/env bash
# The A/B of the donated state (session of 2026-12-03, sixth): BASE (default 6272d87, the tree
# before the rollout gave up its states) against the checkout's HEAD, alternated, on a quiet
# machine, from the repository root (records to OUT, default this folder):
#   1. PAIRS (default 3) pairs of bench_es.py --fast-physics (../python_in_place/ab.sh), records
#      here as base-N.json and head-N.json;
#   2. PAIRS pairs of ../python_in_place/in_place.py (the C calls timed in place), one JSON line
#      per run appended to in_place.txt.
set -euo pipefail
base=${BASE:-6272d87}
here=${OUT:-$PWD/results/benchmarks/donate}  # where the records go
mkdir -p "$here"
BASE=$base OUT=$here bash results/benchmarks/python_in_place/ab.sh
tmp=$(mktemp -d)
git worktree add -f -q "$tmp/tree" "$base"
trap 'git worktree remove --force "$tmp/tree"; rm -rf "$tmp"' EXIT
pip install -q --no-deps --target "$tmp/pkg" "$tmp/tree" >/dev/null
probe=results/benchmarks/python_in_place/in_place.py
for pair in $(seq 1 "${PAIRS:-3}"); do
  if [ $((pair % 2)) -eq 1 ]; then order="base head"; else order="head base"; fi
  for s in $order; do
    if [ "$s" = base ]; then
      line=$(python "$probe" "$tmp/pkg" "$tmp/tree/benchmarks")
    else
      line=$(python "$probe" "$PWD" "$PWD/benchmarks")
    fi
    echo "$s $line" | tee -a "$here/in_place.txt"
  done
done
