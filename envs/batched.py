"""Batched stepping of Gymnasium's HalfCheetah-v5 and Ant-v5: physics for every slot with the
GIL released, observations, rewards and infos computed in NumPy over the slots (or, for a
rollout's step of every slot without hooks or infos, in the C step's threads).

A population of Gymnasium envs stepped one ``env.step`` at a time spends more time in Python
(the wrapper stack, observation assembly, reward terms, info dicts) than in MuJoCo.
:class:`BatchedLocomotion` takes the *same* env objects and replaces only the step of the
slots it covers: it writes each slot's action to its own ``MjData``, runs
``mj_step(model, data, nstep=frame_skip)`` and ``mj_rnePostConstraint`` (exactly Gymnasium's
``MujocoEnv._step_mujoco_simulation``), and evaluates the v5 formulas for all slots at once.
The physics of all slots is one call of a small C loop (``native_physics.c``, compiled on first
use against the installed ``mujoco`` package's headers and library, OpenMP over ``threads``),
so no Python runs between slots; where it cannot be built, each slot's physics is a Python
closure on the caller's threads (``PLASTICAGENTS_NATIVE_PHYSICS=0`` forces that path). Both
make the same MuJoCo calls and copies, and a MuJoCo error in a slot's step (its arena
overflowing) raises ``mujoco.FatalError`` on both (the C step's message names the slot). The v5
formulas:

- HalfCheetah-v5: ``obs = [qpos[1:], qvel]``, ``reward = w_fwd * dx/dt - w_ctrl * |a|²``;
- Ant-v5: ``obs = [qpos[2:], qvel, clip(cfrc_ext[1:], -1, 1)]``, ``reward = v_x * w_fwd +
  healthy * w_healthy - (w_ctrl * |a|² + w_contact * |clip(cfrc_ext)|²)`` with ``v_x`` from
  the main body's ``xpos`` and ``terminated = not healthy`` (finite state, ``z`` in range);
- ``truncated`` by the slot's ``TimeLimit``; each step's ``info`` has the env's keys, values
  and types, and the perturbation wrappers' ``info["perturbation"]`` report
  (:meth:`BatchedLocomotion.step_arrays` leaves out the info of a slot without wrappers
  that hook its step, when asked to).

Each term is computed in the order and dtype Gymnasium uses (a float32 action gives a float32
control cost, as ``np.sum(np.square(action))`` does), so observations, rewards,
terminations and infos are equal to Gymnasium's bit for bit (``tests/envs/test_batched.py``).
The C step's version of the formulas (``v5_outputs`` in ``native_physics.c``) does the same
operations in the same order, NumPy's pairwise order for the sums included, compiled without
fused multiply-adds.
The env parameters (reward weights, ``frame_skip``, ``healthy_z_range``, observation flags...)
are read from each env, so non-default ``gym.make`` kwargs are honoured.

What is covered, per slot (:func:`fast_path_blocker` says why a slot is not):

- the unwrapped env is Gymnasium's ``HalfCheetahEnv`` or ``AntEnv`` (v5), not rendering to a
  window; every covered slot has the model sizes and env parameters of the first one;
- its wrappers are Gymnasium's ``TimeLimit`` / ``OrderEnforcing`` / ``PassiveEnvChecker`` and
  wrappers that split their step (:class:`~plasticagents.envs.split.SplitStep`): every
  perturbation (model edits at any onset or in a window, pushes, observation and action noise,
  delays, stuck sensors), the hidden-goal tasks (``plasticagents/HalfCheetahVel*``, ``...Dir*``,
  ``AntDir*``, privileged or not) and the learner inputs (previous action and reward).

A split wrapper's own hooks run around the batched physics, per slot and in Gymnasium's order
(``before_step`` outermost first, then the physics, then ``after_step`` innermost first), so a
perturbation's onset edits that slot's own ``MjModel`` before its physics step, and a noise
draw comes from that slot's generator as it would through ``env.step``. Other wrappers (e.g.
Gymnasium's ``ClipAction``, or a ``SplitStep`` that overrides ``step``) and other envs are not
covered: the caller steps that slot through Gymnasium as before. Resets are always Gymnasium's
(seeding, initial-state noise, the wrappers' reset logic). A batched step advances the slot's
``TimeLimit`` as ``env.step`` would, so the Gymnasium env can take over at any step.

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

import ctypes
import glob
import hashlib
import logging
import operator
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

from plasticagents.envs.split import SplitStep, StepArrays, splits_step

__all__ = [
    "SUPPORTED_IDS",
    "BatchedLocomotion",
    "StepArrays",
    "fast_path_blocker",
    "physics_build_error",
    "physics_library",
]

SUPPORTED_IDS = ("HalfCheetah-v5", "Ant-v5")
_BASES = (HalfCheetahEnv, AntEnv)
_PASSIVE = (OrderEnforcing, PassiveEnvChecker)
_CHEETAH_INFO = ("x_position", "x_velocity", "reward_forward", "reward_ctrl")
_ANT_INFO = (
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


_PHYSICS_SOURCE = Path(__file__).with_name("native_physics.c")
_ERROR_LEN = 512  # native_physics.c's ERROR_LEN
_MODEL, _DATA = operator.attrgetter("model"), operator.attrgetter("data")
_NO_V5 = (None, None, None, None)  # the C step's v5 arguments when it computes no outputs


def _build_physics() -> ctypes.CDLL:
    from plasticagents.native import build_shared

    root = Path(mujoco.__file__).parent
    found = sorted(glob.glob(str(root / "libmujoco.so*")) + glob.glob(str(root / "*.dylib")))
    if not (root / "include" / "mujoco" / "mujoco.h").exists() or not found:
        raise RuntimeError(f"the mujoco package at {root} ships no C headers or libmujoco")
    if not hasattr(mujoco.MjData, "_address"):
        raise RuntimeError(f"mujoco {mujoco.__version__}'s bindings do not expose _address")
    # (no contraction into fused multiply-adds: the v5 formulas round as NumPy's do)
    flags = ["-O2", "-ffp-contract=off", "-fopenmp", "-shared", "-fPIC", "-std=c11"]
    flags.append(f"-I{root / 'include'}")
    libs = [found[0], f"-Wl,-rpath,{root}"]
    # the structs' layouts come from the headers: a rebuilt mujoco at the same path and
    # version must not reuse a library compiled against other headers
    header = hashlib.sha256((root / "include" / "mujoco" / "mjdata.h").read_bytes())
    header.update((root / "include" / "mujoco" / "mjmodel.h").read_bytes())
    stat = os.stat(found[0])
    key = f"mujoco {mujoco.__version__} {header.hexdigest()} {stat.st_size} {stat.st_mtime_ns}"
    path = build_shared(_PHYSICS_SOURCE, flags, libs, key=key)
    lib = ctypes.CDLL(str(path))
    lib.pa_physics_step.restype = ctypes.c_int
    # the arrays as addresses (``ndarray.ctypes.data``, ints: the cheapest form to pass); the
    # types in the comments are those native_physics.c reads at them
    ptr = ctypes.c_void_p
    lib.pa_physics_step.argtypes = [
        ctypes.c_int64, ptr, ptr, ptr, ptr, ptr,  # int64 x3, int32 sizes, float64 ctrl
        ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ptr, ptr, ptr, ptr, ptr, ptr, ctypes.c_char_p,  # float64 x5, int32 failed
        ptr, ptr, ptr, ptr,  # pa_v5 (or NULL), float64 obs and reward, bool terminated
    ]  # fmt: skip
    installed = lib.pa_install()
    if installed == -1:
        raise RuntimeError(f"libmujoco {mujoco.mj_versionString()} is not its headers' version")
    if installed != 1:  # a MuJoCo error in a slot would reach another's handler
        raise RuntimeError("MuJoCo's error handler (mju_user_error) is already set by another")
    return lib


class _V5(ctypes.Structure):
    """``pa_v5`` of ``native_physics.c``: the v5 formulas' parameters, read from the env."""

    _fields_ = [
        *((name, ctypes.c_int) for name in ("ant", "skip", "cfrc", "terminate", "ctrl_f32")),
        ("obs_dim", ctypes.c_int),
        *(
            (name, ctypes.c_double)
            for name in ("dt", "w_forward", "w_ctrl", "w_contact", "healthy_reward")
        ),
        *((name, ctypes.c_double) for name in ("z_lo", "z_hi", "f_lo", "f_hi")),
    ]


