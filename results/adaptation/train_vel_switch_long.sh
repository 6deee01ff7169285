#!/usr/bin/env bash
# The velocity-switch task (issue 20) at a longer budget (session of 2026-12-03): the arms of
# train_vel_switch.sh (configs/experiments/vel_switch_ARM.yaml; ARMS, default "plastic_snn
# static_snn oracle_mlp mlp lstm20_es"; lstmH_es is vel_switch_lstm_es.yaml with H units; ARM_ff is
# ARM's config with agent.recurrent=false, a feed-forward SNN) for GENERATIONS (default 300) x 32 individuals x 1 episode of 1000
# steps (300: 9.6M env steps, five times the first table's budget), with fast physics
# (bit-identical to Gymnasium) and the native C step, one core per run, PARALLEL (default 2) at
# a time, each arm x seed in SEEDS (default "0 1 2"). Runs are
# results/adaptation/runs/vel-switch-ARM-gG-sS. Run from the repository root:
#     [ARMS=...] [SEEDS=...] [GENERATIONS=...] bash results/adaptation/train_vel_switch_long.sh
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export GENERATIONS="${GENERATIONS:-300}"
mkdir -p results/adaptation/logs
jobs=()
for seed in ${SEEDS:-0 1 2}; do
  for arm in ${ARMS:-plastic_snn static_snn oracle_mlp mlp lstm20_es}; do jobs+=("$arm $seed"); done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  arm=$0; seed=$1; name="vel-switch-${arm//_/-}-g${GENERATIONS}-s${seed}"
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  config=$arm size=()
  if [[ $arm =~ ^lstm([0-9]+)_es$ ]]; then config=lstm_es size=(--set agent.hidden=${BASH_REMATCH[1]}); fi
  if [[ $arm == *_ff ]]; then config=${arm%_ff} size=(--set agent.recurrent=false); fi
  plasticagents train "configs/experiments/vel_switch_${config}.yaml" "${size[@]}" \
    --runs-dir results/adaptation/runs --name "$name" --set seed=$seed \
    --set trainer.generations=$GENERATIONS --set trainer.popsize=32 --set trainer.episodes=1 \
    --set trainer.threads=1 --set trainer.compile=true --set trainer.fast_physics=true \
    --set trainer.eval_every=10 --set trainer.eval_episodes=4 > "$log.log" 2>&1 \
    && touch "$log.done"
'
