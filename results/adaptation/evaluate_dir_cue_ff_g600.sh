#!/usr/bin/env bash
# The direction task's plastic SNN at twice the LSTM's budget: the runs of
# extend_dir_cue_ff_plastic.sh (600 generations, 19.2M env steps) beside the same seeds at 300
# generations (9.6M), the static SNN and the LSTM (ES) at 9.6M, and the oracle, on the same
# 10 held-out episodes per seed as evaluate_dir_cue_lstm_es.sh. Run from the repository root:
#     bash results/adaptation/evaluate_dir_cue_ff_g600.sh [--out DIR] [--threads N]
set -euo pipefail
R=results/adaptation/runs
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/dir-cue-$1" ${SEEDS:-0 1 2 3 4 5 6 7}; }
plasticagents adaptation \
  --arm "plastic SNN, 19.2M steps=$(runs ff-plastic-snn-g600)" \
  --arm "plastic SNN, 9.6M steps=$(runs ff-plastic-snn)" \
  --arm "static SNN=$(runs ff-static-snn)" \
  --arm "LSTM (ES)=$(runs lstm20-es)" \
  --oracle "$(runs ff-oracle-snn)" \
  --suite configs/robustness/dir_reference.yaml \
  --out results/adaptation/dir_cue_ff_g600 --episodes 10 --seed 1000 "$@"
