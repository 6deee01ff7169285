#!/usr/bin/env bash
# The direction task's LSTM arm trained by ES (configs/experiments/dir_cue_lstm_es.yaml) with
# the SNN arms' procedure (train_dir_cue_ff.sh): 100 generations x 32, then extended to
# GENERATIONS (default 300, 9.6M env steps) by a resume. Seeds as arguments (default 0 1 2);
# one core per run, PARALLEL (default 2) runs at a time; HIDDEN (default 20) LSTM units, runs
# named dir-cue-lstm<HIDDEN>-es-s<SEED>. Run from the repository root:
#     bash results/adaptation/train_dir_cue_lstm_es.sh 0 1 2
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p results/adaptation/logs
seeds=("${@:-0 1 2}")
export GENERATIONS="${GENERATIONS:-300}" HIDDEN="${HIDDEN:-20}"
printf '%s\n' ${seeds[@]} | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  set -euo pipefail  # a failed run leaves no .done mark, so the next call retries it
  seed=$0; name="dir-cue-lstm${HIDDEN}-es-s${seed}"; R=results/adaptation/runs
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  plasticagents train configs/experiments/dir_cue_lstm_es.yaml --runs-dir $R --name "$name" \
    --set seed=$seed --set agent.hidden=$HIDDEN > "$log.log" 2>&1
  run=$(ls -d $R/$name-* | tail -1)
  plasticagents train --resume "$run" --set trainer.generations=$GENERATIONS \
    > "$log-resume.log" 2>&1
  touch "$log.done"'
