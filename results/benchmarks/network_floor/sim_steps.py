"""The native C step of bench_es.py's Ant-v5 population (64 x 128 LIF, 233 presynaptic rows,
every row plastic) timed alone with 1 to 4 simulation steps per call (``dims.steps``; the
network runs 2 per env step): 60 chained calls from one captured env step's input and state,
median, 3 rounds. The first step costs the stream of every slot's synapses from L3 (raw,
alpha and the fast weights read, the new fast weights written); each further step reruns
them from the core's L2.

    python results/benchmarks/network_floor/sim_steps.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from bench_es import ours_problem


def main() -> None:
    torch.set_num_threads(2)
    args = argparse.Namespace(
        env="Ant-v5", popsize=64, steps=200, hidden=128, threads=2, storage="float32"
    )
    problem, batch = ours_problem(args, fast_physics=True, kernel="native")
    problem.evaluate(batch)
    population = next(iter(problem._populations.values()))
    network = population._native
    captured = []

    def capture(params, x, state, active=None, donate=False):
        if len(captured) < 30:
            captured.append((params, x.clone(), state))
        return network(params, x, state, active)  # (not donated: the captured states are kept)

    population._native = capture
    problem.evaluate(batch)
    population._native = network
    params, x, state = captured[20]
    dims = next(iter(network._dims.values()))

    def chained(n: int = 60) -> float:
        s, times = state, []
        for _ in range(n):
            t = time.perf_counter()
            _, s = network(params, x, s, None)
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1e3

    for _ in range(3):
        cells = []
        for steps in (1, 2, 3, 4):
            dims.steps = steps
            cells.append(f"steps={steps}: {chained():.3f}")
        print("  ".join(cells), "(ms per call)")
    problem.close()


if __name__ == "__main__":
    main()
