"""Perturbation wrappers for Gymnasium MuJoCo locomotion, one effect each.

Every wrapper
- starts on a schedule: always (``onset=0``), at step ``onset``, inside ``[onset, until)``, or at
  a step drawn per episode from ``onset_range=(lo, hi)`` (mid-episode onsets);
- is the identity at strength 0 (``strength=0``, ``scale=1``, ``std=0``, ``steps=0``, zero force);
- draws randomness only from the environment's seeded generator (``env.np_random``);
- writes what it did to ``info["perturbation"][label]``;
- records its constructor arguments, so ``gym.make(env.spec)`` rebuilds the perturbed env.

Physical perturbations never edit the MuJoCo model cumulatively: a :class:`ModelEditor` kept on
the unwrapped env remembers each touched field's nominal value and re-derives
``field = nominal * prod(active factors)`` whenever a perturbation switches on or off, so
resets and stacked wrappers cannot compound. Step ``t`` counts ``env.step`` calls since reset
(0-based); a perturbation with ``onset=300`` changes transition 300 onwards.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from plasticagents.envs.split import SplitStep

__all__ = [
    "PHYSICAL",
    "SIGNAL",
    "CrippleLeg",
    "DelayAction",
    "DelayObservation",
    "DropoutObservation",
    "ExternalPush",
    "GaussianNoiseAction",
    "GaussianNoiseObservation",
    "ModelEditor",
    "OffsetObservation",
    "Perturbation",
    "ScaleBodyMass",
    "ScaleFriction",
    "ScaleGravity",
    "ScaleJointDamping",
    "StuckObservation",
    "WeakenActuator",
    "leg_actuators",
]


class ModelEditor:
    """Applies multiplicative factors to MuJoCo model fields, always from nominal values."""

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = model
        self.nominal: dict[str, np.ndarray] = {}
        self.factors: dict[int, list[tuple[str, Any, np.ndarray]]] = {}

    @staticmethod
    def of(env: gym.Env) -> ModelEditor:
        base = env.unwrapped
        if not hasattr(base, "model"):
            raise TypeError(f"{type(base).__name__} has no MuJoCo model to perturb")
        editor = getattr(base, "_plasticagents_editor", None)
        if editor is None:
            editor = ModelEditor(base.model)
            base._plasticagents_editor = editor
        return editor

    def _field(self, name: str) -> np.ndarray:
        return self.model.opt.gravity if name == "gravity" else getattr(self.model, name)

    def set(self, owner: int, entries: list[tuple[str, Any, np.ndarray]] | None) -> None:
        """Set (or with ``None`` clear) ``owner``'s ``(field, index, factor)`` entries."""
        old = self.factors.pop(owner, [])
        if entries:
            self.factors[owner] = entries
        for name in {e[0] for e in old} | {e[0] for e in entries or []}:
            field = self._field(name)
            if name not in self.nominal:
                self.nominal[name] = field.copy()
            value = self.nominal[name].copy()
            for items in self.factors.values():
                for fname, index, factor in items:
                    if fname == name:
                        value[index] *= factor
            field[...] = value
            if name == "body_mass":
                self._update_subtree_mass()

    def _update_subtree_mass(self) -> None:
        """Keep ``body_subtreemass`` (a derived constant MuJoCo does not recompute) consistent
        with ``body_mass``: ``subtree_com`` divides by it, and trackcom cameras follow it."""
        m = self.model
        subtree = m.body_mass.copy()
        for body in range(m.nbody - 1, 0, -1):  # children have larger ids than their parents
            subtree[m.body_parentid[body]] += subtree[body]
        m.body_subtreemass[:] = subtree


def _names(model: mujoco.MjModel, obj: mujoco.mjtObj, count: int) -> list[str]:
    return [mujoco.mj_id2name(model, obj, i) or f"{i}" for i in range(count)]


