#!/usr/bin/env bash
# The damage task (issue 20, second task) with the plastic bias of the direction task's best
# arm (session of 2026-12-02, afternoon): agent.constant_input=true (a presynaptic unit always
# at 1) with agent.plasticity.rows=constant (only that unit's row plastic: a bias per neuron
# the neuromodulated rule writes within the episode, every other synapse static), beside its
# control, the static SNN with the same constant input (agent.plasticity=null: a trained bias,
# no fast weights). Otherwise exactly train_damage_onset.sh's procedure (60 generations x 32 x
# 1 episode, one core per run, the same training damages and inputs), except
# trainer.compile=true, so both arms take the native C step (which covers both networks since
# 9b41149). Run from the repository root, two copies side by side:
#     SEEDS="0 1 2" bash results/adaptation/train_damage_onset_constrow.sh
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
logs=results/adaptation/logs
mkdir -p "$logs"
for seed in ${SEEDS:-0 1 2}; do
  for arm in plastic-constrow static-const; do
    name="damage-onset-${arm}-s${seed}"
    [ -e "$logs/$name.done" ] && continue
    mkdir "$logs/$name.lock" 2>/dev/null || continue   # another copy has it
    if [ $arm = plastic-constrow ]; then
      config=configs/experiments/damage_onset_plastic_snn.yaml
      extra=(--set agent.constant_input=true --set agent.plasticity.rows=constant)
    else
      config=configs/experiments/damage_onset_static_snn.yaml
      extra=(--set agent.constant_input=true)
    fi
    plasticagents train "$config" \
      --runs-dir results/adaptation/runs --name "$name" --set seed=$seed \
      --set trainer.generations=60 --set trainer.popsize=32 --set trainer.episodes=1 \
      --set trainer.threads=1 --set trainer.compile=true --set trainer.eval_every=10 \
      --set trainer.eval_episodes=4 --set trainer.fast_physics=true "${extra[@]}" \
      > "$logs/$name.log" 2>&1 && touch "$logs/$name.done"
  done
done
