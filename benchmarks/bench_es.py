"""End-to-end ES throughput on Ant-v5 (``--env``): ours vs evotorch's VecGymNE vs physics alone.

Three loops evaluate one ES generation (``--popsize`` individuals, ``--episodes`` episodes each,
capped at ``--steps`` env steps) side by side in the same invocation, on the same machine, each
timed ``--repeats`` times after one untimed warm-up generation:

* ``ours``: :class:`plasticagents.training.evolution.PolicyProblem` with a plastic (Hebbian) SNN of
  ``--hidden`` neurons; one batched population call per env step, physics over ``--threads``
  threads, torch limited to ``--threads`` threads. The network step is ``--kernel``
  (``trainer.kernel``): by default the native C step of :mod:`plasticagents.native`; with
  ``--kernel torch``, ``torch.compile`` (compiled in the warm-up; the label says whether it
  really compiled or fell back to eager). One
  configuration per ``--lanes`` value (``trainer.lanes``; default 1). With ``--ours-policy mlp``
  ours evolves the peer's default network instead (64 tanh units; ours adds a tanh on the
  actions): both sides then do the same network work, so the ratio to the MLP peer measures
  the engines alone, and ours' ratio to physics alone is the ceiling the physics and the
  Python around it leave any policy.
* ``evotorch``: evotorch's own ``VecGymNE`` with, by ``--peer-policy``, an MLP policy (``mlp``,
  the default: 64 tanh units, a far lighter network than ours) or ours' own plastic SNN
  (``snn``: the same config and parameter count, its state carried by evotorch's ``Policy``,
  which vmaps it over the population in torch: the same work as ours, done evotorch's way),
  observation normalisation on, the same popsize, episodes and episode cap. One configuration per
  ``--actors`` value. evotorch cannot step its environments over threads: ``VecGymNE`` steps
  its vector env (its own synchronous ``SyncVectorEnv``) in one Python thread and parallelises
  only over Ray actors (processes; ``num_actors``). So the peer gets the same CPU count
  instead: ``--actors N`` (default ``N = --threads``) runs ``num_actors=N`` single-CPU Ray
  actors (``ray.init(num_cpus=N)``, one CPU per actor, Ray's workers run torch with one
  thread) that each evaluate a share of the population; ``--actors 0`` evaluates in-process
  (physics on one core, torch on ``--threads`` threads). Ray's own daemons (GCS, raylet) run
  beside it, outside the timing's CPU budget: a small advantage to the peer, not to us.
* ``physics``: ``mujoco.mj_step`` (frame skip 5) on popsize x episodes ``MjData``s of the env's
  model over the same threads, zero controls, no policy, no Python env wrappers; and, in
  alternating repeats, Gymnasium's whole physics step (``MujocoEnv._step_mujoco_simulation``:
  the same plus ``mj_rnePostConstraint``, which every v5 env runs after ``mj_step``).

Both sides get the same number of configurations (``--lanes`` and ``--actors`` must list as
many values) and the same repeats; the best configuration of each side is compared. The
sides run repeat by repeat: every configuration is set up and warmed up first, then repeat r of
ours, physics and (with one ``--actors`` value) evotorch run back to back before repeat r + 1
of any, so a shared host whose speed drifts during the invocation slows the sides' repeat r
alike. Each ratio is printed both as the ratio of the medians and as the median of the
per-repeat ratios (``paired_ratios`` in the record; repeat r of each side against repeat r of
the other). With several ``--actors`` values each peer configuration starts its own Ray, so
those run one after another, after the rest, and only the ratio of medians is given for them.
Ray's daemons then run through ours' and physics' repeats too (idle, a small cost to both).

Printed: env steps/s of each configuration (median of ``--repeats``) and the ratios
ours/evotorch (goal >= 1.5) and ours/physics (goal >= 0.7; ``ours_over_physics`` against
``mj_step`` alone, ``ours_over_physics_step`` against Gymnasium's physics step). Episodes that
terminate early count only the steps they ran. The record (command, commit, versions, machine,
date, wall time; every repeat's seconds and env steps, the medians, the ratios, the settings and
the compile status) goes to ``results/benchmarks/bench_es-<YYYYmmdd-HHMMSS>.json`` (``--out``).

    python benchmarks/bench_es.py [--popsize 64] [--steps 200] [--episodes 1] [--repeats 3]
    python benchmarks/bench_es.py --lanes 1 2 --actors 2 0   # two configurations per side
    python benchmarks/bench_es.py --fast-physics --peer-policy snn   # the peer runs ours' SNN
    python benchmarks/bench_es.py --fast-physics --ours-policy mlp   # ours runs the peer's MLP

``--episodes 3`` times the batched-episode path that crippled-leg training
(``env.train_distribution``) runs.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import statistics
import time
import warnings
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np
import torch

warnings.filterwarnings("ignore", category=DeprecationWarning)
import evotorch  # noqa: E402,F401  (configures its logger on import; quieted below)

logging.getLogger("evotorch").setLevel(logging.WARNING)

from _record import add_out_argument, default_out, settings  # noqa: E402

from plasticagents.training.record import Recorder  # noqa: E402


def _dynamo_graphs() -> tuple[int, int]:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"]), int(sum(counters["graph_break"].values()))


def _drain(rounds: Iterator[None]) -> dict:
    """A benchmark's rounds run back to back (set-up, then every repeat): its result."""
    while True:
        try:
            next(rounds)
        except StopIteration as stop:
            return stop.value


