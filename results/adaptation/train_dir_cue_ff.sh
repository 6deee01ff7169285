#!/usr/bin/env bash
# The direction task with feed-forward SNNs (agent.recurrent=false): the plastic and static
# arms at 100 generations x 32, then each extended to GENERATIONS (default 300) by a resume,
# and the privileged oracle (the static feed-forward SNN that always sees the direction) at
# GENERATIONS from the start. Seeds as arguments (default 0 1 2); one core per run, PARALLEL
# (default 2) runs at a time. Run from the repository root:
#     bash results/adaptation/train_dir_cue_ff.sh 0 1 2
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p results/adaptation/logs
seeds=("${@:-0 1 2}")
export GENERATIONS="${GENERATIONS:-300}"
jobs=()
for seed in ${seeds[@]}; do
  for arm in plastic static oracle; do jobs+=("$arm $seed"); done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  arm=$0; seed=$1; name="dir-cue-ff-${arm}-snn-s${seed}"; R=results/adaptation/runs
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  common=(--runs-dir $R --name "$name" --set seed=$seed --set agent.recurrent=false)
  if [ "$arm" = oracle ]; then
    plasticagents train configs/experiments/dir_cue_static_snn.yaml "${common[@]}" \
      --set env.id=plasticagents/HalfCheetahDirSwitchPrivileged-v0 \
      --set "env.kwargs={switch_range: null, switch_every: 250}" \
      --set trainer.generations=$GENERATIONS > "$log.log" 2>&1
  else
    plasticagents train "configs/experiments/dir_cue_${arm}_snn.yaml" "${common[@]}" \
      > "$log.log" 2>&1
    run=$(ls -d $R/$name-* | tail -1)
    plasticagents train --resume "$run" --set trainer.generations=$GENERATIONS \
      > "$log-resume.log" 2>&1
  fi
  touch "$log.done"'
