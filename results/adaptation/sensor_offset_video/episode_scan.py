"""The episodes around the sensor-offset video (results/adaptation/README.md): for the homeostatic
SNN of training seed 3, reset seeds 1000-1005 with the velocity-sensor offset from step 300, the
mean reward per step before and after the onset and the 700-step return, with the plastic biases
free and frozen at the onset (the viewer's rollout: `--seed` is the reset seed itself). Writes
episode_scan.json beside this file. Run from the repository root:
    python results/adaptation/sensor_offset_video/episode_scan.py
"""

import glob
import json
from pathlib import Path

import numpy as np

from plasticagents.training.analysis.evaluate import load_policy
from plasticagents.training.analysis.viewer import record_episode
from plasticagents.training.record import Recorder

RUN = sorted(glob.glob("results/adaptation/runs/sensor-offset-homeofixed-snn-g300-s3-*"))[0]
OFFSET = [{"type": "offset_observation", "std": 0.5, "indices": list(range(8, 17)), "onset": 300}]

recorder = Recorder()  # command, commit, versions, machine, dates, wall time
loaded = load_policy(RUN)
rows = []
for seed in range(1000, 1006):
    for ablation in (None, "freeze-at-onset"):
        rec = record_episode(
            loaded, perturbations=OFFSET, seed=seed, max_steps=700, render=False,
            progress=False, ablation=ablation,
        )  # fmt: skip
        r = np.asarray(rec.rewards, dtype=float)
        rows.append(
            {
                "reset_seed": seed,
                "ablation": ablation,
                "reward_per_step_before": round(float(r[:300].mean()), 3),
                "reward_per_step_after": round(float(r[300:].mean()), 3),
                "return_700": round(float(r.sum()), 1),
            }
        )
        print(json.dumps(rows[-1]))
recorder.write(Path(__file__).with_name("episode_scan.json"), {"run": RUN, "episodes": rows})
