"""Paired statistics of the direction task's feed-forward table that `plasticagents adaptation`
does not print: the absolute drop of the plastic SNN's post-reversal reward per step under each
ablation (per seed, mean ± 95% Student-t half-width), paired tests of plastic against static,
and the freeze cost without seed 4 (a run that never learned the task). Reads
results/adaptation/dir_cue_ff/summary.json, writes paired_stats.json beside it. Run from the
repository root: python results/adaptation/dir_cue_ff_stats.py"""

import json
from pathlib import Path

import numpy as np
from scipy import stats

out_dir = Path("results/adaptation/dir_cue_ff")
summary = json.loads((out_dir / "summary.json").read_text())
agents = summary["agents"]


def rest(agent: str) -> np.ndarray:
    return np.array(agents[agent]["reward_rest"]["per_seed"], dtype=float)


def interval(d: np.ndarray) -> dict:
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return {"per_seed": d.round(4).tolist(), "mean": float(d.mean()), "half": float(half)}


intact = rest("plastic SNN")
result = {
    "ablation_drop_reward_per_step": {
        ab: interval(intact - rest(f"plastic SNN [{ab}]"))
        for ab in ("freeze-at-onset", "lesion", "reset-at-onset")
    },
    "plastic_minus_static_reward_per_step": interval(intact - rest("static SNN")),
    "paired_t_test_p": float(stats.ttest_rel(intact, rest("static SNN")).pvalue),
    "wilcoxon_p": float(stats.wilcoxon(intact, rest("static SNN")).pvalue),
    # seed 4's plastic run never learned the task: its cost in points divides by ~0
    "freeze_seeds_0_to_3": {
        "drop_reward_per_step": interval((intact - rest("plastic SNN [freeze-at-onset]"))[:4]),
        "cost_points": interval(
            np.array(summary["ablation_cost_pp"]["plastic SNN [freeze-at-onset]"]["per_seed"])[:4]
        ),
    },
}
(out_dir / "paired_stats.json").write_text(json.dumps(result, indent=2) + "\n")
print(json.dumps(result, indent=2))
