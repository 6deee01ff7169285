"""Train every ``configs/smoke/*.yaml`` and collect the numbers a seed determines.

``python tests/training/smoke_golden.py`` rewrites ``tests/training/data/smoke_golden.json``
(run it only when a change is meant to alter training numbers, and say so in the commit);
``tests/training/test_smoke_golden.py`` compares a fresh run of each config against it.

Pinned from the code before ``training/`` was restructured (one engine, one loop). One number
was changed on purpose since: PPO's ``eval_return`` now scores the policy *after* the
iteration's update, through the project's rollout engine (it was SB3's ``evaluate_policy``
before the update, so the best checkpoint held a policy one update older than its score's);
recurrent PPO's ``mean_return`` is the exact mean of the finished episodes' returns (SB3's
``Monitor`` rounded each to 6 decimals). Every other number is the old code's.

Host variants: float32 sums differ in their last bits between CPUs (the BLAS and vectorised
kernels torch picks per instruction set), and a PPO run amplifies them (a spike or a sampled
action flips, the episodes part). ``python tests/training/smoke_golden.py --variant NAME...``
adds this host's numbers for the configs named as another accepted variant (with the host's
description), leaving the pinned ones as they are: run it only on a host whose numbers differ
with no change to the code (check the pinned commit reproduces the difference).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "configs" / "smoke"
GOLDEN = Path(__file__).with_name("data") / "smoke_golden.json"
# columns that depend on the clock or the machine, not on the seed
UNPINNED = {"wall_time", "epoch_time"}


def smoke_numbers(config: Path, workdir: Path) -> dict:
    """The metrics rows (and ``result.json``, if any) of a fresh run of ``config``."""
    import csv

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "plasticagents.training.cli",
            "train",
            str(config),
            "--runs-dir",
            str(workdir),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{config.name} failed:\n{out.stderr[-3000:]}")
    (run,) = [p for p in workdir.iterdir() if p.is_dir()]
    with open(run / "metrics.csv", newline="") as fh:
        rows = [{k: v for k, v in r.items() if k not in UNPINNED} for r in csv.DictReader(fh)]
    numbers: dict = {"metrics": rows}
    if (run / "result.json").is_file():
        result = json.loads((run / "result.json").read_text())
        numbers["result"] = {
            k: v
            for k, v in result.items()
            if isinstance(v, int | float) and k not in {"median_epoch_time", "peak_rss_mb"}
        }
    return numbers


def host() -> str:
    """This machine as the numbers depend on it: CPU model and torch's kernel set."""
    import platform

    import torch

    from plasticagents.training.record import cpu_model

    model = cpu_model() or platform.processor()
    return f"{model}; torch {torch.__version__} {torch.backends.cpu.get_cpu_capability()}"


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", nargs="+", metavar="NAME", help="configs to add a variant of")
    args = parser.parse_args(argv)
    if args.variant:
        golden = json.loads(GOLDEN.read_text())
        unknown = [n for n in args.variant if n not in golden]
        if unknown:
            parser.error(f"unknown smoke configs {unknown}; valid choices: {sorted(golden)}")
        for name in args.variant:
            with tempfile.TemporaryDirectory() as tmp:
                numbers = smoke_numbers(SMOKE / f"{name}.yaml", Path(tmp))
            golden[name].setdefault("variants", []).append({"host": host(), **numbers})
            print(f"{name}: variant {len(golden[name]['variants'])} from {host()}", file=sys.stderr)
    else:
        golden = {}
        for config in sorted(SMOKE.glob("*.yaml")):
            with tempfile.TemporaryDirectory() as tmp:
                golden[config.stem] = smoke_numbers(config, Path(tmp))
            print(f"{config.stem}: {len(golden[config.stem]['metrics'])} rows", file=sys.stderr)
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
