#!/usr/bin/env bash
# Trains the cued-goal task's arms (configs/experiments/${TASK}_cue_*.yaml): the plastic and
# the static SNN, seeds given as arguments (default: 0), two runs at a time on one core each.
# TASK=vel (default): the target velocity; TASK=dir: the running direction. Extra overrides
# for every run in SET (e.g. SET="--set trainer.generations=250"). Run from the repository root:
#     bash results/adaptation/train_vel_cue.sh 0 1 2
#     TASK=dir bash results/adaptation/train_vel_cue.sh 0
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p results/adaptation/logs
seeds=("${@:-0}")
export TASK="${TASK:-vel}" SET="${SET:-}"
jobs=()
for seed in "${seeds[@]}"; do
  for arm in plastic_snn static_snn; do
    jobs+=("$arm $seed")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  arm=$0; seed=$1; name="${TASK}-cue-${arm//_/-}-s${seed}"
  [ -e "results/adaptation/logs/$name.done" ] && exit 0
  plasticagents train "configs/experiments/${TASK}_cue_${arm}.yaml" \
    --runs-dir results/adaptation/runs --name "$name" --set seed=$seed $SET \
    > "results/adaptation/logs/$name.log" 2>&1 && touch "results/adaptation/logs/$name.done"'