def _interleave(benches: list[Iterator[None]]) -> list[dict]:
    """Benchmarks side by side: each set up and warmed up (to its first ``yield``), then
    repeat r of every benchmark in turn before repeat r + 1 of any, so a host whose speed
    drifts during the invocation (a shared VM) slows every side's repeat r alike and the
    per-repeat ratios stay paired. Returns each benchmark's result, in order."""
    results: list[dict | None] = [None] * len(benches)
    try:
        for bench in benches:
            next(bench)
        live = list(range(len(benches)))
        while live:
            for k in list(live):
                try:
                    next(benches[k])
                except StopIteration as stop:
                    results[k] = stop.value
                    live.remove(k)
    finally:  # one side failed: the others' set-up (Ray, env pools) is released
        for bench in benches:
            bench.close()
    return results  # type: ignore[return-value]


def _agent(args) -> dict:
    """Ours' agent section: the plastic SNN both sides run with ``--peer-policy snn``."""
    return {
        "kind": "snn",
        "hidden": args.hidden,
        "dt": 0.025,
        "gain": 2.0,
        "plasticity": {"rule": "hebbian", "granularity": "post", "storage": args.storage},
    }


class _FlatStateSNN(torch.nn.Module):
    """Ours' plastic SNN as evotorch's ``Policy`` runs a recurrent network: ``forward(x, h)``
    returns ``(action, h)`` with ``h`` a tuple of tensors (evotorch vmaps the network over the
    population and zeroes the rows of ``h`` whose episodes end). The network's state is a
    nested named tuple with ``None`` fields, which ``vmap`` cannot return: its tensors travel
    flat, and the structure is kept here (the same at every step)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        self._spec: Any = None
        self._none: list[bool] = []

    def forward(self, x: torch.Tensor, h: tuple | None = None) -> tuple[torch.Tensor, tuple]:
        from torch.utils import _pytree as pytree

        state = None
        if h is not None:
            tensors = iter(h)
            leaves = [None if none else next(tensors) for none in self._none]
            state = pytree.tree_unflatten(leaves, self._spec)
        action, state = self.net(x, state)
        leaves, self._spec = pytree.tree_flatten(state)
        self._none = [leaf is None for leaf in leaves]
        return action, tuple(leaf for leaf in leaves if leaf is not None)


def _peer_snn(args):
    """VecGymNE's network for ``--peer-policy snn``: a factory evotorch calls with the env's
    sizes (``pass_info``), building ours' network (same config, seed 0, same parameters:
    evotorch evolves every parameter, as ours does)."""
    from evotorch.decorators import pass_info

    from plasticagents.training.builders import build_policy

    agent = _agent_config(args)

    @pass_info
    def make(obs_length: int, act_length: int, **_: Any) -> torch.nn.Module:
        return _FlatStateSNN(build_policy(agent, obs_length, act_length, 0))

    return make


def _ours(args) -> tuple[dict, str, str]:
    """Ours' policy by ``--ours-policy``: its agent section, its short label and the record's
    description. ``mlp`` is the peer's default network, Linear(obs, 64) >> Tanh >>
    Linear(64, act), with the tanh ours puts on the actions (Ant's and HalfCheetah's action
    box is [-1, 1], where the peer's VecGymNE clips); otherwise the plastic SNN of
    :func:`_agent`. (``bench_es_split.py`` and ``bench_storage.py`` have no such option: the
    SNN.)"""
    if getattr(args, "ours_policy", "snn") == "mlp":
        return (
            {"kind": "mlp", "mlp_hidden": [64]},
            "MLP 64",
            "MLP, Linear(obs, 64) >> Tanh >> Linear(64, act) >> Tanh",
        )
    return (
        _agent(args),
        f"plastic SNN, {args.hidden} neurons, {args.storage} synapses",
        f"plastic Hebbian SNN, {args.hidden} LIF neurons, {args.storage} synapse storage",
    )


def _agent_config(args):
    """:func:`_agent` as the ``AgentConfig`` ours builds its network from."""
    from plasticagents.training.config import from_dict

    return from_dict({"env": {"id": args.env}, "agent": _agent(args)}).agent


_PEER_POLICIES = {
    "mlp": "evotorch VecGymNE, Linear(obs, 64) >> Tanh >> Linear(64, act)",
    "snn": "evotorch VecGymNE, ours' plastic SNN (same config), vmapped by evotorch's Policy",
}


def bench_ours(args, lanes: int) -> dict:
    """:func:`ours_rounds` run on its own."""
    return _drain(ours_rounds(args, lanes))


def add_problem_arguments(parser: argparse.ArgumentParser, repeats: int) -> None:
    """The options of :func:`ours_problem` that ``bench_es_split.py`` and ``bench_storage.py``
    take (Ant-v5 or HalfCheetah-v5, popsize, episode cap, neurons, threads) and ``--repeats``;
    :func:`check_problem_arguments` checks them."""
    parser.add_argument("--env", default="Ant-v5", choices=["Ant-v5", "HalfCheetah-v5"])
    parser.add_argument("--popsize", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="episode cap (env steps)")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=repeats)


def add_storage_argument(parser: argparse.ArgumentParser, who: str = "") -> None:
    """``--storage``: ``agent.plasticity.storage`` of ours' plastic SNN (``who`` adds to the
    help which sides run it)."""
    parser.add_argument(
        "--storage",
        choices=["float32", "float16"],
        default="float32",
        help=f"agent.plasticity.storage of the plastic SNN{who}: float16 holds the fast weights "
        "and streams the synapses as half (another network, other numbers)",
    )


def check_problem_arguments(parser: argparse.ArgumentParser, args) -> None:
    for name in ("repeats", "steps", "hidden", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.popsize < 2 or args.popsize % 2:
        parser.error(f"--popsize must be even and >= 2 (PGPE pairs), got {args.popsize}")


def ours_problem(args, inputs: list[str] = (), **trainer: Any) -> tuple[Any, Any]:
    """Ours' ES problem on ``args.env`` (episodes capped at ``args.steps``, the plastic SNN of
    :func:`_agent`, ``trainer`` settings beside popsize and threads), its observation
    normaliser warmed up, and a batch of ``args.popsize`` solutions around the centre (seed 0):
    what ``bench_es.py`` and ``bench_es_split.py`` time."""
    from evotorch import SolutionBatch

    from plasticagents.training.config import from_dict
    from plasticagents.training.evolution import PolicyProblem

    cfg = from_dict(
        {
            "env": {"id": args.env, "max_episode_steps": args.steps, "inputs": list(inputs)},
            "agent": _ours(args)[0],
            "trainer": {"popsize": args.popsize, "threads": args.threads, **trainer},
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
    return problem, batch


def ours_rounds(args, lanes: int) -> Generator[None, None, dict]:
    """Ours: set up and warm up, ``yield``, then one timed generation per ``yield``; returns
    the result (after the untimed replay generation)."""
    problem, batch = ours_problem(
        args,
        args.inputs,
        episodes=args.episodes,
        lanes=lanes,
        compile=args.compile,
        fast_physics=args.fast_physics,
        kernel=args.kernel,
    )
    graphs0, breaks0 = _dynamo_graphs()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        problem.evaluate(batch)  # compile + allocate outside the timing
        first = time.perf_counter() - t
    graphs1, breaks1 = _dynamo_graphs()
    problem.end_generation()
    fell_back = [
        str(w.message)[:300]
        for w in caught
        if "torch.compile failed" in str(w.message) or "native SNN step does not" in str(w.message)
    ]
    native = any(getattr(p, "native", False) for p in problem._populations.values())
    if native:
        status = "native C step"
    elif not args.compile:
        status = "eager (--no-compile)"
    elif fell_back:
        status = "eager fallback"
    elif graphs1 == graphs0:
        status = "unverified (no new graph compiled: cached or eager)"
    else:
        status = "compiled" if breaks1 == breaks0 else "compiled with graph breaks"
    seconds, steps = [], []
    try:
        yield
        for r in range(args.repeats):
            problem.generation = r + 1
            t = time.perf_counter()
            problem.evaluate(batch)
            seconds.append(time.perf_counter() - t)
            steps.append(int(problem.end_generation()[0]))
            yield
    except GeneratorExit:  # closed early (another side failed): release the pools
        problem.close()
        raise
    replay = None
    if args.fast_physics:
        # one more generation, untimed, with its physics logged for the replayed floor
        logs = [PhysicsLog(pool.fast) for pool in problem._pools.values() if pool.fast]
        problem.generation = args.repeats + 1
        problem.evaluate(batch)
        logged_steps = int(problem.end_generation()[0])
        for log in logs:
            log.detach()
        replay = bench_replay(args, logs, logged_steps) if logs else None
    fast = [pool.fast for pool in problem._pools.values() if pool.fast]
    physics_step = (
        None
        if not fast
        else "C (envs/native_physics.c)"
        if all(f.native for f in fast)
        else "Python per slot"
    )
    problem.close()
    return {
        "config": {
            "lanes": lanes,
            "compile": args.compile,
            "fast_physics": args.fast_physics,
            "kernel": args.kernel,
            "physics_step": physics_step,
        },
        "compile_status": {
            "status": status,
            "graphs": graphs1 - graphs0,
            "graph_breaks": breaks1 - breaks0,
            "fallback": fell_back,
            "warmup_generation_s": round(first, 3),
        },
        **_rates(seconds, steps),
        "physics_replay": replay,
    }


class PhysicsLog:
    """The physics one (untimed) generation of ours ran through the fast path
    (``BatchedLocomotion``): each slot's integration state when its episode began
    (``mjSTATE_INTEGRATION``: positions, velocities, warm start...) and, per batched step,
    the slots stepped and their controls.
    Attached by wrapping the fast path's ``begin`` and ``_physics`` / ``_native_physics`` (its
    Python or C physics step) on the instance."""

    def __init__(self, fast) -> None:
        import mujoco

        self.fast, self.starts, self.steps = fast, {}, []
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        begin, physics = fast.begin, fast._physics

        def logged_begin(i: int, info=None) -> None:
            begin(i, info)
            model, data = fast.bases[i].model, fast.bases[i].data
            state = np.empty(mujoco.mj_stateSize(model, spec))
            mujoco.mj_getState(model, data, state, spec)
            self.starts[i] = state

        def logged_physics(actions):
            run, stepped = physics(actions), []
            self.steps.append(stepped)

            def logged_run(i: int) -> None:
                stepped.append((i, np.array(actions[i], dtype=np.float64)))
                run(i)

            return logged_run

        native = fast._native_physics

        def logged_native(actions, idx, full=None, v5=None) -> bool:  # the C step: all slots
            stepped = native(actions, idx, full, v5)
            if stepped:  # (False: nothing stepped, the Python path steps and logs them)
                self.steps.append([(int(i), np.array(actions[i], dtype=np.float64)) for i in idx])
            return stepped

        fast.begin, fast._physics, fast._native_physics = (
            logged_begin,
            logged_physics,
            logged_native,
        )

    def detach(self) -> None:
        for name in ("begin", "_physics", "_native_physics"):
            self.fast.__dict__.pop(name, None)


def _replay_slot(datas: dict, key: int, frame_skip: int, slot: tuple) -> None:
    import mujoco

    i, ctrl = slot
    model, data = datas[(key, i)]
    data.ctrl[:] = ctrl
    mujoco.mj_step(model, data, nstep=frame_skip)
    mujoco.mj_rnePostConstraint(model, data)


def bench_replay(args, logs: list[PhysicsLog], env_steps: int) -> dict:
    """The physics floor of ours' own workload: the slot trajectories of ours' last timed
    generation replayed on fresh ``MjData`` (each slot's own model, its logged start state and
    controls, Gymnasium's physics step: controls, ``mj_step`` x frame skip,
    ``mj_rnePostConstraint``), batched step by batched step, through the physics step ours
    took: the C step (:func:`_replay_native`) or, on the per-slot Python path, over
    ``--threads`` threads that each take the next slot, as ours' pool does. No policy, no
    observations, no Python env.
    The zero-control floor (``physics``) stands still and touches the ground less than a
    population's flailing ants, so it may understate the physics ours has to do (on Ant-v5
    the replay through the C step ran at 0.90-1.04x of it, at 1104813). Each replay
    must end in the state ours ended in (positions, velocities, the contact forces
    ``mj_rnePostConstraint`` computes, time; checked: ``replay_matches``). The generation
    replayed is an extra one after the timed repeats (its logging is not timed)."""
    import mujoco

    from plasticagents.training.rollout import claim_map

    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    slots = [(log, i) for log in logs for i in sorted(log.starts)]
    if all(log.fast.native for log in logs):
        return _replay_native(args, logs, slots, env_steps)
    seconds, matches = [], 0.0
    with ThreadPoolExecutor(args.threads) as pool:
        for _ in range(args.repeats):
            datas = {}
            for log, i in slots:
                model = log.fast.bases[i].model
                data = mujoco.MjData(model)
                mujoco.mj_setState(model, data, log.starts[i], spec)
                datas[(id(log), i)] = (model, data)
            t = time.perf_counter()
            for log in logs:
                run = functools.partial(_replay_slot, datas, id(log), log.fast.frame_skip)
                for stepped in log.steps:
                    claim_map(pool, args.threads, run, stepped)  # as ours' pool steps them
            seconds.append(time.perf_counter() - t)
            same = [
                all(
                    np.array_equal(getattr(datas[(id(log), i)][1], f), getattr(ours, f))
                    for f in ("qpos", "qvel", "cfrc_ext", "time")
                )
                for log, i in slots
                for ours in (log.fast.bases[i].data,)
            ]
            matches = float(np.mean(same))
    replayed = sum(len(stepped) for log in logs for stepped in log.steps)
    return {
        "config": {
            "threads": args.threads,
            "work": "ours' logged slot trajectories: ctrl, mj_step x frame_skip, "
            "mj_rnePostConstraint, through MuJoCo's Python bindings per slot, as ours "
            "stepped them (ours took the per-slot Python path)",
            "slots": len(slots),
        },
        "replay_matches": matches,
        "ours_env_steps": env_steps,
        **_rates(seconds, [replayed] * args.repeats),
    }


def _replay_native(args, logs: list[PhysicsLog], slots: list, env_steps: int) -> dict:
    """:func:`bench_replay` through ours' own C physics step, the call ours made (each logged
    batched step is one ``_native_physics`` call of the slots it stepped): the fast path's
    slots are given fresh ``MjData`` at their logged start states for the replay (the step
    reads each slot's data afresh when its object changes) and their own data back after it.
    Back to back, the calls may run faster than between ours' network steps, so ours /
    replay bounds the physics' share of ours' time from below (``bench_es_split.py`` measures
    it inside the loop). The replay computes no observations or rewards, which ours' calls
    compute in the same C step since 2026-12-03 (the v5 outputs)."""
    import mujoco

    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    calls = []  # per logged batched step: (fast path, full ctrl array, slot indices)
    for log in logs:
        fast = log.fast
        for stepped in log.steps:
            ctrl = np.zeros((len(fast.bases), fast.nu))
            idx = np.array([i for i, _ in stepped], dtype=np.intp)
            for i, c in stepped:
                ctrl[i] = c
            calls.append((fast, ctrl, idx))
    own = {(id(log), i): log.fast.bases[i].data for log, i in slots}
    # with --lanes the pools were built with threads // lanes each and ran side by side; the
    # replay runs their calls one after another, so each gets all --threads
    threads = {id(log): log.fast.threads for log in logs}
    for log in logs:
        log.fast.threads = args.threads
    seconds, matches = [], 0.0
    try:
        for _ in range(args.repeats):
            datas = {}
            for log, i in slots:
                base = log.fast.bases[i]
                data = mujoco.MjData(base.model)
                mujoco.mj_setState(base.model, data, log.starts[i], spec)
                base.data = datas[(id(log), i)] = data
            t = time.perf_counter()
            for fast, ctrl, idx in calls:
                if not fast._native_physics(ctrl, idx):
                    raise RuntimeError("the C physics step refused the replay")
            seconds.append(time.perf_counter() - t)
            matches = float(
                np.mean(
                    [
                        all(
                            np.array_equal(getattr(datas[key], f), getattr(own[key], f))
                            for f in ("qpos", "qvel", "cfrc_ext", "time")
                        )
                        for key in datas
                    ]
                )
            )
    finally:
        for log, i in slots:
            log.fast.bases[i].data = own[(id(log), i)]
        for log in logs:
            log.fast.threads = threads[id(log)]
    replayed = sum(len(idx) for _, _, idx in calls)
    return {
        "config": {
            "threads": args.threads,
            "work": "ours' logged slot trajectories through ours' C physics step "
            "(envs/native_physics.c: ctrl, mj_step x frame_skip, mj_rnePostConstraint, the "
            "state copied out), one call per logged batched step over all --threads (the "
            "lanes' calls one after another)",
            "slots": len(slots),
        },
        "replay_matches": matches,
        "ours_env_steps": env_steps,
        **_rates(seconds, [replayed] * args.repeats),
    }


def _rates(seconds: list[float], steps: list[int]) -> dict:
    rates = [n / s for n, s in zip(steps, seconds, strict=True)]
    return {
        "seconds": seconds,
        "env_steps": steps,
        "steps_per_s": rates,
        "median_steps_per_s": statistics.median(rates),
    }


def _peer_envs(env_id: str, inputs: list[str], num_envs: int = 1, **kwargs):
    """VecGymNE's env factory: ``num_envs`` copies of the env ours runs, one vector env."""
    import gymnasium as gym

    from plasticagents.envs import make_env

    def one():
        return make_env(env_id, [], inputs, **kwargs)

    return gym.vector.SyncVectorEnv([one] * num_envs)


def bench_evotorch(args, actors: int) -> dict:
    """:func:`evotorch_rounds` run on its own."""
    return _drain(evotorch_rounds(args, actors))


def evotorch_rounds(args, actors: int) -> Generator[None, None, dict]:
    """The peer: set up (Ray actors started) and warm up, ``yield``, then one timed
    generation per ``yield``; returns the result after stopping Ray."""
    from evotorch import SolutionBatch
    from evotorch.neuroevolution import VecGymNE

    if actors > 0:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        # exactly `actors` CPUs for the peer's workers, one per actor
        ray.init(num_cpus=actors, include_dashboard=False, log_to_driver=False)
    plain = not args.inputs and not args.env.startswith("plasticagents/")
    problem = VecGymNE(
        # the same env as ours; evotorch's own maker for a plain Gymnasium id, ours (which
        # registers the plasticagents/ ids and adds the learner inputs) otherwise
        f"gym::{args.env}" if plain else functools.partial(_peer_envs, args.env, args.inputs),
        (
            "Linear(obs_length, 64) >> Tanh() >> Linear(64, act_length)"
            if args.peer_policy == "mlp"
            else _peer_snn(args)
        ),
        env_config={"max_episode_steps": args.steps},
        observation_normalization=True,
        # None: one env per solution (what popsize x episodes allowed before); a number breaks
        # evotorch 0.6.1 with actors (it calls actor.call.remote without args/kwargs)
        max_num_envs=None,
        num_episodes=args.episodes,
        num_actors=actors if actors > 0 else None,
        actor_config={"num_cpus": 1} if actors > 0 else None,
    )
    seconds, steps = [], []
    try:  # Ray is stopped however the rounds end (another side failing closes them)
        batch = SolutionBatch(problem, popsize=args.popsize)
        t = time.perf_counter()
        problem.evaluate(batch)  # warm-up (starts the actors)
        first = time.perf_counter() - t
        yield
        for _ in range(args.repeats):
            before = problem.status["total_interaction_count"]
            t = time.perf_counter()
            problem.evaluate(batch)
            seconds.append(time.perf_counter() - t)
            steps.append(int(problem.status["total_interaction_count"] - before))
            yield
    finally:
        if actors > 0:
            import ray

            problem.kill_actors()
            ray.shutdown()
    return {
        "config": {
            "num_actors": actors,
            "mode": f"{actors} Ray actor(s), 1 CPU each" if actors else "in-process",
            "policy": _PEER_POLICIES[args.peer_policy],
            "torch_threads_main": torch.get_num_threads(),
        },
        "warmup_generation_s": round(first, 3),
        **_rates(seconds, steps),
    }


def physics_rounds(args) -> Generator[None, None, dict]:
    """Physics alone, two floors timed in alternating repeats over the same threads:
    ``mj_step`` (``nstep`` = frame skip, zero controls) and Gymnasium's whole physics step
    (``MujocoEnv._step_mujoco_simulation``: controls written, ``mj_step``, then
    ``mj_rnePostConstraint``, which every v5 env runs after each step and Ant's contact
    forces need). Returns the ``mj_step`` floor with the other under ``"physics_step"``."""
    import gymnasium as gym
    import mujoco

    import plasticagents.envs  # noqa: F401  (registers the plasticagents/ ids)

    env = gym.make(args.env)
    model = env.unwrapped.model
    frame_skip = env.unwrapped.frame_skip
    n = args.popsize * args.episodes
    floors = {}
    for name in ("mj_step", "physics_step"):
        datas = [mujoco.MjData(model) for _ in range(n)]
        for d in datas:
            mujoco.mj_forward(model, d)
        floors[name] = datas
    zeros = np.zeros(model.nu)
    chunks = np.array_split(np.arange(n), args.threads)

    def run_mj_step(chunk):
        datas = floors["mj_step"]
        for i in chunk:
            mujoco.mj_step(model, datas[i], nstep=frame_skip)

    def run_physics_step(chunk):
        datas = floors["physics_step"]
        for i in chunk:
            data = datas[i]
            data.ctrl[:] = zeros
            mujoco.mj_step(model, data, nstep=frame_skip)
            mujoco.mj_rnePostConstraint(model, data)

    seconds: dict[str, list[float]] = {"mj_step": [], "physics_step": []}
    with ThreadPoolExecutor(args.threads) as pool:
        yield
        for _ in range(args.repeats):
            for name, run in (("mj_step", run_mj_step), ("physics_step", run_physics_step)):
                t = time.perf_counter()
                for _ in range(args.steps):
                    list(pool.map(run, chunks))
                seconds[name].append(time.perf_counter() - t)
            yield
    env.close()
    config = {"threads": args.threads, "frame_skip": frame_skip, "mjdata": n}
    steps = [n * args.steps] * args.repeats
    return {
        "config": {**config, "work": "mj_step"},
        **_rates(seconds["mj_step"], steps),
        "physics_step": {
            "config": {**config, "work": "ctrl, mj_step, mj_rnePostConstraint"},
            **_rates(seconds["physics_step"], steps),
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--env",
        default="Ant-v5",
        help="env id (a plasticagents/ id too, e.g. plasticagents/HalfCheetahVelSwitch-v0)",
    )
    parser.add_argument(
        "--inputs",
        nargs="*",
        default=[],
        choices=["action", "reward"],
        help="learner inputs appended to the observation (env.inputs), for both sides",
    )
    parser.add_argument("--popsize", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200, help="episode cap (env steps)")
    parser.add_argument("--episodes", type=int, default=1, help="episodes per individual")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--lanes", type=int, nargs="+", default=[1], help="trainer.lanes values to time (ours)"
    )
    parser.add_argument(
        "--actors",
        type=int,
        nargs="+",
        default=None,
        help="VecGymNE num_actors values to time (peer; 0 = in-process; default: --threads)",
    )
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument(
        "--fast-physics",
        action="store_true",
        help="ours with trainer.fast_physics (batched v5 stepping, envs/batched.py)",
    )
    parser.add_argument(
        "--kernel",
        choices=["auto", "torch", "native"],
        default="auto",
        help="ours' network step (trainer.kernel): auto = the native C step when compiled",
    )
    add_storage_argument(parser, " (both sides with --peer-policy snn)")
    parser.add_argument(
        "--ours-policy",
        choices=["snn", "mlp"],
        default="snn",
        help="ours' policy: the plastic SNN (the default) or an MLP of 64 tanh units, the "
        "peer's default network (then ours and the peer run the same network's work, and "
        "ours' network costs next to nothing: the bound the physics sets on any engine)",
    )
    parser.add_argument(
        "--peer-policy",
        choices=sorted(_PEER_POLICIES),
        default="mlp",
        help="the peer's policy: evotorch's MLP (64 tanh units; a lighter network than ours) "
        "or ours' plastic SNN, the same network ours runs (evotorch vmaps it in torch)",
    )
    add_out_argument(parser, "bench_es")
    args = parser.parse_args(argv)
    if args.actors is None:
        args.actors = [args.threads if args.threads > 1 else 0]
    if len(args.actors) != len(args.lanes):
        parser.error(
            f"--lanes {args.lanes} and --actors {args.actors} must list the same number of "
            "configurations (each side gets as many tries)"
        )
    if any(a < 0 or a > args.threads for a in args.actors):
        parser.error(f"--actors values must be in 0..--threads ({args.threads})")
    rec = Recorder(None if argv is None else [Path(__file__).name, *argv])
    torch.set_num_threads(args.threads)
    print(
        f"{args.env}{' + ' + '/'.join(args.inputs) if args.inputs else ''}, "
        f"popsize {args.popsize} x {args.episodes} episode(s) "
        f"capped at {args.steps} steps, "
        f"{args.threads} threads, torch {torch.__version__}, {os.cpu_count()} CPUs; "
        f"median of {args.repeats}"
    )
    # side by side, repeat by repeat (_interleave); the peer's configurations each start
    # their own Ray, so with more than one they run one after another, after the rest
    benches = [ours_rounds(args, lanes) for lanes in args.lanes] + [physics_rounds(args)]
    paired = len(args.actors) == 1
    if paired:
        benches.append(evotorch_rounds(args, args.actors[0]))
    results = _interleave(benches)
    n_ours = len(args.lanes)
    ours_runs, phys = results[:n_ours], results[n_ours]
    evo_runs = results[n_ours + 1 :] if paired else [bench_evotorch(args, a) for a in args.actors]
    for lanes, res in zip(args.lanes, ours_runs, strict=True):
        fast = f"fast physics ({res['config']['physics_step']}), " if args.fast_physics else ""
        print(
            f"  ours ({_ours(args)[1]}, "
            f"{lanes} lane(s), {fast}"
            f"{res['compile_status']['status']}): {res['median_steps_per_s']:9.0f} env steps/s"
        )
        if res.get("physics_replay"):
            rep = res["physics_replay"]
            print(
                f"    its physics replayed (same trajectories, no policy): "
                f"{rep['median_steps_per_s']:9.0f} env steps/s "
                f"({100 * rep['replay_matches']:.0f}% of slots end in ours' state)"
            )
    peer_label = "MLP 64" if args.peer_policy == "mlp" else f"plastic SNN, {args.hidden} neurons"
    for res in evo_runs:
        print(
            f"  evotorch VecGymNE ({peer_label}, {res['config']['mode']}): "
            f"{res['median_steps_per_s']:9.0f} env steps/s"
        )
    step = phys["physics_step"]
    print(
        f"  physics only (mj_step, {args.threads} threads):        "
        f"{phys['median_steps_per_s']:9.0f} env steps/s\n"
        f"  physics only (Gymnasium's physics step: mj_step + mj_rnePostConstraint): "
        f"{step['median_steps_per_s']:9.0f} env steps/s"
    )
    best_run = max(ours_runs, key=lambda r: r["median_steps_per_s"])
    best_evo = max(evo_runs, key=lambda r: r["median_steps_per_s"])
    ours, evo = best_run["median_steps_per_s"], best_evo["median_steps_per_s"]
    ratios = {
        "ours_over_evotorch": ours / evo,
        "ours_over_physics": ours / phys["median_steps_per_s"],
        "ours_over_physics_step": ours / step["median_steps_per_s"],
    }
    # the same ratios repeat by repeat (repeat r of each side ran back to back), their median
    peers = {"ours_over_physics": phys, "ours_over_physics_step": step}
    if paired:
        peers["ours_over_evotorch"] = best_evo
    paired_ratios = {
        key: statistics.median(
            a / b for a, b in zip(best_run["steps_per_s"], peer["steps_per_s"], strict=True)
        )
        for key, peer in peers.items()
    }
    replay = best_run.get("physics_replay")
    if replay:
        ratios["ours_over_physics_replay"] = ours / replay["median_steps_per_s"]
    n = len(args.lanes)

    def both(key: str) -> str:
        text = f"{ratios[key]:.2f}x"
        if key in paired_ratios:
            text += f" (repeat by repeat, median: {paired_ratios[key]:.2f}x)"
        return text

    print(
        f"ratio ours / evotorch {peer_label} (best of {n} config(s) each): "
        f"{both('ours_over_evotorch')} (goal >= 1.5)"
    )
    print(
        f"ratio ours (best of {n}) / physics only: {both('ours_over_physics')} (goal >= 0.7)"
        f"; / Gymnasium's physics step: {both('ours_over_physics_step')}"
    )
    if replay:
        print(
            "ratio ours / its own trajectories' physics (replayed): "
            f"{ratios['ours_over_physics_replay']:.2f}x"
        )
    path = rec.write(
        args.out or default_out("bench_es"),
        outputs={
            "settings": settings(
                args,
                env=args.env,
                ours_policy=_ours(args)[2],
                peer_policy=_PEER_POLICIES[args.peer_policy],
            ),
            "unit": "env steps per second (each repeat: env_steps / seconds)",
            "ours": ours_runs,
            "evotorch": evo_runs,
            "physics": phys,
            "best": {
                "ours": ours,
                "evotorch": evo,
                "physics": phys["median_steps_per_s"],
                "physics_step": step["median_steps_per_s"],
                "physics_replay": replay["median_steps_per_s"] if replay else None,
            },
            "ratios": ratios,
            "paired_ratios": paired_ratios,
            "interleaved": "ours, physics" + (", evotorch" if paired else ""),
        },
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
