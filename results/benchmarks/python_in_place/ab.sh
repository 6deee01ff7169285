#!/usr/bin/env bash
# The alternated A/B of this folder (session of 2026-12-03, fifth): bench_es.py --fast-physics
# at BASE (default e84039b, the tree before this session's hot-loop changes) against the
# checkout's HEAD. BASE runs from a git worktree installed (editable, no dependencies) in a
# throwaway venv that sees this machine's packages, so its records name BASE's commit. PAIRS
# pairs (default 4), the order alternating, records to OUT (default this folder). Run from the
# repository root on a quiet machine.
set -euo pipefail
base=${BASE:-e84039b}
out=${OUT:-$PWD/results/benchmarks/python_in_place}  # where the records go
tmp=$(mktemp -d)
git worktree add -f -q "$tmp/tree" "$base"
trap 'git worktree remove --force "$tmp/tree"; rm -rf "$tmp"' EXIT
python -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/pip" install -q --no-deps -e "$tmp/tree"
"$tmp/venv/bin/python" -c "import plasticagents.envs.batched as b; assert b.__file__.startswith('$tmp/tree'), b.__file__"
side() {
  if [ "$1" = base ]; then
    (cd "$tmp/tree" && "$tmp/venv/bin/python" benchmarks/bench_es.py --fast-physics --out "$out/base-$2.json")
  else
    python benchmarks/bench_es.py --fast-physics --out "$out/head-$2.json"
  fi
}
for pair in $(seq 1 "${PAIRS:-4}"); do
  if [ $((pair % 2)) -eq 1 ]; then order="base head"; else order="head base"; fi
  for s in $order; do side "$s" "$pair" | grep "ratio ours (best of 1) / physics"; done
done
