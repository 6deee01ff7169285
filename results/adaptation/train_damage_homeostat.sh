#!/usr/bin/env bash
# The damage task (issue 20) for the sensor task's homeostatic SNN (session of 2026-12-03):
# configs/experiments/damage_onset_ARM_snn.yaml for ARM in ARMS (default "homeofixed ffstatic":
# the feed-forward SNN of 64 LIF with the built-in homeostat on its constant row, and the same
# network with a trained fixed bias), each seed in SEEDS (default "0 1 2"), GENERATIONS (default
# 300) x 32 individuals x 1 episode of 1000 steps (9.6M env steps), fast physics and the native
# C step (which covers the abcd rule since 2026-12-03), one core per run, PARALLEL (default 2)
# at a time. Runs are results/adaptation/runs/damage-onset-ARM-snn-gG-sS. Run from the
# repository root:
#     [ARMS=...] [SEEDS=...] [GENERATIONS=...] bash results/adaptation/train_damage_homeostat.sh
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export GENERATIONS="${GENERATIONS:-300}"
mkdir -p results/adaptation/logs
jobs=()
for seed in ${SEEDS:-0 1 2}; do
  for arm in ${ARMS:-homeofixed ffstatic}; do jobs+=("$arm $seed"); done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  arm=$0; seed=$1; name="damage-onset-${arm}-snn-g${GENERATIONS}-s${seed}"
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  plasticagents train "configs/experiments/damage_onset_${arm}_snn.yaml" \
    --runs-dir results/adaptation/runs --name "$name" --set seed=$seed \
    --set trainer.generations=$GENERATIONS > "$log.log" 2>&1 && touch "$log.done"
'
