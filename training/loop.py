"""The one trainer loop: resume point, metrics, log line, checkpoint cadence, best tracking.

Trainers differ in how they compute an update, not in how they resume, log or checkpoint. A
trainer is an adapter object with this shape (see ``trainers/``)::

    class Trainer:
        name = "es"                      # log prefix
        unit = "generation"              # the metrics column that counts steps
        columns = [...]                  # metrics.csv columns (unit and wall_time go first)
        log_keys = {"best_fitness": "best", ...}   # row keys shown in the log line
        log_every = 1                    # log every k-th step (and every evaluated one)
        total: int                       # steps to run (generations, iterations, epochs)
        checkpoint_every: int
        def __init__(self, cfg, log): ...          # builds everything; may raise ConfigError
        def describe(self) -> str: ...             # the header line
        def fresh(self) -> None: ...               # setup only a new run needs
        def bind(self, run, tensorboard): ...      # the run directory exists now
        def load_state(self, state: dict) -> None: # resume: exactly as saved
        def step(self, i: int) -> dict: ...        # one update; its metrics row
        def select(self, i, row) -> Candidate | None   # a best-checkpoint candidate, if any
        def policy(self) -> dict: ...              # the current model as a policy payload
        def state(self) -> dict: ...               # everything resume needs
        def finish(self, run, best) -> dict: ...   # after the last step (test reports)
        def close(self) -> None: ...

:class:`TrainerBase` gives the optional methods defaults. :func:`run_loop` drives a trainer:
steps ``start .. total - 1`` (``start`` is one past the ``latest``
checkpoint's step when resuming, whose metrics rows after that step are dropped), appends one
metrics row per step (CSV and TensorBoard), logs, saves ``best`` whenever a candidate beats the
best score so far, saves ``latest`` every ``checkpoint_every`` steps and after the last one.
A run killed at any point therefore resumes losing at most ``checkpoint_every`` steps.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plasticagents.training.checkpoint import Checkpoint
from plasticagents.training.config import to_dict
from plasticagents.training.run import RunDir, summary_writer

__all__ = ["Candidate", "TrainerBase", "default_log", "run_loop"]


@dataclass
class Candidate:
    """A model that may become the ``best`` checkpoint: its ``policy`` payload and ``score``
    (``None``: unscored; an unscored candidate always replaces the best, e.g. the last epoch
    of a classifier trained without a validation split)."""

    score: float | None
    policy: dict[str, Any]


class TrainerBase:
    """Defaults of the trainer protocol (see the module docstring): no fresh-run setup, no
    run-directory hooks, nothing to clean up, no best candidate, nothing to report."""

    log_every = 1

    def fresh(self) -> None:
        """Setup a new run needs and a resumed one must not redo (e.g. normaliser warm-up)."""

    def bind(self, run: RunDir, tensorboard: bool) -> None:
        """Called once the run directory exists (e.g. to point a library's logger at it)."""

    def select(self, step: int, row: dict[str, Any]) -> Candidate | None:
        return None

    def finish(self, run: RunDir, best: float | None) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


def default_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,d}"
    return str(value)


def _better(score: float | None, best: float | None) -> bool:
    return score is None or best is None or score > best


def run_loop(
    trainer: Any,
    cfg: Any,
    run: RunDir,
    resume: Checkpoint | None = None,
    log: Callable[[str], None] = default_log,
    tensorboard: bool = True,
) -> dict[str, Any]:
    """Train ``trainer`` into ``run`` (from ``resume``, a ``latest`` checkpoint, when given).

    Returns the trainer's :meth:`finish` result, with ``best`` (best score), ``step`` (last
    finished step), ``env_steps`` and ``wall_time`` added where the trainer has none.
    """
    start, wall0, best = 0, 0.0, None
    progress: dict[str, Any] = {}
    trainer.bind(run, tensorboard)
    if resume is not None:
        if resume.trainer_state is None:
            raise ValueError(f"{run.path}: the checkpoint to resume from holds no trainer state")
        trainer.load_state(resume.trainer_state)
        start, wall0, best = resume.step + 1, resume.wall_time, resume.best
        if run.has_checkpoint("best"):  # saved after the latest one, it may score higher
            kept = run.load("best").score
            if kept is not None and (best is None or kept > best):
                best = kept
        progress = dict(resume.progress)
        run.truncate_metrics(trainer.unit, resume.step)
    else:
        trainer.fresh()
    if start >= trainer.total:
        log(
            f"[{trainer.name}] {run.path} already finished {trainer.unit} {start - 1} of "
            f"{trainer.total}; resume with a larger trainer.{_longer(cfg)} to train longer"
        )
        try:
            return _summary(trainer.finish(run, best), start - 1, progress, best)
        finally:
            trainer.close()
    writer = summary_writer(run, start) if tensorboard else None
    log(f"[{trainer.name}] {trainer.describe()} -> {run.path}")
    columns = [trainer.unit, "wall_time"]
    columns += [c for c in trainer.columns if c not in columns]
    clock = time.perf_counter()
    config = to_dict(cfg)
    step = start - 1
    try:
        for step in range(start, trainer.total):
            row = trainer.step(step)
            row = {trainer.unit: step, "wall_time": wall0 + time.perf_counter() - clock, **row}
            last = step == trainer.total - 1
            candidate = trainer.select(step, row)
            if candidate is not None and _better(candidate.score, best):
                best = candidate.score if candidate.score is not None else best
                run.save_checkpoint(
                    "best",
                    Checkpoint(
                        cfg.trainer.kind,
                        step,
                        config,
                        candidate.policy,
                        candidate.score,
                        {"env_steps": row.get("env_steps", 0), "wall_time": row["wall_time"]},
                    ),
                )
            run.append_metrics(row, columns)
            if writer is not None:
                for key, value in row.items():
                    if key != trainer.unit and isinstance(value, int | float):
                        writer.add_scalar(f"{trainer.name}/{key}", value, step)
                writer.flush()
            shown = [k for k in trainer.log_keys if row.get(k) is not None]
            evaluated = any(k.startswith("eval") for k in shown)
            if step == start or last or evaluated or (step + 1) % trainer.log_every == 0:
                log(
                    f"[{trainer.name}] {trainer.unit[:3]} {step:5d}  "
                    + "  ".join(f"{trainer.log_keys[k]} {_fmt(row[k])}" for k in shown)
                    + f"  {row['wall_time']:7.1f}s"
                )
            progress = {"env_steps": row.get("env_steps", 0), "wall_time": row["wall_time"]}
            if (step + 1 - start) % trainer.checkpoint_every == 0 or last:
                run.save_checkpoint(
                    "latest",
                    Checkpoint(
                        cfg.trainer.kind,
                        step,
                        config,
                        trainer.policy(),
                        None,
                        {**progress, "best": best},
                        trainer.state(),
                    ),
                )
        if not run.has_checkpoint("best") and step >= 0:
            # nothing was ever scored (evaluation off): the final model is the best there is
            run.save_checkpoint(
                "best", Checkpoint(cfg.trainer.kind, step, config, trainer.policy(), None, progress)
            )
        return _summary(trainer.finish(run, best), step, progress, best)
    finally:
        if writer is not None:
            writer.close()
        trainer.close()


def _summary(result: dict | None, step: int, progress: dict, best: float | None) -> dict:
    out = {"step": step, "best": best if best is not None else math.nan, **progress}
    out.update(result or {})
    return out


def _longer(cfg: Any) -> str:
    from plasticagents.training.registry import lookup

    return lookup(cfg.trainer.kind).longer
