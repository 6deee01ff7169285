"""One factory owns the wrapper order; perturbation suites are parsed from YAML.

A perturbation is plain data: ``{"type": <name>, "label": ..., <parameters>..., "onset": ...}``
with ``type`` one of :data:`PERTURBATIONS`. :func:`make_env` builds the base Gymnasium env and
applies perturbations in a fixed order, whatever order they were listed in:

1. physical (model edits, pushes), innermost;
2. action signals (delay, then noise), so noise is added to the action actually applied;
3. observation signals (stuck, dropout, noise, then delay), outermost.

Example:
    >>> env = make_env("HalfCheetah-v5", [{"type": "cripple_leg", "leg": "bthigh", "onset": 100}])
    >>> _ = env.reset(seed=0)
    >>> env.spec.additional_wrappers[0].name
    'CrippleLeg'
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml

from plasticagents.envs.perturbations import PHYSICAL, SIGNAL

__all__ = ["PERTURBATIONS", "expand_entry", "load_suite", "make_env", "make_registered", "wrap"]

PERTURBATIONS = {**PHYSICAL, **SIGNAL}
_ORDER = list(PHYSICAL) + list(SIGNAL)  # SIGNAL is listed action-first, observation-delay last


def _validate(spec: Mapping[str, Any], where: str) -> tuple[type, dict[str, Any]]:
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where}: a perturbation must be a mapping with a 'type', got {spec!r}")
    kind = spec.get("type")
    if kind not in PERTURBATIONS:
        raise ValueError(
            f"{where}: unknown perturbation type {kind!r}; valid choices: {sorted(PERTURBATIONS)}"
        )
    cls = PERTURBATIONS[kind]
    kwargs = {k: v for k, v in spec.items() if k not in ("type", "name") and not k.startswith("_")}
    if "name" in spec and "label" not in kwargs:
        kwargs["label"] = spec["name"]
    allowed = _parameters(cls)
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(
            f"{where}: unknown parameter {unknown[0]!r} for {kind}; valid: {sorted(allowed)}"
        )
    for key in ("onset_range", "scale_range"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    return cls, kwargs


def _parameters(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and klass.__module__.endswith("perturbations"):
            sig = inspect.signature(klass.__init__)
            names |= {
                p
                for p in sig.parameters
                if p not in ("self", "env", "schedule", "kwargs", "recorded")
            }
    return names


def wrap(env: gym.Env, perturbations: Sequence[Mapping[str, Any]] = ()) -> gym.Env:
    """Apply perturbation specs to ``env`` in the factory's fixed order."""
    built = [
        (spec.get("type"), *_validate(spec, f"perturbation {i}"))
        for i, spec in enumerate(perturbations)
    ]
    for _, cls, kwargs in sorted(built, key=lambda b: _ORDER.index(b[0])):
        env = cls(env, **kwargs)
    return env


def make_env(
    env_id: str,
    perturbations: Sequence[Mapping[str, Any]] = (),
    inputs: Sequence[str] = (),
    **env_kwargs: Any,
) -> gym.Env:
    """``gym.make(env_id, **env_kwargs)`` with ``perturbations`` applied (see module docstring)
    and, outermost, the learner ``inputs`` (``"action"``, ``"reward"``: the previous action and
    reward appended to the observation, :class:`~plasticagents.envs.inputs.PreviousActionReward`),
    so no observation perturbation touches them."""
    _check_id(env_id)
    env = wrap(gym.make(env_id, **env_kwargs), perturbations)
    if inputs:
        from plasticagents.envs.inputs import PreviousActionReward

        env = PreviousActionReward(env, inputs)
    return env


def make_registered(
    base_id: str, perturbations: Sequence[Mapping[str, Any]], **env_kwargs: Any
) -> gym.Env:
    """Entry point of the registered perturbed ids: the base env (unwrapped) plus perturbations.

    ``gym.make`` adds the time limit and checkers of the perturbed id's own spec on top.
    """
    return wrap(gym.make(base_id, disable_env_checker=True, **env_kwargs).unwrapped, perturbations)


def _check_id(env_id: str) -> None:
    if env_id not in gym.registry:
        import difflib

        close = difflib.get_close_matches(env_id, list(gym.registry), n=5)
        hint = f"; did you mean {close}?" if close else "; `plasticagents list-envs` lists them"
        raise ValueError(f"unknown environment id {env_id!r}{hint}")


SUITE_KEYS = ("env", "env_kwargs", "episodes", "max_episode_steps", "perturbations")


