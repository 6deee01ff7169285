"""End-to-end ES throughput on Ant-v5: ours vs evotorch's VecGymNE vs physics alone.

Three loops evaluate one ES generation (``--popsize`` individuals, ``--episodes`` episodes each,
capped at ``--steps`` env steps) side by side in the same process, on the same machine:

* ``ours``: :class:`plasticagents.training.evolution.PolicyProblem` with a plastic (Hebbian) SNN of
  ``--hidden`` neurons; one batched population call per env step, physics over ``--threads``
  threads (``torch.compile`` on by default, compiled once before timing);
* ``evotorch``: evotorch's own ``VecGymNE`` with an MLP policy (64 tanh units), observation
  normalisation on, the same popsize, episodes and episode cap;
* ``physics``: ``mujoco.mj_step`` (frame skip 5) on popsize x episodes ``MjData``s of the Ant model
  over the same threads, zero controls, no policy, no Python env wrappers.

Printed: env steps/s of each (median of ``--repeats``) and the ratios ours/evotorch (goal
>= 1.0) and ours/physics (goal >= 0.7). Episodes that terminate early count only the steps
they ran.

    python benchmarks/bench_es.py [--popsize 64] [--steps 200] [--episodes 1] [--repeats 3]

``--episodes 3`` times the batched-episode path that crippled-leg training
(``env.train_distribution``) runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
import torch

warnings.filterwarnings("ignore", category=DeprecationWarning)
import evotorch  # noqa: E402,F401  (configures its logger on import; quieted below)

logging.getLogger("evotorch").setLevel(logging.WARNING)


def bench_ours(args, lanes: int) -> float:
    from evotorch import SolutionBatch

    from plasticagents.training.config import from_dict
    from plasticagents.training.evolution import PolicyProblem

    cfg = from_dict(
        {
            "env": {"id": "Ant-v5", "max_episode_steps": args.steps},
            "agent": {
                "kind": "snn",
                "hidden": args.hidden,
                "dt": 0.025,
                "gain": 2.0,
                "plasticity": {"rule": "hebbian", "granularity": "post"},
            },
            "trainer": {
                "popsize": args.popsize,
                "episodes": args.episodes,
                "threads": args.threads,
                "lanes": lanes,
                "compile": args.compile,
            },
        }
    )
    problem = PolicyProblem(cfg)
    problem.warmup_obs_norm(1000)
    batch = SolutionBatch(problem, popsize=args.popsize, empty=True)
    gen = torch.Generator().manual_seed(0)
    batch.set_values(
        problem.center_init
        + 0.03 * torch.randn(args.popsize, problem.solution_length, generator=gen)
    )
    problem.evaluate(batch)  # compile + allocate outside the timing
    problem.end_generation()
    rates = []
    for r in range(args.repeats):
        problem.generation = r + 1
        t = time.perf_counter()
        problem.evaluate(batch)
        elapsed = time.perf_counter() - t
        steps, _ = problem.end_generation()
        rates.append(steps / elapsed)
    problem.close()
    return statistics.median(rates)


def bench_evotorch(args) -> float:
    from evotorch import SolutionBatch
    from evotorch.neuroevolution import VecGymNE

    problem = VecGymNE(
        "gym::Ant-v5",
        "Linear(obs_length, 64) >> Tanh() >> Linear(64, act_length)",
        env_config={"max_episode_steps": args.steps},
        observation_normalization=True,
        max_num_envs=args.popsize * args.episodes,
        num_episodes=args.episodes,
    )
    batch = SolutionBatch(problem, popsize=args.popsize)
    problem.evaluate(batch)  # warm-up
    rates = []
    for _ in range(args.repeats):
        before = problem.status["total_interaction_count"]
        t = time.perf_counter()
        problem.evaluate(batch)
        elapsed = time.perf_counter() - t
        rates.append((problem.status["total_interaction_count"] - before) / elapsed)
    return statistics.median(rates)


def bench_physics(args) -> float:
    import gymnasium as gym
    import mujoco

    env = gym.make("Ant-v5")
    model = env.unwrapped.model
    frame_skip = env.unwrapped.frame_skip
    n = args.popsize * args.episodes
    datas = [mujoco.MjData(model) for _ in range(n)]
    for d in datas:
        mujoco.mj_forward(model, d)
    chunks = np.array_split(np.arange(n), args.threads)

    def run(chunk):
        for i in chunk:
            mujoco.mj_step(model, datas[i], nstep=frame_skip)

    rates = []
    with ThreadPoolExecutor(args.threads) as pool:
        for _ in range(args.repeats):
            t = time.perf_counter()
            for _ in range(args.steps):
                list(pool.map(run, chunks))
            rates.append(n * args.steps / (time.perf_counter() - t))
    env.close()
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--popsize", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="episode cap (env steps)")
    parser.add_argument("--episodes", type=int, default=1, help="episodes per individual")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--lanes", type=int, nargs="+", default=[1, 2], help="trainer.lanes values to time"
    )
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    args = parser.parse_args()
    print(
        f"Ant-v5, popsize {args.popsize} x {args.episodes} episode(s) "
        f"capped at {args.steps} steps, "
        f"{args.threads} threads, torch {torch.__version__}, {os.cpu_count()} CPUs; "
        f"median of {args.repeats}"
    )
    ours = 0.0
    for lanes in args.lanes:
        rate = bench_ours(args, lanes)
        print(
            f"  ours (plastic SNN, {args.hidden} neurons, {lanes} lane(s)): {rate:9.0f} env steps/s"
        )
        ours = max(ours, rate)
    evo = bench_evotorch(args)
    print(f"  evotorch VecGymNE (MLP 64):                       {evo:9.0f} env steps/s")
    phys = bench_physics(args)
    print(f"  physics only (mj_step):                           {phys:9.0f} env steps/s")
    print(f"ratio ours (best lanes) / evotorch MLP: {ours / evo:.2f}x (goal >= 1.0)")
    print(f"ratio ours (best lanes) / physics only: {ours / phys:.2f}x (goal >= 0.7)")


if __name__ == "__main__":
    main()
