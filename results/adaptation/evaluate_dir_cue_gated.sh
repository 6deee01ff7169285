#!/usr/bin/env bash
# The direction task at one budget with gated fast weights: the runs of
# train_dir_cue_ff_gated.sh (9.6M env steps) beside the 8-seed table's plastic (modulated)
# and static SNNs, the LSTM (ES) and the oracle, all trained by the same ES for 9.6M env steps,
# seeds SEEDS (default 0-7), on the same 10 held-out episodes per seed as
# evaluate_dir_cue_lstm_es.sh. Run from the repository root:
#     bash results/adaptation/evaluate_dir_cue_gated.sh [--out DIR] [--threads N]
set -euo pipefail
R=results/adaptation/runs
runs() { for s in ${SEEDS:-0 1 2 3 4 5 6 7}; do ls -d "$R"/dir-cue-"$1"-s"$s"-*; done | paste -sd, -; }
plasticagents adaptation \
  --arm "gated plastic SNN=$(runs ff-plastic-gated4)" \
  --arm "plastic SNN=$(runs ff-plastic-snn)" \
  --arm "static SNN=$(runs ff-static-snn)" \
  --arm "LSTM (ES)=$(runs lstm20-es)" \
  --oracle "$(runs ff-oracle-snn)" \
  --suite configs/robustness/dir_reference.yaml \
  --out results/adaptation/dir_cue_gated --episodes 10 --seed 1000 "$@"