def load_suite(path: str | Path) -> dict[str, Any]:
    """Parse a perturbation suite YAML file.

    Format::

        env: Ant-v5                       # optional default env id
        env_kwargs: {switch_every: 125}   # optional: gym kwargs over each run's own
        episodes: 10                      # optional: seeded episodes per condition
        max_episode_steps: 1000           # optional episode cap
        perturbations:
          - name: cripple_front_left      # unique
            type: cripple_leg
            leg: front_left_leg
            strength: 1.0
            onset: 300                    # optional schedule: onset / until / onset_range
          - name: heavy
            type: scale_body_mass
            sweep: {scale: [0.5, 1.5, 2.0]}   # optional: one condition per value
            onsets: [0, 300]                  # optional: one condition per onset step

    ``sweep`` names one parameter of the perturbation and the values it takes; ``onsets`` the
    schedule's onset steps; a suite entry with both expands to every combination.

    ``env_kwargs`` changes the task itself for every condition (e.g. a hidden goal's switch
    schedule never used in training): the evaluated runs' own gym kwargs, updated with these.

    Returns ``{"env", "env_kwargs", "episodes", "max_episode_steps", "perturbations": {name:
    spec}}`` (``None`` for what the file leaves out; ``env_kwargs`` ``{}``); errors name the bad
    entry.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"perturbation suite {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("perturbations"), list):
        raise ValueError(f"{path}: expected a mapping with a 'perturbations' list")
    unknown = sorted(set(data) - set(SUITE_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key {unknown[0]!r}; valid keys: {list(SUITE_KEYS)}")
    env_kwargs = {} if data.get("env_kwargs") is None else data["env_kwargs"]
    if not (isinstance(env_kwargs, dict) and all(isinstance(k, str) for k in env_kwargs)):
        raise ValueError(f"{path}: env_kwargs must be a mapping of gym kwargs, got {env_kwargs!r}")
    for key in ("episodes", "max_episode_steps"):
        value = data.get(key)
        if value is not None and not (isinstance(value, int) and value >= 1):
            raise ValueError(f"{path}: {key} must be an int >= 1, got {value!r}")
    suite: dict[str, Any] = {}
    for i, spec in enumerate(data["perturbations"]):
        where = f"{path}: perturbations[{i}]"
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: a perturbation must be a mapping, got {spec!r}")
        for variant in expand_entry(spec, where):
            _validate(variant, where)
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where} needs a 'name'")
        if name in suite:
            raise ValueError(f"{path}: duplicate perturbation name {name!r}")
        suite[name] = dict(spec)
    if data.get("env") is not None:
        _check_id(data["env"])
    return {
        "env": data.get("env"),
        "env_kwargs": dict(env_kwargs),
        "episodes": data.get("episodes"),
        "max_episode_steps": data.get("max_episode_steps"),
        "perturbations": suite,
    }


def expand_entry(spec: Mapping[str, Any], where: str = "perturbation") -> list[dict[str, Any]]:
    """The plain perturbation specs of one suite entry: its ``sweep`` x ``onsets`` grid.

    Each returned spec carries ``_param`` / ``_value`` (the swept parameter and its value, or
    ``None``) and ``_onset`` (the onset step given by ``onsets`` or ``onset``, default 0), which
    :func:`make_env` does not accept: strip keys starting with ``_`` before building.
    """
    base = {k: v for k, v in spec.items() if k not in ("sweep", "onsets")}
    sweep = spec.get("sweep")
    if sweep is None:
        points: list[tuple[str | None, Any]] = [(None, None)]
    else:
        if not (isinstance(sweep, Mapping) and len(sweep) == 1):
            raise ValueError(
                f"{where}: sweep must map one parameter to a list of values, got {sweep!r}"
            )
        ((param, values),) = sweep.items()
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: sweep {param!r} needs a non-empty list, got {values!r}")
        points = [(param, v) for v in values]
    onsets = spec.get("onsets")
    if onsets is None:
        onset_list = [None]
    elif isinstance(onsets, list) and onsets and all(isinstance(o, int) for o in onsets):
        onset_list = list(onsets)
    else:
        raise ValueError(f"{where}: onsets must be a non-empty list of ints, got {onsets!r}")
    out = []
    for param, value in points:
        for onset in onset_list:
            variant = dict(base)
            if param is not None:
                variant[param] = value
            if onset is not None:
                variant["onset"] = onset
            out.append(
                {
                    **variant,
                    "_param": param,
                    "_value": value,
                    "_onset": variant.get("onset", 0) if "onset_range" not in variant else None,
                }
            )
    return out
