"""Sweeps: one config over a grid of overrides x seeds -> CSV, report, plots.

``plasticagents sweep CONFIG --over model.excitatory_fraction=1.0,0.8,0.5,0.2 --seeds 0,1,2
--out DIR`` trains every combination (``--over`` may repeat: the grid is their product) in
``DIR/runs/<key=value,...>-s<seed>`` and writes:

- ``DIR/sweep.csv``: one row per run (the swept values, seed, run directory, then what the
  run reported: for classifiers test accuracy, spikes and synaptic operations per sample,
  memory capacity and E for STDP runs, median epoch time; for RL runs ``eval_return``, the
  best checkpoint's mean return on held-out episodes);
- ``DIR/noise.csv``: one row per run x noise condition (``trainer.input_noise`` /
  ``weight_noise``: accuracy and Van Rossum distance);
- ``DIR/report.md``: mean ± 95% CI over seeds per grid point;
- ``DIR/sweep.png`` (metrics against the first swept key) and ``DIR/noise.png``;
- ``DIR/record.json``: the equivalent command line with every ``--over`` and ``--set``,
  commit, package versions, machine, dates and wall time, and the rows
  (:mod:`~plasticagents.training.record`), so two sweeps of one config with different
  overrides can always be told apart.

``plasticagents compare DIR... --out OUT`` puts finished sweeps that share their first swept
key side by side (``OUT/compare.md``, ``OUT/compare.png``), e.g. plastic rules against a
static baseline swept over the same noise levels.

Run directories are named by their grid point, so re-running the same command after an
interruption reuses finished runs and resumes unfinished ones from their last checkpoint.

Any trainer kind works. A classification run's scores are its own ``result.json``; an RL run
is scored after training by :func:`~plasticagents.training.analysis.evaluate.evaluate_run`
on ``eval_episodes`` episodes seeded from :data:`EVAL_SEED`, which no trainer uses, and that
score is written to the run's ``result.json`` so a re-run reads it back.

Example::

    from plasticagents.training.analysis.sweep import compare_sweeps, run_sweep

    rows = run_sweep("configs/classification/digits.yaml", ["model.sparsity=0,0.5,0.9"],
                     seeds=[0, 1, 2], out="sweeps/sparsity", jobs=3)
    compare_sweeps(["sweeps/sparsity", "sweeps/sparsity-rewired"], "sweeps/compare")
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from plasticagents.training.config import ConfigError, load_config, to_dict
from plasticagents.training.run import RunDir

__all__ = ["compare_sweeps", "parse_over", "run_sweep"]

EVAL_SEED = 20_261_123  # held-out episodes for RL grid points (never used in training)
SUMMARY = (
    "eval_return",
    "test_accuracy",
    "nrmse",
    "spikes_per_sample",
    "spikes_per_step",
    "synops_per_sample",
    "memory_capacity",
    "E",
)


def parse_over(items: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """``["a.b=1,2", ...]`` -> ``[("a.b", [1, 2]), ...]`` (values parsed as YAML scalars).

    Raises:
        ConfigError: an item without ``=``, a key or values.

    Example:
        >>> parse_over(["model.sparsity=0,0.75", "model.delays=none,learned"])
        [('model.sparsity', [0, 0.75]), ('model.delays', ['none', 'learned'])]
    """
    grid = []
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ConfigError(
                f"--over expects KEY=V1,V2,... (e.g. model.sparsity=0,0.75), got {item!r}"
            )
        grid.append((key.strip(), [yaml.safe_load(v) for v in values.split(",")]))
    return grid


def _label(point: dict[str, Any]) -> str:
    """A grid point as a directory-name label: ``{"model.sparsity": 0.5, "trainer.lr": 0.01}``
    -> ``"sparsity=0.5,lr=0.01"``; ``"base"`` for an empty grid. Only the last key component
    is kept, so two swept keys that end alike would share labels (and :meth:`RunDir.at`
    refuses the second config in the first's directory)."""
    return ",".join(f"{k.split('.')[-1]}={v}" for k, v in point.items()) or "base"


def _result(cfg: Any, path: Path, eval_episodes: int, log: Callable[[str], None]) -> dict:
    """Train (or resume) the run at ``path`` unless it has a ``result.json``; returns that file.

    Classification trainers write ``result.json`` themselves; for RL trainers it holds the
    best checkpoint's return over ``eval_episodes`` held-out seeded episodes (seeds the
    training-time evaluation never used)."""
    from plasticagents.training.api import train
    from plasticagents.training.registry import lookup

    result_path = path / "result.json"
    RunDir.at(path, to_dict(cfg))  # refuses a directory holding another config's run
    if result_path.is_file():
        return json.loads(result_path.read_text())
    trained = train(cfg, run_dir=path, log=log, tensorboard=False)
    if lookup(cfg.trainer.kind).family == "classifier":
        return trained.details
    from plasticagents.training.analysis.evaluate import evaluate_run

    returns = evaluate_run(path, episodes=eval_episodes, seed=EVAL_SEED, threads=1)
    result = {
        "eval_return": float(returns.mean()),
        "eval_return_std": float(returns.std()),
        "eval_episodes": len(returns),
        "wall_time": trained.wall_time,
    }
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(result_path)
    return result


def _worker(config: str, sets: list[str], path: str, eval_episodes: int, label: str) -> dict:
    """One grid point in a worker process (``--jobs`` > 1): one torch thread each."""
    import torch

    torch.set_num_threads(1)
    cfg = load_config(config, sets)
    return _result(
        cfg,
        Path(path),
        eval_episodes,
        lambda msg: print(f"[{label}] {msg}", file=sys.stderr, flush=True),
    )


def run_sweep(
    config: str | Path,
    over: Sequence[str],
    seeds: Sequence[int],
    out: str | Path,
    overrides: Sequence[str] = (),
    log: Callable[[str], None] | None = None,
    jobs: int = 1,
    eval_episodes: int = 200,
) -> list[dict[str, Any]]:
    """Train the grid (``jobs`` runs at a time, each in its own process when ``jobs`` > 1)
    and write the outputs above; returns the ``sweep.csv`` rows.

    Args:
        config: the base experiment or classification YAML.
        over: ``KEY=V1,V2,...`` items (:func:`parse_over`); the grid is their product.
        seeds: each grid point is trained once per seed (``seed=`` override).
        out: output directory; runs go to ``out/runs/<label>-s<seed>``.
        overrides: ``--set``-style overrides applied to every run before the grid's.
        log: progress sink (default: stderr).
        jobs: runs trained at once; with ``jobs > 1`` each runs in a fresh (spawned) process
            with one torch thread, so ``jobs`` runs share the cores without oversubscribing
            them.
        eval_episodes: held-out episodes scoring each RL run's best checkpoint.

    Every grid point's config is loaded, and so validated, before any training starts.

    Raises:
        ConfigError: a malformed ``over`` item, no seeds, ``jobs`` or ``eval_episodes`` < 1,
            or an invalid value at any grid point.
        ValueError: a run directory that holds a run of another config.
    """
    from plasticagents.training.record import Recorder

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    recorder = Recorder(_command(config, over, seeds, out, overrides, jobs, eval_episodes))
    grid = parse_over(over)
    if not seeds:
        raise ConfigError("--seeds needs at least one seed")
    if jobs < 1 or eval_episodes < 1:
        raise ConfigError(f"need --jobs >= 1 and --episodes >= 1, got {jobs} and {eval_episodes}")
    points = [
        dict(zip([k for k, _ in grid], combo, strict=True))
        for combo in itertools.product(*[v for _, v in grid])
    ]
    # Validate every grid point before training any of them.
    configs = []
    for point in points:
        for seed in seeds:
            sets = [*overrides, *(f"{k}={v}" for k, v in point.items()), f"seed={seed}"]
            configs.append((point, seed, sets, load_config(config, sets)))
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    paths = [out / "runs" / f"{_label(point)}-s{seed}" for point, seed, _, _ in configs]
    results: dict[int, dict] = {}
    if jobs == 1:
        for i, (point, seed, _, cfg) in enumerate(configs):
            log(f"[sweep] {i + 1}/{len(configs)}: {_label(point)} seed {seed}")
            results[i] = _result(cfg, paths[i], eval_episodes, log)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {
                pool.submit(
                    _worker,
                    str(config),
                    sets,
                    str(paths[i]),
                    eval_episodes,
                    f"{_label(point)} s{seed}",
                ): i
                for i, (point, seed, sets, _) in enumerate(configs)
            }
            for done, future in enumerate(as_completed(futures), 1):
                i = futures[future]
                results[i] = future.result()
                log(f"[sweep] {done}/{len(configs)} finished: {paths[i].name}")
    rows, noise_rows = [], []
    for i, (point, seed, _, _) in enumerate(configs):
        result = results[i]
        row = {**point, "seed": seed, "run": str(paths[i])}
        row.update({k: result.get(k) for k in (*SUMMARY, "median_epoch_time") if k in result})
        rows.append(row)
        noisy = [n for n in result.get("noise", []) if n["noise"] != "none"]
        for nrow in result.get("noise", []) if noisy else []:
            noise_rows.append({**point, "seed": seed, **nrow})
    _write_csv(out / "sweep.csv", rows)
    if noise_rows:
        _write_csv(out / "noise.csv", noise_rows)
    keys = [k for k, _ in grid]
    _write_report(out / "report.md", rows, noise_rows, keys, config, overrides)
    _plot(out, rows, noise_rows, keys)
    recorder.write(
        out / "record.json",
        outputs={
            "config": str(config),
            "over": list(over),
            "overrides": list(overrides),
            "seeds": list(seeds),
            "eval_episodes": eval_episodes,
            "rows": rows,
        },
    )
    log(f"[sweep] wrote {out / 'sweep.csv'}, {out / 'report.md'}, {out / 'record.json'}")
    return rows


def _command(config, over, seeds, out, overrides, jobs, eval_episodes) -> list[str]:
    """The ``plasticagents sweep`` command line that reproduces a :func:`run_sweep` call,
    every ``--over`` and ``--set`` in it (recorded in ``record.json``)."""
    argv = ["plasticagents", "sweep", str(config)]
    for item in over:
        argv += ["--over", item]
    for item in overrides:
        argv += ["--set", item]
    argv += ["--seeds", ",".join(str(s) for s in seeds), "--out", str(out)]
    argv += ["--jobs", str(jobs), "--episodes", str(eval_episodes)]
    return argv


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` with the union of their keys as columns, in first-seen order (rows of
    different trainers may report different keys; a missing one is an empty cell)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _groups(rows: list[dict[str, Any]], keys: Sequence[str]) -> dict[tuple, list[dict]]:
    """``rows`` grouped by their values of ``keys`` (insertion order kept): the seeds of each
    grid point. With no ``keys``, one group of all rows."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return groups


def _cell(values: list[Any]) -> str:
    """A report cell: ``mean ± half-width`` of the 95% Student-t interval over the non-missing
    values (the mean alone for one value, ``–`` for none)."""
    from plasticagents.training.analysis.robustness import mean_ci

    mean, half, n = mean_ci([v for v in values if v is not None])
    if n == 0:
        return "–"
    return f"{mean:.4g}" + (f" ± {half:.2g}" if n > 1 and math.isfinite(half) else "")


def _write_report(path, rows, noise_rows, keys, config, overrides=()) -> None:
    """``report.md``: one table row per grid point, one column per swept key and per summary
    metric any run reported, cells as :func:`_cell`; with noise rows, a second table of
    accuracy and Van Rossum distance per grid point, noise kind and level."""
    metrics = [m for m in SUMMARY if any(r.get(m) is not None for r in rows)]
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        f"# Sweep of {config}",
        "",
        "Overrides on every run: "
        + (" ".join(f"`--set {o}`" for o in overrides) if overrides else "none")
        + " (the full command is in `record.json`).",
        "",
        f"Mean ± 95% CI (Student t) over seeds {seeds}.",
        "",
        "| " + " | ".join([*keys, *metrics]) + " |",
        "|" + " --- |" * (len(keys) + len(metrics)),
    ]
    for point, group in _groups(rows, keys).items():
        cells = [str(v) for v in point] + [_cell([r.get(m) for r in group]) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    if noise_rows:
        lines += [
            "",
            "## Under noise",
            "",
            "| " + " | ".join([*keys, "noise", "level", "accuracy", "van_rossum"]) + " |",
            "|" + " --- |" * (len(keys) + 4),
        ]
        for point, group in _groups(noise_rows, [*keys, "noise", "level"]).items():
            cells = [str(v) for v in point] + [
                _cell([r.get("accuracy") for r in group]),
                _cell([r.get("van_rossum") for r in group]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    Path(path).write_text("\n".join(lines) + "\n")


def _line(ax, xs: list, values: list[list], label: str) -> None:
    """Mean ± 95% CI of ``values[i]`` at ``xs[i]`` as one errorbar line."""
    import numpy as np

    from plasticagents.training.analysis.robustness import mean_ci

    stats = [mean_ci([v for v in vs if v is not None]) for vs in values]
    ax.errorbar(
        xs,
        [m for m, _, _ in stats],
        yerr=[np.nan_to_num(h) for _, h, _ in stats],
        marker="o",
        capsize=3,
        label=label,
    )


def _plot(out: Path, rows, noise_rows, keys) -> None:
    """``sweep.png``: one panel per metric present (``eval_return``, ``test_accuracy``,
    ``nrmse``, ``spikes_per_sample``, ``E``) against the first swept key, one line per
    combination of the other keys, mean ± 95% CI over seeds. ``noise.png`` (with noise rows):
    accuracy against noise level per noise kind (the clean level included) and, for input
    noise, the Van Rossum distance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_key, rest = (keys[0], keys[1:]) if keys else (None, [])
    metrics = [
        m
        for m in ("eval_return", "test_accuracy", "nrmse", "spikes_per_sample", "E")
        if any(r.get(m) is not None for r in rows)
    ]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for line, group in _groups(rows, rest).items():
            by_x = _groups(group, [x_key]) if x_key else {("base",): group}
            values = [[r.get(metric) for r in members] for members in by_x.values()]
            _line(ax, list(range(len(by_x))), values, _label(dict(zip(rest, line, strict=True))))
            ax.set_xticks(range(len(by_x)), [str(x[0]) for x in by_x])
        ax.set_xlabel(x_key or "")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    if rest:
        axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "sweep.png", dpi=120)
    plt.close(fig)
    if not noise_rows:
        return
    kinds = sorted({r["noise"] for r in noise_rows if r["noise"] != "none"})
    panels = [(kind, "accuracy", "test accuracy") for kind in kinds]
    panels.append(("input", "van_rossum", "Van Rossum distance clean vs noisy"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, (kind, metric, ylabel) in zip(axes[0], panels, strict=True):
        shown = ("input",) if metric == "van_rossum" else (kind, "none")
        chosen = [r for r in noise_rows if r["noise"] in shown]
        for point, group in _groups(chosen, keys).items():
            levels = sorted({r["level"] for r in group})
            values = [[r.get(metric) for r in group if r["level"] == lv] for lv in levels]
            _line(ax, levels, values, _label(dict(zip(keys, point, strict=True))))
        ax.set_xlabel(f"{kind} noise (std)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "noise.png", dpi=120)
    plt.close(fig)


def compare_sweeps(
    dirs: Sequence[str | Path], out: str | Path, metric: str | None = None
) -> tuple[Path, Path]:
    """Put finished sweeps side by side: one line per (sweep, grid point off the x-axis) of
    ``metric`` (default: ``eval_return`` or ``test_accuracy``, whichever the sweeps have)
    against the first swept key, which every sweep must share. Writes ``out/compare.md``
    (mean ± 95% CI over seeds per x value) and ``out/compare.png``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = []
    for d in dirs:
        path = Path(d) / "sweep.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{d} holds no sweep.csv (run `plasticagents sweep` first)")
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
        keys = columns[: columns.index("seed")]
        if not keys:
            raise ConfigError(f"{d} swept nothing (no --over key): nothing to compare along")
        sweeps.append((Path(d), keys, rows, columns))
    x_keys = {keys[0] for _, keys, _, _ in sweeps}
    if len(x_keys) != 1:
        raise ConfigError(f"the sweeps' first swept keys differ: {sorted(x_keys)}")
    (x_key,) = x_keys
    if metric is None:
        metric = next(
            (m for m in ("eval_return", "test_accuracy") if m in sweeps[0][3]), "test_accuracy"
        )
    for d, _, _, columns in sweeps:
        if metric not in columns:
            raise ConfigError(f"{d}/sweep.csv has no {metric!r} column; it has {columns}")
    xs = list(dict.fromkeys(r[x_key] for _, _, rows, _ in sweeps for r in rows))
    if all(_sort_key(x)[0] == 0 for x in xs):  # numbers: ascending; otherwise --over order
        xs.sort(key=_sort_key)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# {metric} against {x_key}",
        "",
        "Mean ± 95% CI (Student t) over seeds; one row per sweep and grid point.",
        "",
        "| sweep | " + " | ".join(f"{x_key}={x}" for x in xs) + " |",
        "| --- |" + " --- |" * len(xs),
    ]
    fig, ax = plt.subplots(figsize=(9.0, 4.2))
    for d, keys, rows, _ in sweeps:
        rest = keys[1:]
        for point, group in _groups(rows, rest).items():
            label = d.name + (f": {_label(dict(zip(rest, point, strict=True)))}" if rest else "")
            values = [[_float(r[metric]) for r in group if r[x_key] == x] for x in xs]
            lines.append(f"| {label} | " + " | ".join(_cell(v) for v in values) + " |")
            _line(ax, list(range(len(xs))), values, label)
    ax.set_xticks(range(len(xs)), xs)
    ax.set_xlabel(x_key)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    png, md = out / "compare.png", out / "compare.md"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    md.write_text("\n".join(lines) + "\n")
    return md, png


def _float(value: str) -> float | None:
    """A CSV cell as a number; ``None`` for an empty cell (a metric that run did not report)."""
    return float(value) if value not in ("", None) else None


def _sort_key(value: str) -> tuple:
    """Numbers before text, numbers by value: ``("0.5", "10", "2")`` sorts as 0.5, 2, 10."""
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)
