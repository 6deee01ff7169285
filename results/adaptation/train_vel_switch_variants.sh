#!/usr/bin/env bash
# What else was tried for the plastic arm, at the main arms' budget. The modulated Hebbian
# rule's fast weights only grow through an episode (its term pre * post is never negative and
# has no decay), so:
#   oja          a self-normalising rule, modulated Oja, which can move the fast weights both ways;
#   retroactive  SpikePropamine's own rule: an eligibility trace E <- (1 - eta) E + eta pre post,
#                turned into weight change by the signed modulation, hebb <- hebb + M E.
# Usage, from the repository root (seeds default to 0; PARALLEL runs at a time, default 1):
#     bash results/adaptation/train_vel_switch_variants.sh oja 0
#     PARALLEL=2 bash results/adaptation/train_vel_switch_variants.sh retroactive 0 1 2
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
variant=${1:?variant: oja or retroactive}; shift
case $variant in
  oja) change=(--set agent.plasticity.rule=oja) ;;
  retroactive) change=(--set agent.plasticity.mode=retroactive) ;;
  *) echo "unknown variant '$variant'; valid choices: oja, retroactive" >&2; exit 2 ;;
esac
printf '%s\n' "${@:-0}" | xargs -P "${PARALLEL:-1}" -I{} bash -c '
  seed={}; name="vel-switch-plastic-'"$variant"'-s$seed"
  [ -e "results/adaptation/logs/$name.done" ] && exit 0
  plasticagents train configs/experiments/vel_switch_plastic_snn.yaml \
    --runs-dir results/adaptation/runs --name "$name" --set seed=$seed '"${change[*]}"' \
    --set trainer.generations=60 --set trainer.popsize=32 --set trainer.episodes=1 \
    --set trainer.threads=1 --set trainer.compile=false --set trainer.eval_every=10 \
    --set trainer.eval_episodes=4 > "results/adaptation/logs/$name.log" 2>&1 \
    && touch "results/adaptation/logs/$name.done"'
