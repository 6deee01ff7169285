#!/usr/bin/env bash
# A pilot for the direction task's feed-forward plastic SNN: does a larger initial share of the
# fast weights (agent.plasticity.alpha_init, default 0.01), a wider search (trainer.stdev_init,
# default 0.03) or a neuromodulator that reads the input currents instead of the hidden
# layer's activity (modin: agent.plasticity.modulator_input=input, so the cue flag can gate
# the fast weights' learning directly) let ES find the memory sooner? Each variant in VARIANTS
# (default base alpha0.1 alpha0.3 stdev0.1) x seed (default seeds 0-3) trains the
# train_dir_cue_ff.sh arm for its first 100 generations (3.2M env steps), one core per run,
# PARALLEL (default 2) at a time; `base` is that arm unchanged, rerun here because these runs
# take the native C step (the 8-seed runs mostly took the compiled torch step, equal up to
# float rounding, which ES amplifies; modin takes the compiled torch step, which the C step
# does not cover). The gated variants (agent.plasticity.mode=gated, new in the session of
# 2026-12-01 evening) make the fast weights a memory slot the input opens: a sigmoid gate read
# from the input currents on the decay rule, hebb += G eta (pre post - hebb), kept while the
# gate is shut (up to a leak of G eta per step: 0.0018 for gated4, 0.0025 for gated6 at the
# start); alpha_init 0.1 (a shut gate keeps the larger share from adding noise);
# gated4: gate_bias -4, eta 0.1; gated6: gate_bias -6, eta 1 (a full write when open).
# gated4c and modc: gated4 and the modulated arm (base) with agent.constant_input=true, a
# presynaptic unit always at 1 whose fast weights are a bias the network writes, read the
# same way at every step (the other rows' fast weights act through the gait's inputs).
# gated4k4 (session of 2026-12-01, night): gated4 with 4 gates instead of 1
# (agent.plasticity.n_modulators=4), each neuron's gate its fan-out's mix of them, so the cue
# can open one group of neurons' slots while the gait keeps another's; gated4e3: gated4 with a
# stronger write (eta 0.3). gated4rec (session of 2026-12-02): gated4 with the recurrent
# synapses on (agent.recurrent=true, the dir_cue_g100 arms' layer): recurrent activity beside
# the gated fast weights. constrow (session of 2026-12-02, morning): modc with only the
# constant unit's row plastic (agent.plasticity.rows=constant), every other synapse static:
# the network's only memory is then a bias per neuron, written within the episode
# (hebb_j += eta M_j post_j) and read whatever the observation. static-const: its control,
# the static SNN (agent.plasticity=null) with the constant input, a trained bias and no fast
# weights (runs dir-cue-ff-static-const-...). constrow-compact (session of 2026-12-02,
# late morning): constrow after the change that keeps only the plastic rows' alpha (and
# per-synapse coefficients) as parameters, [k, N] instead of [I, N]: the same network and
# rule, but ES no longer searches the 19 x 64 alphas of the frozen rows (dead dimensions
# whose noise took a share of every ClipUp step). constrow-modin (session of 2026-12-02,
# afternoon): constrow with the neuromodulator reading the input currents
# (agent.plasticity.modulator_input=input) instead of the layer's activity, so that the cue
# flag and the direction it shows can set the sign of the bias's write directly (its 4 pilot
# runs took the compiled torch step; the C step covers an input-reading neuromodulator since
# the commit after them). GENERATIONS (default 100)
# sets trainer.generations; other than 100 it is in the run name (...-gG-sS). Run from the
# repository root:
#     [VARIANTS="..."] [GENERATIONS=...] bash results/adaptation/pilot_dir_cue_ff_plastic.sh [SEED...]
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export GENERATIONS="${GENERATIONS:-100}"
mkdir -p results/adaptation/logs
seeds=("${@:-0 1 2 3}")
jobs=()
for seed in ${seeds[@]}; do
  for variant in ${VARIANTS:-base alpha0.1 alpha0.3 stdev0.1}; do jobs+=("$variant $seed"); done
done
printf '%s\n' "${jobs[@]}" | xargs -P "${PARALLEL:-2}" -L 1 bash -c '
  variant=$0; seed=$1; R=results/adaptation/runs; budget=""
  [ "$GENERATIONS" != 100 ] && budget="-g$GENERATIONS"
  arm=plastic-$variant; [ "${variant#static}" != "$variant" ] && arm=$variant
  name="dir-cue-ff-${arm}${budget}-s${seed}"
  log="results/adaptation/logs/$name"
  [ -e "$log.done" ] && exit 0
  extra=()
  case $variant in
    alpha*) extra=(--set "agent.plasticity.alpha_init=${variant#alpha}") ;;
    stdev*) extra=(--set "trainer.stdev_init=${variant#stdev}") ;;
    modin) extra=(--set agent.plasticity.modulator_input=input) ;;
    modc) extra=(--set agent.constant_input=true) ;;
    constrow|constrow-compact)
      extra=(--set agent.constant_input=true --set agent.plasticity.rows=constant) ;;
    constrow-modin)
      extra=(--set agent.constant_input=true --set agent.plasticity.rows=constant
             --set agent.plasticity.modulator_input=input) ;;
    static-const) extra=(--set agent.constant_input=true --set agent.plasticity=null) ;;
    gated4|gated6|gated4c|gated4k4|gated4e3|gated4rec)
      extra=(--set agent.plasticity.mode=gated --set agent.plasticity.modulator_input=input
             --set agent.plasticity.alpha_init=0.1)
      [ $variant = gated4c ] && extra+=(--set agent.constant_input=true)
      [ $variant = gated4k4 ] && extra+=(--set agent.plasticity.n_modulators=4)
      [ $variant = gated4rec ] && extra+=(--set agent.recurrent=true)
      if [ $variant = gated4e3 ]; then
        extra+=(--set agent.plasticity.gate_bias=-4 --set agent.plasticity.eta=0.3)
      elif [ $variant != gated6 ]; then
        extra+=(--set agent.plasticity.gate_bias=-4 --set agent.plasticity.eta=0.1)
      else
        extra+=(--set agent.plasticity.gate_bias=-6 --set agent.plasticity.eta=1.0)
      fi ;;
  esac
  plasticagents train configs/experiments/dir_cue_plastic_snn.yaml --runs-dir $R \
    --name "$name" --set seed=$seed --set agent.recurrent=false \
    --set trainer.generations=$GENERATIONS "${extra[@]}" > "$log.log" 2>&1
  touch "$log.done"'
