#!/usr/bin/env bash
# Trains every arm of the velocity-switch adaptation experiment: 4 arms x 3 seeds, the same
# env-step budget per arm (60 generations x 32 individuals x 1 episode of 1000 steps, about
# 1.92M env steps), two runs at a time on one core each. Run from the repository root:
#     bash results/adaptation/train_vel_switch.sh
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
BUDGET=(--set trainer.generations=60 --set trainer.popsize=32 --set trainer.episodes=1
        --set trainer.threads=1 --set trainer.compile=false --set trainer.eval_every=10
        --set trainer.eval_episodes=4)
jobs=()
for seed in 0 1 2; do
  for arm in plastic_snn static_snn mlp oracle_mlp; do
    jobs+=("$arm $seed")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  arm=$0; seed=$1; name="vel-switch-${arm//_/-}-s${seed}"
  [ -e "results/adaptation/logs/$name.done" ] && exit 0
  plasticagents train "configs/experiments/vel_switch_${arm}.yaml" \
    --runs-dir results/adaptation/runs --name "$name" --set seed=$seed '"${BUDGET[*]}"' \
    > "results/adaptation/logs/$name.log" 2>&1 && touch "results/adaptation/logs/$name.done"'
