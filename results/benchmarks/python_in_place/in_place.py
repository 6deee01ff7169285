"""The Python around ours' two C calls, timed in place (session of 2026-12-03, fifth).

One ES generation of bench_es.py's problem (Ant-v5, popsize 64, plastic SNN of 128 LIF, fast
physics, the native C step, 2 threads), evaluated 6 times after a warm-up; the physics' and the
network's C calls are wrapped in timers, and the rest of each generation's wall time is the
Python and NumPy around them. Prints the medians over the 6 generations, in ms per batched
step, as one JSON line. ROOT is the directory the ``plasticagents`` package is imported from
(prepended to sys.path: an installed copy of another commit, or the checkout), BENCH the
``benchmarks/`` directory of the same tree:

    pip install --no-deps --target /tmp/base-pkg <worktree at e84039b>
    python in_place.py /tmp/base-pkg <worktree at e84039b>/benchmarks
    python in_place.py "$PWD" "$PWD/benchmarks"      # from the repository root (HEAD)
"""

import argparse
import importlib.util
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _timers():
    """This checkout's ``benchmarks/bench_es_split.py`` (its ``time_c_calls``), loaded by path
    under its own name: the tree timed may be an older one, without it."""
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_es_split.py"
    spec = importlib.util.spec_from_file_location("_head_bench_es_split", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    root, bench = sys.argv[1], sys.argv[2]
    sys.path[:0] = [bench, root]
    import torch

    import plasticagents.envs.batched as batched

    if not batched.__file__.startswith(root):
        raise SystemExit(f"plasticagents came from {batched.__file__}, not from {root}")
    import bench_es

    torch.set_num_threads(2)
    logging.getLogger("evotorch").setLevel(logging.WARNING)
    args = argparse.Namespace(
        env="Ant-v5", steps=200, popsize=64, hidden=128, threads=2, ours_policy="snn",
        storage="float32", inputs=[],
    )  # fmt: skip
    problem, batch = bench_es.ours_problem(
        args, [], episodes=1, lanes=1, compile=True, fast_physics=True, kernel="native"
    )
    problem.evaluate(batch)  # warm-up: builds the pool and the population
    problem.end_generation()
    network = next(iter(problem._populations.values()))._native
    fast = next(iter(problem._pools.values())).fast
    spent, _ = _timers().time_c_calls(network, fast)
    rows = []
    for _ in range(6):
        spent.update(network=0.0, physics=0.0, calls=0)
        t = time.perf_counter()
        problem.evaluate(batch)
        wall = time.perf_counter() - t
        problem.end_generation()
        per = 1e3 / spent["calls"]  # ms per batched step
        phys, net = spent["physics"] * per, spent["network"] * per
        rows.append((wall * per, phys, net, wall * per - phys - net))
    medians = [statistics.median(r[i] for r in rows) for i in range(4)]
    keys = ("total", "physics", "network", "rest")
    print(json.dumps({"root": root, **dict(zip(keys, medians, strict=True))}))


if __name__ == "__main__":
    main()
