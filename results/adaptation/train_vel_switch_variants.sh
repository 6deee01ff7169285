#!/usr/bin/env bash
# What else was tried for the plastic arm (the main arms' budget): the modulated Hebbian
# rule's fast weights only grow through an episode (its term pre * post is never negative and
# has no decay), so a self-normalising rule, modulated Oja, which can move the fast weights
# both ways. Seeds as arguments (default 0); run from the repository root:
#     bash results/adaptation/train_vel_switch_variants.sh 0 1 2
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
for seed in "${@:-0}"; do
name=vel-switch-plastic-oja-s$seed
[ -e "results/adaptation/logs/$name.done" ] && continue
plasticagents train configs/experiments/vel_switch_plastic_snn.yaml \
  --runs-dir results/adaptation/runs --name "$name" --set seed=$seed \
  --set agent.plasticity.rule=oja \
  --set trainer.generations=60 --set trainer.popsize=32 --set trainer.episodes=1 \
  --set trainer.threads=1 --set trainer.compile=false --set trainer.eval_every=10 \
  --set trainer.eval_episodes=4 > "results/adaptation/logs/$name.log" 2>&1
touch "results/adaptation/logs/$name.done"
done