def physics_library() -> ctypes.CDLL | None:
    """The compiled physics step of ``native_physics.c`` (built on first use against the
    installed ``mujoco`` package's headers and library, then cached on disk like
    :func:`plasticagents.native.library`); ``None`` when it cannot be built (the reason:
    :func:`physics_build_error`), or when ``PLASTICAGENTS_NATIVE_PHYSICS=0``."""
    from plasticagents.native import load_once

    if os.environ.get("PLASTICAGENTS_NATIVE_PHYSICS", "1") == "0":
        return None
    return load_once("physics", _build_physics, _log_unavailable)


def _log_unavailable(reason: str) -> None:
    logging.getLogger("plasticagents").info(
        "fast_physics: the C physics step is not available (%s); slots step through MuJoCo's "
        "Python bindings one by one",
        reason,
    )


def physics_build_error() -> str | None:
    """Why :func:`physics_library` returned ``None`` (``None`` when it built or was not tried)."""
    from plasticagents.native import load_error

    if os.environ.get("PLASTICAGENTS_NATIVE_PHYSICS", "1") == "0":
        return "turned off by PLASTICAGENTS_NATIVE_PHYSICS=0"
    return load_error("physics")


def _distinct_slots(idx: np.ndarray, n: int) -> bool:
    """Whether the slot indices ``idx`` (1-d, not empty) are distinct and in ``0..n-1``:
    three cheap checks when they increase (a rollout's active slots), a sort otherwise."""
    if idx[0] < 0 or idx[-1] >= n:
        return False
    if len(idx) == 1 or (idx[1:] > idx[:-1]).all():
        return True
    return bool(idx.min() >= 0 and idx.max() < n and len(np.unique(idx)) == len(idx))


