"""Batched stepping of Gymnasium's HalfCheetah-v5 and Ant-v5: physics for every slot with the
GIL released, observations, rewards and infos computed in NumPy over the slots.

A population of Gymnasium envs stepped one ``env.step`` at a time spends more time in Python
(the wrapper stack, observation assembly, reward terms, info dicts) than in MuJoCo.
:class:`BatchedLocomotion` takes the *same* env objects and replaces only the step of the
slots it covers: it writes each slot's action to its own ``MjData``, runs
``mj_step(model, data, nstep=frame_skip)`` and ``mj_rnePostConstraint`` (exactly Gymnasium's
``MujocoEnv._step_mujoco_simulation``) on the caller's threads, and evaluates the v5
formulas for all slots at once:

- HalfCheetah-v5: ``obs = [qpos[1:], qvel]``, ``reward = w_fwd * dx/dt - w_ctrl * |a|²``;
- Ant-v5: ``obs = [qpos[2:], qvel, clip(cfrc_ext[1:], -1, 1)]``, ``reward = v_x * w_fwd +
  healthy * w_healthy - (w_ctrl * |a|² + w_contact * |clip(cfrc_ext)|²)`` with ``v_x`` from
  the main body's ``xpos`` and ``terminated = not healthy`` (finite state, ``z`` in range);
- ``truncated`` by the slot's ``TimeLimit``; each step's ``info`` has the env's keys, values
  and types, and the perturbation wrappers' ``info["perturbation"]`` report.

Each term is computed in the order and dtype Gymnasium uses (a float32 action gives a float32
control cost, as ``np.sum(np.square(action))`` does), so observations, rewards,
terminations and infos are equal to Gymnasium's bit for bit (``tests/envs/test_batched.py``).
The env parameters (reward weights, ``frame_skip``, ``healthy_z_range``, observation flags...)
are read from each env, so non-default ``gym.make`` kwargs are honoured.

What is covered, per slot (:func:`fast_path_blocker` says why a slot is not):

- the unwrapped env is Gymnasium's ``HalfCheetahEnv`` or ``AntEnv`` (v5), not rendering to a
  window; every covered slot has the model sizes and env parameters of the first one;
- its wrappers are Gymnasium's ``TimeLimit`` / ``OrderEnforcing`` / ``PassiveEnvChecker`` and
  physical model-edit perturbations (``cripple_leg``, ``weaken_actuator``,
  ``scale_body_mass`` / ``friction`` / ``gravity`` / ``joint_damping``) active from step 0
  for the whole episode: ``onset=0``, no ``until``, no ``onset_range``. Per-episode draws
  (a random leg, ``scale_range``) happen at reset, which stays Gymnasium's, so they are
  covered; each slot keeps its own ``MjModel`` with its own edits.

Anything else (signal wrappers, mid-episode onsets or windows, pushes, learner inputs, other
envs or wrappers) is not covered: the caller steps that slot through Gymnasium as before.
Resets are always Gymnasium's (seeding, initial-state noise, the wrappers' reset logic).
After a batched step the slot's ``TimeLimit`` and perturbation step counters are advanced as
``env.step`` would have, so the Gymnasium env can take over at any step.

Example:
    >>> import gymnasium as gym
    >>> envs = [gym.make("HalfCheetah-v5", max_episode_steps=3) for _ in range(2)]
    >>> fast = BatchedLocomotion(envs)
    >>> fast.covered.tolist()
    [True, True]
    >>> for i, env in enumerate(envs):
    ...     fast.begin(i, env.reset(seed=i)[1])
    >>> out = fast.step(np.zeros((2, 6)), [0, 1])
    >>> out[0][0].shape, sorted(out[0][4])
    ((17,), ['reward_ctrl', 'reward_forward', 'x_position', 'x_velocity'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

from plasticagents.envs.perturbations import Perturbation, _ModelPerturbation

__all__ = ["SUPPORTED_IDS", "BatchedLocomotion", "fast_path_blocker"]

SUPPORTED_IDS = ("HalfCheetah-v5", "Ant-v5")
_BASES = (HalfCheetahEnv, AntEnv)
_PASSIVE = (OrderEnforcing, PassiveEnvChecker)


def _static_model_edit(wrapper: gym.Wrapper) -> bool:
    """A model-edit perturbation that is on for the whole episode and only edits the model."""
    cls = type(wrapper)
    return (
        isinstance(wrapper, _ModelPerturbation)
        and wrapper.onset == 0
        and wrapper.until is None
        and wrapper.onset_range is None
        and all(
            getattr(cls, name) is getattr(Perturbation, name)
            for name in ("step", "_on_action", "_on_obs", "_on_reset_obs", "_update")
        )
    )


def fast_path_blocker(env: gym.Env) -> str | None:
    """Why :class:`BatchedLocomotion` cannot step ``env`` (``None``: it can)."""
    layer = env
    while isinstance(layer, gym.Wrapper):
        if not isinstance(layer, (TimeLimit, *_PASSIVE)) and not _static_model_edit(layer):
            what = type(layer).__name__
            if isinstance(layer, Perturbation):
                return f"perturbation {what} is not a model edit active from step 0"
            return f"wrapper {what} is not reproduced by the fast path"
        layer = layer.env
    if type(layer) not in _BASES:
        return f"{type(layer).__name__} is not one of {list(SUPPORTED_IDS)}"
    if layer.render_mode == "human":
        return "render_mode 'human' renders at every step"
    return None


def _parameters(base: Any) -> tuple:
    """Everything the batched formulas read from an env besides its state (slots must agree)."""
    common = (
        type(base),
        base.frame_skip,
        base.dt,
        base._forward_reward_weight,
        base._ctrl_cost_weight,
        base._exclude_current_positions_from_observation,
        base.model.nq,
        base.model.nv,
        base.model.nu,
        base.model.nbody,
    )
    if isinstance(base, HalfCheetahEnv):
        return common
    return (
        *common,
        base._contact_cost_weight,
        base._healthy_reward,
        base._terminate_when_unhealthy,
        tuple(base._healthy_z_range),
        tuple(base._contact_force_range),
        base.data.body(base._main_body).id,
        base._include_cfrc_ext_in_observation,
    )


class BatchedLocomotion:
    """Steps the covered slots of ``envs`` (see the module docstring) without their Python
    ``step``; the envs stay the caller's (reset, render, close them as usual).

    Args:
        envs: the pool's Gymnasium envs, slot ``i`` is ``envs[i]``.

    Attributes:
        covered: ``[n]`` bool, the slots :meth:`step` may be given.
        blocked: slot -> why it is not covered.
    """

    def __init__(self, envs: Sequence[gym.Env]) -> None:
        n = len(envs)
        self.blocked: dict[int, str] = {}
        self.bases = [env.unwrapped for env in envs]
        reference = None
        for i, env in enumerate(envs):
            reason = fast_path_blocker(env)
            if reason is None:
                params = _parameters(self.bases[i])
                if reference is None:
                    reference, first = params, i
                elif params != reference:
                    reason = f"its env parameters or model sizes differ from slot {first}'s"
            if reason is not None:
                self.blocked[i] = reason
        self.covered = np.array([i not in self.blocked for i in range(n)], dtype=bool)
        # the wrappers whose step counters env.step would advance: (object, attribute)
        self._counters: list[list[tuple[Any, str]]] = [[] for _ in range(n)]
        self._limit = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        for i in np.flatnonzero(self.covered):
            layer = envs[i]
            while isinstance(layer, gym.Wrapper):
                if isinstance(layer, TimeLimit):
                    self._limit[i] = min(self._limit[i], layer._max_episode_steps)
                    self._counters[i].append((layer, "_elapsed_steps"))
                elif isinstance(layer, Perturbation):
                    self._counters[i].append((layer, "t"))
                layer = layer.env
        self._steps = np.zeros(n, dtype=np.int64)
        self._ready = np.zeros(n, dtype=bool)
        self._reports: list[dict[str, dict[str, Any]] | None] = [None] * n
        if reference is None:
            return
        base = self.bases[first]
        self.ant = isinstance(base, AntEnv)
        self.frame_skip, self.dt, self.nu = base.frame_skip, base.dt, base.model.nu
        self.forward_weight, self.ctrl_weight = base._forward_reward_weight, base._ctrl_cost_weight
        self.skip = (2 if self.ant else 1) * bool(base._exclude_current_positions_from_observation)
        self.qpos = np.zeros((n, base.model.nq))
        self.qvel = np.zeros((n, base.model.nv))
        self.before = np.zeros((n, 2))
        self.after = np.zeros((n, 2))
        if self.ant:
            self.contact_weight = base._contact_cost_weight
            self.healthy_reward = base._healthy_reward
            self.terminate = base._terminate_when_unhealthy
            self.z_range = base._healthy_z_range
            self.force_range = base._contact_force_range
            self.body = base.data.body(base._main_body).id
            self.cfrc = base._include_cfrc_ext_in_observation
            self.cfrc_ext = np.zeros((n, base.model.nbody, 6))

    def begin(self, i: int, info: dict) -> None:
        """Slot ``i`` was just reset through Gymnasium with reset ``info``."""
        if self.covered[i]:
            self._steps[i], self._ready[i] = 0, True
            self._reports[i] = info.get("perturbation")

    def _physics(self, actions: np.ndarray) -> Callable[[int], None]:
        """One slot's step of MuJoCo (GIL released inside ``mj_step``), its state read back."""
        bases, ant, body, nstep = self.bases, self.ant, getattr(self, "body", 0), self.frame_skip
        qpos, qvel, before, after = self.qpos, self.qvel, self.before, self.after

        def run(i: int) -> None:
            model, data = bases[i].model, bases[i].data
            data.ctrl[:] = actions[i]
            before[i] = data.xpos[body, :2] if ant else data.qpos[0]
            mujoco.mj_step(model, data, nstep=nstep)
            mujoco.mj_rnePostConstraint(model, data)
            qpos[i], qvel[i] = data.qpos, data.qvel
            if ant:
                after[i] = data.xpos[body, :2]
                self.cfrc_ext[i] = data.cfrc_ext
            else:
                after[i] = data.qpos[0]

        return run

    def step(
        self,
        actions: np.ndarray,
        indices: Sequence[int],
        map_fn: Callable[[Callable[[int], Any], Sequence[int]], Any] | None = None,
    ) -> list[tuple[np.ndarray, Any, bool, bool, dict]]:
        """Step the covered slots ``indices`` with their rows of ``actions [n, act_dim]``.

        ``map_fn(fn, indices)`` runs ``fn(i)`` for every slot (default: a loop; a pool passes
        its thread map). Returns ``(obs, reward, terminated, truncated, info)`` per slot, as
        ``envs[i].step(actions[i])`` would.
        """
        idx = np.asarray(indices, dtype=np.intp)
        if len(idx) == 0:
            return []
        if not self.covered[idx].all():
            raise ValueError(f"slots {[int(i) for i in idx if not self.covered[i]]} not covered")
        if not self._ready[idx].all():
            raise gym.error.ResetNeeded("Cannot call env.step() before calling env.reset()")
        acts = actions[idx]
        if acts.shape[1:] != (self.nu,):
            raise ValueError(
                f"Action dimension mismatch. Expected {(self.nu,)}, found {acts.shape[1:]}"
            )
        run = self._physics(actions)
        if map_fn is None:
            for i in idx:
                run(int(i))
        else:
            map_fn(run, idx)
        qpos, qvel = self.qpos[idx], self.qvel[idx]
        ctrl_cost = self.ctrl_weight * np.sum(np.square(acts), axis=1)
        if self.ant:
            velocity = (self.after[idx] - self.before[idx]) / self.dt
            x_velocity, y_velocity = velocity[:, 0], velocity[:, 1]
            forces = np.clip(self.cfrc_ext[idx], *self.force_range)
            parts = [qpos[:, self.skip :], qvel]
            if self.cfrc:
                parts.append(forces[:, 1:].reshape(len(idx), -1))
            obs = np.concatenate(parts, axis=1)
            forward = x_velocity * self.forward_weight
            finite = np.isfinite(qpos).all(axis=1) & np.isfinite(qvel).all(axis=1)
            z_min, z_max = self.z_range
            healthy = finite & (z_min <= qpos[:, 2]) & (qpos[:, 2] <= z_max)
            survive = healthy * self.healthy_reward
            contact_cost = self.contact_weight * np.sum(np.square(forces), axis=(1, 2))
            reward = (forward + survive) - (ctrl_cost + contact_cost)
            terminated = ~healthy & self.terminate
            columns = [
                qpos[:, 0],
                qpos[:, 1],
                qpos[:, :2],
                x_velocity,
                y_velocity,
                forward,
                -ctrl_cost,
                -contact_cost,
                survive,
            ]
            keys = (
                "x_position",
                "y_position",
                "distance_from_origin",
                "x_velocity",
                "y_velocity",
                "reward_forward",
                "reward_ctrl",
                "reward_contact",
                "reward_survive",
            )
        else:
            x_velocity = (self.after[idx, 0] - self.before[idx, 0]) / self.dt
            obs = np.concatenate([qpos[:, self.skip :], qvel], axis=1)
            forward = self.forward_weight * x_velocity
            reward = forward - ctrl_cost
            terminated = np.zeros(len(idx), dtype=bool)
            columns = [qpos[:, 0], x_velocity, forward, -ctrl_cost]
            keys = ("x_position", "x_velocity", "reward_forward", "reward_ctrl")
        self._steps[idx] += 1
        steps = self._steps[idx]
        truncated = steps >= self._limit[idx]
        out = []
        norm = np.linalg.norm
        for r, (i, values) in enumerate(zip(idx, zip(*columns, strict=True), strict=True)):
            info = dict(zip(keys, values, strict=True))
            if self.ant:  # Gymnasium's own norm of each slot's (x, y), not a batched one
                info["distance_from_origin"] = norm(values[2], ord=2)
            report = self._reports[i]
            if report is not None:
                info["perturbation"] = {label: dict(entry) for label, entry in report.items()}
            t = int(steps[r])
            for owner, name in self._counters[i]:
                setattr(owner, name, t)
            out.append((obs[r], reward[r], bool(terminated[r]), bool(truncated[r]), info))
        return out
