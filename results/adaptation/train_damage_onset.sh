#!/usr/bin/env bash
# Trains the damage-at-a-random-onset task of the adaptation experiment: plastic SNN and static
# SNN x 3 seeds at one env-step budget (60 generations x 32 individuals x 1 episode of 1000
# steps, about 1.92M env steps per run), each run on one core, with fast physics (bit-identical
# to Gymnasium, mid-episode onsets and learner inputs included). A run is claimed with a lock
# directory, so several copies of this script can share the queue (one per free core):
#     bash results/adaptation/train_damage_onset.sh &  bash results/adaptation/train_damage_onset.sh
# (a killed run leaves its lock: remove logs/NAME.lock to rerun it). SEEDS (default "0 1 2")
# picks the seeds: the session of 2026-12-01 (night) added SEEDS="3 4 5". GENERATIONS (default
# 60) sets trainer.generations; other than 60 it is in the run name (damage-onset-ARM-gG-sS):
# the session of 2026-12-02 (evening) trained GENERATIONS=300 (9.6M env steps per run) with
# COMPILE=true. COMPILE (default false: the torch step, as the 60-generation tables) sets
# trainer.compile; true takes the native C step for both arms (equal to the torch step up to
# float rounding, about 3x faster here).
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
logs=results/adaptation/logs
generations=${GENERATIONS:-60}
budget=""
[ "$generations" != 60 ] && budget="-g$generations"
for seed in ${SEEDS:-0 1 2}; do
  for arm in plastic_snn static_snn; do
    name="damage-onset-${arm//_/-}${budget}-s${seed}"
    [ -e "$logs/$name.done" ] && continue
    mkdir "$logs/$name.lock" 2>/dev/null || continue   # another copy has it
    plasticagents train "configs/experiments/damage_onset_${arm}.yaml" \
      --runs-dir results/adaptation/runs --name "$name" --set seed=$seed \
      --set trainer.generations=$generations --set trainer.popsize=32 --set trainer.episodes=1 \
      --set trainer.threads=1 --set trainer.compile="${COMPILE:-false}" --set trainer.eval_every=10 \
      --set trainer.eval_episodes=4 --set trainer.fast_physics=true \
      > "$logs/$name.log" 2>&1 && touch "$logs/$name.done"
  done
done
