#!/usr/bin/env bash
# The direction task's four arms (the ES-trained feed-forward plastic and static SNNs, the
# 20-unit LSTM, the oracle; 8 seeds, as evaluate_dir_cue_lstm_es.sh) on changes none of them
# trained on: a changed body from step 300 (configs/robustness/dir_heldout.yaml: front leg
# disabled, gravity x1.5, actuators at half strength, body mass x1.5; each arm's return as a
# share of its own nominal return) and changed switch schedules (configs/robustness/
# dir_schedule_*.yaml). One output directory per change under results/adaptation/dir_heldout/.
# PLASTIC (default ff-plastic-snn) names the plastic arm's runs (dir-cue-PLASTIC-sS-*), LABEL
# (default "plastic SNN") its arm, OUT (default results/adaptation/dir_heldout) the output
# directory: PLASTIC=ff-plastic-gated4 LABEL="gated plastic SNN"
# OUT=results/adaptation/dir_heldout_gated evaluates the gated arm (train_dir_cue_ff_gated.sh).
# Run from the repository root:
#     bash results/adaptation/evaluate_dir_heldout.sh [--threads N]
set -euo pipefail
R=results/adaptation/runs
O=${OUT:-results/adaptation/dir_heldout}
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/dir-cue-$1" ${SEEDS:-0 1 2 3 4 5 6 7}; }
arms=(
  --arm "${LABEL:-plastic SNN}=$(runs "${PLASTIC:-ff-plastic-snn}")"
  --arm "static SNN=$(runs ff-static-snn)"
  --arm "LSTM (ES)=$(runs lstm20-es)"
  --oracle "$(runs ff-oracle-snn)"
  --episodes 10 --seed 1000
)
for change in front_leg_disabled gravity_1.5 weak_actuators heavy; do
  [ -e "$O/$change/summary.json" ] && continue
  plasticagents adaptation "${arms[@]}" --suite configs/robustness/dir_heldout.yaml \
    --condition "$change@300" --out "$O/$change" "$@"
done
for schedule in every125 every400 once; do
  [ -e "$O/schedule_$schedule/summary.json" ] && continue
  plasticagents adaptation "${arms[@]}" --suite "configs/robustness/dir_schedule_$schedule.yaml" \
    --out "$O/schedule_$schedule" "$@"
done
