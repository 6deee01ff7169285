"""Do the gated plastic SNN's trained gates open on the cue? For each seed's run of
train_dir_cue_ff_gated.sh, three episodes (seeds 1000-1002, no rendering) record the gate
``sigmoid(input traces @ w_mod + b_mod)`` at every env step (the viewer's ``modulation``,
read after the step's last simulation step); the gate's mean over the cue steps (the 10 steps
from the start and from each reversal, when the direction is shown) is compared with its mean
over the other steps, per seed. Writes results/adaptation/dir_cue_gated/gate_probe.json. From
the repository root:
    python results/adaptation/gate_probe.py
"""

import json
from pathlib import Path

import numpy as np

from plasticagents.training.analysis.evaluate import load_policy
from plasticagents.training.analysis.viewer import record_episode

RUNS = Path("results/adaptation/runs")
CUE = 10  # env kwargs cue_steps of the direction task
seeds = {}
for s in range(8):
    (run,) = RUNS.glob(f"dir-cue-ff-plastic-gated4-s{s}-*")
    loaded = load_policy(run)
    cue_means, other_means = [], []
    for episode_seed in (1000, 1001, 1002):
        rec = record_episode(loaded, seed=episode_seed, render=False, progress=False)
        gate = rec.modulation[:, 0]
        cue = np.zeros(len(gate), dtype=bool)
        for t0 in [0, *rec.switches]:
            cue[t0 : t0 + CUE] = True
        cue_means.append(float(gate[cue].mean()))
        other_means.append(float(gate[~cue].mean()))
    seeds[s] = {
        "run": str(run),
        "gate_cue_steps": float(np.mean(cue_means)),
        "gate_other_steps": float(np.mean(other_means)),
        "ratio": float(np.mean(cue_means) / np.mean(other_means)),
    }
    print(s, {k: round(v, 4) for k, v in seeds[s].items() if k != "run"})
out = Path("results/adaptation/dir_cue_gated/gate_probe.json")
out.write_text(json.dumps({"episode_seeds": [1000, 1001, 1002], "per_seed": seeds}, indent=1))
print(f"wrote {out}")
