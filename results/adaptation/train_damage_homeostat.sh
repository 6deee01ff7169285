#!/usr/bin/env bash
# The damage task (issue 20) for the sensor task's homeostatic SNN (session of 2026-12-03):
# configs/experiments/damage_onset_ARM_snn.yaml for ARM in ARMS (default "homeofixed ffstatic":
# the feed-forward SNN of 64 LIF with the built-in homeostat on its constant row, and the same
# network with a trained fixed bias), each seed in SEEDS (default "0 1 2"), GENERATIONS (default
# 300) x 32 individuals x 1 episode of 1000 steps (9.6M env steps), fast physics and the native
# C step (which covers the abcd rule since 2026-12-03), one core per run, PARALLEL (default 2)
# at a time: train_sensor_offset.sh with TASK=damage_onset. Runs are
# results/adaptation/runs/damage-onset-ARM-snn-gG-sS. Run from the repository root:
#     [ARMS=...] [SEEDS=...] [GENERATIONS=...] bash results/adaptation/train_damage_homeostat.sh
set -euo pipefail
TASK=damage_onset ARMS="${ARMS:-homeofixed ffstatic}" \
  exec bash "$(dirname "$0")/train_sensor_offset.sh"
