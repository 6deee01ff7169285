"""The one environment-stepping engine: agents step batches of Gymnasium environments in lockstep.

Two modes share one step function (``_step``: ``predict`` with ``episode_start``, the
non-finite checks, spike counts and the bookkeeping of each step's ``info``):

- :func:`rollout`: one episode per slot from a seeded reset; slots whose episode has ended
  are no longer stepped. ES fitness, evaluation, robustness runs, the viewer and the tests.
- :func:`collect`: exactly ``steps`` steps of every slot, resetting a slot when its episode
  ends (SB3 ``DummyVecEnv`` semantics), continuing from the :class:`Carry` of the previous
  call: on-policy training (recurrent PPO).

The agent is called once per step for all slots at once (for a population agent, ``obs`` is
laid out ``[P, E, obs_dim]``, slot ``p * E + e``) with ``episode_start`` flagging the slots
whose episode begins at this step. Perturbation wrappers report
``info["perturbation"][label] = {"active": ..., "onset": ...}`` at every reset and step; the
engine turns these reports into each episode's onsets (``label -> step``), so nothing
downstream reads a wrapper's attributes.

Physics runs on ``threads`` Python threads: ``mujoco.mj_step`` releases the GIL, so two
threads step two halves of the pool in parallel on a 2-core machine.

Example:
    >>> import gymnasium as gym
    >>> from plasticagents import Agent, MLPPolicy
    >>> pool = EnvPool([lambda: gym.make("Pendulum-v1", max_episode_steps=20)] * 3)
    >>> agent = Agent(MLPPolicy(3, 1, hidden=(8,)), action_low=-2.0, action_high=2.0)
    >>> result = rollout(agent, pool, seeds=[0, 1, 2])
    >>> result.returns.shape, result.lengths.tolist()
    ((3,), [20, 20, 20])
    >>> batch = collect(agent, pool, steps=30, seed=0)  # 30 steps per slot, autoreset at 20
    >>> batch.rewards.shape, batch.episode_lengths.tolist(), batch.truncated[19].tolist()
    ((30, 3), [20, 20, 20], [True, True, True])
    >>> pool.close()
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from plasticagents.envs.split import StepArrays

__all__ = [
    "RECORD_FIELDS",
    "Carry",
    "Collected",
    "EnvPool",
    "NormalizedAgent",
    "RolloutResult",
    "RunningNorm",
    "collect",
    "episode_seeds",
    "policy_probe",
    "rollout",
]


class RunningNorm:
    """Running mean / variance of observations (parallel Welford), frozen unless updated.

    ``normalize(x) = clip((x - mean) / sqrt(var + eps), -clip, clip)``. Several workers each
    collect a delta (:meth:`update`) that the main process merges (:meth:`merge`). ``mean``
    and ``m2`` are replaced (update, merge, load), never written in place: :meth:`normalize`
    keeps ``sqrt(var + eps)`` until they, ``count`` or ``eps`` change.
    """

    def __init__(self, dim: int, clip: float = 5.0, eps: float = 1e-8) -> None:
        self.dim, self.clip, self.eps = dim, clip, eps
        self.count = 0.0
        self.mean = np.zeros(dim)
        self.m2 = np.zeros(dim)
        self._scale: tuple = ()  # (count, eps, mean, m2, sqrt(var + eps)) of the last normalize

    @property
    def var(self) -> np.ndarray:
        return self.m2 / self.count if self.count > 0 else np.ones(self.dim)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        if len(x) == 0:
            return
        other = RunningNorm(self.dim)
        other.count, other.mean = float(len(x)), x.mean(0)
        other.m2 = ((x - other.mean) ** 2).sum(0)
        self.merge(other)

    def merge(self, other: RunningNorm) -> None:
        if other.count == 0:
            return
        n = self.count + other.count
        delta = other.mean - self.mean
        self.mean = self.mean + delta * other.count / n
        self.m2 = self.m2 + other.m2 + delta**2 * self.count * other.count / n
        self.count = n

    def normalize(self, x: np.ndarray) -> np.ndarray:
        if self.count == 0:
            return np.asarray(x, dtype=np.float32)
        scale = getattr(self, "_scale", ())  # (absent from a pickle of an older RunningNorm)
        if not (
            scale
            and scale[0] == self.count
            and scale[1] == self.eps
            and scale[2] is self.mean
            and scale[3] is self.m2
        ):
            scale = (self.count, self.eps, self.mean, self.m2, np.sqrt(self.var + self.eps))
            self._scale = scale
        y = (np.asarray(x) - self.mean) / scale[4]
        return np.clip(y, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": self.mean.copy(),
            "m2": self.m2.copy(),
            "clip": self.clip,
        }

    def load_state_dict(self, state: dict[str, Any]) -> RunningNorm:
        self.count, self.clip = float(state["count"]), float(state["clip"])
        self.mean, self.m2 = np.array(state["mean"]), np.array(state["m2"])
        return self

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RunningNorm:
        return cls(len(state["mean"])).load_state_dict(state)


class NormalizedAgent:
    """An agent whose observations pass through a frozen :class:`RunningNorm` first."""

    def __init__(self, agent: Any, obs_norm: RunningNorm | None) -> None:
        self.agent, self.obs_norm = agent, obs_norm
        self.policy = agent.policy
        self.population = getattr(agent, "population", False)
        self._donated = False  # donate_state: passed on with the next predict

    def initial_state(self, batch: int) -> Any:
        return self.agent.initial_state(batch)

    def observe_active(self, active: np.ndarray) -> None:
        if hasattr(self.agent, "observe_active"):
            self.agent.observe_active(active)

    def donate_state(self) -> None:
        self._donated = True

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        donated, self._donated = self._donated, False  # for this call only, even if it raises
        if self.obs_norm is not None:
            obs = self.obs_norm.normalize(obs)
        if donated and hasattr(self.agent, "donate_state"):
            self.agent.donate_state()  # (just before the call it applies to)
        return self.agent.predict(obs, state, episode_start, deterministic)


class RandomAgent:
    """Uniform random actions in the action box (seeded): warms up observation statistics."""

    population = False
    policy = None

    def __init__(self, action_space: gym.spaces.Box, seed: int) -> None:
        self.low, self.high = action_space.low, action_space.high
        self.rng = np.random.default_rng(seed)

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        n = int(np.prod(np.shape(obs)[:-1]))
        return self.rng.uniform(self.low, self.high, size=(n, *self.low.shape)), state


def episode_seeds(base_seed: int, generation: int, episodes: int) -> list[int]:
    """Reset seeds for ``episodes`` episodes of one generation (the same for every individual).

    Derived by NumPy's ``SeedSequence`` from ``(base_seed, generation, k)`` so that any worker
    computes them alone, and distinct generations never share episodes.
    """
    return [
        int(np.random.SeedSequence([base_seed, generation, k]).generate_state(1)[0])
        for k in range(episodes)
    ]


_SEEN_MUJOCO_WARNINGS: set[str] = set()
_BUILD_LOCK = threading.RLock()


@contextlib.contextmanager
def quiet_mujoco_warnings() -> Iterator[None]:
    """Log each distinct MuJoCo warning raised inside the block once, instead of on stderr;
    blocks in different threads run one after the other.

    Gymnasium's MuJoCo assets trigger a compiler deprecation warning (``settotalmass``) on every
    env construction under MuJoCo >= 3.3; a pool of 64 envs would print it 64 times.
    """
    try:
        import mujoco
    except ImportError:  # pragma: no cover - envs without MuJoCo
        yield
        return

    def handler(message: str) -> None:
        if message not in _SEEN_MUJOCO_WARNINGS:
            _SEEN_MUJOCO_WARNINGS.add(message)
            logging.getLogger("plasticagents").info("MuJoCo: %s", message)

    # One block at a time, process-wide: the warning handler is a global, and MuJoCo's XML
    # compiler is not thread-safe (lanes build their env pools in parallel threads; two
    # concurrent builds aborted the process).
    with _BUILD_LOCK:
        previous = mujoco.get_mju_user_warning()
        mujoco.set_mju_user_warning(handler)
        try:
            yield
        finally:
            mujoco.set_mju_user_warning(previous)


def claim_map(
    executor: ThreadPoolExecutor, threads: int, fn: Callable[[Any], Any], items: Sequence[Any]
) -> list[Any]:
    """``[fn(x) for x in items]`` on ``threads`` workers of ``executor``, each taking the next
    unclaimed item when it finishes one (results in ``items``' order; a worker's exception is
    re-raised). Uneven items (a slot in heavy contact) then leave no worker idle."""
    out: list[Any] = [None] * len(items)
    claim, lock = itertools.count(), threading.Lock()

    def work(_: int) -> None:
        while True:
            with lock:
                j = next(claim)
            if j >= len(items):
                return
            out[j] = fn(items[j])

    for _ in executor.map(work, range(min(threads, len(items)))):
        pass  # re-raises a worker's exception
    return out


_OMP_WARNED = False


def _warn_if_omp_spins() -> None:
    """Warn once when torch was loaded before plasticagents with no ``OMP_WAIT_POLICY``:
    libgomp's idle threads then spin and slow the pool's physics threads."""
    global _OMP_WARNED
    import plasticagents

    if plasticagents.OMP_SPINNING and not _OMP_WARNED:
        _OMP_WARNED = True
        warnings.warn(
            "torch was imported before plasticagents with OMP_WAIT_POLICY unset: torch's "
            "idle OpenMP threads spin and slow the physics threads (about 1.6x on "
            "HalfCheetah); set OMP_WAIT_POLICY=PASSIVE in the environment, or import "
            "plasticagents before torch",
            RuntimeWarning,
            stacklevel=3,
        )


class EnvPool:
    """A fixed list of environments stepped together, over ``threads`` threads.

    Args:
        make_fns: one zero-argument constructor per slot.
        threads: physics threads (1 steps inline, no pool).
        fast_physics: step the slots that
            :class:`~plasticagents.envs.batched.BatchedLocomotion` covers (HalfCheetah-v5,
            Ant-v5, with perturbations, hidden goals and learner inputs) without Gymnasium's
            per-env Python ``step``, with identical results; the others (``fast_blocked``:
            slot -> why) step through Gymnasium. Resets are always Gymnasium's.
    """

    def __init__(
        self,
        make_fns: Sequence[Callable[[], gym.Env]],
        threads: int = 1,
        fast_physics: bool = False,
    ) -> None:
        if len(make_fns) == 0:
            raise ValueError("EnvPool needs at least one environment")
        with quiet_mujoco_warnings():  # also: one construction at a time, process-wide
            self.envs = [fn() for fn in make_fns]
        first = self.envs[0]
        for i, env in enumerate(self.envs[1:], 1):
            if (
                env.observation_space.shape != first.observation_space.shape
                or env.action_space.shape != first.action_space.shape
            ):
                raise ValueError(
                    f"EnvPool slot {i} has observation/action shapes "
                    f"{env.observation_space.shape}/{env.action_space.shape}, slot 0 has "
                    f"{first.observation_space.shape}/{first.action_space.shape}"
                )
        if not isinstance(first.action_space, gym.spaces.Box):
            name = first.spec.id if first.spec else type(first.unwrapped).__name__
            raise ValueError(
                f"plasticagents policies emit continuous actions; {name} has action space "
                f"{first.action_space}"
            )
        self.observation_space, self.action_space = first.observation_space, first.action_space
        self.threads = max(1, min(int(threads), len(self.envs)))
        self._executor = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        if self.threads > 1:
            _warn_if_omp_spins()
        self.fast: Any = None
        self.fast_blocked: dict[int, str] = {}
        if fast_physics:
            from plasticagents.envs.batched import BatchedLocomotion

            self.fast = BatchedLocomotion(self.envs, threads=self.threads)
            self.fast_blocked = self.fast.blocked
            if not self.fast.covered.any():
                self.fast = None

    def __len__(self) -> int:
        return len(self.envs)

    def _map(self, fn: Callable[[int], Any], indices: Sequence[int]) -> list[Any]:
        """``[fn(i) for i in indices]`` over the pool's threads, each taking the next slot when
        it finishes one (:func:`claim_map`), so one long slot cannot idle the other threads.
        On a nominal Ant-v5 ES population it is no faster than fixed halves of the slots
        (``benchmarks/bench_pool.py``: 0.97x and 1.00x); an earlier 13% gain came from a
        profile whose OpenMP threads were spinning."""
        if self._executor is None or len(indices) < 2:
            return [fn(i) for i in indices]
        return claim_map(self._executor, self.threads, lambda i: fn(int(i)), indices)

    def reset(
        self, seeds: Sequence[int | None], indices: Sequence[int] | None = None
    ) -> tuple[np.ndarray, list[dict]]:
        """Reset the slots in ``indices`` (default: all) with their ``seeds`` (``None``: no
        seed, the env's generator continues). Returns ``obs [len(indices), obs_dim]`` and the
        reset infos."""
        indices = range(len(self.envs)) if indices is None else indices
        if len(seeds) != len(indices):
            raise ValueError(f"EnvPool.reset needs {len(indices)} seeds, got {len(seeds)}")
        seed_of = {
            int(i): None if s is None else int(s) for i, s in zip(indices, seeds, strict=True)
        }
        out = self._map(lambda i: self.envs[i].reset(seed=seed_of[i]), list(seed_of))
        if self.fast is not None:
            for i, (_, info) in zip(seed_of, out, strict=True):
                self.fast.begin(i, info)
        return np.stack([o for o, _ in out]), [info for _, info in out]

    def step(self, actions: np.ndarray, indices: Sequence[int]) -> list[tuple]:
        """Step the slots in ``indices`` with their rows of ``actions``: one
        ``(obs, reward, terminated, truncated, info)`` per slot, as ``env.step`` returns."""
        if self.fast is None:
            return self._map(lambda i: self.envs[i].step(actions[i]), indices)
        indices = np.asarray(indices, dtype=np.intp)
        fast = self.fast.covered[indices]
        if fast.all():
            return self.fast.step(actions, indices, self._map)
        out: list[Any] = [None] * len(indices)
        for at, result in zip(
            np.flatnonzero(fast), self.fast.step(actions, indices[fast], self._map), strict=True
        ):
            out[at] = result
        slow = np.flatnonzero(~fast)
        results = self._map(lambda i: self.envs[i].step(actions[i]), indices[slow])
        for at, result in zip(slow, results, strict=True):
            out[at] = result
        return out

    def step_arrays(
        self, actions: np.ndarray, indices: Sequence[int], infos: bool = True
    ) -> StepArrays:
        """:meth:`step` as arrays over ``indices`` (observations ``[k, *obs_shape]`` float64,
        rewards float64, terminated, truncated) and the infos. ``infos=False``: the fast path
        leaves the info of a slot without step-hooking wrappers unbuilt (``None``; see
        :meth:`BatchedLocomotion.step_arrays
        <plasticagents.envs.batched.BatchedLocomotion.step_arrays>`)."""
        indices = np.asarray(indices, dtype=np.intp)
        if self.fast is not None:
            fast = self.fast.covered[indices]
            if fast.all():
                return self.fast.step_arrays(actions, indices, self._map, infos)
        else:
            fast = np.zeros(len(indices), dtype=bool)
        k = len(indices)
        at_fast, at_slow = np.flatnonzero(fast), np.flatnonzero(~fast)
        done = None
        if len(at_fast):
            done = self.fast.step_arrays(actions, indices[at_fast], self._map, infos)
        results = self._map(lambda i: self.envs[i].step(actions[i]), indices[at_slow])
        # the observations' own shape (a space may declare another)
        if done is not None:
            shape = done.obs.shape[1:]
        else:
            shape = np.shape(results[0][0]) if k else self.observation_space.shape
        obs = np.empty((k, *shape))
        rewards = np.empty(k)
        terminated = np.empty(k, dtype=bool)
        truncated = np.empty(k, dtype=bool)
        step_infos: list[dict | None] = [None] * k
        if done is not None:
            obs[at_fast], rewards[at_fast] = done.obs, done.rewards
            terminated[at_fast], truncated[at_fast] = done.terminated, done.truncated
            for j, info in zip(at_fast, done.infos, strict=True):
                step_infos[j] = info
        for j, (o, r, term, trunc, info) in zip(at_slow, results, strict=True):
            obs[j], rewards[j], terminated[j], truncated[j], step_infos[j] = o, r, term, trunc, info
        return StepArrays(obs, rewards, terminated, truncated, step_infos)

    def close(self) -> None:
        for env in self.envs:
            env.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)


@dataclass
class Carry:
    """Each slot's episode in progress: what an engine step reads and advances, and what
    :func:`collect` continues from. ``n`` slots.

    ``onsets[i]`` maps a perturbation's label to the step ``t`` (0-based, counted from the
    episode's reset) whose action was the first one taken under it: the wrappers report
    ``active`` in the info of every step that ran under them, and in the reset info when
    they act from step 0. A label is absent until its perturbation started.
    """

    obs: np.ndarray  # [n, obs_dim]: the observation the next step feeds the agent
    state: Any  # the agent's state after its last predict (None before the first)
    episode_start: np.ndarray  # [n] bool: the next step is the first of an episode
    returns: np.ndarray  # [n] summed (finite) rewards of the episode so far
    lengths: np.ndarray  # [n] int64: steps taken in the episode (the next step's index)
    onsets: list[dict[str, int]]  # per slot: perturbation label -> first step under it
    reports: list[dict[str, dict[str, Any]]]  # per slot: the latest info["perturbation"]
    fresh: np.ndarray | None = None  # [n] bool: an onset reported since the agent last acted

    @classmethod
    def reset(
        cls, pool: EnvPool, seeds: Sequence[int | None], dtype: Any = np.float32
    ) -> tuple[Carry, list[dict]]:
        """Reset every slot of ``pool`` (slot ``i`` with ``seeds[i]``), keeping observations as
        ``dtype``; the reset infos too."""
        obs, infos = pool.reset(seeds)
        n = len(pool)
        carry = cls(
            obs.astype(dtype),
            None,
            np.ones(n, dtype=bool),
            np.zeros(n),
            np.zeros(n, dtype=np.int64),
            [{} for _ in range(n)],
            [{} for _ in range(n)],
            np.zeros(n, dtype=bool),
        )
        for i, info in enumerate(infos):
            carry._note(i, info)
        return carry, infos

    def copy(self) -> Carry:
        """An independent copy (the agent state is shared: it is never updated in place)."""
        return Carry(
            self.obs.copy(),
            self.state,
            self.episode_start.copy(),
            self.returns.copy(),
            self.lengths.copy(),
            [dict(o) for o in self.onsets],
            list(self.reports),
            None if self.fresh is None else self.fresh.copy(),
        )

    def _begin(self, i: int, obs: np.ndarray, info: dict) -> None:
        """Slot ``i`` was reset: a new episode starts from ``obs``."""
        self.obs[i] = obs
        self.returns[i], self.lengths[i] = 0.0, 0
        self.onsets[i], self.reports[i] = {}, {}
        if self.fresh is not None:
            self.fresh[i] = False
        self._note(i, info)

    def _note(self, i: int, info: dict) -> None:
        """Read slot ``i``'s perturbation report (and a hidden-goal task's switch, under the
        label ``"task"``: its first switch) from the info of its step ``lengths[i]``."""
        report = info.get("perturbation")
        seen = self.onsets[i]
        if report:
            self.reports[i] = report
            for label, entry in report.items():
                if label not in seen and entry.get("active"):
                    seen[label] = int(self.lengths[i])
                    self._fresh(i)
        task = info.get("task")
        if task and task.get("switched") and "task" not in seen:
            seen["task"] = int(self.lengths[i])
            self._fresh(i)

    def _fresh(self, i: int) -> None:
        if self.fresh is None:
            self.fresh = np.zeros(len(self.obs), dtype=bool)
        self.fresh[i] = True


class _Step(NamedTuple):
    """What one engine step did, per slot (``[n]`` arrays)."""

    obs: np.ndarray  # [n, obs_dim] fed to the agent (zeros for inactive slots)
    actions: np.ndarray  # [n, act_dim] as the agent returned them
    spikes: np.ndarray | None  # [n] hidden spike counts (None: the state has no spikes)
    stepped: np.ndarray  # bool: the env was stepped (active, with a finite action)
    rewards: np.ndarray  # 0 where not stepped or not finite
    terminated: np.ndarray  # bool
    truncated: np.ndarray  # bool
    diverged: np.ndarray  # bool: non-finite action or reward at this step
    bad_obs: np.ndarray  # bool: stepped, not terminated, the returned observation non-finite
    infos: list[dict | None] | None  # step infos (None: not stepped), when asked


def _step(
    agent: Any,
    pool: EnvPool,
    carry: Carry,
    active: np.ndarray,
    batch_shape: tuple[int, ...],
    deterministic: bool,
    keep_infos: bool,
    donate: bool = False,
) -> _Step:
    """Advance the ``active`` slots of ``pool`` by one step, updating ``carry`` in place
    (observation, agent state, return, length, onsets); ``carry.episode_start`` is the
    caller's to set for the next step. The one stepping loop of the engine.

    ``donate``: the caller keeps no other reference to ``carry.state`` (the carry was never
    copied), so the agent is told it may update that state in place (``donate_state``)."""
    n = len(pool)
    feed = np.where(active[:, None], carry.obs, 0.0).astype(carry.obs.dtype, copy=False)
    if carry.fresh is not None and hasattr(agent, "observe_onsets"):
        agent.observe_onsets(carry.fresh.reshape(batch_shape).copy())  # e.g. AblatedAgent
        carry.fresh[:] = False
    if (
        not active.all()
        and getattr(agent, "population", False)
        and hasattr(agent, "observe_active")
    ):
        # ended episodes: a population's native step holds their slots instead of running them
        agent.observe_active(active.reshape(batch_shape))
    if donate and carry.state is not None and hasattr(agent, "donate_state"):
        agent.donate_state()
    action, carry.state = agent.predict(
        feed.reshape(*batch_shape, -1),
        carry.state,
        episode_start=carry.episode_start.reshape(batch_shape),
        deterministic=deterministic,
    )
    action = np.array(action).reshape(n, -1)  # a copy: callers keep it per step
    counts = _spike_counts(carry.state)
    diverged = ~np.isfinite(action).all(axis=1) & active
    stepped = active & ~diverged
    idx = np.flatnonzero(stepped)
    out = pool.step_arrays(action, idx, infos=keep_infos)
    rewards = np.zeros(n)
    terminated = np.zeros(n, dtype=bool)
    truncated = np.zeros(n, dtype=bool)
    if any(out.infos):  # (a fast-path step may leave every info out: None)
        for i, info in zip(idx, out.infos, strict=True):
            if info is not None and ("perturbation" in info or "task" in info):
                carry._note(i, info)  # before the length counts this step: its index
    carry.obs[idx] = out.obs
    carry.lengths[idx] += 1
    terminated[idx], truncated[idx] = out.terminated, out.truncated
    finite = np.isfinite(out.rewards)
    if finite.all():
        carry.returns[idx] += out.rewards
        rewards[idx] = out.rewards
    else:
        diverged[idx[~finite]] = True
        ok = idx[finite]
        carry.returns[ok] += out.rewards[finite]
        rewards[ok] = out.rewards[finite]
    infos: list[dict | None] | None = None
    if keep_infos:
        infos = [None] * n
        for i, info in zip(idx, out.infos, strict=True):
            infos[i] = info
    bad_obs = np.zeros(n, dtype=bool)
    bad_obs[idx] = ~np.isfinite(carry.obs[idx]).all(axis=1)
    bad_obs &= ~terminated  # a terminal observation is never used
    return _Step(
        feed, action, counts, stepped, rewards, terminated, truncated, diverged, bad_obs, infos
    )


def _spike_counts(state: Any) -> np.ndarray | None:
    spikes = getattr(state, "spikes", None)
    if spikes is None:
        return None
    if str(spikes.dtype) == "torch.float32" and spikes.device.type == "cpu":
        # summed in NumPy (fewer calls on the ES hot path); spike counts are whole numbers,
        # so the float64 sum equals torch's float32 one
        values = spikes.detach().numpy()
        return np.add.reduce(values, axis=-1, dtype=np.float64).reshape(-1)
    return spikes.detach().sum(-1).reshape(-1).cpu().numpy().astype(np.float64)


def _batch_shape(agent: Any, n: int, batch_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    if batch_shape is None:
        if getattr(agent, "population", False):
            batch_shape = (agent.policy.size, n // agent.policy.size)
        else:
            batch_shape = (n,)
    if int(np.prod(batch_shape)) != n:
        raise ValueError(f"batch_shape {batch_shape} does not cover the {n} environment slots")
    return tuple(batch_shape)


@dataclass
class RolloutResult:
    """What one lockstep rollout produced, one entry per environment slot."""

    returns: np.ndarray
    lengths: np.ndarray
    spikes: np.ndarray  # total hidden spikes over the episode (0 for non-spiking agents)
    diverged: np.ndarray  # bool: a non-finite observation, reward or action ended the episode
    diverged_at: np.ndarray  # step at which it diverged (-1 if it did not)
    obs_seen: list[np.ndarray] = field(default_factory=list)  # raw observations (if collected)
    trajectory: dict[str, list[Any]] | None = None
    final: dict[str, np.ndarray] = field(default_factory=dict)  # probe values at the last step
    # perturbation label -> the step whose action was the first one taken under it (see Carry)
    onsets: list[dict[str, int]] = field(default_factory=list)
    # each slot's last info["perturbation"] ({} without perturbation wrappers): what was
    # scheduled or drawn, e.g. the onset of a perturbation the episode ended before
    reports: list[dict[str, dict[str, Any]]] = field(default_factory=list)
    reset_infos: list[dict] | None = None  # each slot's reset info (when infos are recorded)

    @classmethod
    def concat(cls, parts: Sequence[RolloutResult]) -> RolloutResult:
        """Slot-wise concatenation of rollouts of consecutive slot ranges."""
        cat = np.concatenate
        return cls(
            cat([p.returns for p in parts]),
            cat([p.lengths for p in parts]),
            cat([p.spikes for p in parts]),
            cat([p.diverged for p in parts]),
            cat([p.diverged_at for p in parts]),
            [chunk for p in parts for chunk in p.obs_seen],
            None,
            onsets=[o for p in parts for o in p.onsets],
            reports=[r for p in parts for r in p.reports],
        )

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def spikes_per_step(self) -> np.ndarray:
        return self.spikes / np.maximum(self.lengths, 1)


def rollout(
    agent: Any,
    pool: EnvPool,
    seeds: Sequence[int],
    max_steps: int | None = None,
    deterministic: bool = True,
    collect_obs: bool = False,
    record: bool | Sequence[str] = False,
    batch_shape: tuple[int, ...] | None = None,
    probe: Callable[[Any], dict[str, np.ndarray]] | None = None,
    on_step: Callable[[int, EnvPool, np.ndarray], bool | None] | None = None,
) -> RolloutResult:
    """Run one episode in every slot of ``pool`` with ``agent``, all slots in lockstep.

    The agent sees ``predict(obs [*batch_shape, obs_dim], state, episode_start
    [*batch_shape], deterministic)``: ``state=None`` and ``episode_start`` all ``True`` at the
    first step, ``episode_start`` all ``False`` afterwards (slots that have ended are fed
    zeros and not stepped; a population agent is told which through ``observe_active``, and
    its native step then holds them, so their recorded spikes and state stop changing). An
    episode ends when its env terminates or truncates it, or when it diverges: a non-finite
    action or reward at step ``t`` (``diverged_at = t``) or a non-finite observation returned
    by step ``t`` (``diverged_at = t + 1``; 0 from reset).

    Args:
        agent: anything with the predict protocol (``Agent``, ``NormalizedAgent``).
        pool: the environments; slot ``i`` is reset with ``seeds[i]``.
        max_steps: stop every episode after this many steps (default: the envs' own limits).
        deterministic: passed to ``agent.predict``.
        collect_obs: keep the raw observations of active slots (for normaliser statistics).
        record: keep per-step values in ``result.trajectory`` (lists over steps of ``[n, ...]``
            arrays): ``True`` for all of :data:`RECORD_FIELDS` and every probe value, or a
            list of names among them. Each step's ``active`` mask says which slots were
            stepped. ``"infos"`` keeps each step's list of ``n`` infos (``None`` for a slot not
            stepped) and the reset infos in ``result.reset_infos``.
        batch_shape: how slots map onto the agent's batch, e.g. ``(P, E)`` for a population
            agent (default: ``(len(pool),)``, or ``(P, len(pool) // P)`` for a population).
        probe: ``probe(state) -> {name: [n, ...] array}`` read from the agent's state after a
            step's ``predict``: every step for the names ``record`` asks for, otherwise only
            at steps where episodes end; each slot's value at its last step is kept in
            ``result.final``.
        on_step: ``on_step(t, pool, stepped)`` after the pool stepped the slots ``stepped``
            at step ``t`` (the viewer renders frames here); a true return value stops the
            rollout there, as ``max_steps`` would.

    Returns:
        :class:`RolloutResult`: ``returns``, ``lengths``, ``spikes``, ``diverged`` and
        ``diverged_at`` ``[n]``, and per slot the perturbation ``onsets`` (see :class:`Carry`)
        and the last perturbation ``reports``.

    Example:
        >>> import gymnasium as gym
        >>> from plasticagents import Agent, MLPPolicy
        >>> from plasticagents.envs import make_env
        >>> leg = {"type": "cripple_leg", "leg": "bthigh", "onset": 5}
        >>> pool = EnvPool([lambda: make_env("HalfCheetah-v5", [leg], max_episode_steps=10)])
        >>> result = rollout(Agent(MLPPolicy(17, 6, hidden=(8,))), pool, seeds=[0])
        >>> result.onsets, result.lengths.tolist()
        ([{'CrippleLeg': 5}], [10])
        >>> pool.close()
    """
    n = len(pool)
    batch_shape = _batch_shape(agent, n, batch_shape)
    fields, probe_fields, probe_all = _record_fields(record, probe is not None)
    keep_infos = "infos" in fields
    trajectory: dict[str, list[Any]] | None = {f: [] for f in fields} if fields else None
    carry, reset_infos = Carry.reset(pool, seeds)
    diverged = ~np.isfinite(carry.obs).all(axis=1)
    diverged_at = np.where(diverged, 0, -1).astype(np.int64)
    active = ~diverged
    no_start = np.zeros(n, dtype=bool)
    spikes = np.zeros(n)
    obs_seen: list[np.ndarray] = []
    final: dict[str, np.ndarray] = {}
    t = 0
    while active.any() and (max_steps is None or t < max_steps):
        if collect_obs:
            obs_seen.append(carry.obs[active])  # (a boolean index copies)
        # (this carry is the loop's own: each state is given up once the next one is returned)
        step = _step(agent, pool, carry, active, batch_shape, deterministic, keep_infos, True)
        carry.episode_start = no_start
        if step.spikes is not None:
            spikes[step.stepped] += step.spikes[step.stepped]
        late = step.bad_obs & ~step.diverged
        diverged_at[step.diverged] = t
        diverged_at[late] = t + 1
        diverged |= step.diverged | late
        done = step.terminated | step.truncated | step.diverged | late
        ended = np.flatnonzero(step.stepped & done)
        active &= ~done
        if trajectory is not None:
            step_values = {
                "obs": step.obs,
                "actions": step.actions,
                "rewards": step.rewards,
                "spikes": step.spikes if step.spikes is not None else np.zeros(n),
                "active": step.stepped,
                "infos": step.infos,
            }
            for key in fields:
                trajectory[key].append(step_values[key])
        if probe is not None and (probe_all or probe_fields or len(ended)):
            # read every step only where recorded; otherwise just where episodes end (``final``)
            for key, value in probe(carry.state).items():
                value = np.asarray(value).reshape(n, *np.shape(value)[len(batch_shape) :])
                if key not in final:
                    final[key] = np.zeros_like(value, dtype=np.float64)
                final[key][ended] = value[ended]
                if probe_all or key in probe_fields:
                    trajectory.setdefault(key, []).append(value.copy())
        t += 1
        if on_step is not None and on_step(t - 1, pool, np.flatnonzero(step.stepped)):
            break
    cut = np.flatnonzero(active)  # episodes stopped by ``max_steps``: their last state
    if probe is not None and carry.state is not None and len(cut):
        for key, value in probe(carry.state).items():
            value = np.asarray(value).reshape(n, *np.shape(value)[len(batch_shape) :])
            final.setdefault(key, np.zeros_like(value, dtype=np.float64))[cut] = value[cut]
    return RolloutResult(
        carry.returns,
        carry.lengths,
        spikes,
        diverged,
        diverged_at,
        obs_seen,
        trajectory,
        final,
        onsets=carry.onsets,
        reports=carry.reports,
        reset_infos=reset_infos if keep_infos else None,
    )


@dataclass
class Collected:
    """``T`` steps of ``n`` slots from :func:`collect`, time-first.

    An episode ends at step ``t`` in slot ``i`` where ``terminated[t, i] | truncated[t, i]``
    (the two are exclusive here); the slot was then reset and ``episode_start[t + 1, i]`` (or
    ``carry.episode_start[i]`` after the last step) is true. For value bootstrapping, a
    truncated episode's last observation is ``final_obs[k]`` at ``final_index[k] = (t, i)``.
    """

    obs: np.ndarray  # [T, n, obs_dim]: the observations fed to the agent, as the envs gave them
    actions: np.ndarray  # [T, n, act_dim]: as the agent returned them, the envs' inputs
    rewards: np.ndarray  # [T, n] float64 env rewards (0 where non-finite: see diverged)
    terminated: np.ndarray  # [T, n] bool: ended with nothing to bootstrap (env end or diverged)
    truncated: np.ndarray  # [T, n] bool: cut (time limit) and not terminated: bootstrap
    episode_start: np.ndarray  # [T, n] bool: obs[t] is the first observation of an episode
    spikes: np.ndarray  # [T, n] hidden spike counts per step (0 for non-spiking agents)
    diverged: np.ndarray  # [T, n] bool: a non-finite action, reward or observation ended it
    final_obs: np.ndarray  # [K, obs_dim]: the last observation of each truncated episode
    final_index: np.ndarray  # [K, 2] int: its (step t, slot i)
    episode_returns: np.ndarray  # [E]: episodes that ended in this call, in order of ending
    episode_lengths: np.ndarray  # [E] (counting steps taken in earlier calls too)
    episode_slots: np.ndarray  # [E] the slot each ran in
    episode_onsets: list[dict[str, int]]  # [E] perturbation onsets (see Carry)
    carry: Carry  # where the next call continues
    infos: list[list[dict]] | None = None  # [T][n] step infos, when asked

    @property
    def dones(self) -> np.ndarray:
        """``[T, n]`` bool: the episode ended at this step (the next one starts fresh)."""
        return self.terminated | self.truncated

    @property
    def env_steps(self) -> int:
        return int(self.rewards.size)


def collect(
    agent: Any,
    pool: EnvPool,
    steps: int,
    carry: Carry | None = None,
    seed: int | None = None,
    *,
    deterministic: bool = False,
    batch_shape: tuple[int, ...] | None = None,
    infos: bool = False,
) -> Collected:
    """Step every slot of ``pool`` exactly ``steps`` times, resetting slots whose episode ends.

    Stable-baselines3 ``DummyVecEnv`` semantics, so numbers match an SB3 loop over the same
    envs: without ``carry``, slot ``i`` is first reset with seed ``seed + i`` (no seed for
    ``seed=None``), as ``DummyVecEnv.seed(seed)`` then ``reset()`` does; every later reset
    (after ``terminated or truncated``) passes no seed, so each env's generator continues.
    Observations keep the envs' dtype (float64 for MuJoCo), as ``DummyVecEnv`` keeps them; the
    rewards are float64 (``DummyVecEnv`` rounds them to float32). The agent sees
    ``predict(obs, state, episode_start, deterministic)`` with ``episode_start`` true at each
    episode's first step; it may sample and keep its own per-step values
    (log-probabilities, values): nothing here runs under ``torch.no_grad`` or detaches.

    A non-finite action, reward or next observation ends the slot's episode as ``diverged``
    (and ``terminated``: nothing to bootstrap; a non-finite action is not sent to the env);
    the slot is reset like any other. A non-finite reset observation raises
    ``FloatingPointError``.

    Args:
        agent: anything with the predict protocol.
        pool: the ``n`` environments.
        steps: steps ``T >= 1`` per slot.
        carry: the previous call's ``result.carry`` (not modified), or ``None`` to reset.
        seed: first-reset seed base (only without ``carry``).
        deterministic: passed to ``agent.predict`` (default ``False``: training samples).
        batch_shape: how slots map onto the agent's batch (as in :func:`rollout`).
        infos: keep each step's infos in ``result.infos``.

    Returns:
        :class:`Collected`.

    Example:
        >>> import gymnasium as gym
        >>> from plasticagents import Agent, MLPPolicy
        >>> pool = EnvPool([lambda: gym.make("Pendulum-v1", max_episode_steps=5)] * 2)
        >>> agent = Agent(MLPPolicy(3, 1, hidden=(8,)), action_low=-2.0, action_high=2.0)
        >>> first = collect(agent, pool, steps=4, seed=0)
        >>> second = collect(agent, pool, steps=4, carry=first.carry)
        >>> second.obs.shape, second.episode_start[:, 0].tolist()
        ((4, 2, 3), [False, True, False, False])
        >>> second.final_index.tolist(), second.episode_lengths.tolist()
        ([[0, 0], [0, 1]], [5, 5])
        >>> pool.close()
    """
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    n = len(pool)
    batch_shape = _batch_shape(agent, n, batch_shape)
    if carry is None:
        seeds = [None if seed is None else seed + i for i in range(n)]
        carry, _ = Carry.reset(pool, seeds, pool.observation_space.dtype)
        _check_reset(carry.obs, range(n))
    else:
        carry = carry.copy()
    everyone = np.ones(n, dtype=bool)
    per_step: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "obs",
            "actions",
            "rewards",
            "terminated",
            "truncated",
            "episode_start",
            "spikes",
            "diverged",
        )
    }
    final_obs: list[np.ndarray] = []
    final_index: list[tuple[int, int]] = []
    ep_returns: list[float] = []
    ep_lengths: list[int] = []
    ep_slots: list[int] = []
    ep_onsets: list[dict[str, int]] = []
    step_infos: list[list[dict]] | None = [] if infos else None
    for t in range(steps):
        per_step["episode_start"].append(carry.episode_start)
        # (no state donated: the caller may continue from its carry again, and its agent may
        # keep per-step states, as a BPTT update does)
        step = _step(agent, pool, carry, everyone, batch_shape, deterministic, infos)
        diverged = step.diverged | step.bad_obs
        terminated = step.terminated | diverged
        truncated = step.truncated & ~terminated
        done = terminated | truncated
        for i in np.flatnonzero(truncated):
            final_obs.append(carry.obs[i].copy())
            final_index.append((t, int(i)))
        ended = np.flatnonzero(done)
        for i in ended:
            ep_returns.append(float(carry.returns[i]))
            ep_lengths.append(int(carry.lengths[i]))
            ep_slots.append(int(i))
            ep_onsets.append(carry.onsets[i])
        if len(ended):
            obs, reset_infos = pool.reset([None] * len(ended), ended)
            _check_reset(obs, ended)
            for i, o, info in zip(ended, obs, reset_infos, strict=True):
                carry._begin(int(i), o, info)
        carry.episode_start = done
        values = {
            "obs": step.obs,
            "actions": step.actions,
            "rewards": step.rewards,
            "terminated": terminated,
            "truncated": truncated,
            "spikes": step.spikes if step.spikes is not None else np.zeros(n),
            "diverged": diverged,
        }
        for key, value in values.items():
            per_step[key].append(value)
        if step_infos is not None:
            step_infos.append([info if info is not None else {} for info in step.infos])
    arrays = {k: np.stack(v) for k, v in per_step.items()}
    obs_dim = carry.obs.shape[1]
    return Collected(
        **arrays,
        final_obs=np.array(final_obs, dtype=carry.obs.dtype).reshape(-1, obs_dim),
        final_index=np.array(final_index, dtype=np.int64).reshape(-1, 2),
        episode_returns=np.array(ep_returns),
        episode_lengths=np.array(ep_lengths, dtype=np.int64),
        episode_slots=np.array(ep_slots, dtype=np.int64),
        episode_onsets=ep_onsets,
        carry=carry,
        infos=step_infos,
    )


def _check_reset(obs: np.ndarray, slots: Sequence[int]) -> None:
    bad = [int(i) for i, o in zip(slots, obs, strict=True) if not np.isfinite(o).all()]
    if bad:
        raise FloatingPointError(
            f"environment slot(s) {bad} returned a non-finite reset observation"
        )


RECORD_FIELDS = ("obs", "actions", "rewards", "spikes", "active", "infos")


def _record_fields(
    record: bool | Sequence[str], has_probe: bool
) -> tuple[tuple[str, ...], set[str], bool]:
    """``(loop fields, probe fields, every probe field)`` that ``record`` asks for."""
    if record is True:
        return RECORD_FIELDS, set(), has_probe
    if not record:
        return (), set(), False
    extra = set(record) - set(RECORD_FIELDS)
    if extra and not has_probe:
        raise ValueError(
            f"unknown record field {sorted(extra)[0]!r}; valid choices: {list(RECORD_FIELDS)} "
            "(and the names a probe returns)"
        )
    fields = tuple(f for f in record if f in RECORD_FIELDS) or ("active",)
    return fields, extra, False


def policy_probe(policy: Any, neurons: bool = False) -> Callable[[Any], dict[str, np.ndarray]]:
    """A ``probe`` for :func:`rollout` reading a :class:`~plasticagents.PlasticSNN`'s state.

    Gives ``weight_change`` (``||alpha * hebb||`` per slot, 0 for static networks), and, with
    ``neurons=True``, per-neuron ``neuron_spikes [n, N]`` and the ``modulation [n, K]`` signals
    (``K = 0`` without a neuromodulator). Non-spiking policies give nothing (``{}``). An SB3
    policy with a spiking features extractor is probed through the extractor's network.
    """
    import torch

    net = getattr(getattr(policy, "features_extractor", None), "net", None)
    if not hasattr(policy, "weight_change") and hasattr(net, "weight_change"):
        policy = net

    def probe(state: Any) -> dict[str, np.ndarray]:
        if not hasattr(policy, "weight_change") or state is None:
            return {}
        with torch.no_grad():
            out = {"weight_change": policy.weight_change(state).cpu().numpy()}
            if neurons:
                out["neuron_spikes"] = state.spikes.cpu().numpy()
                m = policy.modulation(state)
                out["modulation"] = (
                    m.cpu().numpy() if m is not None else np.zeros((*state.spikes.shape[:-1], 0))
                )
        return out

    return probe
