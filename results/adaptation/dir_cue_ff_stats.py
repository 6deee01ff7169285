"""Paired statistics of a direction-task table that `plasticagents adaptation` does not print:
the absolute drop of the plastic SNN's post-reversal reward per step under each ablation (per
seed, mean ± 95% Student-t half-width), paired tests of the plastic SNN against every other
arm but the oracle (static SNN, LSTMs), and the freeze cost over the seeds whose plastic run
learned the task (post-reversal reward per step above LEARNED; a run that learned nothing
divides its cost in points by about 0). Reads DIR/summary.json, writes DIR/paired_stats.json.
PLASTIC names the plastic arm (default "plastic SNN"). Run from the repository root:
    python results/adaptation/dir_cue_ff_stats.py [DIR [PLASTIC]]
(DIR default results/adaptation/dir_cue_ff)
"""

import json
import sys
from pathlib import Path

import numpy as np
from paired import interval, paired  # results/adaptation/paired.py, beside this script

LEARNED = 0.1  # reward per step after the reversal; a goal-blind policy scores at most 0

out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "results/adaptation/dir_cue_ff")
summary = json.loads((out_dir / "summary.json").read_text())
agents = summary["agents"]
P = sys.argv[2] if len(sys.argv) > 2 else "plastic SNN"


def rest(agent: str) -> np.ndarray:
    return np.array(agents[agent]["reward_rest"]["per_seed"], dtype=float)


def returns(agent: str) -> np.ndarray:
    return np.array(agents[agent]["return"]["per_seed"], dtype=float)


intact = rest(P)
learned = intact > LEARNED
others = [a for a in agents if a not in (P, "oracle") and "[" not in a]
freeze_pp = np.array(summary["ablation_cost_pp"][f"{P} [freeze-at-onset]"]["per_seed"])
result = {
    "plastic_arm": P,
    "seeds": len(intact),
    "ablation_drop_reward_per_step": {
        ab: interval(intact - rest(f"{P} [{ab}]"))
        for ab in ("freeze-at-onset", "lesion", "reset-at-onset")
    },
    "plastic_minus": {
        other: {
            "reward_per_step_after_reversal": paired(intact, rest(other)),
            "return": paired(returns(P), returns(other)),
        }
        for other in others
    },
    "learned_threshold_reward_per_step": LEARNED,
    "learned_seeds": np.flatnonzero(learned).tolist(),
    "freeze_learned_seeds": {
        "drop_reward_per_step": interval((intact - rest(f"{P} [freeze-at-onset]"))[learned]),
        "cost_points": interval(freeze_pp[learned]),
    },
}
(out_dir / "paired_stats.json").write_text(json.dumps(result, indent=2) + "\n")
print(json.dumps(result, indent=2))
