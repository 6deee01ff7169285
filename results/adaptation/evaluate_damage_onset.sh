#!/usr/bin/env bash
# The damage-onset adaptation tables from the runs train_damage_onset.sh made: the plastic and
# the static SNN (seeds 0, 1, 2, in that order) on 10 held-out episodes per seed around each
# change of configs/robustness/damage_onset_heldout.yaml (from step 300), the plastic SNN's
# ablations beside it, each arm also on the same episodes without the change (the share of
# the nominal return kept). One output directory per change, under OUT (default
# results/adaptation/damage_onset); SEEDS (default "0 1 2") picks the training seeds, e.g.
# SEEDS="0 1 2 3 4 5" OUT=results/adaptation/damage_onset_6seeds. Run from the repository root:
#     bash results/adaptation/evaluate_damage_onset.sh
set -euo pipefail
R=results/adaptation/runs
OUT=${OUT:-results/adaptation/damage_onset}
runs() { for s in ${SEEDS:-0 1 2}; do ls -d "$R"/damage-onset-"$1"-s"$s"-*; done | paste -sd, -; }
for cond in front_leg_disabled_at_300 gravity_1.5_at_300 weak_actuators_at_300 \
            back_leg_disabled_at_300; do
  plasticagents adaptation \
    --arm "plastic SNN=$(runs plastic-snn)" \
    --arm "static SNN=$(runs static-snn)" \
    --suite configs/robustness/damage_onset_heldout.yaml --condition "$cond@300" \
    --out "$OUT/$cond" --episodes 10 --seed 1000 "$@"
done
