"""Float16 against float32 synapse storage in ours' ES generation, side by side in one process.

Two of ``bench_es.py``'s problems (:func:`bench_es.ours_problem`: the plastic SNN, fast
physics, the native C network step), one with ``agent.plasticity.storage: float32`` and one
with ``float16``, each evaluating its own batch. Each repeat runs one generation of each, back
to back, so a host whose speed drifts moves both alike. Timed: the generation, and inside it
every call of the network's C step (its Python wrapper included). Printed: each storage's
medians, and the medians of the per-repeat ratios float16 / float32 (< 1: float16 faster).
The two storages are different networks, so their episodes differ (an ant falls at another
step); the generation's ratio is per batched env step, the network's per call. The record goes
to ``results/benchmarks/bench_storage-<YYYYmmdd-HHMMSS>.json`` (``--out``).

    python benchmarks/bench_storage.py [--env Ant-v5] [--hidden 128] [--popsize 64]
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from _record import add_out_argument, default_out, settings, timing
from bench_es import add_problem_arguments, check_problem_arguments

from plasticagents.training.record import Recorder

STORAGES = ("float32", "float16")


def compare(args) -> dict:
    """Time both storages' generations, alternating (module docstring)."""
    from bench_es import ours_problem

    logging.getLogger("evotorch").setLevel(logging.WARNING)
    sides, held = {}, {}
    for storage in STORAGES:
        side_args = copy.copy(args)
        side_args.storage = storage
        problem, batch = ours_problem(side_args, fast_physics=True, kernel="native")
        problem.evaluate(batch)  # builds the pool and the population (not timed)
        population = next(iter(problem._populations.values()))
        if population._native is None:
            raise SystemExit("bench_storage needs the native C network step")
        held[storage] = str(population._native.storage).removeprefix("torch.")
        clock = {"seconds": 0.0, "calls": 0}

        def timed(
            params, x, state, active=None, donate=False, _step=population._native, _clock=clock
        ):
            t = time.perf_counter()
            out = _step(params, x, state, active, donate)
            _clock["seconds"] += time.perf_counter() - t
            _clock["calls"] += 1
            return out

        population._native = timed
        sides[storage] = (problem, batch, clock)
    per: dict[str, dict[str, list[float]]] = {s: {"network": [], "step": []} for s in STORAGES}
    try:
        for _ in range(args.repeats):
            for storage, (problem, batch, clock) in sides.items():
                clock["seconds"], clock["calls"] = 0.0, 0
                t = time.perf_counter()
                problem.evaluate(batch)
                seconds = time.perf_counter() - t
                per[storage]["network"].append(1e3 * clock["seconds"] / clock["calls"])
                per[storage]["step"].append(1e3 * seconds / clock["calls"])
    finally:
        for problem, _, _ in sides.values():
            problem.close()
    ratios = {
        f"{part}_float16_over_float32": statistics.median(
            b / a for a, b in zip(per["float32"][part], per["float16"][part], strict=True)
        )
        for part in ("network", "step")
    }
    return {
        "synapses_held_as": held,  # what each side's C step stores raw, alpha and hebb in
        "ms_per_call": {s: {k: timing(v) for k, v in per[s].items()} for s in STORAGES},
        "ratios": ratios,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_problem_arguments(parser, repeats=6)
    add_out_argument(parser, "bench_storage")
    args = parser.parse_args(argv)
    check_problem_arguments(parser, args)
    rec = Recorder(None if argv is None else [Path(__file__).name, *argv])
    torch.set_num_threads(args.threads)
    res = compare(args)
    print(
        f"{args.env}, popsize {args.popsize}, plastic SNN {args.hidden} neurons, "
        f"{args.threads} threads; median of {args.repeats} generations per storage, alternated"
    )
    for storage in STORAGES:
        ms = res["ms_per_call"][storage]
        print(
            f"  {storage}: network's C step {ms['network']['median']:.3f} ms per call, "
            f"generation {ms['step']['median']:.3f} ms per batched step"
        )
    r = res["ratios"]
    print(
        f"ratio float16 / float32 (repeat by repeat, median): network "
        f"{r['network_float16_over_float32']:.2f}x, generation per batched step "
        f"{r['step_float16_over_float32']:.2f}x (< 1: float16 faster)"
    )
    path = rec.write(
        args.out or default_out("bench_storage"),
        outputs={
            "settings": settings(args),
            "unit": "milliseconds (network: per C step call; step: per batched env step)",
            **res,
        },
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
