#!/usr/bin/env bash
# The alternated A/B of this folder (session of 2026-12-03, third): ours with the rollout
# holding ended slots (training/rollout.py as committed, "hold") against the same tree with
# the rollout's observe_active call removed ("off": every slot runs the network, as before
# fc9a0ea), swapped in by copying training/rollout.py before each invocation, so the "off"
# records carry the revision with "-dirty". PAIRS pairs of bench_es.py --fast-physics
# (default 4; the order alternates), then 2 pairs of bench_es_split.py. Run from the repository
# root on a quiet machine; training/rollout.py is restored at the end.
set -euo pipefail
out=results/benchmarks/hold_ended_ab
tmp=$(mktemp -d)
cp training/rollout.py "$tmp/hold.py"
python - "$tmp/hold.py" "$tmp/off.py" <<'PY'
import sys
s = open(sys.argv[1]).read()
i = s.index("    if (\n        not active.all()")
call = "        agent.observe_active(active.reshape(batch_shape))\n"
j = s.index(call) + len(call)
open(sys.argv[2], "w").write(s[:i] + s[j:])
PY
trap 'cp "$tmp/hold.py" training/rollout.py' EXIT
side() { cp "$tmp/$1.py" training/rollout.py; }
for pair in $(seq 1 "${PAIRS:-4}"); do
  if [ $((pair % 2)) -eq 1 ]; then order="hold off"; else order="off hold"; fi
  for s in $order; do side $s; python benchmarks/bench_es.py --fast-physics --out "$out/$s-$pair.json"; done
done
for pair in 1 2; do
  if [ $pair -eq 1 ]; then order="hold off"; else order="off hold"; fi
  for s in $order; do side $s; python benchmarks/bench_es_split.py --out "$out/split-$s-$pair.json"; done
done
