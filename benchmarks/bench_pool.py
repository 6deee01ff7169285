"""The env pool's threads, two measurements behind two choices in ``training/rollout.py``.

(a) ``omp``: one batched physics step of ``--slots`` HalfCheetah-v5 envs over 2 threads (the
    pool's ``claim_map``: controls, ``mj_step`` x frame skip, ``mj_rnePostConstraint``), timed
    alone and with a small torch MLP call between steps (as the ES network runs between
    them), in a child process per ``OMP_WAIT_POLICY``: unset (libgomp's idle threads spin for
    a while) and ``PASSIVE`` (they sleep). Why ``plasticagents`` sets ``PASSIVE`` when
    imported before torch, and the pool warns when torch came first.
(b) ``schedule``: whole ES generations (Ant-v5, popsize 64, plastic SNN of 128 neurons,
    native step, fast physics, 200-step cap) with the pool's threads taking the next slot
    (``claim_map``, the default) against fixed halves of the slots (the pool before), in
    alternating repeats; env steps/s. Ants in heavy contact make slots uneven.

Each timing is the median of ``--repeats``; the record (command, commit, versions, machine,
date, every repeat) goes to ``results/benchmarks/bench_pool-<YYYYmmdd-HHMMSS>.json``.

    python benchmarks/bench_pool.py                 # both parts
    python benchmarks/bench_pool.py --part omp --slots 8 --steps 20 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _record import add_out_argument, default_out


def _omp_child(slots: int, steps: int, repeats: int) -> dict:
    """Run in a child process whose OMP_WAIT_POLICY was set before torch was imported."""
    from concurrent.futures import ThreadPoolExecutor

    import gymnasium as gym
    import mujoco
    import numpy as np
    import torch

    from plasticagents.training.rollout import claim_map, quiet_mujoco_warnings

    torch.set_num_threads(2)
    with quiet_mujoco_warnings():
        envs = [gym.make("HalfCheetah-v5") for _ in range(slots)]
    for i, env in enumerate(envs):
        env.reset(seed=i)
    bases = [env.unwrapped for env in envs]
    rng = np.random.default_rng(0)
    net = torch.nn.Sequential(torch.nn.Linear(17, 64), torch.nn.Tanh(), torch.nn.Linear(64, 6))
    x = torch.randn(slots, 17)

    def step(i: int, act) -> None:
        model, data = bases[i].model, bases[i].data
        data.ctrl[:] = act[i]
        mujoco.mj_step(model, data, nstep=bases[i].frame_skip)
        mujoco.mj_rnePostConstraint(model, data)

    out = {}
    with ThreadPoolExecutor(2) as pool:
        for name, between in (("alone", False), ("torch_between", True)):
            times = []
            for _ in range(repeats):
                total = 0.0
                for _ in range(steps):
                    if between:
                        with torch.no_grad():
                            net(x)
                    act = rng.uniform(-1, 1, (slots, 6))
                    t = time.perf_counter()
                    claim_map(pool, 2, lambda i, act=act: step(i, act), list(range(slots)))
                    total += time.perf_counter() - t
                times.append(total / steps)
            out[name] = {"seconds_per_step": times, "median": statistics.median(times)}
    return out


def bench_omp(args) -> dict:
    results = {}
    for policy in ("unset", "PASSIVE"):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if policy != "unset":
            env["OMP_WAIT_POLICY"] = policy
        code = (
            f"import sys, json; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "import bench_pool; "
            f"print(json.dumps(bench_pool._omp_child({args.slots}, {args.steps}, "
            f"{args.repeats})))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        results[policy] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[policy]
        print(
            f"(a) OMP_WAIT_POLICY {policy:7s}: physics step of {args.slots} slots "
            f"{r['alone']['median'] * 1e3:.3f} ms alone, "
            f"{r['torch_between']['median'] * 1e3:.3f} ms with a torch call between steps"
        )
    return results


def bench_schedule(args) -> dict:
    import numpy as np
    import torch
    from evotorch import SolutionBatch

    from plasticagents.training import rollout
    from plasticagents.training.config import from_dict
    from plasticagents.training.evolution import PolicyProblem

    torch.set_num_threads(2)
    cfg = from_dict(
        {
            "env": {"id": "Ant-v5", "max_episode_steps": 200},
            "agent": {
                "kind": "snn",
                "hidden": 128,
                "dt": 0.025,
                "gain": 2.0,
                "plasticity": {"rule": "hebbian", "granularity": "post"},
            },
            "trainer": {"popsize": 64, "threads": 2, "compile": True, "fast_physics": True},
        }
    )
    problem = PolicyProblem(cfg)
    problem.warmup_obs_norm(1000)
    batch = SolutionBatch(problem, popsize=64, empty=True)
    gen = torch.Generator().manual_seed(0)
    batch.set_values(
        problem.center_init + 0.03 * torch.randn(64, problem.solution_length, generator=gen)
    )
    claimed = rollout.EnvPool._map

    def halves(self, fn, indices):  # the pool's scheduling before claim_map
        if self._executor is None or len(indices) < 2:
            return [fn(i) for i in indices]
        chunks = np.array_split(np.asarray(indices), self.threads)
        parts = self._executor.map(lambda c: [fn(int(i)) for i in c], chunks)
        return [r for part in parts for r in part]

    problem.evaluate(batch)  # warm-up
    problem.end_generation()
    rates: dict[str, list[float]] = {"claimed": [], "halves": []}
    try:
        for r in range(args.repeats):
            for name, mapper in (("claimed", claimed), ("halves", halves)):
                rollout.EnvPool._map = mapper
                problem.generation = 2 * r + (name == "halves") + 1
                t = time.perf_counter()
                problem.evaluate(batch)
                seconds = time.perf_counter() - t
                rates[name].append(problem.end_generation()[0] / seconds)
    finally:
        rollout.EnvPool._map = claimed
        problem.close()
    out = {k: {"steps_per_s": v, "median": statistics.median(v)} for k, v in rates.items()}
    out["claimed_over_halves"] = out["claimed"]["median"] / out["halves"]["median"]
    print(
        f"(b) Ant-v5 ES generation: next slot {out['claimed']['median']:.0f}, fixed halves "
        f"{out['halves']['median']:.0f} env steps/s ({out['claimed_over_halves']:.2f}x)"
    )
    return out


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # part (b), before torch is imported
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["omp", "schedule", "both"], default="both")
    parser.add_argument("--slots", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100, help="physics steps per repeat (a)")
    parser.add_argument("--repeats", type=int, default=5)
    add_out_argument(parser, "bench_pool")
    args = parser.parse_args(argv)
    from plasticagents.training.record import Recorder

    rec = Recorder(None if argv is None else [Path(__file__).name, *argv])
    outputs: dict = {"settings": {k: v for k, v in vars(args).items() if k != "out"}}
    ratios = {}
    if args.part in ("omp", "both"):
        outputs["omp"] = omp = bench_omp(args)
        ratios["spinning_over_passive_with_torch_between"] = (
            omp["unset"]["torch_between"]["median"] / omp["PASSIVE"]["torch_between"]["median"]
        )
    if args.part in ("schedule", "both"):
        outputs["schedule"] = sched = bench_schedule(args)
        ratios["claimed_over_halves"] = sched["claimed_over_halves"]
    outputs["ratios"] = ratios
    path = rec.write(args.out or default_out("bench_pool"), outputs=outputs)
    print(f"record: {path}")


if __name__ == "__main__":
    main()