def _count_step(layers: list[gym.Wrapper]) -> bool:
    """One step counted by each ``TimeLimit`` among ``layers`` (a slot's wrappers that run
    around the batched physics, no hooks among them), as its ``step`` counts it; whether one
    of them truncates the episode."""
    truncated = False
    for layer in layers:
        elapsed = layer._elapsed_steps = layer._elapsed_steps + 1
        truncated |= elapsed >= layer._max_episode_steps
    return truncated


def fast_path_blocker(env: gym.Env) -> str | None:
    """Why :class:`BatchedLocomotion` cannot step ``env`` (``None``: it can)."""
    layer = env
    while isinstance(layer, gym.Wrapper):
        # exact types: a subclass may override step
        if type(layer) not in (TimeLimit, *_PASSIVE) and not splits_step(layer):
            return f"wrapper {type(layer).__name__} does not split its step (SplitStep)"
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
        threads: the threads the C physics step spreads the slots over.
        native: step the physics of all slots in one call of the C step
            (``native_physics.c``: the same MuJoCo calls and copies, no Python between
            slots); ``None`` (default): when it builds (:func:`physics_library`). ``False``:
            each slot's physics is a Python closure run by the caller's ``map_fn``.

    Attributes:
        covered: ``[n]`` bool, the slots :meth:`step` and :meth:`step_arrays` may be given.
        blocked: slot -> why it is not covered.
        native: whether the C physics step runs.
    """

    def __init__(
        self, envs: Sequence[gym.Env], threads: int = 1, native: bool | None = None
    ) -> None:
        n = len(envs)
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.threads = int(threads)
        self._lib = physics_library() if native or native is None else None
        if native and self._lib is None:
            raise RuntimeError(f"the C physics step is not available: {physics_build_error()}")
        self.native = self._lib is not None
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
        # per slot, outermost first: the layers whose step code runs around the batched
        # physics (SplitStep hooks, TimeLimit's count); OrderEnforcing's check is ``_ready``
        self._layers: list[list[gym.Wrapper]] = [[] for _ in range(n)]
        for i in np.flatnonzero(self.covered):
            layer = envs[i]
            while isinstance(layer, gym.Wrapper):
                if isinstance(layer, (TimeLimit, SplitStep)):
                    self._layers[i].append(layer)
                layer = layer.env
        self._hooked = np.array([any(isinstance(w, SplitStep) for w in ws) for ws in self._layers])
        self._any_hooked = bool(self._hooked.any())
        self._v5: dict[np.dtype, _V5] | None = None  # see _v5_parameters
        self._ready = np.zeros(n, dtype=bool)
        self._obs_shape = envs[0].observation_space.shape if n else (0,)
        if reference is None:
            return
        base = self.bases[first]
        self.ant = isinstance(base, AntEnv)
        self.frame_skip, self.dt, self.nu = base.frame_skip, base.dt, base.model.nu
        sizes = (base.model.nq, base.model.nv, base.model.nu, base.model.nbody)
        self._sizes = np.array(sizes, dtype=np.int32)  # what the C step checks per slot
        # the C step's per-slot failure flags and messages, allocated once
        self._failed = np.zeros(n, dtype=np.int32)
        self._errors = ctypes.create_string_buffer(_ERROR_LEN * n)
        self._address_cache: tuple | None = None  # see _addresses
        self._slot_ptrs: tuple | None = None  # see _native_physics
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
        self._body = int(getattr(self, "body", 0))
        self._all_slots = np.arange(n, dtype=np.int64)  # the rows of a step of every slot
        # the C step's array arguments after ctrl, in its order (cfrc_ext unused when not ant);
        # these arrays live as long as self and are never replaced
        cfrc = self.cfrc_ext if self.ant else self.after
        arrays = (self._sizes, self.qpos, self.qvel, self.before, self.after, cfrc, self._failed)
        self._buffers = tuple(a.ctypes.data for a in arrays)
        self._v5 = self._v5_parameters(base)

    def _v5_parameters(self, base: Any) -> dict[np.dtype, _V5] | None:
        """The C step's v5 parameters per action dtype (float64, float32): it then computes
        the observations, rewards and terminations in the slots' threads. ``None`` where the
        env's observation is not the v5 formula's (a wrapper changed it), a weight is not a
        Python number (a NumPy scalar would change the cost's dtype), or a sum would run over
        more than 128 values (a model of many actuators or bodies)."""
        model = base.model
        obs_dim = model.nq - self.skip + model.nv
        if self.ant and self.cfrc:
            obs_dim += (model.nbody - 1) * 6
        weights = [self.forward_weight, self.ctrl_weight]
        if self.ant:
            weights += [self.contact_weight, self.healthy_reward]
        if self._obs_shape != (obs_dim,) or any(type(w) not in (int, float) for w in weights):
            return None
        if model.nu > 128 or (self.ant and model.nbody * 6 > 128):
            return None  # (NumPy sums longer runs in halves, which the C step does not)
        common: dict[str, Any] = dict(
            ant=int(self.ant),
            skip=self.skip,
            obs_dim=obs_dim,
            dt=self.dt,
            w_forward=self.forward_weight,
            w_ctrl=self.ctrl_weight,
        )
        if self.ant:
            common.update(
                cfrc=int(self.cfrc),
                terminate=int(bool(self.terminate)),
                w_contact=self.contact_weight,
                healthy_reward=self.healthy_reward,
                z_lo=self.z_range[0],
                z_hi=self.z_range[1],
                f_lo=self.force_range[0],
                f_hi=self.force_range[1],
            )
        return {
            np.dtype(np.float64): _V5(**common, ctrl_f32=0),
            np.dtype(np.float32): _V5(**common, ctrl_f32=1),
        }

    def begin(self, i: int, info: dict | None = None) -> None:
        """Slot ``i`` was just reset through Gymnasium (``info``: its reset info, unused)."""
        if self.covered[i]:
            self._ready[i] = True

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

    def _addresses(self) -> tuple[np.ndarray, np.ndarray]:
        """The ``MjModel`` and ``MjData`` addresses of every covered slot (arrays over all
        slots, allocated once), each read again only where the slot's env holds another model
        or data object than at its last read (a perturbation may swap a model): an identity
        check per covered slot instead of two calls into the bindings, in two C-level passes
        when nothing changed."""
        cache = self._address_cache
        if cache is None:
            n = len(self.bases)
            covered = np.flatnonzero(self.covered).tolist()
            cache = self._address_cache = (
                covered, [self.bases[i] for i in covered], [None] * len(covered),
                [None] * len(covered), np.zeros(n, np.int64), np.zeros(n, np.int64),
            )  # fmt: skip
        covered, bases, objs_m, objs_d, models, datas = cache
        current_m = list(map(_MODEL, bases))
        current_d = list(map(_DATA, bases))
        same = all(map(operator.is_, current_m, objs_m))
        if not (same and all(map(operator.is_, current_d, objs_d))):
            for j, (model, data) in enumerate(zip(current_m, current_d, strict=True)):
                if model is not objs_m[j] or data is not objs_d[j]:
                    objs_m[j], objs_d[j] = model, data
                    models[covered[j]], datas[covered[j]] = model._address, data._address
        return models, datas

    def _native_physics(
        self, actions: np.ndarray, idx: np.ndarray, full: bool | None = None, v5: Any = None
    ) -> bool:
        """:meth:`_physics` for the slots ``idx`` in one call of the C step (the GIL
        released; the addresses come from :meth:`_addresses`, read again for a slot whose
        model or data object changed: a perturbation may swap a model).
        Returns ``False``, having stepped nothing, where MuJoCo's error handler was replaced
        since the library was loaded (the caller then takes the Python path, from now on).

        A slot whose model's sizes differ from the batch's raises ``ValueError``; a MuJoCo
        error in a slot's step raises ``mujoco.FatalError`` (the other slots have stepped: reset
        the pool's episodes before stepping it again, as after an error on the Python path).

        ``v5``: ``(parameters, obs, rewards, terminated)``, the arrays the C step then fills
        with every slot's v5 outputs (see :meth:`_v5_parameters`)."""
        models, datas = self._addresses()
        ctrl = np.ascontiguousarray(actions, dtype=np.float64)  # exact, as data.ctrl[:] = a
        if ctrl.ndim != 2 or ctrl.shape != (len(self.bases), self.nu):
            raise ValueError(
                f"expected actions [{len(self.bases)}, {self.nu}] (a row per slot), got "
                f"{list(ctrl.shape)}"
            )
        if self._slot_ptrs is None:  # the address arrays and every row: allocated once
            self._slot_ptrs = (models.ctypes.data, datas.ctypes.data, self._all_slots.ctypes.data)
        if full is None:  # (``full``: the caller knows ``idx`` is every slot in order)
            full = len(idx) == len(self._all_slots) and bool((idx == self._all_slots).all())
        rows = None if full else np.ascontiguousarray(idx, dtype=np.int64)  # (alive: the call)
        rows_ptr = self._slot_ptrs[2] if rows is None else rows.ctypes.data
        buffers = self._buffers  # the addresses of the arrays allocated once (__init__)
        outputs = _NO_V5 if v5 is None else (ctypes.byref(v5[0]), *(a.ctypes.data for a in v5[1:]))
        status = self._lib.pa_physics_step(
            len(idx), *self._slot_ptrs[:2], rows_ptr, buffers[0], ctrl.ctypes.data, self.frame_skip,
            int(self.ant), self._body, self.threads, *buffers[1:], self._errors, *outputs,
        )  # fmt: skip
        if status < 0:
            logging.getLogger("plasticagents").warning(
                "fast_physics: MuJoCo's error handler was replaced since the C physics step "
                "was loaded; the slots step through MuJoCo's Python bindings from now on"
            )
            self.native = False
            return False
        if status > 0:  # that many slots failed (rows 0..len(idx)-1 of failed written)
            failed = self._failed
            r = int(np.flatnonzero(failed[: len(idx)])[0])
            text = self._errors.raw[r * _ERROR_LEN : (r + 1) * _ERROR_LEN].split(b"\0", 1)[0]
            message = f"slot {int(idx[r])}: {text.decode(errors='replace')}"
            if failed[r] == 2:
                raise ValueError(message)
            raise mujoco.FatalError(message)  # as the bindings' mj_step raises it
        return True

    def step(
        self,
        actions: np.ndarray,
        indices: Sequence[int],
        map_fn: Callable[[Callable[[int], Any], Sequence[int]], Any] | None = None,
    ) -> list[tuple[np.ndarray, Any, bool, bool, dict]]:
        """Step the covered slots ``indices`` with their rows of ``actions [n, act_dim]``.

        ``map_fn(fn, indices)`` runs ``fn(i)`` for every slot (default: a loop; a pool passes
        its thread map). Returns ``(obs, reward, terminated, truncated, info)`` per slot, as
        ``envs[i].step(actions[i])`` would (same values and types).
        """
        out: list[tuple[np.ndarray, Any, bool, bool, dict]] = []
        self._step(actions, indices, map_fn, out)
        return out

    def step_arrays(
        self,
        actions: np.ndarray,
        indices: Sequence[int],
        map_fn: Callable[[Callable[[int], Any], Sequence[int]], Any] | None = None,
        infos: bool = True,
    ) -> StepArrays:
        """:meth:`step` with the slots' results as arrays (the rollout engine's path).

        The values are :meth:`step`'s, stacked: observations as float64 and rewards widened
        to float64 (exactly, from float32 or float), flags as bool. With ``infos=False`` a
        slot without :class:`~plasticagents.envs.split.SplitStep` wrappers gets ``None`` for
        its info, which is then never built (its dict and ``distance_from_origin`` are
        per-slot Python); a slot with such wrappers always gets its info (their hooks read
        it, and it carries their ``perturbation`` / ``task`` reports).
        """
        arrays = self._step(actions, indices, map_fn, None, infos)
        assert arrays is not None
        return arrays

    def _step(
        self,
        actions: np.ndarray,
        indices: Sequence[int],
        map_fn: Callable[[Callable[[int], Any], Sequence[int]], Any] | None,
        out: list | None,
        infos: bool = True,
    ) -> StepArrays | None:
        """Both step forms: per-slot tuples appended to ``out`` (then nothing is returned),
        or (``out=None``) the arrays."""
        idx = np.asarray(indices, dtype=np.intp)
        k = len(idx)
        if k == 0:
            empty = np.zeros(0, dtype=bool)
            obs0 = np.zeros((0, *self._obs_shape))
            return None if out is not None else StepArrays(obs0, np.zeros(0), empty, empty, [])
        n = len(self.bases)
        if idx.ndim != 1 or not _distinct_slots(idx, n):
            raise ValueError(f"slot indices must be distinct and in 0..{n - 1}, got {idx.tolist()}")
        if not self.covered[idx].all():
            raise ValueError(f"slots {[int(i) for i in idx if not self.covered[i]]} not covered")
        if not self._ready[idx].all():
            raise gym.error.ResetNeeded("Cannot call env.step() before calling env.reset()")
        # every slot in order (a rollout's steps before any episode ends): whole arrays
        # instead of copies of their rows
        # (C-ordered actions only: NumPy sums a row of another layout in another order)
        full = (
            k == n
            and isinstance(actions, np.ndarray)
            and actions.flags.c_contiguous
            and len(actions) == n
            and bool((idx == self._all_slots).all())
        )
        if (
            out is None
            and not infos
            and not self._any_hooked
            and self.native
            and self._v5 is not None
            and type(actions) is np.ndarray
            and actions.shape == (n, self.nu)
        ):
            # a rollout's step, no hooks, no infos: the C step computes the v5 outputs too, in
            # the slots' threads (each action row summed in NumPy's order for one row, as the
            # env sums it, whatever the array's memory layout)
            params = self._v5.get(actions.dtype)
            if params is not None:
                obs = np.empty((k, params.obs_dim))
                rewards, terminated = np.empty(k), np.empty(k, dtype=bool)
                if self._native_physics(actions, idx, full, (params, obs, rewards, terminated)):
                    truncated = self._count_steps(idx)
                    return StepArrays(obs, rewards, terminated, truncated, [None] * k)
        acts = actions if full else actions[idx]
        given, ctrl = self._before(actions, idx)  # hooks: each inner action is checked
        if given is None and acts.shape[1:] != (self.nu,):
            raise ValueError(
                f"Action dimension mismatch. Expected {(self.nu,)}, found {acts.shape[1:]}"
            )
        if not (self.native and self._native_physics(actions if ctrl is None else ctrl, idx, full)):
            run = self._physics(actions if ctrl is None else ctrl)
            if map_fn is None:
                for i in idx:
                    run(int(i))
            else:
                map_fn(run, idx)
        # (whole: views of the buffers the next step rewrites; nothing below keeps a view)
        qpos, qvel = (self.qpos, self.qvel) if full else (self.qpos[idx], self.qvel[idx])
        if given is None:
            ctrl_cost = self.ctrl_weight * np.sum(np.square(acts), axis=1)
            reward_ctrl: Any = -ctrl_cost
        else:  # the inner actions' dtypes may differ by slot: each cost keeps its own
            costs = self._ctrl_costs([g[-1] for g in given])
            ctrl_cost = np.array(costs, dtype=np.float64)  # exact: a float32 widens
            reward_ctrl = [-c for c in costs]
        if self.ant:
            after, before = (
                (self.after, self.before) if full else (self.after[idx], self.before[idx])
            )
            velocity = (after - before) / self.dt
            x_velocity, y_velocity = velocity[:, 0], velocity[:, 1]
            forces = np.clip(self.cfrc_ext if full else self.cfrc_ext[idx], *self.force_range)
            parts = [qpos[:, self.skip :], qvel]
            if self.cfrc:
                parts.append(forces[:, 1:].reshape(k, -1))
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
                reward_ctrl,
                -contact_cost,
                survive,
            ]
            keys = _ANT_INFO
        else:
            x_velocity = (self.after[idx, 0] - self.before[idx, 0]) / self.dt
            obs = np.concatenate([qpos[:, self.skip :], qvel], axis=1)
            forward = self.forward_weight * x_velocity
            reward = forward - ctrl_cost
            terminated = np.zeros(k, dtype=bool)
            columns = [qpos[:, 0], x_velocity, forward, reward_ctrl]
            keys = _CHEETAH_INFO
        rewards = np.asarray(reward, dtype=np.float64)
        # hooks may change the observation's shape (learner inputs append to it)
        final = obs if obs.shape[1:] == self._obs_shape else np.empty((k, *self._obs_shape))
        if out is None and not infos and given is None:
            # no slot builds an info or has hooks (_before found none; a rollout's plain
            # slots): only the TimeLimits count
            if final is not obs:
                final[:] = obs  # (raises where the slots' shapes differ)
            return StepArrays(final, rewards, terminated, self._count_steps(idx), [None] * k)
        truncated = np.zeros(k, dtype=bool)
        step_infos: list[dict | None] = [None] * k
        norm = np.linalg.norm
        hooked = self._hooked
        for r, i in enumerate(idx):
            layers = self._layers[i]
            if out is None and not infos and not hooked[i]:  # TimeLimits only, no info
                truncated[r] = _count_step(layers)
                if final is not obs:
                    final[r] = obs[r]  # (raises where the slots' shapes differ)
                continue
            info = dict(zip(keys, [c[r] for c in columns], strict=True))
            if self.ant:  # Gymnasium's own norm of each slot's (x, y), not a batched one
                info["distance_from_origin"] = norm(info["distance_from_origin"], ord=2)
            # arrays: a hook may keep the observation it is given (a delay returns it later)
            # while its slot's row is overwritten with what the hooks return
            row = obs[r].copy() if out is None and hooked[i] and final is obs else obs[r]
            result = (row, reward[r], bool(terminated[r]), False, info)
            for j in range(len(layers) - 1, -1, -1):  # innermost first, as env.step returns
                layer = layers[j]
                if isinstance(layer, TimeLimit):
                    layer._elapsed_steps += 1
                    if layer._elapsed_steps >= layer._max_episode_steps:
                        result = (*result[:3], True, result[4])
                else:
                    result = layer.after_step(given[r][j], *result)
            if out is not None:
                out.append(result)
                continue
            if hooked[i]:  # hooks may replace any part; a TimeLimit only truncates
                final[r], rewards[r], terminated[r] = result[0], result[1], result[2]
            elif final is not obs:
                final[r] = obs[r]
            truncated[r] = result[3]
            step_infos[r] = result[4]
        if out is not None:
            return None
        return StepArrays(final, rewards, terminated, truncated, step_infos)

    def _count_steps(self, idx: np.ndarray) -> np.ndarray:
        """:func:`_count_step` for each of the slots ``idx`` (none with hooks); returns which
        of them truncate."""
        slots = map(self._layers.__getitem__, idx.tolist())
        return np.fromiter(map(_count_step, slots), dtype=bool, count=len(idx))

    def _before(
        self, actions: np.ndarray, idx: np.ndarray
    ) -> tuple[list[list[Any]] | None, np.ndarray | None]:
        """Run the slots' ``before_step`` hooks, outermost first. Returns, per slot of ``idx``,
        the action each layer got plus the one the physics takes (last), and the physics'
        ``[n, nu]`` controls; ``(None, None)`` when no slot has hooks (the physics takes
        ``actions``)."""
        if not self._hooked[idx].any():
            return None, None
        ctrl = np.array(actions, dtype=np.float64)
        given = []
        for i in idx:
            action = actions[i]
            seen = []
            for layer in self._layers[i]:
                seen.append(action)
                if not isinstance(layer, TimeLimit):
                    action = layer.before_step(action)
            action = np.asarray(action)
            if action.shape != (self.nu,):  # MujocoEnv.do_simulation's check
                raise ValueError(
                    f"Action dimension mismatch. Expected {(self.nu,)}, found {action.shape}"
                )
            ctrl[i] = action
            given.append([*seen, action])
        return given, ctrl

    def _ctrl_costs(self, inner: list[np.ndarray]) -> list[Any]:
        """``w |a|²`` per action in the action's own dtype, as the env computes it; actions of
        one dtype are summed together (the same reduction, row by row)."""
        costs: list[Any] = [None] * len(inner)
        for dtype in {a.dtype for a in inner}:
            rows = [r for r, a in enumerate(inner) if a.dtype == dtype]
            values = self.ctrl_weight * np.sum(np.square(np.stack([inner[r] for r in rows])), 1)
            for r, value in zip(rows, values, strict=True):
                costs[r] = value
        return costs
