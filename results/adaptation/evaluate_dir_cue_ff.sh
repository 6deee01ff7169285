#!/usr/bin/env bash
# The direction task's feed-forward table from the runs train_dir_cue_ff.sh made: both arms'
# runs (seeds SEEDS, default 0 1 2 3 4 5 6 7, in that order) on 10 held-out episodes per seed,
# against the oracle, with the plastic SNN's ablations. Run from the repository root:
#     bash results/adaptation/evaluate_dir_cue_ff.sh [--out DIR] [--threads N]
set -euo pipefail
R=results/adaptation/runs
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/dir-cue-ff-$1-snn" ${SEEDS:-0 1 2 3 4 5 6 7}; }
plasticagents adaptation \
  --arm "plastic SNN=$(runs plastic)" \
  --arm "static SNN=$(runs static)" \
  --oracle "$(runs oracle)" \
  --suite configs/robustness/dir_reference.yaml \
  --out results/adaptation/dir_cue_ff --episodes 10 --seed 1000 "$@"
