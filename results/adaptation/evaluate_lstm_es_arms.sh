#!/usr/bin/env bash
# The velocity-switch and damage-onset tables with their LSTM arms trained by ES at the SNN
# arms' budget (train_lstm_es_arms.sh: 88 units, the plastic SNN's parameter count, and
# HIDDEN=20, the direction task's size) beside the arms of train_vel_switch.sh and
# train_damage_onset.sh, seeds 0, 1, 2 in that order, on the same 10 held-out episodes per
# seed as evaluate_vel_switch.sh and evaluate_damage_onset.sh (new output directories; those
# tables stay as they are). Run from the repository root:
#     bash results/adaptation/evaluate_lstm_es_arms.sh [--threads N]
set -euo pipefail
R=results/adaptation/runs
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/$1" 0 1 2; }
plasticagents adaptation \
  --arm "plastic SNN=$(runs vel-switch-plastic-snn)" \
  --arm "static SNN=$(runs vel-switch-static-snn)" \
  --arm "MLP=$(runs vel-switch-mlp)" \
  --arm "LSTM 88 (ES)=$(runs vel-switch-lstm-es)" \
  --arm "LSTM 20 (ES)=$(runs vel-switch-lstm20-es)" \
  --oracle "$(runs vel-switch-oracle-mlp)" \
  --suite configs/robustness/vel_reference.yaml \
  --out results/adaptation/vel_switch_lstm_es --episodes 10 --seed 1000 "$@"
for cond in front_leg_disabled_at_300 gravity_1.5_at_300 weak_actuators_at_300 \
            back_leg_disabled_at_300; do
  plasticagents adaptation \
    --arm "plastic SNN=$(runs damage-onset-plastic-snn)" \
    --arm "static SNN=$(runs damage-onset-static-snn)" \
    --arm "LSTM 88 (ES)=$(runs damage-onset-lstm-es)" \
    --arm "LSTM 20 (ES)=$(runs damage-onset-lstm20-es)" \
    --suite configs/robustness/damage_onset_heldout.yaml --condition "$cond@300" \
    --out "results/adaptation/damage_onset_lstm_es/$cond" --episodes 10 --seed 1000 "$@"
done
