#!/usr/bin/env bash
# The damage-onset adaptation tables from the runs train_damage_onset.sh made: the plastic and
# the static SNN (seeds 0, 1, 2, in that order) on 10 held-out episodes per seed around each
# change of configs/robustness/damage_onset_heldout.yaml (from step 300), the plastic SNN's
# ablations beside it, each arm also on the same episodes without the change (the share of
# the nominal return kept). One output directory per change, under OUT (default
# results/adaptation/damage_onset); SEEDS (default "0 1 2") picks the training seeds, e.g.
# SEEDS="0 1 2 3 4 5" OUT=results/adaptation/damage_onset_6seeds. ARMS (default
# "plastic SNN=plastic-snn;static SNN=static-snn") lists the arms as LABEL=PREFIX pairs
# separated by ';', each arm's runs being damage-onset-PREFIX-sS-* (the first match per seed);
# evaluate_damage_onset_constrow.sh sets it for the plastic-bias table. SUITE and CONDITIONS
# (space-separated names) pick other changes, e.g. CONDITIONS=no_change_at_300 (the control:
# nothing changes at step 300). Run from the repository root:
#     [ARMS=...] [SEEDS=...] [OUT=...] [SUITE=...] [CONDITIONS=...] \
#       bash results/adaptation/evaluate_damage_onset.sh [--threads N]
set -euo pipefail
R=results/adaptation/runs
OUT=${OUT:-results/adaptation/damage_onset}
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/damage-onset-$1" ${SEEDS:-0 1 2}; }
arm_args runs "${ARMS:-plastic SNN=plastic-snn;static SNN=static-snn}"
SUITE=${SUITE:-configs/robustness/damage_onset_heldout.yaml}
for cond in ${CONDITIONS:-front_leg_disabled_at_300 gravity_1.5_at_300 weak_actuators_at_300 \
            back_leg_disabled_at_300}; do
  plasticagents adaptation "${ARM_ARGS[@]}" \
    --suite "$SUITE" --condition "$cond@300" \
    --out "$OUT/$cond" --episodes 10 --seed 1000 "$@"
done
