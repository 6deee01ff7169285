"""Experiment configs: YAML holds data only, loaded strictly into typed dataclasses.

An unknown key, a wrong type or a value outside its choices is a :class:`ConfigError` naming the
full key path and what is valid. ``--set a.b=c`` overrides are parsed as YAML scalars and applied
before validation, so they get the same checks.

Example:
    >>> cfg = from_dict({"env": {"id": "HalfCheetah-v5"}}, overrides=["trainer.popsize=8"])
    >>> cfg.trainer.kind, cfg.trainer.popsize, cfg.agent.kind
    ('es', 8, 'snn')
    >>> try:
    ...     from_dict({"trainer": {"popsiz": 8}})
    ... except ConfigError as err:
    ...     print(str(err)[:62])
    trainer: unknown key 'popsiz' (did you mean 'popsize'?); valid
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

__all__ = [
    "TRAINERS",
    "AgentConfig",
    "BPTTConfig",
    "ConfigError",
    "ESConfig",
    "EnvConfig",
    "ExperimentConfig",
    "PPOConfig",
    "PlasticityConfig",
    "apply_overrides",
    "from_dict",
    "load_config",
    "to_dict",
]


class ConfigError(ValueError):
    """A config value that does not fit the schema; the message names the key."""


@dataclass
class EnvConfig:
    """The environment every episode runs in.

    ``perturbations`` apply to every episode; ``train_distribution`` is a list of perturbation
    lists (e.g. one crippled leg each): evaluation episode ``k`` of every individual runs under
    entry ``k mod len(train_distribution)`` on top of ``perturbations``, so all individuals are
    ranked on the same morphologies (Najarro & Risi's protocol).
    """

    id: str = "HalfCheetah-v5"
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    perturbations: list[dict[str, Any]] = field(default_factory=list)
    train_distribution: list[list[dict[str, Any]]] = field(default_factory=list)


@dataclass
class PlasticityConfig:
    """Mirrors :class:`plasticagents.PlasticitySpec` (rule, mode, granularity, ...)."""

    rule: Literal["hebbian", "oja", "bcm", "abcd", "stdp"] = "hebbian"
    mode: Literal["plain", "modulated", "retroactive"] = "plain"
    granularity: Literal["scalar", "post", "synapse"] = "synapse"
    eta: float = 0.1
    alpha_init: float = 0.01
    clip: float = 1.0
    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    tau_theta: float = 1.0
    n_modulators: int = 1


@dataclass
class AgentConfig:
    """The policy. ``kind: snn`` with ``plasticity: null`` is the static SNN baseline."""

    kind: Literal["snn", "mlp"] = "snn"
    hidden: int = 128
    neuron: Literal["lif", "alif"] = "lif"
    encoder: Literal["direct", "population"] = "direct"
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    steps_per_input: int = 2
    recurrent: bool = True
    dale: bool = False
    excitatory_fraction: float = 0.8
    density: float = 1.0
    gain: float = 1.0
    tau_mem: float = 20e-3
    tau_syn: float = 5e-3
    readout_tau_mem: float = 10e-3
    readout_tau_syn: float = 5e-3
    dt: float = 1e-3
    plasticity: PlasticityConfig | None = field(default_factory=PlasticityConfig)
    mlp_hidden: list[int] = field(default_factory=lambda: [64, 64])


@dataclass
class ESConfig:
    """Evolution strategies (evotorch). ``generations`` counts searcher steps."""

    kind: Literal["es"] = "es"
    algorithm: Literal["pgpe", "cmaes", "snes", "xnes"] = "pgpe"
    generations: int = 100
    popsize: int = 64
    episodes: int = 1
    stdev_init: float = 0.05
    center_lr: float | None = None  # None: the algorithm's default (PGPE: 0.1)
    stdev_lr: float | None = None  # None: the algorithm's default (PGPE: 0.1)
    optimizer: Literal["clipup", "adam", "sgd", "none"] = "clipup"
    max_speed: float | None = None
    stdev_max_change: float = 0.2
    separable: bool = True
    obs_norm: bool = True
    obs_norm_warmup: int = 2000
    # Subtracted from every step's reward in the fitness only (evotorch's decrease_rewards_by):
    # 1.0 on Ant/Hopper/Walker2d removes the alive bonus, so standing still is not a safe
    # local optimum. Reported and evaluation returns always use the env's true reward.
    reward_shift: float = 0.0
    action_noise: float = 0.0
    num_actors: int = 0
    threads: int = 2
    lanes: int = 1
    compile: bool = False
    eval_every: int = 10
    eval_episodes: int = 5
    checkpoint_every: int = 1


@dataclass
class BPTTConfig:
    """Gradient meta-training through time (SpikePropamine): each update runs ``batch`` fresh
    episodes in lockstep and backpropagates an actor-critic loss through every step, plastic
    updates included, into the initial weights, plasticity coefficients and neuromodulator.

    The policy is binary per action dimension: ``+1`` with probability ``sigmoid(logit)``,
    else ``-1`` (what the temporal tasks read: go / no-go, arm 0 / 1); a second readout is the
    value baseline. Evaluation acts greedily (``+1`` iff ``logit > 0``).
    """

    kind: Literal["bptt"] = "bptt"
    iterations: int = 300
    batch: int = 32
    lr: float = 3e-3
    gamma: float = 0.9
    value_coef: float = 0.5
    entropy_coef: float = 0.02
    grad_clip: float = 1.0
    eval_every: int = 25
    eval_episodes: int = 100
    checkpoint_every: int = 10


@dataclass
class PPOConfig:
    """stable-baselines3 PPO; ``agent.kind: snn`` puts the SNN in front of SB3's heads as a
    features extractor (stateless per env step), ``mlp`` is SB3's MLP PPO (tanh, ``mlp_hidden``).
    Defaults follow SB3's MuJoCo settings; observations and rewards go through VecNormalize."""

    kind: Literal["ppo"] = "ppo"
    total_timesteps: int = 1_000_000
    n_envs: int = 1
    n_steps: int = 2048
    batch_size: int = 64
    n_epochs: int = 10
    lr: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    max_grad_norm: float = 0.5
    features_dim: int = 64
    pi_arch: list[int] = field(default_factory=lambda: [64])
    vf_arch: list[int] = field(default_factory=lambda: [64, 64])
    eval_every: int = 10  # iterations (rollouts of n_envs x n_steps)
    eval_episodes: int = 5
    checkpoint_every: int = 1


TRAINERS: dict[str, type] = {"es": ESConfig, "bptt": BPTTConfig, "ppo": PPOConfig}


@dataclass
class ExperimentConfig:
    """One experiment: what to train, on what, with which trainer."""

    name: str = "experiment"
    seed: int = 0
    device: str = "cpu"
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    trainer: ESConfig | BPTTConfig | PPOConfig = field(default_factory=ESConfig)

    # ``trainer`` is chosen by its ``kind`` among TRAINERS (future trainers register there).
    _unions: ClassVar[dict[str, dict[str, type]]] = {"trainer": TRAINERS}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; returns the converted value."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _convert(value, arg, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(
            errors[0] if len(errors) == 1 else f"{where}: {value!r} fits none of {args}"
        )
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: invalid value {value!r}; valid choices: {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _convert(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported annotation {tp!r}")  # pragma: no cover


def _build(cls: type, data: Any, where: str) -> Any:
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{where or 'config'}: unknown key {unknown[0]!r}{hint}; valid keys: {names}"
        )
    unions = getattr(cls, "_unions", {})
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        key = f"{where}.{name}" if where else name
        if name in unions:
            choices = unions[name]
            value = data[name]
            kind = value.get("kind", "es") if isinstance(value, dict) else None
            if kind not in choices:
                raise ConfigError(
                    f"{key}.kind: invalid value {kind!r}; valid choices: {list(choices)}"
                )
            kwargs[name] = _build(choices[kind], value, key)
        else:
            kwargs[name] = _convert(data[name], hints[name], key)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:  # pragma: no cover - dataclass validation
        raise ConfigError(f"{where or 'config'}: {err}") from None


def _set(data: dict, path: str, value: Any) -> None:
    keys = path.split(".")
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {path}: {'.'.join(keys[: i + 1])} is not a mapping")
        node = child
    node[keys[-1]] = value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b=value`` strings (value parsed as YAML) to a plain config dict, in place."""
    for item in overrides:
        path, sep, raw = item.partition("=")
        if not sep or not path.strip():
            raise ConfigError(f"--set expects KEY=VALUE (e.g. trainer.popsize=32), got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {item}: value is not valid YAML: {err}") from None
        _set(data, path.strip(), value)
    return data


def from_dict(data: dict, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Validate a plain dict (plus overrides) into an :class:`ExperimentConfig`."""
    data = apply_overrides(yaml.safe_load(yaml.safe_dump(data or {})), list(overrides))
    cfg = _build(ExperimentConfig, data, "")
    _check_ranges(cfg)
    return cfg


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Load a YAML experiment file; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    try:
        return from_dict(data, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def to_dict(cfg: Any) -> dict:
    """The config as plain data (what a run directory stores as ``config.yaml``)."""
    return dataclasses.asdict(cfg)


def _check_ranges(cfg: ExperimentConfig) -> None:
    def positive(where: str, value: float | int | None, allow_zero: bool = False) -> None:
        if value is not None and not (value >= 0 if allow_zero else value > 0):
            bound = ">= 0" if allow_zero else "> 0"
            raise ConfigError(f"{where}: must be {bound}, got {value!r}")

    t, a = cfg.trainer, cfg.agent
    if isinstance(t, ESConfig):
        for name in ("generations", "popsize", "episodes", "stdev_init", "threads", "lanes"):
            positive(f"trainer.{name}", getattr(t, name))
        for name in ("center_lr",):
            positive(f"trainer.{name}", getattr(t, name))
        for name in ("stdev_lr", "action_noise", "num_actors", "eval_episodes", "obs_norm_warmup"):
            positive(f"trainer.{name}", getattr(t, name), allow_zero=True)
        positive("trainer.eval_every", t.eval_every, allow_zero=True)
        positive("trainer.checkpoint_every", t.checkpoint_every)
        positive("trainer.max_speed", t.max_speed)
        if t.algorithm == "pgpe" and t.popsize % 2:
            raise ConfigError(
                f"trainer.popsize: PGPE samples symmetric pairs, so popsize must be even, "
                f"got {t.popsize}"
            )
    for name in (
        "hidden",
        "steps_per_input",
        "tau_mem",
        "tau_syn",
        "readout_tau_mem",
        "readout_tau_syn",
        "dt",
    ):
        positive(f"agent.{name}", getattr(a, name))
    if not 0 < a.density <= 1:
        raise ConfigError(f"agent.density: must be in (0, 1], got {a.density!r}")
    if any(h <= 0 for h in a.mlp_hidden):
        raise ConfigError(f"agent.mlp_hidden: sizes must be > 0, got {a.mlp_hidden}")
    positive("env.max_episode_steps", cfg.env.max_episode_steps)
