"""Hidden-goal locomotion: the meta-RL tasks where only an agent that adapts can score.

Each task is a wrapper on a Gymnasium v5 MuJoCo env that replaces the forward-progress term
of its reward by a goal term, keeps the env's other terms (control cost; Ant's healthy reward
and contact cost), hides the goal from the observation and redraws it on a schedule. The
goal never changes the dynamics, only the reward, so an agent can infer it only from the
rewards it gets.

Tasks (``v_x``, ``v_y``: the torso's velocity in m/s over one env step, ``dt`` = 0.05 s, as
Gymnasium reports it in ``info["x_velocity"]`` / ``info["y_velocity"]``; ``a``: the action
applied)

:class:`TargetVelocity`, ``plasticagents/HalfCheetahVel-v0`` (MAML's "HalfCheetahVel")
    ``r = -|v_x - v*| - 0.1 sum(a^2)``, target ``v*`` (m/s) uniform on ``velocity_range``.
    The default ``(0, 3)`` is PEARL's (Rakelly et al. 2019, ``rlkit/envs/half_cheetah_vel.py``
    draws ``uniform(0.0, 3.0)``); MAML (Finn et al. 2017) used ``(0, 2)``. Both weighted the
    control cost by 0.05; here it is Gymnasium's own ``ctrl_cost_weight`` (0.1).
:class:`RunningDirection`, ``plasticagents/HalfCheetahDir-v0`` (MAML's "HalfCheetahDir")
    ``r = d v_x - 0.1 sum(a^2)``, direction ``d`` drawn uniformly from ``directions``
    (default ``(-1, 1)``: backward or forward) at reset; a scheduled switch reverses it.
:class:`PlanarDirection`, ``plasticagents/AntDir-v0`` (PEARL's "ant-dir")
    ``r = cos(theta) v_x + sin(theta) v_y + 1[healthy] - 0.5 sum(a^2) - contact cost``, the
    angle ``theta`` (radians, counter-clockwise from +x) uniform on ``angle_range``; healthy
    reward, costs and termination are Ant-v5's own (the weights PEARL's ant-dir also uses).
    The default ``(0, 2 pi)`` is the draw of PEARL's ``rlkit/envs/ant_dir.py``; the PEARL
    paper's "Ant-Fwd-Back" is its two-heading variant ``{0, pi}``, which a range cannot give.

``info["reward_forward"]`` holds the goal term, so the reward is still the sum of the
``info["reward_*"]`` terms; the base env's ``forward_reward_weight`` is unused.

Schedule (at most one of; step ``t`` counts ``env.step`` calls since reset, 0-based, and a
switch at ``t`` sets the goal that transition ``t`` is rewarded by)
    none: once per episode, at reset; ``switch_at=t``: also at step ``t``;
    ``switch_range=(lo, hi)``: also at one step drawn per episode uniformly from ``lo..hi``;
    ``switch_every=K``: also at steps ``K, 2K, ...``.
A continuous goal is redrawn independently of the old one; a direction is reversed. All goal
and switch-step draws come from a task generator seeded at every reset by one draw of the
env's seeded generator (``env.np_random``): same seed, same goals and switch steps, whatever
else draws from ``np_random`` during the episode (sensor-noise perturbations do, and the
privileged variant's observation is one wider), so a hidden-goal run and its privileged
oracle meet the same goals on the same seeds.

``info["task"]`` at reset and every step: the goal (``{"velocity": 1.7}``, ``{"direction":
-1}``, ``{"angle": 0.8}``), ``"switched"`` (a scheduled switch set it at this step; never at
reset) and ``"last_switch"`` (the step since which the current goal holds; 0 from reset).

``privileged=True`` (for an oracle) appends the goal to the observation: ``[v*]``, ``[d]`` or
``[cos(theta), sin(theta)]``. The observation a step returns shows the goal that rewarded that
step, as its ``info["task"]`` does, so even a privileged agent sees a switch one step late.
``cue_steps=K`` (a task that needs a memory: the goal is told, then must be remembered)
appends the goal and a cue flag, ``[goal..., 1]``, only to the ``K`` observations from the
one a goal was drawn in: the reset observation and those of steps ``0..K-2`` for the first
goal, those of steps ``t..t+K-1`` after a switch at ``t``; every other observation gets
``[0..., 0]``. An agent whose memory lasts a few steps cannot hold the goal until the next
switch; the rewards are the hidden task's, so its feedback stays available.
:func:`~plasticagents.envs.factory.make_env` applies observation perturbations (noise, delay,
dropout, stuck sensors) outside the task, so on a privileged id they act on the goal too.

Ids: for each task ``X`` in ``HalfCheetahVel``, ``HalfCheetahDir``, ``AntDir``: ``X-v0``
(goal per episode), ``XSwitch-v0`` (plus one switch at a step drawn from 300..700) and their
``...Privileged-v0`` twins, all 1000 steps long. ``gym.make(id, **options)`` overrides any
option above (on a ``Switch`` id, pass ``switch_range=None`` to use another schedule); the
other keyword arguments go to the base env (``render_mode``, ``ctrl_cost_weight``, ...).

Reference returns, per step and per episode of the registered ids' ``T`` = 1000 steps (the
meta-RL papers used 200). The oracle and blind figures are analytic bounds on the goal term
(costs come on top, Ant's healthy reward is added); the zero-action figures are measured here
(seeds 0-9, mean +- std). "Goal-blind" means any policy whose motion does not depend on the
goal, i.e. one that does not adapt; every step's goal has the same distribution under every
schedule, so the bounds hold for the ``Switch`` ids too. Trained oracles are measured elsewhere.

- HalfCheetahVel, ``v*`` uniform on ``[lo, hi]`` (default ``[0, 3]``): the ideal oracle tracks
  ``v*`` exactly: goal term 0, return at most 0 (it pays its gait's control cost). A blind
  policy's expected ``|v_x - v*|`` is at least ``(hi - lo) / 4``, reached by the constant speed
  ``(lo + hi) / 2``: at most -0.75 per step, -750 per episode. The bounds are 750 apart.
  Standing still scores ``-v*`` per step, ``-(lo + hi) / 2`` = -1.5 expected, -1500 per
  episode (zero action: the return equals ``-sum_t v*_t`` to within 1.5, the drift).
- HalfCheetahDir: a blind policy's expected ``d v_x`` is 0: expected return at most 0 (zero
  action: -0.1 +- 0.8). The oracle scores the mean of a forward runner's and a backward
  runner's HalfCheetah-v5 returns; no analytic number.
- AntDir, ``theta`` uniform on an arc of width ``w`` (default ``2 pi``): a blind policy whose
  speed is at most ``s`` gets an expected goal term at most ``s sin(w/2) / (w/2)`` (heading
  for the arc's middle), which is 0 on the full circle: return at most the healthy reward,
  1 per step, 1000 per episode (zero action stands healthy all episode: 994 +- 4, the contact
  cost and drift). An oracle with top speed ``s`` earns up to ``1 + s`` per step.

Example:
    >>> import gymnasium as gym
    >>> env = gym.make("plasticagents/HalfCheetahVel-v0", switch_at=2, velocity_range=[1, 2])
    >>> _, info = env.reset(seed=0)
    >>> sorted(info["task"])
    ['last_switch', 'switched', 'velocity']
    >>> for _ in range(3):
    ...     *_, info = env.step(env.action_space.sample())
    >>> info["task"]["last_switch"], 1 <= info["task"]["velocity"] <= 2
    (2, True)
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from plasticagents.envs.split import SplitStep

__all__ = [
    "GOAL_TASKS",
    "HiddenGoal",
    "PlanarDirection",
    "RunningDirection",
    "TargetVelocity",
    "make_goal_env",
]


def _int_at_least(name: str, value: Any, low: int) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def _interval(name: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers (low, high), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"{name} must be finite with low <= high, got {value!r}")
    return lo, hi


class HiddenGoal(SplitStep, gym.utils.RecordConstructorArgs):
    """Base class: the goal schedule, ``info["task"]``, the reward and the privileged view.

    Subclasses name their goal (:attr:`key`), draw it (:meth:`_draw`), score it
    (:meth:`_goal_term`) and give its observed features and their bounds (:meth:`_features`,
    :meth:`_feature_bounds`). See the module docstring.
    """

    key: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ("x_velocity",)
    # what a training curriculum (trainer.curriculum) may change between episodes, with each
    # value's check: cue_steps is read at every step, so a new value takes effect at once
    curriculum_attributes: ClassVar[tuple[str, ...]] = ("cue_steps",)

    def check_curriculum_value(self, name: str, value: Any) -> None:
        """Raise ``ValueError`` unless ``value`` may be set as attribute ``name`` (one of
        :attr:`curriculum_attributes`) between episodes."""
        if name == "cue_steps":
            if self.cue_steps is None:
                raise ValueError("cue_steps: this task was built without a cue (cue_steps=None)")
            _int_at_least("cue_steps", value, 1)

    def __init__(
        self,
        env: gym.Env,
        *,
        switch_at: int | None = None,
        switch_range: Sequence[int] | None = None,
        switch_every: int | None = None,
        privileged: bool = False,
        cue_steps: int | None = None,
        **recorded: Any,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            switch_at=switch_at,
            switch_range=switch_range,
            switch_every=switch_every,
            privileged=privileged,
            cue_steps=cue_steps,
            **recorded,
        )
        gym.Wrapper.__init__(self, env)
        schedule = {
            "switch_at": switch_at,
            "switch_range": switch_range,
            "switch_every": switch_every,
        }
        given = [k for k, v in schedule.items() if v is not None]
        if len(given) > 1:
            raise ValueError(
                f"give at most one of switch_at, switch_range, switch_every; got {given}"
            )
        if switch_at is not None:
            _int_at_least("switch_at", switch_at, 1)
        if switch_every is not None:
            _int_at_least("switch_every", switch_every, 1)
        if switch_range is not None:
            bounds = list(switch_range) if isinstance(switch_range, Sequence) else []
            ints = all(isinstance(v, int) and not isinstance(v, bool) for v in bounds)
            if not (len(bounds) == 2 and ints and 1 <= bounds[0] <= bounds[1]):
                raise ValueError(
                    f"switch_range must be two ints 1 <= lo <= hi, got {switch_range!r}"
                )
            switch_range = (bounds[0], bounds[1])
        self.switch_at, self.switch_range, self.switch_every = switch_at, switch_range, switch_every
        self.privileged = bool(privileged)
        if cue_steps is not None:
            _int_at_least("cue_steps", cue_steps, 1)
            if self.privileged:
                raise ValueError(
                    "give privileged (the goal always shown) or cue_steps (shown for a few "
                    "steps after each draw), not both"
                )
        self.cue_steps = cue_steps
        self._age = 0  # observations since the goal was drawn (0: the drawing one)
        if self.privileged or cue_steps is not None:
            space = env.observation_space
            if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1):
                raise ValueError(
                    f"privileged / cue_steps need a flat Box observation space, got {space}"
                )
            low, high = self._feature_bounds()
            if cue_steps is not None:  # the features (0 when hidden), then the cue flag
                low = [min(v, 0.0) for v in low] + [0.0]
                high = [max(v, 0.0) for v in high] + [1.0]
            self.observation_space = gym.spaces.Box(
                np.concatenate([space.low, low]).astype(space.dtype),
                np.concatenate([space.high, high]).astype(space.dtype),
                dtype=space.dtype,
            )
        self.goal: Any = None
        self.t = 0
        self.last_switch = 0
        self._episode_switch: int | None = None
        self._switched = False

    # -- task hooks -----------------------------------------------------------------------
    def _draw(self, previous: Any) -> Any:  # pragma: no cover - overridden
        """A new goal (``previous`` is ``None`` at reset)."""
        raise NotImplementedError

    def _goal_term(self, info: dict) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def _features(self) -> list[float]:
        """The goal as the privileged observation shows it."""
        return [self.goal]

    def _feature_bounds(self) -> tuple[list[float], list[float]]:
        return [-1.0], [1.0]

    # -- schedule -------------------------------------------------------------------------
    def _switches_at(self, t: int) -> bool:
        if self.switch_every is not None:
            return t > 0 and t % self.switch_every == 0
        return t == self._episode_switch

    # -- gym API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.t, self.last_switch, self._age = 0, 0, 0
        # the task's own stream, fixed by the reset: nothing drawn from np_random during the
        # episode (e.g. observation noise) can shift the goals that follow
        self.task_rng = np.random.default_rng(int(self.np_random.integers(2**63)))
        self.goal = self._draw(None)
        self._episode_switch = self.switch_at
        if self.switch_range is not None:
            lo, hi = self.switch_range
            self._episode_switch = int(self.task_rng.integers(lo, hi + 1))
        return self._observe(obs), self._report(info, switched=False)

    def before_step(self, action):
        self._switched = self._switches_at(self.t)
        if self._switched:
            self.goal, self.last_switch = self._draw(self.goal), self.t
        return action

    def after_step(self, action, obs, base_reward, terminated, truncated, info):
        switched = self._switched
        self.t += 1
        self._age = 0 if switched else self._age + 1
        other = self._other_terms(info, float(base_reward))
        goal_term = float(self._goal_term(info))
        info = {**info, "reward_forward": goal_term}
        reward = goal_term + other
        return self._observe(obs), reward, terminated, truncated, self._report(info, switched)

    def _other_terms(self, info: dict, base_reward: float) -> float:
        """The base reward's terms but forward progress (costs, healthy reward), from ``info``.

        Gymnasium's v5 MuJoCo envs report every term of their reward as ``info["reward_*"]``;
        the check makes a base env (or inner reward wrapper) that does not an error, not a
        silently wrong reward.
        """
        terms = {k: float(v) for k, v in info.items() if k.startswith("reward_")}
        missing = [k for k in (*self.needs, "reward_forward") if k not in info]
        if missing or not math.isclose(sum(terms.values()), base_reward, abs_tol=1e-6):
            raise ValueError(
                f"{type(self).__name__} needs a base env that reports {list(self.needs)} and "
                f"its reward as the sum of info['reward_*'] terms (Gymnasium's v5 MuJoCo "
                f"envs); got reward {base_reward} and info keys {sorted(info)}"
            )
        return sum(v for k, v in terms.items() if k != "reward_forward")

    def _observe(self, obs):
        if self.cue_steps is not None:
            shown = self._age < self.cue_steps
            features = [*self._features(), 1.0] if shown else [0.0] * (len(self._features()) + 1)
            return np.concatenate([obs, np.asarray(features, obs.dtype)])
        if not self.privileged:
            return obs
        return np.concatenate([obs, np.asarray(self._features(), obs.dtype)])

    def _report(self, info: dict, switched: bool) -> dict:
        task = {self.key: self.goal, "switched": switched, "last_switch": self.last_switch}
        return {**info, "task": task}


class TargetVelocity(HiddenGoal):
    """Run at a hidden target forward velocity ``v*`` (m/s): goal term ``-|v_x - v*|``.

    ``velocity_range``: ``v*`` is uniform on it (``[v, v]`` fixes it); see the module docstring
    for the schedule options (``switch_*``) and ``privileged``.
    """

    key = "velocity"

    def __init__(
        self, env: gym.Env, velocity_range: Sequence[float] = (0.0, 3.0), **options: Any
    ) -> None:
        self.velocity_range = _interval("velocity_range", velocity_range)
        super().__init__(env, velocity_range=velocity_range, **options)

    def _feature_bounds(self):
        return [self.velocity_range[0]], [self.velocity_range[1]]

    def _draw(self, previous):
        return float(self.task_rng.uniform(*self.velocity_range))

    def _goal_term(self, info):
        return -abs(info["x_velocity"] - self.goal)


class RunningDirection(HiddenGoal):
    """Run forward (``d = 1``) or backward (``d = -1``) along x: goal term ``d v_x``.

    ``directions``: ``d`` is drawn uniformly from them at reset (``[1]`` fixes it); a
    scheduled switch reverses it. See the module docstring for the other options.
    """

    key = "direction"

    def __init__(self, env: gym.Env, directions: Sequence[int] = (-1, 1), **options: Any) -> None:
        bad = [d for d in directions if d not in (-1, 1) or isinstance(d, bool)]
        if bad or not directions:
            raise ValueError(f"directions must be a non-empty list of -1 and 1, got {directions!r}")
        self.directions = [int(d) for d in directions]
        super().__init__(env, directions=directions, **options)

    def _draw(self, previous):
        if previous is not None:
            return -previous
        return self.directions[int(self.task_rng.integers(len(self.directions)))]

    def _goal_term(self, info):
        return self.goal * info["x_velocity"]


class PlanarDirection(HiddenGoal):
    """Run along a hidden heading ``theta`` (radians, counter-clockwise from +x) in the ground
    plane: goal term ``cos(theta) v_x + sin(theta) v_y``.

    ``angle_range``: ``theta`` is uniform on it (``[a, a]`` fixes it); the privileged
    observation appends ``[cos(theta), sin(theta)]``. See the module docstring.
    """

    key = "angle"
    needs = ("x_velocity", "y_velocity")

    def __init__(
        self, env: gym.Env, angle_range: Sequence[float] = (0.0, 2 * math.pi), **options: Any
    ) -> None:
        self.angle_range = _interval("angle_range", angle_range)
        super().__init__(env, angle_range=angle_range, **options)

    def _draw(self, previous):
        return float(self.task_rng.uniform(*self.angle_range))

    def _features(self):
        return [math.cos(self.goal), math.sin(self.goal)]

    def _feature_bounds(self):
        return [-1.0, -1.0], [1.0, 1.0]

    def _goal_term(self, info):
        return math.cos(self.goal) * info["x_velocity"] + math.sin(self.goal) * info["y_velocity"]


GOAL_TASKS: dict[str, type[HiddenGoal]] = {
    "velocity": TargetVelocity,
    "direction": RunningDirection,
    "angle": PlanarDirection,
}


def _options(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and issubclass(klass, HiddenGoal):
            params = inspect.signature(klass.__init__).parameters.values()
            names |= {
                p.name for p in params if p.kind is p.KEYWORD_ONLY or p.default is not p.empty
            }
    return names


def make_goal_env(task: str, base_id: str, **kwargs: Any) -> gym.Env:
    """Entry point of the hidden-goal ids: ``GOAL_TASKS[task]`` on ``gym.make(base_id).unwrapped``.

    ``kwargs`` the task takes (its goal range, ``switch_*``, ``privileged``) go to the task;
    the rest (``render_mode``, ``ctrl_cost_weight``, ...) to the base env. ``gym.make`` adds
    the time limit and checkers of the registered id's own spec on top.
    """
    if task not in GOAL_TASKS:
        raise ValueError(f"unknown hidden-goal task {task!r}; valid choices: {sorted(GOAL_TASKS)}")
    cls = GOAL_TASKS[task]
    names = _options(cls)
    options = {k: v for k, v in kwargs.items() if k in names}
    env_kwargs = {k: v for k, v in kwargs.items() if k not in names}
    return cls(gym.make(base_id, disable_env_checker=True, **env_kwargs).unwrapped, **options)