def leg_actuators(model: mujoco.MjModel) -> dict[str, list[int]]:
    """Legs by name: each child body of the root body that carries actuated joints below it."""
    root = 1
    legs: dict[str, list[int]] = {}
    for a in range(model.nu):
        body = model.jnt_bodyid[model.actuator_trnid[a, 0]]
        while model.body_parentid[body] not in (root, 0):
            body = model.body_parentid[body]
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, body)
        legs.setdefault(name, []).append(a)
    return legs


def _lookup(kind: str, wanted: Sequence[str], valid: list[str]) -> list[int]:
    bad = [w for w in wanted if w not in valid]
    if bad:
        raise ValueError(f"unknown {kind} {bad[0]!r}; valid choices: {valid}")
    return [valid.index(w) for w in wanted]


def _check_scale(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return arr


class Perturbation(SplitStep, gym.utils.RecordConstructorArgs):
    """Base class: schedule bookkeeping, info reporting and argument recording.

    Subclasses implement :meth:`_activate` / :meth:`_deactivate` (and may override the
    ``_on_action`` / ``_on_obs`` / ``_on_reset_obs`` hooks) and describe themselves in
    :meth:`_describe`. The step is :class:`~plasticagents.envs.split.SplitStep`'s
    (``before_step``: the schedule and ``_on_action``; ``after_step``: ``_on_obs`` and the
    report); a subclass that overrides ``step`` itself takes its slot off the fast path.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        onset: int = 0,
        until: int | None = None,
        onset_range: tuple[int, int] | None = None,
        label: str | None = None,
        **recorded: Any,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, onset=onset, until=until, onset_range=onset_range, label=label, **recorded
        )
        gym.Wrapper.__init__(self, env)
        if not (isinstance(onset, int) and onset >= 0):
            raise ValueError(f"onset must be an int >= 0 (a step index), got {onset!r}")
        if until is not None and not (isinstance(until, int) and until > onset):
            raise ValueError(f"until must be an int > onset={onset}, got {until!r}")
        if onset_range is not None:
            lo, hi = onset_range
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi):
                raise ValueError(f"onset_range must be two ints 0 <= lo <= hi, got {onset_range!r}")
            onset_range = (lo, hi)
        self.onset, self.until, self.onset_range = onset, until, onset_range
        self.label = label or type(self).__name__
        self.t = 0
        self.active = False
        self._episode_onset = onset

    # -- schedule -------------------------------------------------------------------------
    def _should_be_active(self, t: int) -> bool:
        start = self._episode_onset
        return t >= start and (self.until is None or t < start + (self.until - self.onset))

    def _update(self) -> None:
        want = self._should_be_active(self.t)
        if want and not self.active:
            self._activate()
        elif not want and self.active:
            self._deactivate()
        self.active = want

    def _activate(self) -> None:  # pragma: no cover - overridden
        pass

    def _deactivate(self) -> None:
        pass

    def _new_episode(self) -> None:
        """Draw per-episode randomness (e.g. a random leg or scale); called at every reset."""

    def _describe(self) -> dict[str, Any]:
        return {}

    # -- gym API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if self.active:
            self._deactivate()
            self.active = False
        obs, info = self.env.reset(seed=seed, options=options)
        self.t = 0
        if self.onset_range is not None:
            lo, hi = self.onset_range
            self._episode_onset = int(self.np_random.integers(lo, hi + 1))
        self._new_episode()
        self._update()
        obs = self._on_reset_obs(obs)
        return obs, self._report(info)

    def before_step(self, action):
        self._update()
        return self._on_action(action)

    def after_step(self, action, obs, reward, terminated, truncated, info):
        self.t += 1
        return self._on_obs(obs), reward, terminated, truncated, self._report(info)

    def _on_action(self, action):
        return action

    def _on_obs(self, obs):
        return obs

    def _on_reset_obs(self, obs):
        return self._on_obs(obs)

    def _report(self, info: dict) -> dict:
        info = dict(info)
        report = dict(info.get("perturbation", {}))
        report[self.label] = {
            "active": self.active,
            "onset": self._episode_onset,
            **self._describe(),
        }
        info["perturbation"] = report
        return info

    def close(self):
        if self.active:
            self._deactivate()
            self.active = False
        return super().close()


class _ModelPerturbation(Perturbation):
    """A perturbation expressed as factors on MuJoCo model fields."""

    def __init__(self, env: gym.Env, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self.editor = ModelEditor.of(env)
        self.model = env.unwrapped.model

    def _entries(self) -> list[tuple[str, Any, np.ndarray]]:
        raise NotImplementedError

    def _activate(self) -> None:
        self.editor.set(id(self), self._entries())

    def _deactivate(self) -> None:
        self.editor.set(id(self), None)


class WeakenActuator(_ModelPerturbation):
    """Scale the gear of chosen actuators by ``1 - strength`` (strength 1 disables them).

    ``actuators``: actuator names (or indices as strings for unnamed actuators); a list of lists
    draws one group per episode.
    """

    def __init__(
        self,
        env: gym.Env,
        actuators: Sequence[str] | Sequence[Sequence[str]] = ("0",),
        strength: float = 1.0,
        **schedule: Any,
    ) -> None:
        super().__init__(env, actuators=list(actuators), strength=strength, **schedule)
        if not (math.isfinite(strength) and 0.0 <= strength <= 1.0):
            raise ValueError(
                f"actuator strength must be in [0, 1] (1 = disabled), got {strength!r}"
            )
        valid = _names(self.model, mujoco.mjtObj.mjOBJ_ACTUATOR, self.model.nu)
        groups = [list(g) if not isinstance(g, str) else [g] for g in actuators]
        if all(isinstance(g, str) for g in actuators):
            groups = [list(actuators)]
        self.groups = [_lookup("actuator", g, valid) for g in groups]
        self.strength = strength
        self.chosen = self.groups[0]

    def _new_episode(self) -> None:
        if len(self.groups) > 1:
            self.chosen = self.groups[int(self.np_random.integers(len(self.groups)))]

    def _entries(self):
        return [("actuator_gear", (self.chosen, 0), np.float64(1.0 - self.strength))]

    def _describe(self):
        return {"actuators": list(self.chosen), "strength": self.strength}


class CrippleLeg(WeakenActuator):
    """Weaken or disable every actuator of a named leg (or one leg drawn per episode).

    Legs are the child bodies of the robot's root body (see :func:`leg_actuators`), e.g. Ant
    ``front_left_leg``, ``front_right_leg``, ``back_leg``, ``right_back_leg``; HalfCheetah
    ``bthigh``, ``fthigh``; Walker2d ``thigh``, ``thigh_left``; Hopper ``thigh``.
    """

    def __init__(
        self,
        env: gym.Env,
        leg: str | Sequence[str] = "front_left_leg",
        strength: float = 1.0,
        **schedule: Any,
    ) -> None:
        legs = leg_actuators(env.unwrapped.model)
        wanted = [leg] if isinstance(leg, str) else list(leg)
        for name in wanted:
            if name not in legs:
                raise ValueError(f"unknown leg {name!r}; valid choices: {sorted(legs)}")
        names = _names(env.unwrapped.model, mujoco.mjtObj.mjOBJ_ACTUATOR, env.unwrapped.model.nu)
        groups = [[names[a] for a in legs[name]] for name in wanted]
        super().__init__(env, actuators=groups, strength=strength, **schedule)
        # record the user's arguments, not the derived actuator groups
        self._saved_kwargs = {**self._saved_kwargs, "leg": leg}
        self._saved_kwargs.pop("actuators")
        self.legs = wanted
        self.leg = wanted[0]

    def _new_episode(self) -> None:
        if len(self.groups) > 1:
            k = int(self.np_random.integers(len(self.groups)))
            self.chosen, self.leg = self.groups[k], self.legs[k]

    def _describe(self):
        return {"leg": self.leg, "strength": self.strength}


class _ScaleFields(_ModelPerturbation):
    """Scale model fields of named objects by ``scale`` (or a scale drawn from ``scale_range``)."""

    kind = ""
    obj: mujoco.mjtObj
    count_attr = ""
    fields: tuple[str, ...] = ()

    def __init__(
        self,
        env: gym.Env,
        scale: float = 1.0,
        names: Sequence[str] | None = None,
        scale_range: tuple[float, float] | None = None,
        **schedule: Any,
    ) -> None:
        super().__init__(
            env,
            scale=scale,
            names=None if names is None else list(names),
            scale_range=scale_range,
            **schedule,
        )
        _check_scale(f"{type(self).__name__} scale", scale)
        if scale_range is not None:
            lo, hi = _check_scale(f"{type(self).__name__} scale_range", scale_range)
            if not lo <= hi:
                raise ValueError(
                    f"scale_range must be (low, high) with low <= high, got {scale_range!r}"
                )
        self.scale, self.scale_range, self.episode_scale = float(scale), scale_range, float(scale)
        if names is None:
            self.index: Any = slice(None)
        else:
            valid = _names(self.model, self.obj, getattr(self.model, self.count_attr))
            self.index = _lookup(self.kind, list(names), valid)

    def _new_episode(self) -> None:
        if self.scale_range is not None:
            self.episode_scale = float(self.np_random.uniform(*self.scale_range))

    def _entries(self):
        return [(f, self.index, np.float64(self.episode_scale)) for f in self.fields]

    def _describe(self):
        return {"scale": self.episode_scale}


class ScaleBodyMass(_ScaleFields):
    """Scale the mass and inertia of named bodies (default: every body)."""

    kind, obj, count_attr = "body", mujoco.mjtObj.mjOBJ_BODY, "nbody"
    fields = ("body_mass", "body_inertia")


class ScaleFriction(_ScaleFields):
    """Scale the friction coefficients of named geoms (default: every geom)."""

    kind, obj, count_attr = "geom", mujoco.mjtObj.mjOBJ_GEOM, "ngeom"
    fields = ("geom_friction",)


class ScaleJointDamping(_ScaleFields):
    """Scale the damping of every degree of freedom (``names`` are not supported: dofs)."""

    fields = ("dof_damping",)

    def __init__(self, env: gym.Env, scale: float = 1.0, scale_range=None, **schedule: Any) -> None:
        super().__init__(env, scale=scale, names=None, scale_range=scale_range, **schedule)
        self._saved_kwargs.pop("names", None)


class ScaleGravity(_ScaleFields):
    """Scale the gravity vector (``scale`` may be a 3-vector to scale axes separately)."""

    fields = ("gravity",)

    def __init__(
        self, env: gym.Env, scale: float | Sequence[float] = 1.0, scale_range=None, **schedule: Any
    ) -> None:
        vector = np.atleast_1d(_check_scale("ScaleGravity scale", scale))
        if vector.shape not in ((1,), (3,)):
            raise ValueError(f"ScaleGravity scale must be a number or 3 numbers, got {scale!r}")
        super().__init__(env, scale=1.0, names=None, scale_range=scale_range, **schedule)
        self._saved_kwargs.pop("names", None)
        self._saved_kwargs["scale"] = scale
        self.vector = vector

    def _entries(self):
        factor = self.vector if self.scale_range is None else np.float64(self.episode_scale)
        return [("gravity", slice(None), factor)]

    def _describe(self):
        return {"scale": self.vector.tolist() if self.scale_range is None else self.episode_scale}


class ExternalPush(Perturbation):
    """Apply an external force/torque (world frame, N and N·m) to a body for ``duration`` steps."""

    def __init__(
        self,
        env: gym.Env,
        body: str = "torso",
        force: Sequence[float] = (0.0, 0.0, 0.0),
        torque: Sequence[float] = (0.0, 0.0, 0.0),
        duration: int = 10,
        **schedule: Any,
    ) -> None:
        schedule.setdefault("until", schedule.get("onset", 0) + duration)
        super().__init__(
            env, body=body, force=list(force), torque=list(torque), duration=duration, **schedule
        )
        model = env.unwrapped.model
        self.body = _lookup("body", [body], _names(model, mujoco.mjtObj.mjOBJ_BODY, model.nbody))[0]
        wrench = np.concatenate([np.asarray(force, float), np.asarray(torque, float)])
        if wrench.shape != (6,) or not np.all(np.isfinite(wrench)):
            raise ValueError(
                f"force and torque must be 3 finite numbers each, got {force!r}, {torque!r}"
            )
        self.wrench = wrench

    def _activate(self) -> None:
        self.env.unwrapped.data.xfrc_applied[self.body] = self.wrench

    def _deactivate(self) -> None:
        self.env.unwrapped.data.xfrc_applied[self.body] = 0.0

    def _describe(self):
        return {"force": self.wrench[:3].tolist(), "torque": self.wrench[3:].tolist()}


class GaussianNoiseObservation(Perturbation):
    """Add ``N(0, std²)`` noise to every observation element."""

    def __init__(self, env: gym.Env, std: float = 0.1, **schedule: Any) -> None:
        super().__init__(env, std=std, **schedule)
        self.std = float(_check_scale("observation noise std", std))

    def _on_obs(self, obs):
        if not self.active or self.std == 0:
            return obs
        return (obs + self.std * self.np_random.standard_normal(obs.shape)).astype(obs.dtype)


class DropoutObservation(Perturbation):
    """Zero each observation element independently with probability ``p``."""

    def __init__(self, env: gym.Env, p: float = 0.1, **schedule: Any) -> None:
        super().__init__(env, p=p, **schedule)
        if not (math.isfinite(p) and 0.0 <= p <= 1.0):
            raise ValueError(f"dropout probability must be in [0, 1], got {p!r}")
        self.p = p

    def _on_obs(self, obs):
        if not self.active or self.p == 0:
            return obs
        return np.where(self.np_random.random(obs.shape) < self.p, 0.0, obs).astype(obs.dtype)


class OffsetObservation(Perturbation):
    """A sensor bias: add a constant offset to chosen observation elements while active.

    The offset is ``offset`` (a number, or one number per chosen element) plus, when ``std > 0``,
    a draw from ``N(0, std²)`` per element made once per episode (a miscalibrated or drifting
    sensor: constant within the episode, new in the next). ``indices`` picks the elements
    (default: all of them). The identity at ``offset=0, std=0``.
    """

    def __init__(
        self,
        env: gym.Env,
        offset: float | Sequence[float] = 0.0,
        std: float = 0.0,
        indices: Sequence[int] | None = None,
        **schedule: Any,
    ) -> None:
        super().__init__(
            env,
            offset=offset,
            std=std,
            indices=None if indices is None else list(indices),
            **schedule,
        )
        size = int(np.prod(env.observation_space.shape))
        if indices is None:
            indices = list(range(size))
        bad = [i for i in indices if not (isinstance(i, int) and 0 <= i < size)]
        if bad:
            raise ValueError(f"offset sensor index {bad[0]!r} out of range; valid: 0..{size - 1}")
        self.indices = list(indices)
        base = np.asarray(offset, dtype=np.float64)
        if not np.all(np.isfinite(base)) or base.shape not in ((), (len(self.indices),)):
            raise ValueError(
                f"observation offset must be a finite number or {len(self.indices)} finite "
                f"numbers (one per index), got {offset!r}"
            )
        self.base = np.broadcast_to(base, (len(self.indices),)).copy()
        self.std = float(_check_scale("observation offset std", std))
        self.episode_offset = self.base.copy()

    def _new_episode(self) -> None:
        self.episode_offset = self.base.copy()
        if self.std > 0:
            self.episode_offset += self.std * self.np_random.standard_normal(len(self.indices))

    def _on_obs(self, obs):
        if not self.active or not self.episode_offset.any():
            return obs
        obs = obs.copy()
        obs[self.indices] += self.episode_offset.astype(obs.dtype)
        return obs

    def _describe(self):
        return {"offset": self.episode_offset.tolist()}


class StuckObservation(Perturbation):
    """Freeze chosen observation elements at the value they had at onset (stuck sensors)."""

    def __init__(self, env: gym.Env, indices: Sequence[int] = (0,), **schedule: Any) -> None:
        super().__init__(env, indices=list(indices), **schedule)
        size = int(np.prod(env.observation_space.shape))
        bad = [i for i in indices if not (isinstance(i, int) and 0 <= i < size)]
        if bad:
            raise ValueError(f"stuck sensor index {bad[0]!r} out of range; valid: 0..{size - 1}")
        self.indices = list(indices)
        self.held: np.ndarray | None = None
        self.last: np.ndarray | None = None

    def _on_obs(self, obs):
        if self.active:
            if self.held is None:
                self.held = (self.last if self.last is not None else obs)[self.indices].copy()
            obs = obs.copy()
            obs[self.indices] = self.held
        else:
            self.held = None
        self.last = obs
        return obs

    def _on_reset_obs(self, obs):
        self.held, self.last = None, None
        return self._on_obs(obs)


class GaussianNoiseAction(Perturbation):
    """Add ``N(0, std²)`` noise to actions (clipped to the action bounds)."""

    def __init__(self, env: gym.Env, std: float = 0.1, **schedule: Any) -> None:
        super().__init__(env, std=std, **schedule)
        self.std = float(_check_scale("action noise std", std))

    def _on_action(self, action):
        if not self.active or self.std == 0:
            return action
        noisy = action + self.std * self.np_random.standard_normal(np.shape(action))
        space = self.action_space
        return np.clip(noisy, space.low, space.high).astype(space.dtype)


class _Delay(Perturbation):
    def __init__(self, env: gym.Env, steps: int = 1, **schedule: Any) -> None:
        super().__init__(env, steps=steps, **schedule)
        if not (isinstance(steps, int) and steps >= 0):
            raise ValueError(f"delay steps must be an int >= 0, got {steps!r}")
        self.steps = steps
        self.buffer: list = []


class DelayObservation(_Delay):
    """Return the observation from ``steps`` steps ago (the reset observation fills the gap).

    Unlike ``gymnasium.wrappers.DelayObservation`` it follows a schedule (mid-episode onset).
    """

    def _on_reset_obs(self, obs):
        self.buffer = [obs] * (self.steps + 1)
        return obs if not self.active else self.buffer[0]

    def _on_obs(self, obs):
        self.buffer = [*self.buffer[1:], obs]
        return self.buffer[0] if self.active else obs


class DelayAction(_Delay):
    """Apply the action chosen ``steps`` steps ago (zeros fill the first steps)."""

    def _new_episode(self) -> None:
        self.buffer = [np.zeros(self.action_space.shape, self.action_space.dtype)] * self.steps

    def _on_action(self, action):
        if self.steps == 0:
            return action
        self.buffer = [*self.buffer, np.asarray(action)]
        delayed = self.buffer.pop(0)
        return delayed if self.active else action


PHYSICAL = {
    "cripple_leg": CrippleLeg,
    "weaken_actuator": WeakenActuator,
    "scale_body_mass": ScaleBodyMass,
    "scale_friction": ScaleFriction,
    "scale_gravity": ScaleGravity,
    "scale_joint_damping": ScaleJointDamping,
    "external_push": ExternalPush,
}
SIGNAL = {
    "delay_action": DelayAction,
    "gaussian_noise_action": GaussianNoiseAction,
    "stuck_observation": StuckObservation,
    "offset_observation": OffsetObservation,
    "dropout_observation": DropoutObservation,
    "gaussian_noise_observation": GaussianNoiseObservation,
    "delay_observation": DelayObservation,
}
