"""Per-seed statistics the adaptation stats scripts share (dir_cue_ff_stats.py,
dir_heldout_stats.py): a mean with its 95% Student-t half-width, and a paired comparison of
two arms over the same training seeds."""

import numpy as np
from scipy import stats


def interval(d: np.ndarray) -> dict:
    """``d``'s per-seed values, mean and 95% Student-t half-width."""
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return {"per_seed": d.round(4).tolist(), "mean": float(d.mean()), "half": float(half)}


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    """``a - b`` over the seeds, with the paired t-test's and Wilcoxon's p and on how many
    seeds ``a`` (the plastic arm) is ahead."""
    return {
        **interval(a - b),
        "paired_t_test_p": float(stats.ttest_rel(a, b).pvalue),
        "wilcoxon_p": float(stats.wilcoxon(a, b).pvalue),
        "plastic_ahead_on": int((a > b).sum()),
        "seeds": len(a),
    }
