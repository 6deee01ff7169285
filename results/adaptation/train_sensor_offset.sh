#!/usr/bin/env bash
# Trains the sensor task of the adaptation experiment (issue 20; session of 2026-12-02, night):
# HalfCheetah-v5 whose 7 angle sensors gain a constant offset, N(0, 0.2²) rad per sensor and
# episode, at a step drawn from 100..600 (configs/experiments/sensor_offset_*.yaml). ARMS
# (default "homeofixed static") picks the configs: homeofixed (intrinsic plasticity built in:
# the abcd rule on the constant input's row started as a homeostat, every coefficient fixed),
# homeostatic (the same rule with its coefficients searched by ES), plastic (the neuromodulated
# Hebbian plastic bias), static (their control, a trained static bias) and lstm (an LSTM of 20
# units by the same ES, configs/experiments/sensor_offset_lstm_es.yaml); each arm x seed in
# SEEDS (default "0 1 2")
# trains GENERATIONS (default 300; 32 individuals x 1 episode of 1000 steps, so 300 is 9.6M
# env steps) on one core with fast physics and the native C step (the runs of 2026-12-02 took
# the compiled torch step for homeofixed and homeostatic: the C step covered the hebbian rule
# only until 2026-12-03), PARALLEL (default 2) at
# a time. The session of 2026-12-02 (night) ran ARMS="homeostatic static" (seeds 0-2), then
# ARMS=homeofixed (seeds 0-2) and ARMS="homeofixed static" SEEDS="3 4"; the pilot,
# ARMS="plastic static" GENERATIONS=100 SEEDS="0 1"; then ARMS=lstm SEEDS="0 1 2 3 4". Runs
# are results/adaptation/runs/sensor-offset-ARM-snn-gG-sS (sensor-offset-lstm-es-gG-sS). Run
# from the repository root:
#     [ARMS=...] [SEEDS=...] [GENERATIONS=...] bash results/adaptation/train_sensor_offset.sh
# TASK (default sensor_offset) trains another task's configs the same way:
# configs/experiments/TASK_ARM_snn.yaml into runs TASK-ARM-snn-gG-sS (TASK's '_' as '-'), e.g.
# TASK=damage_onset ARMS="homeofixed ffstatic" (train_damage_homeostat.sh).
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export GENERATIONS="${GENERATIONS:-300}" TASK="${TASK:-sensor_offset}"
mkdir -p results/adaptation/logs
jobs=()
for seed in ${SEEDS:-0 1 2}; do
  for arm in ${ARMS:-homeofixed static}; do jobs+=("$arm $seed"); done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  arm=$0; seed=$1
  kind=snn; [ "$arm" = lstm ] && kind=es   # the LSTM: sensor_offset_lstm_es.yaml
  name="${TASK//_/-}-${arm}-${kind}-g${GENERATIONS}-s${seed}"
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  plasticagents train "configs/experiments/${TASK}_${arm}_${kind}.yaml" \
    --runs-dir results/adaptation/runs --name "$name" --set seed=$seed \
    --set trainer.generations=$GENERATIONS > "$log.log" 2>&1 && touch "$log.done"
'
