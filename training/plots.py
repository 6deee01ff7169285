"""Plots of training runs (matplotlib, written as PNG; headless-safe)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_learning_curves", "plot_onset_curves", "plot_return_ratios"]


def plot_learning_curves(runs: Sequence[str | Path], out: str | Path, title: str = "") -> Path:
    """Mean / best population fitness and centre evaluation return vs env steps, per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from plasticagents.training.run import RunDir

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for i, path in enumerate(runs):
        run = RunDir.open(path)
        rows = run.read_metrics()
        if not rows:
            continue
        color = f"C{i}"
        label = run.config_dict().get("name", run.path.name)
        steps = [int(r["env_steps"]) / 1e6 for r in rows]
        ax.plot(
            steps,
            [float(r["mean_fitness"]) for r in rows],
            color=color,
            lw=1.2,
            label=f"{label}: population mean",
        )
        ax.plot(steps, [float(r["best_fitness"]) for r in rows], color=color, lw=0.6, alpha=0.5)
        evals = [
            (s, float(r["eval_return"]))
            for s, r in zip(steps, rows, strict=True)
            if r["eval_return"]
        ]
        if evals:
            ax.plot(
                *zip(*evals, strict=True),
                "o--",
                color=color,
                ms=3,
                lw=0.8,
                label=f"{label}: centre evaluation",
            )
    ax.set_xlabel("env steps (millions)")
    ax.set_ylabel("episode return")
    ax.set_title(title or "ES training (thin line: best individual)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def plot_return_ratios(rows: Sequence[dict[str, Any]], out_dir: str | Path) -> Path:
    """``return_ratio.png``: mean return / nominal return (95% CI bars) per condition and agent,
    and, for every swept suite entry, the ratio vs the swept value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from plasticagents.training.robustness import mean_ci, summarise

    agents, conditions, stats = summarise(rows, "return_ratio")
    swept = list(dict.fromkeys(r["perturbation"] for r in rows if r["param"]))
    n_cols = max(1, min(5, len(swept)))
    n_rows = math.ceil(len(swept) / n_cols)
    fig = plt.figure(
        figsize=(max(8.0, 0.35 * len(conditions) * max(1, len(agents))), 4.4 + 3.4 * n_rows),
        dpi=110,
    )
    grid = fig.add_gridspec(1 + n_rows, n_cols, height_ratios=[1.3] + [1.0] * n_rows)
    bar_ax = fig.add_subplot(grid[0, :])
    sweep_axes = [fig.add_subplot(grid[1 + k // n_cols, k % n_cols]) for k in range(len(swept))]
    ax = bar_ax
    width = 0.8 / max(1, len(agents))
    x = np.arange(len(conditions))
    for i, agent in enumerate(agents):
        means = [stats.get((c, agent), (math.nan,))[0] for c in conditions]
        halves = [stats.get((c, agent), (0, 0))[1] for c in conditions]
        ax.bar(
            x + (i - (len(agents) - 1) / 2) * width,
            means,
            width,
            yerr=np.nan_to_num(halves),
            capsize=2,
            label=agent,
            color=f"C{i}",
        )
    ax.axhline(1.0, color="k", lw=0.6, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels(conditions, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("return / nominal return")
    ax.set_title("return ratio per condition (95% CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    for ax, entry in zip(sweep_axes, swept, strict=True):
        mine = [r for r in rows if r["perturbation"] == entry]
        onsets = list(dict.fromkeys(str(r["onset"]) for r in mine))
        for i, agent in enumerate(agents):
            for j, onset in enumerate(onsets):
                pts: dict[float, list[float]] = {}
                for r in mine:
                    if r["agent"] == agent and str(r["onset"]) == onset:
                        pts.setdefault(_float(r["value"]), []).append(_float(r["return_ratio"]))
                xs = sorted(pts)
                cis = [mean_ci(pts[v]) for v in xs]
                ax.errorbar(
                    xs,
                    [c[0] for c in cis],
                    yerr=np.nan_to_num([c[1] for c in cis]),
                    color=f"C{i}",
                    ls=["-", "--", ":", "-."][j % 4],
                    marker="o",
                    ms=3,
                    capsize=2,
                    label=agent + (f" (onset {onset})" if len(onsets) > 1 else ""),
                )
        ax.axhline(1.0, color="k", lw=0.6, ls="--")
        ax.set_xlabel(mine[0]["param"])
        ax.set_title(f"{entry}: ratio vs {mine[0]['param']}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    path = Path(out_dir) / "return_ratio.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_onset_curves(
    curves: dict[str, dict[str, np.ndarray]], window: int, path: str | Path
) -> Path:
    """Mean per-step reward around each mid-episode onset, per agent (one panel per condition),
    smoothed by a ``window // 5``-step moving average; the onset is at step 0."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = list(dict.fromkeys(c for per in curves.values() for c in per))
    cols = min(3, len(conditions))
    rows_n = math.ceil(len(conditions) / cols)
    fig, axes = plt.subplots(
        rows_n, cols, figsize=(4.2 * cols, 3.2 * rows_n), dpi=110, squeeze=False
    )
    k = max(1, window // 5)
    for ax, cond in zip(axes.flat, conditions, strict=False):
        for i, (agent, per) in enumerate(curves.items()):
            if cond not in per:
                continue
            y = np.convolve(per[cond], np.ones(k) / k, mode="valid")  # NaN where uncovered
            steps = np.arange(len(y)) - 2 * window + (k - 1)
            ax.plot(steps, y, color=f"C{i}", lw=1.2, label=agent)
        ax.axvline(0, color="k", lw=0.8, ls="--")
        ax.set_title(cond, fontsize=9)
        ax.set_xlabel("steps from onset")
        ax.set_ylabel("reward per step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(conditions) :]:
        ax.set_visible(False)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
