#!/usr/bin/env bash
# The damage task's held-out evaluation (evaluate_damage_onset.sh: the same changes from step
# 300, 10 held-out episodes per seed, seed 1000) of the plastic bias (plastic-constrow) and its
# static control (static-const, train_damage_onset_constrow.sh) beside the plastic and static
# SNN arms of seeds 0-2. Run from the repository root:
#     bash results/adaptation/evaluate_damage_onset_constrow.sh --threads 2
set -euo pipefail
export ARMS="plastic bias (constant row only)=plastic-constrow;static SNN + constant input=static-const;plastic SNN=plastic-snn;static SNN=static-snn"
export OUT=${OUT:-results/adaptation/damage_onset_constrow}
exec bash "$(dirname "$0")/evaluate_damage_onset.sh" "$@"
