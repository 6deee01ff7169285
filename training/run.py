"""Run directories: everything a researcher needs to trust (and resume) a training run.

Layout::

    runs/<name>-<YYYYmmdd-HHMMSS>[-k]/
        config.yaml        resolved config (after --set overrides)
        meta.json          package versions, git revision, command line, host, start time
        metrics.csv        one row per generation / iteration / epoch
        tb/                TensorBoard events
        checkpoints/latest.safetensors, checkpoints/best.safetensors
                           (written atomically; see :mod:`~plasticagents.training.checkpoint`)

A new run never reuses an existing directory; ``--resume RUN`` reopens one. Trainers add
their own reports beside these (``learning_curve.png`` for ES, ``result.json`` and
``noise.csv`` for the classifiers).

Example:
    >>> import tempfile
    >>> run = RunDir.create(tempfile.mkdtemp(), "demo", {"name": "demo", "seed": 0})
    >>> run.path.name.startswith("demo-"), sorted(p.name for p in run.path.iterdir())
    (True, ['config.yaml', 'meta.json'])
    >>> run.append_metrics({"epoch": 0, "loss": 0.5, "note": None}, ["epoch", "loss", "note"])
    >>> run.append_metrics({"epoch": 1, "loss": 0.25}, ["epoch", "loss", "note"])
    >>> run.truncate_metrics("epoch", 0)  # as a resume from epoch 0's checkpoint does
    >>> run.read_metrics()
    [{'epoch': '0', 'loss': '0.5', 'note': ''}]
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from plasticagents.training.checkpoint import SUFFIX, Checkpoint, load_checkpoint, save_checkpoint

__all__ = ["RunDir", "package_versions", "summary_writer"]

_PACKAGES = ("plasticagents", "torch", "numpy", "gymnasium", "mujoco", "evotorch", "ray")


def package_versions() -> dict[str, str | None]:
    """``{package: version}`` of Python and of the packages a run's numbers depend on
    (plasticagents, torch, numpy, Gymnasium, MuJoCo, evotorch, Ray); ``None`` for one that is
    not installed. Recorded in ``meta.json`` so a result can be traced to its software."""
    from importlib import metadata

    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_revision() -> str | None:
    """The source tree's commit, with ``-dirty`` when tracked files have uncommitted changes;
    ``None`` outside a git checkout (an installed wheel) or without git."""
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if rev.returncode != 0:
        return None
    # a status that failed (a lock held by another git command, ...) cannot vouch for a clean
    # tree: the commit is named, but not as the code that ran
    clean = dirty.returncode == 0 and not dirty.stdout.strip()
    return rev.stdout.strip() + ("" if clean else "-dirty")


class RunDir:
    """A run directory: create a fresh one (:meth:`create`) or reopen one (:meth:`open`)."""

    def __init__(self, path: Path) -> None:
        """Wrap an existing directory without checking it; use :meth:`create`, :meth:`at` or
        :meth:`open` instead."""
        self.path = Path(path)

    @property
    def checkpoints(self) -> Path:
        """``<run>/checkpoints``, where ``best`` and ``latest`` live."""
        return self.path / "checkpoints"

    @property
    def metrics_path(self) -> Path:
        """``<run>/metrics.csv``: one row per finished step, columns fixed by the trainer."""
        return self.path / "metrics.csv"

    @classmethod
    def create(cls, root: str | Path, name: str, config: dict[str, Any]) -> RunDir:
        """A fresh run directory ``root/<name>-<YYYYmmdd-HHMMSS>`` (``-1``, ``-2``, ...
        appended when that exists) holding ``config.yaml`` (``config``, the resolved config as
        plain data) and ``meta.json``. Never reuses a directory, even when two runs start in
        the same second."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        for k in range(1000):
            path = root / (f"{name}-{stamp}" + (f"-{k}" if k else ""))
            try:
                path.mkdir()  # atomic: two runs started in the same second get distinct dirs
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover
            raise RuntimeError(f"could not create a fresh run directory under {root}")
        return cls._initialise(path, config)

    @classmethod
    def at(cls, path: str | Path, config: dict[str, Any]) -> RunDir:
        """The run directory at exactly ``path`` (sweeps name runs by grid point): created if
        new, reopened if it already holds a run of the same config."""
        path = Path(path)
        if (path / "config.yaml").is_file():
            run = cls(path)
            if run.config_dict() != yaml.safe_load(yaml.safe_dump(config, sort_keys=False)):
                raise ValueError(
                    f"{str(path)!r} holds a run of a different config; choose another --out"
                )
            return run
        path.mkdir(parents=True, exist_ok=True)
        return cls._initialise(path, config)

    @classmethod
    def _initialise(cls, path: Path, config: dict[str, Any]) -> RunDir:
        """Write ``config.yaml`` and ``meta.json`` (package versions, git revision, command line,
        host, start time, CPU count, torch threads, the environment variables of
        :func:`~plasticagents.training.record.environment`) into ``path``."""
        run = cls(path)
        (path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        from plasticagents.training.record import environment, machine

        meta = {
            "versions": package_versions(),
            "git_revision": _git_revision(),
            "command": sys.argv,
            "started": _dt.datetime.now().isoformat(timespec="seconds"),
            **machine(),  # host, cpus, platform, processor, torch_threads
            "environment": environment(),  # e.g. PLASTICAGENTS_NATIVE_PHYSICS, OMP_NUM_THREADS
        }
        (path / "meta.json").write_text(json.dumps(meta, indent=2))
        return run

    def note_resume(self, overrides: Sequence[str] = ()) -> None:
        """Append this process's resume to ``meta.json``'s ``resumed`` list (its
        :func:`~plasticagents.training.record.provenance`: command line, git revision,
        versions, machine; the ``--set`` overrides and the start time): the first part of a
        run keeps its own record, and each continuation, which may have trained it longer,
        adds one."""
        from plasticagents.training.record import provenance

        path = self.path / "meta.json"
        meta = json.loads(path.read_text()) if path.is_file() else {}
        meta.setdefault("resumed", []).append(
            {
                **provenance(),
                "overrides": list(overrides),
                "started": _dt.datetime.now().isoformat(timespec="seconds"),
            }
        )
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=2))
        tmp.replace(path)

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """An existing run directory (resume, evaluate, view, convert).

        Raises:
            FileNotFoundError: ``path`` holds no ``config.yaml``.
        """
        path = Path(path)
        if not (path / "config.yaml").is_file():
            raise FileNotFoundError(
                f"{str(path)!r} is not a run directory (no config.yaml); runs are created by "
                "`plasticagents train`"
            )
        return cls(path)

    def config_dict(self) -> dict[str, Any]:
        """The run's ``config.yaml`` as plain data (load it with
        :func:`~plasticagents.training.config.from_dict` to validate it)."""
        return yaml.safe_load((self.path / "config.yaml").read_text())

    def checkpoint_path(self, which: str = "best") -> Path:
        """Where the ``best`` or ``latest`` checkpoint lives (whether or not it exists)."""
        if which not in ("best", "latest"):
            raise ValueError(f"unknown checkpoint {which!r}; valid choices: ['best', 'latest']")
        return self.checkpoints / f"{which}{SUFFIX}"

    def has_checkpoint(self, which: str) -> bool:
        """Whether the ``best`` / ``latest`` checkpoint exists in the safe format (an old ``.pt``
        does not count)."""
        return self.checkpoint_path(which).is_file()

    def save_checkpoint(self, which: str, checkpoint: Checkpoint) -> None:
        """Write ``checkpoint`` as ``best`` or ``latest``, atomically (a crash leaves the previous
        file intact)."""
        save_checkpoint(checkpoint, self.checkpoint_path(which))

    def load(self, which: str = "best") -> Checkpoint:
        """The ``which`` checkpoint (``best`` or ``latest``).

        Raises:
            FileNotFoundError: there is no such checkpoint yet (the message lists what there is).
            CheckpointError: the file is corrupt, foreign, or in the old pickle format (the
                message says how to convert it).
        """
        path = self.checkpoint_path(which)
        if not path.is_file() and not path.with_suffix(".pt").is_file():
            have = sorted(p.name for p in self.checkpoints.glob("*") if p.is_file())
            other = "latest" if which == "best" else "best"
            hint = (
                f"; use --checkpoint {other}"
                if (self.checkpoints / f"{other}{SUFFIX}").is_file()
                else "; has it finished a generation yet?"
            )
            raise FileNotFoundError(
                f"run {str(self.path)!r} has no {which} checkpoint (found: {have or 'none'}){hint}"
            )
        return load_checkpoint(path)

    # metrics -----------------------------------------------------------------------------
    def append_metrics(self, row: dict[str, Any], columns: Sequence[str]) -> None:
        """Append ``row`` to ``metrics.csv`` in ``columns`` order (header written with the first
        row; ``None`` becomes an empty cell; keys outside ``columns`` are dropped) and flush, so
        a killed run keeps every finished step's row."""
        new = not self.metrics_path.exists()
        if not new:  # keep the file's own column order (a run written by an older version)
            with open(self.metrics_path, newline="") as fh:
                header = next(csv.reader(fh), [])
            if header and sorted(header) != sorted(columns):
                raise ValueError(
                    f"{self.metrics_path} has columns {header}; this trainer writes {list(columns)}"
                )
            columns = header or list(columns)
        with open(self.metrics_path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(columns))
            if new:
                writer.writeheader()
            writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})
            fh.flush()

    def read_metrics(self) -> list[dict[str, str]]:
        """``metrics.csv`` as a list of rows of strings (empty cells as ``""``); ``[]`` before the
        first step."""
        if not self.metrics_path.exists():
            return []
        with open(self.metrics_path, newline="") as fh:
            return list(csv.DictReader(fh))

    def truncate_metrics(self, key: str, last: int) -> None:
        """Drop rows whose ``key`` exceeds ``last`` (work done after the resumed checkpoint)."""
        rows = self.read_metrics()
        if not rows:
            return
        columns = list(rows[0])
        kept = [r for r in rows if int(r[key]) <= last]
        tmp = self.metrics_path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(kept)
        os.replace(tmp, self.metrics_path)


def summary_writer(run: RunDir, start: int):
    """A TensorBoard writer on ``run/tb`` that drops events at or after ``start`` left by an
    interrupted run (``None`` without tensorboard)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboard is an install dependency
        return None
    return SummaryWriter(str(run.path / "tb"), purge_step=start if start > 0 else None)
