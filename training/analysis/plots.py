"""Plots of training runs (matplotlib, written as PNG; headless-safe).

- :func:`plot_learning_curves`: runs' ``metrics.csv`` against env steps (``plasticagents
  plot``; the ES trainer also draws its own ``learning_curve.png`` when it finishes);
- :func:`group_seed_evaluations`: the seeds of one experiment merged, for mean / band plots;
- :func:`plot_return_ratios` and :func:`plot_onset_curves`: the figures of a robustness
  report (:mod:`~plasticagents.training.analysis.robustness`).

Each plotting function selects matplotlib's non-interactive ``Agg`` backend before drawing
(so it works without a display, in CI and on clusters), writes one PNG and closes its
figure; it returns the path written (PNG unless a path's suffix names another format).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "group_seed_evaluations",
    "plot_learning_curves",
    "plot_onset_curves",
    "plot_return_ratios",
]


def plot_learning_curves(
    runs: Sequence[str | Path], out: str | Path, title: str = "", group: bool = False
) -> Path:
    """Training curves against env steps, one colour per run: for ES runs the population's
    mean fitness (thin line: best individual), for the gradient trainers the mean return of
    each iteration's episodes, and dashed with markers the periodic evaluation return.

    ``group=True`` merges runs whose configs differ only in seed and name (the seeds of one
    experiment; the label is their names' common prefix): their
    evaluation returns are drawn as the mean over seeds with a min-max band, at the env-step
    counts all of them reached.

    Runs without any metrics row yet are skipped. The image format follows ``out``'s suffix.
    Returns ``out``.

    Raises:
        FileNotFoundError: a path that is not a run directory.
        ValueError: none of the runs has a metrics row yet, or (``group=True``) the seeds of a
            group share no evaluated env-step count.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from plasticagents.training.run import RunDir

    loaded = []
    for path in runs:
        run = RunDir.open(path)
        rows = run.read_metrics()
        if rows:
            loaded.append(({"name": run.path.name, **run.config_dict()}, rows))
    if not loaded:
        raise ValueError(f"none of the runs {[str(r) for r in runs]} has any metrics yet")
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    if group:
        _plot_grouped(ax, loaded)
    else:
        for i, (config, rows) in enumerate(loaded):
            _plot_run(ax, f"C{i}", config["name"], rows)
    es = any("mean_fitness" in rows[0] for _, rows in loaded)
    ax.set_xlabel("env steps (millions)")
    ax.set_ylabel("episode return")
    default = "ES training (thin line: best individual)" if es else "training"
    ax.set_title(title or (f"{default}, mean and range over seeds" if group else default))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out


def _evaluations(rows: list[dict[str, str]]) -> dict[int, float]:
    """``{env_steps: eval_return}`` of the metrics rows that have an evaluation (the column is
    empty in the others)."""
    return {int(r["env_steps"]): float(r["eval_return"]) for r in rows if r.get("eval_return")}


def _plot_run(ax: Any, color: str, label: str, rows: list[dict[str, str]]) -> None:
    """One run's curves on ``ax`` in ``color`` against env steps (millions): ES rows (with
    ``mean_fitness``) draw the population mean and, thin, the best individual; other
    trainers' rows draw the training episodes' mean return; evaluations, where there are
    any, are dashed with markers."""
    steps = [int(r["env_steps"]) / 1e6 for r in rows]
    if "mean_fitness" in rows[0]:  # ES: the population, and its best individual
        ax.plot(
            steps,
            [float(r["mean_fitness"]) for r in rows],
            color=color,
            lw=1.2,
            label=f"{label}: population mean",
        )
        ax.plot(steps, [float(r["best_fitness"]) for r in rows], color=color, lw=0.6, alpha=0.5)
        eval_label = f"{label}: centre evaluation"
    else:  # the gradient trainers: the iteration's training episodes
        ax.plot(
            steps,
            [float(r["mean_return"]) for r in rows],
            color=color,
            lw=1.0,
            alpha=0.6,
            label=f"{label}: training episodes",
        )
        eval_label = f"{label}: evaluation"
    evals = _evaluations(rows)
    if evals:
        xs = [s / 1e6 for s in evals]
        ax.plot(xs, list(evals.values()), "o--", color=color, ms=3, lw=0.8, label=eval_label)


def group_seed_evaluations(
    loaded: Sequence[tuple[dict[str, Any], list[dict[str, str]]]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Group runs, given as ``(config, metrics rows)``, whose configs differ only in ``seed``
    and ``name`` (the seeds of one experiment), labelled by their names' common prefix (less a
    trailing ``-s`` / ``-seed``). Per group: the env-step counts every member evaluated at, and
    the evaluation returns there, one row per member.

    Raises:
        ValueError: a group whose members share no evaluated env-step count.

    Example:
        >>> def rows(*points):
        ...     return [{"env_steps": str(s), "eval_return": str(r)} for s, r in points]
        >>> loaded = [
        ...     ({"name": "cheetah-s0", "seed": 0, "lr": 0.1}, rows((100, 1.0), (200, 2.0))),
        ...     ({"name": "cheetah-s1", "seed": 1, "lr": 0.1}, rows((100, 3.0), (200, 4.0))),
        ...     ({"name": "cheetah-big", "seed": 0, "lr": 0.5}, rows((100, 9.0))),
        ... ]
        >>> groups = group_seed_evaluations(loaded)
        >>> sorted(groups)
        ['cheetah', 'cheetah-big']
        >>> steps, values = groups["cheetah"]
        >>> steps.tolist(), values.tolist()
        ([100, 200], [[1.0, 2.0], [3.0, 4.0]])
    """
    import json
    import os
    import re

    by_config: dict[str, list[tuple[str, dict[int, float]]]] = {}
    for config, rows in loaded:
        key = json.dumps(
            {k: v for k, v in config.items() if k not in ("seed", "name")},
            sort_keys=True,
            default=str,
        )
        by_config.setdefault(key, []).append((str(config.get("name", "")), _evaluations(rows)))
    groups: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for members in by_config.values():
        names = [name for name, _ in members]
        prefix = os.path.commonprefix(names) if len(names) > 1 else names[0]  # noqa: RUF071
        label = re.sub(r"[-_ ]+(s|seed)?$", "", prefix) or names[0]
        if label in groups:
            label = f"{label} ({len(groups)})"
        evals = [e for _, e in members]
        common = sorted(set.intersection(*(set(e) for e in evals)))
        if not common:
            raise ValueError(f"the runs {names} share no evaluated env-step count to plot")
        groups[label] = (np.array(common), np.array([[e[s] for s in common] for e in evals]))
    return groups


def _plot_grouped(ax: Any, loaded: list[tuple[dict[str, Any], list[dict[str, str]]]]) -> None:
    """One line per group of :func:`group_seed_evaluations`: mean evaluation return over seeds,
    with the min-max band of the seeds shaded."""
    for i, (label, (steps, values)) in enumerate(group_seed_evaluations(loaded).items()):
        xs, n = steps / 1e6, len(values)
        ax.plot(
            xs, values.mean(0), color=f"C{i}", lw=1.4, label=f"{label} ({n} seed{'s' * (n > 1)})"
        )
        ax.fill_between(xs, values.min(0), values.max(0), color=f"C{i}", alpha=0.2, lw=0)


def _float(value: Any) -> float:
    """A CSV cell as a float, ``nan`` for an empty or missing one."""
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

    from plasticagents.training.analysis.robustness import mean_ci, summarise

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


def plot_adaptation(
    curves: dict[str, np.ndarray],
    weights: dict[str, np.ndarray],
    window: int,
    path: str | Path,
) -> Path:
    """The adaptation figure: mean reward per step around the onset (step 0), one line per
    agent and ablation (ablations dashed), smoothed by a ``window // 5``-step moving average;
    below it, when given, the fast weights' norm ``||alpha * hebb||`` around the same onset
    with the change (solid, in the arm's colour) and without it (dashed). Curves span
    ``-2 window .. 4 window`` steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if weights else 1
    fig, axes = plt.subplots(
        panels, 1, figsize=(7.0, 3.4 * panels), dpi=110, squeeze=False, sharex=True
    )
    k = max(1, window // 5)
    ax = axes[0, 0]
    colours: dict[str, str] = {}
    for agent, y in curves.items():
        base = agent.split(" [")[0]
        colour = colours.setdefault(base, f"C{len(colours)}")
        smooth = np.convolve(y, np.ones(k) / k, mode="valid")
        steps = np.arange(len(smooth)) - 2 * window + (k - 1)
        ax.plot(
            steps,
            smooth,
            color=colour,
            lw=1.3,
            ls="--" if " [" in agent else "-",
            alpha=0.8 if " [" in agent else 1.0,
            label=agent,
        )
    ax.axvline(0, color="k", lw=0.8, ls=":")
    ax.set_ylabel("reward per step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    if weights:
        ax = axes[1, 0]
        for i, (label, y) in enumerate(weights.items()):
            steps = np.arange(len(y)) - 2 * window
            base = label.rsplit(" (", 1)[0]  # "<arm> (changed)" / "<arm> (unchanged)"
            colour = colours.get(base, f"C{len(colours) + i}")
            style = "--" if label.endswith("(unchanged)") else "-"
            ax.plot(steps, y, color=colour, lw=1.2, ls=style, label=label)
        ax.axvline(0, color="k", lw=0.8, ls=":")
        ax.set_ylabel("||alpha * hebb||")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    axes[-1, 0].set_xlabel("steps from the onset")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
