"""Paired tests of the plastic SNN against every other arm but the oracle (return, reward
per step after the onset and, where the table has it, the share of the nominal return kept,
over the training seeds: mean ± 95% Student-t half-width, paired
t-test and Wilcoxon p, seeds ahead), for tables whose tasks have no "learned" threshold (the
velocity-switch and damage-onset tasks; dir_cue_ff_stats.py does the direction task). Reads
each DIR/summary.json, writes DIR/paired_stats.json. Run from the repository root:
    [PLASTIC_ARM="..."] python results/adaptation/arms_stats.py DIR [DIR ...]
PLASTIC_ARM (default "plastic SNN") names the arm the others are paired against.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
from paired import paired  # results/adaptation/paired.py, beside this script

P = os.environ.get("PLASTIC_ARM", "plastic SNN")


def per_seed(agents: dict, agent: str, key: str) -> np.ndarray:
    return np.array(agents[agent][key]["per_seed"], dtype=float)


for out_dir in map(Path, sys.argv[1:]):
    agents = json.loads((out_dir / "summary.json").read_text())["agents"]

    others = [a for a in agents if a not in (P, "oracle") and "[" not in a]
    result = {
        "plastic_arm": P,
        "seeds": len(per_seed(agents, P, "return")),
        "plastic_minus": {
            other: {
                "reward_per_step_after_onset": paired(
                    per_seed(agents, P, "reward_rest"), per_seed(agents, other, "reward_rest")
                ),
                "return": paired(per_seed(agents, P, "return"), per_seed(agents, other, "return")),
                **(
                    {
                        "return_kept_pct": paired(
                            per_seed(agents, P, "return_kept_pct"),
                            per_seed(agents, other, "return_kept_pct"),
                        )
                    }
                    if "return_kept_pct" in agents[P] and "return_kept_pct" in agents[other]
                    else {}
                ),
            }
            for other in others
        },
    }
    (out_dir / "paired_stats.json").write_text(json.dumps(result, indent=2) + "\n")
    print(out_dir, json.dumps(result["plastic_minus"], indent=1))
