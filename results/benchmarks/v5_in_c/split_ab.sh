#!/usr/bin/env bash
# bench_es_split.py at BASE (default 6272d87) and at the checkout's HEAD, alternated, PAIRS
# pairs (default 2): the warm split's "rest" (the Python around the C calls, both C calls
# replayed) is the steadiest measure of the Python these commits took out. Records here as
# split-base-N.json / split-head-N.json. Run from the repository root on a quiet machine.
set -euo pipefail
base=${BASE:-6272d87}
here=$PWD/results/benchmarks/v5_in_c
tmp=$(mktemp -d)
git worktree add -f -q "$tmp/tree" "$base"
trap 'git worktree remove --force "$tmp/tree"; rm -rf "$tmp"' EXIT
python -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/pip" install -q --no-deps -e "$tmp/tree"
for pair in $(seq 1 "${PAIRS:-2}"); do
  if [ $((pair % 2)) -eq 1 ]; then order="base head"; else order="head base"; fi
  for s in $order; do
    if [ "$s" = base ]; then
      (cd "$tmp/tree" && "$tmp/venv/bin/python" benchmarks/bench_es_split.py --out "$here/split-base-$pair.json")
    else
      python benchmarks/bench_es_split.py --out "$here/split-head-$pair.json"
    fi | grep -E "split|timed in place" | sed "s/^/$s: /"
  done
done
