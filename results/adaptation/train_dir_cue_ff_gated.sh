#!/usr/bin/env bash
# The direction task's feed-forward plastic SNN with gated fast weights (the pilot's gated4:
# agent.plasticity.mode=gated, modulator_input=input, alpha_init 0.1, gate_bias -4, eta 0.1),
# trained as the other arms of the 8-seed table (train_dir_cue_ff.sh): 100 generations x 32
# (pilot_dir_cue_ff_plastic.sh, which skips a seed it has already trained), then resumed in
# place to GENERATIONS (default 300: 9.6M env steps, the LSTM's budget). Seeds as arguments
# (default 0-7), one core per run, PARALLEL (default 2) at a time. Run from the repository root:
#     bash results/adaptation/train_dir_cue_ff_gated.sh [SEED...]
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export GENERATIONS="${GENERATIONS:-300}"
mkdir -p results/adaptation/logs
seeds=("${@:-0 1 2 3 4 5 6 7}")
printf '%s\n' ${seeds[@]} | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  set -euo pipefail  # a failed run leaves no .done mark, so the next call retries it
  seed=$0; R=results/adaptation/runs; name="dir-cue-ff-plastic-gated4-s${seed}"
  log="results/adaptation/logs/$name"
  [ -e "$log-g$GENERATIONS.done" ] && exit 0
  VARIANTS=gated4 PARALLEL=1 bash results/adaptation/pilot_dir_cue_ff_plastic.sh $seed
  [ -e "$log.done" ]  # the 100 generations finished
  run=$(ls -d $R/$name-* | tail -1)
  plasticagents train --resume "$run" --set trainer.generations=$GENERATIONS \
    > "$log-resume.log" 2>&1
  touch "$log-g$GENERATIONS.done"'
