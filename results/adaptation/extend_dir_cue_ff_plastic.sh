#!/usr/bin/env bash
# Does the plastic SNN close the gap to the LSTM with more budget? Each seed's feed-forward
# plastic SNN of train_dir_cue_ff.sh (300 generations, 9.6M env steps) is copied to a new run
# directory (dir-cue-ff-plastic-snn-g600-sS-*, so the 300-generation checkpoints the tables
# use stay as they are) and resumed there to GENERATIONS (default 600: 19.2M env steps,
# twice the LSTM's budget). Seeds as arguments (default 0-7), one core per run, PARALLEL
# (default 2) at a time. SOURCE (default plastic-snn) names the runs extended:
# SOURCE=plastic-modc GENERATIONS=300 extends the 100-generation pilot runs with a constant
# input (pilot_dir_cue_ff_plastic.sh, variant modc) to the 8-seed table's 9.6M env steps, in
# dir-cue-ff-plastic-modc-g300-sS-*. Run from the repository root:
#     [SOURCE=...] [GENERATIONS=...] bash results/adaptation/extend_dir_cue_ff_plastic.sh [SEED...]
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export GENERATIONS="${GENERATIONS:-600}" SOURCE="${SOURCE:-plastic-snn}"
mkdir -p results/adaptation/logs
seeds=("${@:-0 1 2 3 4 5 6 7}")
printf '%s\n' ${seeds[@]} | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  seed=$0; R=results/adaptation/runs; name="dir-cue-ff-${SOURCE}-g${GENERATIONS}-s${seed}"
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  src=$(ls -d $R/dir-cue-ff-$SOURCE-s$seed-* | tail -1)
  dst=$(ls -d $R/$name-* 2>/dev/null | tail -1 || true)
  if [ -z "$dst" ]; then
    dst="$R/$name-${src##*-s$seed-}"
    cp -r "$src" "$dst"
  fi
  plasticagents train --resume "$dst" --set trainer.generations=$GENERATIONS > "$log.log" 2>&1
  touch "$log.done"'
