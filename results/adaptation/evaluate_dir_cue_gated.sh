#!/usr/bin/env bash
# The direction task at one budget with a variant of the feed-forward plastic SNN beside the
# 8-seed table's plastic (modulated) and static SNNs, the LSTM (ES) and the oracle, all
# trained by the same ES for 9.6M env steps, seeds SEEDS (default 0-7), on the same 10
# held-out episodes per seed as evaluate_dir_cue_lstm_es.sh. The variant: runs
# dir-cue-PLASTIC-sS-* labelled LABEL, written to OUT; by default the gated fast weights of
# train_dir_cue_ff_gated.sh (PLASTIC=ff-plastic-gated4, LABEL="gated plastic SNN",
# OUT=results/adaptation/dir_cue_gated). The constant-input arm's table:
#     PLASTIC=ff-plastic-modc-g300 LABEL="plastic SNN + constant input" \
#         OUT=results/adaptation/dir_cue_modc bash results/adaptation/evaluate_dir_cue_gated.sh
# CONTROL=PREFIX with CONTROL_LABEL adds a second variant (runs dir-cue-PREFIX-sS-*) as one
# more arm, e.g. the constant-row-only plastic bias beside its static control:
#     PLASTIC=ff-plastic-constrow-g300 LABEL="plastic bias (constant row only)" \
#         CONTROL=ff-static-const-g300 CONTROL_LABEL="static SNN + constant input" \
#         OUT=results/adaptation/dir_cue_constrow bash results/adaptation/evaluate_dir_cue_gated.sh
# CONTROL2=PREFIX with CONTROL2_LABEL adds a third (the plastic bias with its frozen rows not
# searched, beside the plastic bias and its static control):
#     PLASTIC=ff-plastic-constrow-compact-g300 LABEL="plastic bias, frozen rows not searched" \
#         CONTROL=ff-plastic-constrow-g300 CONTROL_LABEL="plastic bias (constant row only)" \
#         CONTROL2=ff-static-const-g300 CONTROL2_LABEL="static SNN + constant input" \
#         OUT=results/adaptation/dir_cue_constrow_compact \
#         bash results/adaptation/evaluate_dir_cue_gated.sh --threads 2
# OTHERS (default "plastic SNN=ff-plastic-snn;static SNN=ff-static-snn;LSTM (ES)=lstm20-es")
# lists the table's fixed arms as LABEL=PREFIX pairs separated by ';', and ORACLE (default
# ff-oracle-snn) its oracle; both empty leave only the variant and its controls, e.g. the
# plastic bias and its static control on 12 training seeds (seeds 8-11 have no other arm):
#     PLASTIC=ff-plastic-constrow-g300 LABEL="plastic bias (constant row only)" \
#         CONTROL=ff-static-const-g300 CONTROL_LABEL="static SNN + constant input" \
#         OTHERS= ORACLE= SEEDS="0 1 2 3 4 5 6 7 8 9 10 11" \
#         OUT=results/adaptation/dir_cue_constrow_12seeds \
#         bash results/adaptation/evaluate_dir_cue_gated.sh --threads 2
# Run from the repository root:
#     [PLASTIC=... LABEL=... OUT=...] [CONTROL=... CONTROL_LABEL=...] [OTHERS=...] [ORACLE=...] \
#         bash results/adaptation/evaluate_dir_cue_gated.sh [--threads N]
set -euo pipefail
R=results/adaptation/runs
. "$(dirname "$0")/seed_runs.sh"
runs() { seed_runs "$R/dir-cue-$1" ${SEEDS:-0 1 2 3 4 5 6 7}; }
control=()
if [ -n "${CONTROL:-}" ]; then
  control=(--arm "${CONTROL_LABEL:?CONTROL_LABEL names the CONTROL arm}=$(runs "$CONTROL")")
fi
if [ -n "${CONTROL2:-}" ]; then
  control+=(--arm "${CONTROL2_LABEL:?CONTROL2_LABEL names the CONTROL2 arm}=$(runs "$CONTROL2")")
fi
IFS=';' read -ra pairs <<< "${OTHERS-plastic SNN=ff-plastic-snn;static SNN=ff-static-snn;LSTM (ES)=lstm20-es}"
for pair in "${pairs[@]}"; do control+=(--arm "${pair%%=*}=$(runs "${pair#*=}")"); done
oracle="${ORACLE-ff-oracle-snn}"
[ -n "$oracle" ] && control+=(--oracle "$(runs "$oracle")")
variant=$(runs "${PLASTIC:-ff-plastic-gated4}")
plasticagents adaptation \
  --arm "${LABEL:-gated plastic SNN}=$variant" \
  "${control[@]}" \
  --suite configs/robustness/dir_reference.yaml \
  --out "${OUT:-results/adaptation/dir_cue_gated}" --episodes 10 --seed 1000 "$@"
