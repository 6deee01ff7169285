"""Paired statistics of the direction task under held-out changes (results/adaptation/
dir_heldout/, made by evaluate_dir_heldout.sh): for every change, the plastic SNN against the
static SNN and the LSTM over the 8 training seeds, on the return under the change, the reward
per step after its onset, and the return lost against the same seed's return on the trained
task (results/adaptation/dir_cue_lstm_es/: the same runs on the same held-out episodes);
paired t-test and Wilcoxon p-values; and each arm's share of its trained-task return as the
ratio of the seed means (a per-seed ratio divides by about 0 for a run that never learned
the task). Writes results/adaptation/dir_heldout/paired_stats.json. From the repository root:
    python results/adaptation/dir_heldout_stats.py [HELDOUT TRAINED PLASTIC]
(defaults dir_heldout, dir_cue_lstm_es, "plastic SNN"; the gated arm's held-out changes:
    python results/adaptation/dir_heldout_stats.py dir_heldout_gated dir_cue_gated \
        "gated plastic SNN")
"""

import json
import sys
from pathlib import Path

import numpy as np
from paired import paired  # results/adaptation/paired.py, beside this script

ROOT = Path("results/adaptation")
HELDOUT, TRAINED, P = "dir_heldout", "dir_cue_lstm_es", "plastic SNN"
if len(sys.argv) > 1:
    HELDOUT, TRAINED, P = sys.argv[1:4]
ARMS = (P, "static SNN", "LSTM (ES)", "oracle")
trained_summary = json.loads((ROOT / TRAINED / "summary.json").read_text())
trained = trained_summary["agents"]


def per_seed(agents: dict, arm: str, key: str) -> np.ndarray:
    return np.array(agents[arm][key]["per_seed"], dtype=float)


result = {}
for d in sorted(p for p in (ROOT / HELDOUT).iterdir() if (p / "summary.json").exists()):
    summary = json.loads((d / "summary.json").read_text())
    # seed i of every arm is the same run, on the same held-out episodes, in both analyses
    same = ("eval_seed", "episodes_per_seed")
    assert all(summary[k] == trained_summary[k] for k in same), f"{d}: other episodes"
    runs = {a: summary["runs"][a] for a in ARMS}
    assert runs == {a: trained_summary["runs"][a] for a in ARMS}, f"{d}: other runs"
    agents = summary["agents"]
    ret = {a: per_seed(agents, a, "return") for a in ARMS}
    rest = {a: per_seed(agents, a, "reward_rest") for a in ARMS}
    lost = {a: per_seed(trained, a, "return") - ret[a] for a in ARMS}
    result[d.name] = {
        "share_of_trained_return_pct": {
            a: float(100 * ret[a].mean() / per_seed(trained, a, "return").mean()) for a in ARMS
        },
        "plastic_minus": {
            other: {
                "return": paired(ret[P], ret[other]),
                "reward_per_step_after_onset": paired(rest[P], rest[other]),
                "return_lost_vs_trained_task": paired(lost[P], lost[other]),
            }
            for other in ("static SNN", "LSTM (ES)")
        },
    }
out = ROOT / HELDOUT / "paired_stats.json"
out.write_text(json.dumps(result, indent=2) + "\n")
for change, r in result.items():
    share = ", ".join(f"{a} {v:.0f}%" for a, v in r["share_of_trained_return_pct"].items())
    print(f"{change}: {share}")
    for other, p in r["plastic_minus"].items():
        print(
            f"  {P} − {other}: return {p['return']['mean']:.0f} ± {p['return']['half']:.0f}"
            f" (p {p['return']['paired_t_test_p']:.3f}); lost"
            f" {p['return_lost_vs_trained_task']['mean']:.0f} ±"
            f" {p['return_lost_vs_trained_task']['half']:.0f}"
            f" (p {p['return_lost_vs_trained_task']['paired_t_test_p']:.3f},"
            f" Wilcoxon {p['return_lost_vs_trained_task']['wilcoxon_p']:.3f})"
        )
