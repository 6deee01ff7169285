"""Learning curves of the direction task's ES arms from their committed metrics.csv files:
the population's mean fitness against env steps, median over the 8 training seeds with the
range of the middle 6 (2nd to 7th of 8) shaded, for the feed-forward plastic SNN (600
generations, dir-cue-ff-plastic-snn-g600-sS: its first 300 are the 300-generation runs'), the
static SNN and the LSTM (300 generations each) and the oracle. Writes
results/adaptation/dir_cue_ff_g600/learning_curves.png. From the repository root:
    python results/adaptation/plot_dir_cue_curves.py [OUT LABEL=PREFIX...]
(OUT and the arms as label=run-name-prefix pairs replace the defaults; the gated table's:
    python results/adaptation/plot_dir_cue_curves.py \
        results/adaptation/dir_cue_gated/learning_curves.png \
        "gated plastic SNN=dir-cue-ff-plastic-gated4" \
        "plastic SNN (modulated)=dir-cue-ff-plastic-snn" \
        "static SNN=dir-cue-ff-static-snn" "LSTM, 20 units=dir-cue-lstm20-es" \
        "oracle (sees the direction)=dir-cue-ff-oracle-snn")
SEEDS (default "0 1 2 3 4 5 6 7") chooses the training seeds.
"""

import csv
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

RUNS = Path("results/adaptation/runs")
ARMS = {  # label: run-name prefix (one run per seed)
    "plastic SNN (feed-forward)": "dir-cue-ff-plastic-snn-g600",
    "static SNN (feed-forward)": "dir-cue-ff-static-snn",
    "LSTM, 20 units": "dir-cue-lstm20-es",
    "oracle (sees the direction)": "dir-cue-ff-oracle-snn",
}
OUT = Path("results/adaptation/dir_cue_ff_g600/learning_curves.png")
if len(sys.argv) > 1:
    OUT = Path(sys.argv[1])
    ARMS = dict(pair.split("=", 1) for pair in sys.argv[2:])


def curve(prefix: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    (run,) = RUNS.glob(f"{prefix}-s{seed}-*")
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    steps = np.array([float(r["env_steps"]) for r in rows])
    return steps, np.array([float(r["mean_fitness"]) for r in rows])


SEEDS = [int(s) for s in os.environ.get("SEEDS", "0 1 2 3 4 5 6 7").split()]
fig, ax = plt.subplots(figsize=(7, 4))
for label, prefix in ARMS.items():
    curves = [curve(prefix, s) for s in SEEDS]
    n = min(len(c[0]) for c in curves)
    steps = curves[0][0][:n] / 1e6
    values = np.sort(np.stack([c[1][:n] for c in curves]), axis=0)
    (line,) = ax.plot(steps, np.median(values, axis=0), label=label)
    ax.fill_between(steps, values[1], values[-2], color=line.get_color(), alpha=0.15, lw=0)
ax.axvline(9.6, color="0.5", ls=":", lw=1)
ax.set_xlabel("env steps (millions)")
ax.set_ylabel("population mean fitness (return)")
ax.set_title(
    f"Direction task, ES (PGPE, popsize 32): median of {len(SEEDS)} seeds, "
    f"2nd-{len(SEEDS) - 1}th shaded",
    size=9,
)
ax.legend(fontsize=8, loc="upper left")
fig.tight_layout()
fig.savefig(OUT, dpi=120)
print(f"wrote {OUT}")
