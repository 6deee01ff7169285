"""Where ours' ES step spends its time (issue 21): physics, network, the rest.

One generation of ours (``bench_es.py``'s problem and batch, :func:`bench_es.ours_problem`: the
plastic SNN, fast physics, the native C network step) is run once with the network's
outputs recorded. Then each repeat times the same generation three ways, back to back:

* ``all``: as training runs it;
* ``network replayed``: the network's C step is not called; each call returns the recorded
  outputs and state of the same call (the trajectories are ours' own: the fitness is checked
  equal to the full run's);
* ``network replayed, physics skipped``: the C physics step is not called either; what it
  wrote in the recorded generation (positions, velocities, the torso's positions, Ant's
  contact forces, and the observations, rewards and terminations it computes for a rollout's
  full steps) is written back instead, so the bookkeeping code runs on the same episodes
  (checked: the same fitness).

Each variant's time is divided by its number of batched steps (the same in all three). The
recording keeps every step's outputs (the rollout gives its network state up at each step,
so the state is updated in place: one copy). The differences split a batched env step (all
slots) into physics (``network replayed`` minus ``physics skipped``; with the v5 outputs the C
step computes), the network's step (``all``
minus ``network replayed``) and the rest (the Python and NumPy around both: ``physics
skipped``). The rest is then measured with warm caches: nothing runs between its steps. So
``all`` also times its two C calls where they run, and the rest *in place* is ``all`` minus
them: the same Python after the physics and the network have swept the cores' caches (about
twice the warm figure; this in-place split also books the Python of the network's wrapper, which
the replay skips, to the rest). Printed: milliseconds per batched step (medians of
``--repeats``) and each part's share of ``all``, both ways. The record goes to
``results/benchmarks/bench_es_split-<YYYYmmdd-HHMMSS>.json`` (``--out``).

    python benchmarks/bench_es_split.py [--env Ant-v5] [--hidden 128] [--popsize 64]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
from _record import add_out_argument, default_out, settings, timing
from bench_es import add_problem_arguments, add_storage_argument, check_problem_arguments

from plasticagents.training.record import Recorder

VARIANTS = ("all", "network replayed", "network replayed, physics skipped")


def time_c_calls(network: Any, fast: Any) -> tuple[dict[str, float], Callable[[], None]]:
    """Wrap the population's native network step (``network._step``) and the fast physics'
    C step (``fast._lib.pa_physics_step``) in timers. Returns the running totals (seconds in
    ``physics`` and ``network``, the network's ``calls``; the caller zeroes them) and a
    function that puts the C calls back."""
    spent = {"physics": 0.0, "network": 0.0, "calls": 0}
    c_network, c_library = network._step, fast._lib

    def timed_network(*call_args):
        t = time.perf_counter()
        status = c_network(*call_args)
        spent["network"] += time.perf_counter() - t
        spent["calls"] += 1
        return status

    class TimedLibrary:
        def __getattr__(self, name):
            return getattr(c_library, name)

        def pa_physics_step(self, *call_args):
            t = time.perf_counter()
            status = c_library.pa_physics_step(*call_args)
            spent["physics"] += time.perf_counter() - t
            return status

    def untime() -> None:
        network._step, fast._lib = c_network, c_library

    network._step, fast._lib = timed_network, TimedLibrary()
    return spent, untime


def split(args) -> dict:
    """Time the three variants (module docstring); returns the timings and the split."""
    from bench_es import ours_problem  # the problem and batch bench_es.py times

    logging.getLogger("evotorch").setLevel(logging.WARNING)
    problem, batch = ours_problem(args, fast_physics=True, kernel="native")
    problem.evaluate(batch)  # builds the pool and the population (not timed)
    population = next(iter(problem._populations.values()))
    pool = next(iter(problem._pools.values()))
    network, fast = population._native, pool.fast
    if network is None or fast is None or not fast.native:
        raise SystemExit("bench_es_split needs the native C network step and the C physics step")
    physics = fast._native_physics
    recorded: list = []  # per batched step: the network's (outputs, state)
    # per batched step: the rows the C physics step wrote (what the observations, rewards and
    # terminations are computed from), written back when the physics is skipped
    buffers = ("qpos", "qvel", "before", "after") + (("cfrc_ext",) if fast.ant else ())
    written: list = []
    mode = {"network": "record", "physics": True, "call": 0, "physics_call": 0}

    def network_step(params, x, state, active=None, donate=False):
        if mode["network"] == "record":
            recorded.append(network(params, x, state, active, donate))
            return recorded[-1]
        if mode["network"] == "replay":
            out = recorded[mode["call"] % len(recorded)]
            mode["call"] += 1
            return out
        return network(params, x, state, active, donate)

    def physics_step(actions, idx, full=None, v5=None):
        # (v5: the arrays the C step also fills with the observations, rewards and
        # terminations; recorded and written back like the physics' own rows)
        if mode["physics"] == "record":
            stepped = physics(actions, idx, full, v5)
            outputs = [] if v5 is None else [a.copy() for a in v5[1:]]
            written.append((idx.copy(), [getattr(fast, b)[idx].copy() for b in buffers], outputs))
            return stepped
        if mode["physics"]:
            return physics(actions, idx, full, v5)
        rows, values, outputs = written[mode["physics_call"] % len(written)]
        mode["physics_call"] += 1
        for name, value in zip(buffers, values, strict=True):
            getattr(fast, name)[rows] = value  # the same episodes, without MuJoCo
        if v5 is not None:
            for target, value in zip(v5[1:], outputs, strict=True):
                target[...] = value
        return True

    # the two C calls timed where they run (the "all" variant): what the Python around them
    # costs in place, with the caches the physics and the network leave it
    in_place, untime = time_c_calls(network, fast)
    population._native, fast._native_physics = network_step, physics_step
    try:
        # the recorded generation: the normaliser is not updated between evaluations (that is
        # end_generation's), so every later evaluation of the batch meets the same episodes
        mode["physics"] = "record"
        problem.evaluate(batch)
        fitness = batch.evals[:, 0].clone()
        seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
        placed: dict[str, list[float]] = {"physics": [], "network": []}  # "all"'s C calls
        calls: dict[str, int] = {}  # batched steps of each variant's generation
        same_fitness = True
        for _ in range(args.repeats):
            for variant in VARIANTS:
                mode["network"] = "call" if variant == "all" else "replay"
                mode["physics"] = variant != VARIANTS[2]
                mode["call"] = mode["physics_call"] = 0
                in_place.update(physics=0.0, network=0.0, calls=0)
                t = time.perf_counter()
                problem.evaluate(batch)
                seconds[variant].append(time.perf_counter() - t)
                if variant == "all":
                    for part in placed:
                        placed[part].append(in_place[part])
                calls[variant] = len(recorded) if variant == "all" else mode["call"]
                same_fitness &= bool(torch.equal(batch.evals[:, 0], fitness))
    finally:
        population._native = network
        fast.__dict__.pop("_native_physics", None)
        untime()
        problem.close()
    per_step = {v: timing([1e3 * s / calls[v] for s in seconds[v]]) for v in VARIANTS}
    med = {v: per_step[v]["median"] for v in VARIANTS}
    parts = {
        "physics": med[VARIANTS[1]] - med[VARIANTS[2]],
        "network": med[VARIANTS[0]] - med[VARIANTS[1]],
        "rest": med[VARIANTS[2]],
    }
    n_all = calls[VARIANTS[0]]
    placed_ms = {k: [1e3 * s / n_all for s in v] for k, v in placed.items()}
    placed_ms["rest"] = [
        1e3 * s / n_all - p - n
        for s, p, n in zip(
            seconds[VARIANTS[0]], placed_ms["physics"], placed_ms["network"], strict=True
        )
    ]
    in_place_ms = {k: timing(v) for k, v in placed_ms.items()}
    return {
        "batched_steps_per_generation": calls,
        "ms_per_batched_step": per_step,
        "parts_ms": parts,
        "shares": {k: v / med[VARIANTS[0]] for k, v in parts.items()},
        "in_place_ms": in_place_ms,
        "in_place_shares": {k: v["median"] / med[VARIANTS[0]] for k, v in in_place_ms.items()},
        "replayed_fitness_equal": same_fitness,  # every variant, every repeat
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_problem_arguments(parser, repeats=5)
    add_storage_argument(parser)
    add_out_argument(parser, "bench_es_split")
    args = parser.parse_args(argv)
    check_problem_arguments(parser, args)
    rec = Recorder(None if argv is None else [Path(__file__).name, *argv])
    torch.set_num_threads(args.threads)
    res = split(args)
    print(
        f"{args.env}, popsize {args.popsize}, plastic SNN {args.hidden} neurons ({args.storage} "
        f"synapses), {args.threads} "
        f"threads, {res['batched_steps_per_generation']['all']} batched steps per generation; "
        f"median of {args.repeats}"
    )
    for variant in VARIANTS:
        print(f"  {variant:36s} {res['ms_per_batched_step'][variant]['median']:7.3f} ms per step")
    shares = ", ".join(
        f"{k} {res['parts_ms'][k]:.2f} ms ({100 * v:.0f}%)" for k, v in res["shares"].items()
    )
    print(f"  split: {shares}")
    placed = ", ".join(
        f"{k} {res['in_place_ms'][k]['median']:.2f} ms ({100 * v:.0f}%)"
        for k, v in res["in_place_shares"].items()
    )
    print(f"  timed in place (the C calls of 'all'): {placed}")
    if not res["replayed_fitness_equal"]:
        print("  warning: a replayed variant's fitness differs from the full run's")
    path = rec.write(
        args.out or default_out("bench_es_split"),
        outputs={
            "settings": settings(args),
            "unit": "milliseconds per batched env step (all slots)",
            **res,
        },
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
