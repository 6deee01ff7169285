"""Plots of training runs (matplotlib, written as PNG; headless-safe)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["plot_learning_curves"]


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
