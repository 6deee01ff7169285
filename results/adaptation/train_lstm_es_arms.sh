#!/usr/bin/env bash
# The LSTM arm (trained by ES) of the velocity-switch and damage-onset tasks, at the SNN arms'
# budget and procedure (train_vel_switch.sh, train_damage_onset.sh: 60 generations x 32
# individuals x 1 episode, 1.92M env steps, one core per run, not compiled):
# configs/experiments/{vel_switch,damage_onset}_lstm_es.yaml, which carry those settings.
# Seeds as arguments (default 0 1 2); PARALLEL (default 2) runs at a time; TASKS (default
# "vel_switch damage_onset"); HIDDEN: another LSTM size than the configs' 88 units (runs then
# named <task>-lstm<HIDDEN>-es-s<SEED>). Run from the repository root:
#     bash results/adaptation/train_lstm_es_arms.sh 0 1 2
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p results/adaptation/logs
export HIDDEN="${HIDDEN:-}"
jobs=()
for task in ${TASKS:-vel_switch damage_onset}; do
  for seed in ${@:-0 1 2}; do jobs+=("$task $seed"); done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  set -euo pipefail  # a failed run leaves no .done mark, so the next call retries it
  task=$0; seed=$1; name="${task//_/-}-lstm${HIDDEN:-}-es-s${seed}"
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  plasticagents train "configs/experiments/${task}_lstm_es.yaml" \
    --runs-dir results/adaptation/runs --name "$name" --set seed=$seed \
    ${HIDDEN:+--set agent.hidden=$HIDDEN} > "$log.log" 2>&1
  touch "$log.done"'
