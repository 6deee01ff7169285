"""Shared by the benchmark scripts: where their records go and how a timing is summarised.

Every script in ``benchmarks/`` starts a :class:`plasticagents.training.record.Recorder` when it
starts and writes its record (command, git revision, versions, machine, dates, wall time and
``outputs``: the settings, every repeat's raw number, the medians and the printed ratios) at
the end, by default to ``results/benchmarks/<script>-<YYYYmmdd-HHMMSS>.json`` in this checkout;
``--out PATH`` writes it elsewhere.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import statistics
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "results" / "benchmarks"


def default_out(script: str) -> Path:
    """``results/benchmarks/<script>-<YYYYmmdd-HHMMSS>.json`` (a new file per invocation)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return RESULTS / f"{script}-{stamp}.json"


def add_out_argument(parser: argparse.ArgumentParser, script: str, default: str | None = None):
    """Add ``--out PATH`` (default: :func:`default_out`, or ``default`` when given)."""
    where = default or f"results/benchmarks/{script}-<YYYYmmdd-HHMMSS>.json"
    parser.add_argument(
        "--out", type=Path, default=None, help=f"where to write the JSON record (default {where})"
    )


def settings(args: argparse.Namespace, **extra) -> dict:
    """A record's ``settings``: every option the script was given (``--out`` aside), torch's
    thread count, and ``extra``."""
    import torch

    return {
        **{k: v for k, v in vars(args).items() if k != "out"},
        "torch_threads": torch.get_num_threads(),
        **extra,
    }


def timing(values: Sequence[float]) -> dict:
    """Every repeat plus its median, min and max (the record keeps the raw repeats)."""
    values = [float(v) for v in values]
    return {
        "repeats": values,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }
