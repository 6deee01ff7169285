#!/usr/bin/env bash
# The damage task's held-out evaluation (evaluate_damage_onset.sh: the same changes from step
# 300, 10 held-out episodes per seed, seed 1000) of the plastic bias (plastic-constrow) and its
# static control (static-const, train_damage_onset_constrow.sh) beside the plastic and static
# SNN arms of seeds 0-2. Run from the repository root:
#     bash results/adaptation/evaluate_damage_onset_constrow.sh --threads 2
set -euo pipefail
R=results/adaptation/runs
OUT=${OUT:-results/adaptation/damage_onset_constrow}
runs() { for s in ${SEEDS:-0 1 2}; do ls -d "$R"/damage-onset-"$1"-s"$s"-* | head -1; done | paste -sd, -; }
for cond in front_leg_disabled_at_300 gravity_1.5_at_300 weak_actuators_at_300 \
            back_leg_disabled_at_300; do
  plasticagents adaptation \
    --arm "plastic bias (constant row only)=$(runs plastic-constrow)" \
    --arm "static SNN + constant input=$(runs static-const)" \
    --arm "plastic SNN=$(runs plastic-snn)" \
    --arm "static SNN=$(runs static-snn)" \
    --suite configs/robustness/damage_onset_heldout.yaml --condition "$cond@300" \
    --out "$OUT/$cond" --episodes 10 --seed 1000 "$@"
done
