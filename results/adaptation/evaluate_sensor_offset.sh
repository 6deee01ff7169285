#!/usr/bin/env bash
# The sensor task's adaptation tables from the runs train_sensor_offset.sh made: each arm
# (seeds in SEEDS, default "0 1 2") on 10 held-out episodes per seed around each change of
# configs/robustness/sensor_offset_heldout.yaml (from step 300), the plastic arms' ablations
# beside them, each arm also on the same episodes without the change (the share of the nominal
# return kept). ARMS (default: "homeostatic SNN=homeofixed;searched homeostatic SNN=homeostatic;
# static SNN=static", without the line break) lists the arms as LABEL=ARM pairs separated by
# ';', ARM's runs being sensor-offset-ARM-snn-gG-sS;
# GENERATIONS (default 300) sets G. One output directory per change under OUT (default
# results/adaptation/sensor_offset). SUITE and CONDITIONS (space-separated names) pick other
# changes, e.g. SUITE=configs/robustness/sensor_offset_physical.yaml with its names. Run from the
# repository root:
#     [ARMS=...] [SEEDS=...] [GENERATIONS=...] [OUT=...] [SUITE=... CONDITIONS=...] \
#       bash results/adaptation/evaluate_sensor_offset.sh [--threads N]
set -euo pipefail
R=results/adaptation/runs
G=${GENERATIONS:-300}
OUT=${OUT:-results/adaptation/sensor_offset}
. "$(dirname "$0")/seed_runs.sh"
runs() {  # ARM lstm: the LSTM's runs, sensor-offset-lstm-es-gG-sS
  local kind=snn
  [ "$1" = lstm ] && kind=es
  seed_runs "$R/sensor-offset-$1-$kind-g$G" ${SEEDS:-0 1 2}
}
arm_args runs "${ARMS:-homeostatic SNN=homeofixed;searched homeostatic SNN=homeostatic;static SNN=static}"
SUITE=${SUITE:-configs/robustness/sensor_offset_heldout.yaml}
for cond in ${CONDITIONS:-angle_offset_0.2_at_300 angle_offset_0.4_at_300 velocity_offset_0.5_at_300}; do
  plasticagents adaptation "${ARM_ARGS[@]}" \
    --suite "$SUITE" --condition "$cond@300" \
    --out "$OUT/$cond" --episodes 10 --seed 1000 "$@"
done
