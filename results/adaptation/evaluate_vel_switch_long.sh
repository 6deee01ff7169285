#!/usr/bin/env bash
# The velocity-switch table from the runs train_vel_switch_long.sh made (GENERATIONS, default
# 300): every arm's runs vel-switch-PREFIX-gG-sS (seeds in SEEDS, default "0 1 2") on 10
# held-out episodes per seed, against the oracle (the privileged MLP at the same budget), with
# the plastic SNN's ablations, as evaluate_vel_switch.sh does for the first table. ARMS
# (default "plastic SNN=plastic-snn;static SNN=static-snn;LSTM 20 (ES)=lstm20-es;MLP=mlp",
# without the line break) lists the arms as LABEL=PREFIX pairs separated by ';'. Output in OUT
# (default results/adaptation/vel_switch_gG). SUITE (default configs/robustness/vel_reference.yaml)
# and CONDITION (a NAME@STEP of that suite, e.g. no_change_at_500@500 of
# configs/robustness/vel_no_switch_control.yaml, the ablations' no-switch control) pick other
# episodes. Run from the repository root:
#     [ARMS=...] [SEEDS=...] [GENERATIONS=...] [OUT=...] [SUITE=... CONDITION=...] \
#       bash results/adaptation/evaluate_vel_switch_long.sh [--threads N]
set -euo pipefail
R=results/adaptation/runs
G=${GENERATIONS:-300}
OUT=${OUT:-results/adaptation/vel_switch_g$G}
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/vel-switch-$1-g$G" ${SEEDS:-0 1 2}; }
arm_args runs "${ARMS:-plastic SNN=plastic-snn;static SNN=static-snn;LSTM 20 (ES)=lstm20-es;MLP=mlp}"
condition=()
if [ -n "${CONDITION:-}" ]; then condition=(--condition "$CONDITION"); fi
plasticagents adaptation "${ARM_ARGS[@]}" --oracle "$(runs oracle-mlp)" \
  --suite "${SUITE:-configs/robustness/vel_reference.yaml}" "${condition[@]}" \
  --out "$OUT" --episodes 10 --seed 1000 "$@"
