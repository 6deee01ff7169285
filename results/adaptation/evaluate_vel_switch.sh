#!/usr/bin/env bash
# The velocity-switch adaptation table from the runs train_vel_switch.sh made: every arm's
# three runs (seeds 0, 1, 2, in that order) on 10 held-out episodes per seed, against the
# oracle, with the plastic SNN's ablations. Run from the repository root:
#     bash results/adaptation/evaluate_vel_switch.sh
set -euo pipefail
R=results/adaptation/runs
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/vel-switch-$1" 0 1 2; }
plasticagents adaptation \
  --arm "plastic SNN=$(runs plastic-snn)" \
  --arm "static SNN=$(runs static-snn)" \
  --arm "MLP=$(runs mlp)" \
  --oracle "$(runs oracle-mlp)" \
  --suite configs/robustness/vel_reference.yaml \
  --out results/adaptation/vel_switch --episodes 10 --seed 1000 "$@"
