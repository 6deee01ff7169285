"""Paired learning speed of two ES arms from their committed metrics.csv files: the population's
mean fitness averaged over the 10 generations up to each of GENERATIONS, the first arm minus
the second, paired by training seed (mean ± 95% Student-t half-width, paired t-test and
Wilcoxon p, seeds ahead). Writes OUT (JSON). From the repository root:
    python results/adaptation/fitness_pairs.py OUT PREFIX_A PREFIX_B [GENERATION...]
with the runs results/adaptation/runs/PREFIX-sS-* for S in SEEDS (default 0-11) and the
generations 100 150 200 250 299 by default, e.g. the plastic bias against its control:
    python results/adaptation/fitness_pairs.py \
        results/adaptation/dir_cue_constrow_12seeds/learning_speed.json \
        dir-cue-ff-plastic-constrow-g300 dir-cue-ff-static-const-g300
"""

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
from paired import paired  # results/adaptation/paired.py, beside this script

RUNS = Path("results/adaptation/runs")
out, prefix_a, prefix_b = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
generations = [int(g) for g in sys.argv[4:]] or [100, 150, 200, 250, 299]
seeds = [int(s) for s in os.environ.get("SEEDS", " ".join(map(str, range(12)))).split()]


def metrics(prefix: str, seed: int) -> list[dict]:
    found = sorted(RUNS.glob(f"{prefix}-s{seed}-*"))
    if len(found) != 1:
        sys.exit(f"expected one run {RUNS}/{prefix}-s{seed}-*, found {[f.name for f in found]}")
    rows = list(csv.DictReader(open(found[0] / "metrics.csv")))
    if [int(r["generation"]) for r in rows] != list(range(len(rows))):
        sys.exit(f"{found[0]}/metrics.csv: the generations are not 0, 1, 2, ... in order")
    return rows


def window_mean(rows: list[dict], g: int) -> float:
    return float(np.mean([float(r["mean_fitness"]) for r in rows[max(0, g - 9) : g + 1]]))


runs = {p: [metrics(p, s) for s in seeds] for p in (prefix_a, prefix_b)}
for g in generations:  # the budgets compared are the same in every run
    steps = {rows[g]["env_steps"] for arm in runs.values() for rows in arm}
    if len(steps) != 1:
        sys.exit(f"generation {g}: the runs' env steps differ ({sorted(steps)})")
result = {
    "a": prefix_a,
    "b": prefix_b,
    "seeds": seeds,
    "measure": "population mean fitness, mean over the 10 generations up to g; a - b by seed",
    "at_generation": {
        str(g): {
            "env_steps": float(runs[prefix_a][0][g]["env_steps"]),
            **paired(
                np.array([window_mean(r, g) for r in runs[prefix_a]]),
                np.array([window_mean(r, g) for r in runs[prefix_b]]),
            ),
        }
        for g in generations
    },
}
out.write_text(json.dumps(result, indent=2) + "\n")
print(f"wrote {out}")
