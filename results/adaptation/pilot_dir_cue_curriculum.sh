#!/usr/bin/env bash
# A pilot for the direction task (issue 20): does a curriculum on the cue let ES find the
# memory? trainer.curriculum shows the direction for cue_steps=250 observations after each
# draw at generation 0 (the whole 250-step segment: no memory needed), shortened linearly to
# the task's 10 by generation 50 and held there (generations 50-99 train on the task itself).
# Arms, each for 100 generations (3.2M env steps) as the other pilots, one core per run,
# PARALLEL (default 2) at a time; seeds as arguments (default 0 1 2 3):
#   gated4cur: the pilot's gated4 feed-forward plastic SNN (pilot_dir_cue_ff_plastic.sh) with
#     the curriculum;
#   lstmcur: the ES-trained LSTM (configs/experiments/dir_cue_lstm_es.yaml, 20 units) with the
#     same curriculum, so both arms get the same training recipe.
# Runs dir-cue-curriculum-<arm>-s<seed> under results/adaptation/runs. From the repo root:
#     [ARMS="gated4cur lstmcur"] bash results/adaptation/pilot_dir_cue_curriculum.sh [SEED...]
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p results/adaptation/logs
seeds=("${@:-0 1 2 3}")
jobs=()
for seed in ${seeds[@]}; do
  for arm in ${ARMS:-gated4cur lstmcur}; do jobs+=("$arm $seed"); done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  set -euo pipefail  # a failed run leaves no .done mark, so the next call retries it
  arm=$0; seed=$1; name="dir-cue-curriculum-${arm}-s${seed}"; R=results/adaptation/runs
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  curriculum=(--set "trainer.curriculum={cue_steps: {start: 250, generations: 50}}")
  case $arm in
    gated4cur)
      plasticagents train configs/experiments/dir_cue_plastic_snn.yaml --runs-dir $R \
        --name "$name" --set seed=$seed --set agent.recurrent=false \
        --set agent.plasticity.mode=gated --set agent.plasticity.modulator_input=input \
        --set agent.plasticity.alpha_init=0.1 --set agent.plasticity.gate_bias=-4 \
        --set agent.plasticity.eta=0.1 "${curriculum[@]}" > "$log.log" 2>&1 ;;
    lstmcur)
      plasticagents train configs/experiments/dir_cue_lstm_es.yaml --runs-dir $R \
        --name "$name" --set seed=$seed --set agent.hidden=20 "${curriculum[@]}" \
        > "$log.log" 2>&1 ;;
    *) echo "unknown arm $arm" >&2; exit 1 ;;
  esac
  touch "$log.done"'
