#!/usr/bin/env bash
# The direction task at one budget with a constant input: the modulated plastic SNN with
# agent.constant_input=true (a presynaptic unit always at 1, whose fast weights are a bias the
# network writes within the episode and reads whatever the gait; the pilot's `modc` runs,
# extended to 300 generations, 9.6M env steps, by
# SOURCE=plastic-modc GENERATIONS=300 bash results/adaptation/extend_dir_cue_ff_plastic.sh),
# beside the 8-seed table's plastic (modulated) and static SNNs, the LSTM (ES) and the oracle,
# all trained by the same ES for 9.6M env steps, seeds SEEDS (default 0-7), on the same 10
# held-out episodes per seed as evaluate_dir_cue_gated.sh. Run from the repository root:
#     bash results/adaptation/evaluate_dir_cue_modc.sh [--out DIR] [--threads N]
set -euo pipefail
R=results/adaptation/runs
runs() { for s in ${SEEDS:-0 1 2 3 4 5 6 7}; do ls -d "$R"/dir-cue-"$1"-s"$s"-*; done | paste -sd, -; }
plasticagents adaptation \
  --arm "plastic SNN + constant input=$(runs ff-plastic-modc-g300)" \
  --arm "plastic SNN=$(runs ff-plastic-snn)" \
  --arm "static SNN=$(runs ff-static-snn)" \
  --arm "LSTM (ES)=$(runs lstm20-es)" \
  --oracle "$(runs ff-oracle-snn)" \
  --suite configs/robustness/dir_reference.yaml \
  --out results/adaptation/dir_cue_modc --episodes 10 --seed 1000 "$@"
