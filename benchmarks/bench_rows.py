"""What fast weights cost by where they are: a population step with every row plastic, with
only some rows plastic (``agent.plasticity.rows``), and with none, side by side in one process.

One :class:`~plasticagents.PlasticSNN` per side, built from one seed with the same sizes, the
same neuromodulated Hebbian rule and the same constant input unit, differing only in
``rows``: ``all`` (the ``[I+N, N]`` fast weights of every row), ``input``, ``recurrent``,
``constant`` (only the constant unit's row: a plastic bias per neuron) and ``static``
(``plasticity=None``). Each is stepped as ES steps it: a :class:`~plasticagents.Population` of
``--population`` individuals, one episode each, through the step ES runs it with
(``--kernel auto``, the default: the C step, ``plasticagents.native``, on every side;
``--kernel torch``: the torch step on every side, compiled unless ``--no-compile``). Each
repeat times ``--steps`` steps of every side in turn, so a host whose speed drifts moves all
alike.
Printed: each side's median time per population step and the medians of the per-repeat ratios
side / ``all`` (< 1: cheaper than every row plastic). The record goes to
``results/benchmarks/bench_rows-<YYYYmmdd-HHMMSS>.json`` (``--out``).

    python benchmarks/bench_rows.py [--population 64] [--inputs 27] [--neurons 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from _record import add_out_argument, default_out, settings, timing

from plasticagents import PlasticitySpec, PlasticSNN, Population
from plasticagents.training.record import Recorder

SIDES = ("all", "input", "recurrent", "constant", "static")


def network(args, rows: str) -> PlasticSNN:
    spec = None
    if rows != "static":
        spec = PlasticitySpec("hebbian", mode="modulated", granularity="post", rows=rows)
    return PlasticSNN(
        args.inputs,
        args.outputs,
        hidden=args.neurons,
        steps_per_input=args.steps_per_input,
        plasticity=spec,
        constant_input=True,
        generator=torch.Generator().manual_seed(0),
    )


def compare(args) -> dict:
    """Time every side's population steps, alternating (module docstring)."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(args.population, 1, args.inputs, generator=gen)
    sides, kernels = {}, {}
    with warnings.catch_warnings():
        # dynamo instantiates the surrogate's autograd Function, which torch deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        for rows in SIDES:
            net = network(args, rows)
            native = args.kernel == "auto"
            pop = Population(
                net, args.population, compile=args.compile, native=native, threads=args.threads
            )
            if native and not pop.native:
                raise SystemExit(f"the C step did not take rows={rows}: see the warning above")
            state = pop.initial_state(1)
            with torch.no_grad():
                for _ in range(args.warmup):  # compiles (not timed)
                    _, state = pop(x, state)
            sides[rows] = [pop, state, sum(p.numel() for p in net.parameters())]
            kernels[rows] = (
                "native C step" if pop.native else ("compiled" if args.compile else "eager")
            )
    per: dict[str, list[float]] = {rows: [] for rows in SIDES}
    with torch.no_grad():
        for _ in range(args.repeats):
            for rows, side in sides.items():
                pop, state = side[0], side[1]
                t = time.perf_counter()
                for _ in range(args.steps):
                    _, state = pop(x, state)
                per[rows].append(1e6 * (time.perf_counter() - t) / args.steps)
                side[1] = state
    ratios = {
        f"{rows}_over_all": statistics.median(
            b / a for a, b in zip(per["all"], per[rows], strict=True)
        )
        for rows in SIDES
        if rows != "all"
    }
    return {
        "parameters": {rows: side[2] for rows, side in sides.items()},
        "kernels": kernels,
        "us_per_step": {rows: timing(v) for rows, v in per.items()},
        "ratios": ratios,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--inputs", type=int, default=27, help="observation size (Ant-v5: 27)")
    parser.add_argument("--outputs", type=int, default=8)
    parser.add_argument("--neurons", type=int, default=128)
    parser.add_argument("--steps-per-input", type=int, default=2)
    parser.add_argument("--steps", type=int, default=200, help="population steps per repeat")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument(
        "--kernel",
        choices=("auto", "torch"),
        default="auto",
        help="auto: the C step (as ES runs these networks); torch: the torch step",
    )
    add_out_argument(parser, "bench_rows")
    args = parser.parse_args(argv)
    for name in ("population", "inputs", "outputs", "neurons", "steps", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    rec = Recorder(None if argv is None else [Path(__file__).name, *argv])
    torch.set_num_threads(args.threads)
    res = compare(args)
    print(
        f"population {args.population} x 1 episode, {args.inputs} inputs + 1 constant, "
        f"{args.neurons} LIF (recurrent), {args.threads} threads; median of {args.repeats} "
        f"repeats of {args.steps} steps"
    )
    for rows in SIDES:
        us = res["us_per_step"][rows]["median"]
        ratio = "" if rows == "all" else f"  ({res['ratios'][f'{rows}_over_all']:.2f}x of all)"
        print(
            f"  rows={rows:<9} {us:9.1f} us per step, {res['parameters'][rows]} params, "
            f"{res['kernels'][rows]}{ratio}"
        )
    path = rec.write(
        args.out or default_out("bench_rows"),
        outputs={
            "settings": settings(args),
            "unit": "microseconds per population step",
            **res,
        },
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
