"""The one rollout loop: agents step batches of Gymnasium environments in lockstep.

ES fitness, evaluation, robustness runs, the viewer and the tests all call :func:`rollout`.
Every environment slot runs exactly one episode from a seeded reset; the agent is called once
per step for all slots at once (for a population agent, ``obs`` is laid out ``[P, E, obs_dim]``,
slot ``p * E + e``). Slots whose episode has ended are no longer stepped.

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
    >>> pool.close()
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

__all__ = [
    "RECORD_FIELDS",
    "EnvPool",
    "NormalizedAgent",
    "RolloutResult",
    "RunningNorm",
    "episode_seeds",
    "policy_probe",
    "rollout",
]


class RunningNorm:
    """Running mean / variance of observations (parallel Welford), frozen unless updated.

    ``normalize(x) = clip((x - mean) / sqrt(var + eps), -clip, clip)``. Several workers each
    collect a delta (:meth:`update`) that the main process merges (:meth:`merge`).
    """

    def __init__(self, dim: int, clip: float = 5.0, eps: float = 1e-8) -> None:
        self.dim, self.clip, self.eps = dim, clip, eps
        self.count = 0.0
        self.mean = np.zeros(dim)
        self.m2 = np.zeros(dim)

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
        y = (np.asarray(x) - self.mean) / np.sqrt(self.var + self.eps)
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

    def initial_state(self, batch: int) -> Any:
        return self.agent.initial_state(batch)

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        if self.obs_norm is not None:
            obs = self.obs_norm.normalize(obs)
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


class EnvPool:
    """A fixed list of environments stepped together, over ``threads`` threads.

    Args:
        make_fns: one zero-argument constructor per slot.
        threads: physics threads (1 steps inline, no pool).
    """

    def __init__(self, make_fns: Sequence[Callable[[], gym.Env]], threads: int = 1) -> None:
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

    def __len__(self) -> int:
        return len(self.envs)

    def _map(self, fn: Callable[[int], Any], indices: Sequence[int]) -> list[Any]:
        if self._executor is None or len(indices) < 2:
            return [fn(i) for i in indices]
        chunks = np.array_split(np.asarray(indices), self.threads)
        parts = self._executor.map(lambda c: [fn(int(i)) for i in c], chunks)
        return [r for part in parts for r in part]

    def reset(self, seeds: Sequence[int]) -> tuple[np.ndarray, list[dict]]:
        if len(seeds) != len(self.envs):
            raise ValueError(f"EnvPool.reset needs {len(self.envs)} seeds, got {len(seeds)}")
        out = self._map(lambda i: self.envs[i].reset(seed=int(seeds[i])), range(len(self.envs)))
        return np.stack([o for o, _ in out]), [info for _, info in out]

    def step(self, actions: np.ndarray, indices: Sequence[int]) -> list[tuple]:
        """Step the slots in ``indices`` with their rows of ``actions``."""
        return self._map(lambda i: self.envs[i].step(actions[i]), indices)

    def close(self) -> None:
        for env in self.envs:
            env.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)


@dataclass
class RolloutResult:
    """What one lockstep rollout produced, one entry per environment slot."""

    returns: np.ndarray
    lengths: np.ndarray
    spikes: np.ndarray  # total hidden spikes over the episode (0 for non-spiking agents)
    diverged: np.ndarray  # bool: a non-finite observation, reward or action ended the episode
    diverged_at: np.ndarray  # step at which it diverged (-1 if it did not)
    obs_seen: list[np.ndarray] = field(default_factory=list)  # raw observations (if collected)
    trajectory: dict[str, list[np.ndarray]] | None = None
    final: dict[str, np.ndarray] = field(default_factory=dict)  # probe values at the last step

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
        )

    @property
    def env_steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def spikes_per_step(self) -> np.ndarray:
        return self.spikes / np.maximum(self.lengths, 1)


def _spike_counts(state: Any) -> np.ndarray | None:
    spikes = getattr(state, "spikes", None)
    if spikes is None:
        return None
    return spikes.detach().sum(-1).reshape(-1).cpu().numpy().astype(np.float64)


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
    on_step: Callable[[int, EnvPool, np.ndarray], None] | None = None,
) -> RolloutResult:
    """Run one episode in every slot of ``pool`` with ``agent``, all slots in lockstep.

    Args:
        agent: anything with the predict protocol (``Agent``, ``NormalizedAgent``).
        pool: the environments; slot ``i`` is reset with ``seeds[i]``.
        max_steps: stop every episode after this many steps (default: the envs' own limits).
        deterministic: passed to ``agent.predict``.
        collect_obs: keep the raw observations of active slots (for normaliser statistics).
        record: keep per-step arrays in ``result.trajectory`` (lists over steps of ``[n, ...]``
            arrays): ``True`` for all of :data:`RECORD_FIELDS` and every probe value, or a
            list of names among them. Each step's ``active`` mask says which slots were stepped.
        batch_shape: how slots map onto the agent's batch, e.g. ``(P, E)`` for a population
            agent (default: ``(len(pool),)``, or ``(P, len(pool) // P)`` for a population).
        probe: ``probe(state) -> {name: [n, ...] array}`` read from the agent's state after a
            step's ``predict``: every step for the names ``record`` asks for, otherwise only
            at steps where episodes end; each slot's value at its last step is kept in
            ``result.final``.
        on_step: ``on_step(t, pool, stepped)`` after the pool stepped the slots ``stepped``
            at step ``t`` (the viewer renders frames here).
    """
    n = len(pool)
    if batch_shape is None:
        if getattr(agent, "population", False):
            batch_shape = (agent.policy.size, n // agent.policy.size)
        else:
            batch_shape = (n,)
    if int(np.prod(batch_shape)) != n:
        raise ValueError(f"batch_shape {batch_shape} does not cover the {n} environment slots")
    obs, _ = pool.reset(seeds)
    obs = obs.astype(np.float32)
    active = np.ones(n, dtype=bool)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    spikes = np.zeros(n)
    diverged = np.zeros(n, dtype=bool)
    diverged_at = np.full(n, -1, dtype=np.int64)
    obs_seen: list[np.ndarray] = []
    fields, probe_fields, probe_all = _record_fields(record, probe is not None)
    trajectory: dict[str, list[np.ndarray]] | None = {f: [] for f in fields} if fields else None
    final: dict[str, np.ndarray] = {}
    state = None
    t = 0
    while active.any() and (max_steps is None or t < max_steps):
        bad_obs = ~np.isfinite(obs).all(axis=1) & active
        if bad_obs.any():
            diverged[bad_obs], diverged_at[bad_obs], active[bad_obs] = True, t, False
            if not active.any():
                break
        safe_obs = np.where(active[:, None], obs, 0.0).astype(np.float32)
        if collect_obs:
            obs_seen.append(obs[active].copy())
        action, state = agent.predict(
            safe_obs.reshape(*batch_shape, -1), state, deterministic=deterministic
        )
        action = np.asarray(action).reshape(n, -1)
        counts = _spike_counts(state)
        bad_action = ~np.isfinite(action).all(axis=1) & active
        if bad_action.any():
            diverged[bad_action], diverged_at[bad_action], active[bad_action] = True, t, False
        idx = np.flatnonzero(active)
        results = pool.step(action, idx)
        if counts is not None:
            spikes[idx] += counts[idx]
        if trajectory is not None:
            step_values = {
                "obs": safe_obs,
                "actions": action,
                "spikes": counts if counts is not None else np.zeros(n),
                "active": active,
            }
            for key, value in step_values.items():
                if key in trajectory:
                    trajectory[key].append(value.copy())
        rewards = np.zeros(n)
        for i, (o, r, terminated, truncated, _) in zip(idx, results, strict=True):
            obs[i] = o
            lengths[i] += 1
            if not np.isfinite(r):
                diverged[i], diverged_at[i], active[i] = True, t, False
                continue
            returns[i] += r
            rewards[i] = r
            if terminated or truncated:
                active[i] = False
        if trajectory is not None and "rewards" in trajectory:
            trajectory["rewards"].append(rewards)
        ended = idx[~active[idx]]
        if probe is not None and (probe_all or probe_fields or len(ended)):
            # read every step only where recorded; otherwise just where episodes end (``final``)
            for key, value in probe(state).items():
                value = np.asarray(value).reshape(n, *np.shape(value)[len(batch_shape) :])
                if key not in final:
                    final[key] = np.zeros_like(value, dtype=np.float64)
                final[key][ended] = value[ended]
                if probe_all or key in probe_fields:
                    trajectory.setdefault(key, []).append(value.copy())
        if on_step is not None:
            on_step(t, pool, idx)
        t += 1
    cut = np.flatnonzero(active)  # episodes stopped by ``max_steps``: their last state
    if probe is not None and state is not None and len(cut):
        for key, value in probe(state).items():
            value = np.asarray(value).reshape(n, *np.shape(value)[len(batch_shape) :])
            final.setdefault(key, np.zeros_like(value, dtype=np.float64))[cut] = value[cut]
    return RolloutResult(
        returns, lengths, spikes, diverged, diverged_at, obs_seen, trajectory, final
    )


RECORD_FIELDS = ("obs", "actions", "rewards", "spikes", "active")


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
