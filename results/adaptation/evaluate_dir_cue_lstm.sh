#!/usr/bin/env bash
# The direction task's LSTM comparison: the feed-forward plastic and static SNNs of
# train_dir_cue_ff.sh (9.6M env steps of ES each) beside the LSTM (sb3-contrib RecurrentPPO,
# dir_cue_lstm.yaml, 800k env steps: the most this machine could give three seeds in a session),
# seeds SEEDS (default 0 1 2), on 10 held-out episodes per seed, against the oracle. Run from
# the repository root:
#     bash results/adaptation/evaluate_dir_cue_lstm.sh [--out DIR] [--threads N]
set -euo pipefail
R=results/adaptation/runs
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/dir-cue-$1" ${SEEDS:-0 1 2}; }
plasticagents adaptation \
  --arm "plastic SNN=$(runs ff-plastic-snn)" \
  --arm "static SNN=$(runs ff-static-snn)" \
  --arm "LSTM=$(runs lstm)" \
  --oracle "$(runs ff-oracle-snn)" \
  --suite configs/robustness/dir_reference.yaml \
  --out results/adaptation/dir_cue_lstm --episodes 10 --seed 1000 "$@"
