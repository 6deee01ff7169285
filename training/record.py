"""Provenance records: what made a result, so a number can be traced to its command.

Every command that writes results (``sweep``, ``robustness``, ``evaluate``, the benchmarks)
writes a ``record.json`` (or appends to a ``.jsonl``) beside its output with:

- ``command``: the exact command line (``argv``, every ``--set`` override in it) and the same
  as one shell-quoted string;
- ``git_revision``: the commit (``-dirty`` when tracked files had uncommitted changes);
- ``versions``: Python and the packages the numbers depend on;
- ``machine``: host, CPU count, platform, processor, CPU model, torch's kernel instruction set
  and threads;
- ``environment``: the environment variables set that change what runs or how fast
  (``PLASTICAGENTS_*`` such as ``PLASTICAGENTS_NATIVE_PHYSICS``, OpenMP's and MKL's thread
  settings, ``MUJOCO_GL``, ``CC``);
- ``started`` / ``finished`` (ISO dates) and ``wall_time_s``;
- ``outputs``: whatever the command printed that a reader quotes (evaluation lines, repeats).

Example:
    >>> import json, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> rec = Recorder(["plasticagents", "sweep", "c.yaml", "--set", "seed=1"])
    >>> path = rec.write(out / "record.json", outputs={"rows": 3})
    >>> data = json.loads(path.read_text())
    >>> data["command"]["line"], data["outputs"], data["wall_time_s"] >= 0
    ('plasticagents sweep c.yaml --set seed=1', {'rows': 3}, True)
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Recorder", "append_record", "environment", "machine", "provenance"]

_ENVIRONMENT = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",  # libgomp's spin before a thread sleeps (overrides the wait policy)
    "MKL_NUM_THREADS",
    "THP_MEM_ALLOC_ENABLE",  # torch's transparent huge pages for large CPU tensors
    "MUJOCO_GL",
    "CC",
)


def environment() -> dict[str, str]:
    """The environment variables that are set and change what a command runs or how fast:
    every ``PLASTICAGENTS_*`` (e.g. ``PLASTICAGENTS_NATIVE_PHYSICS=0``, the Python physics
    path), the OpenMP and MKL thread settings (libgomp's spin count too), torch's huge-page
    switch, ``MUJOCO_GL`` and ``CC`` (the compiler of the C steps)."""
    return {
        k: v for k, v in sorted(os.environ.items())
        if k.startswith("PLASTICAGENTS_") or k in _ENVIRONMENT
    }  # fmt: skip


def cpu_model() -> str | None:
    """The CPU's model name (Linux ``/proc/cpuinfo``), ``None`` where unknown."""
    from plasticagents.native import cpuinfo_field

    return cpuinfo_field("model name", "Model")


def machine() -> dict[str, Any]:
    """The machine a number was measured on: host name, CPU count, OS, processor, the CPU's
    model, the instruction set torch's kernels were chosen for and the number of threads torch
    uses. Timings depend on all of them, and float results on the CPU too: torch and its BLAS
    pick kernels per CPU, whose roundings differ in the last bits, and an episode amplifies
    them (an LSTM policy's returns moved between hosts with the same seeds and threads)."""
    try:
        import torch

        threads: int | None = torch.get_num_threads()
        capability: str | None = torch.backends.cpu.get_cpu_capability()
    except ImportError:  # pragma: no cover - torch is a core dependency
        threads, capability = None, None
    return {
        "host": socket.gethostname(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "torch_cpu_capability": capability,
        "torch_threads": threads,
    }


def provenance(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The command line (``argv``, default ``sys.argv`` with the program's path shortened to
    its name), git revision, package versions and machine, as plain JSON data."""
    from plasticagents.training.run import _git_revision, package_versions

    argv = list(sys.argv if argv is None else argv)
    if argv and os.sep in argv[0]:
        argv[0] = Path(argv[0]).name
    return {
        "command": {"argv": argv, "line": shlex.join(argv)},
        "git_revision": _git_revision(),
        "versions": package_versions(),
        "machine": machine(),
        "environment": environment(),
    }


class Recorder:
    """Start the clock when a command starts; :meth:`write` the record when it ends.

    Args:
        argv: the command line to record (default ``sys.argv``). Library callers pass the
            equivalent command so the record says how to reproduce the result from a shell.
    """

    def __init__(self, argv: Sequence[str] | None = None) -> None:
        self.info = provenance(argv)
        self.started = _dt.datetime.now().isoformat(timespec="seconds")
        self._t0 = time.perf_counter()

    def record(self, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """The record as a dict: provenance, start and finish dates, wall time, ``outputs``."""
        return {
            **self.info,
            "started": self.started,
            "finished": _dt.datetime.now().isoformat(timespec="seconds"),
            "wall_time_s": round(time.perf_counter() - self._t0, 3),
            "outputs": outputs or {},
        }

    def write(self, path: str | Path, outputs: dict[str, Any] | None = None) -> Path:
        """Write :meth:`record` to ``path`` as indented JSON (parents created); returns it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.record(outputs), indent=2, default=_plain) + "\n")
        return path


def append_record(path: str | Path, record: dict[str, Any]) -> Path:
    """Append one record as a JSON line to ``path`` (a ``.jsonl`` log: one line per command,
    e.g. every ``evaluate`` of a run); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(json.dumps(record, default=_plain) + "\n")
    return path


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars/arrays and paths."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
