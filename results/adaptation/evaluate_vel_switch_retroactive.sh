#!/usr/bin/env bash
# The retroactive (SpikePropamine) plastic arm of the velocity switch, 3 seeds
# (train_vel_switch_variants.sh retroactive 0 1 2), beside the main table's modulated Hebbian
# and static SNN runs and the oracle, on the same 10 held-out episodes per seed. Run from the
# repository root:
#     bash results/adaptation/evaluate_vel_switch_retroactive.sh
set -euo pipefail
R=results/adaptation/runs
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/vel-switch-$1" 0 1 2; }
plasticagents adaptation \
  --arm "plastic SNN (retroactive)=$(runs plastic-retroactive)" \
  --arm "plastic SNN (Hebbian)=$(runs plastic-snn)" \
  --arm "static SNN=$(runs static-snn)" \
  --oracle "$(runs oracle-mlp)" \
  --suite configs/robustness/vel_reference.yaml \
  --out results/adaptation/vel_switch_retroactive --episodes 10 --seed 1000 "$@"
