#!/usr/bin/env bash
# The direction task at one budget and one optimiser: the feed-forward plastic and static SNNs
# of train_dir_cue_ff.sh beside the LSTM of train_dir_cue_lstm_es.sh (20 units), all trained
# by the same ES for 9.6M env steps, seeds SEEDS (default 0 1 2 3 4 5 6 7), on 10 held-out
# episodes per seed, against the oracle. Run from the repository root:
#     bash results/adaptation/evaluate_dir_cue_lstm_es.sh [--out DIR] [--threads N]
set -euo pipefail
R=results/adaptation/runs
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/dir-cue-$1" ${SEEDS:-0 1 2 3 4 5 6 7}; }
plasticagents adaptation \
  --arm "plastic SNN=$(runs ff-plastic-snn)" \
  --arm "static SNN=$(runs ff-static-snn)" \
  --arm "LSTM (ES)=$(runs lstm20-es)" \
  --oracle "$(runs ff-oracle-snn)" \
  --suite configs/robustness/dir_reference.yaml \
  --out results/adaptation/dir_cue_lstm_es --episodes 10 --seed 1000 "$@"
