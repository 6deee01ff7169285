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
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

__all__ = [
    "AgentConfig",
    "BPTTConfig",
    "ClassificationConfig",
    "ClassifyConfig",
    "ConfigError",
    "DataConfig",
    "ESConfig",
    "EnvConfig",
    "EsnConfig",
    "ExperimentConfig",
    "LSTMPPOConfig",
    "LinearArConfig",
    "ModelConfig",
    "PPOConfig",
    "PlasticityConfig",
    "RecurrentPPOConfig",
    "StdpConfig",
    "apply_overrides",
    "from_dict",
    "load_config",
    "to_dict",
]


_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A config value that does not fit the schema; the message names the key."""


@dataclass
class EnvConfig:
    """The environment every episode runs in.

    ``inputs`` appends the learner inputs to the observation (the previous action and/or
    reward, :class:`~plasticagents.envs.inputs.PreviousActionReward`), outermost, after every
    perturbation. ``perturbations`` apply to every episode; ``train_distribution`` is a list of
    perturbation lists (e.g. one crippled leg each): evaluation episode ``k`` of every
    individual runs under entry ``k mod len(train_distribution)`` on top of ``perturbations``,
    so all individuals are ranked on the same morphologies (Najarro & Risi's protocol).
    """

    id: str = "HalfCheetah-v5"
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_episode_steps: int | None = None
    perturbations: list[dict[str, Any]] = field(default_factory=list)
    train_distribution: list[list[dict[str, Any]]] = field(default_factory=list)
    # learner inputs appended to every observation (RL², Backpropamine): the previous action
    # (scaled to [-1, 1]) and/or reward; every agent, trainer, evaluation and view sees them
    inputs: list[Literal["action", "reward"]] = field(default_factory=list)


@dataclass
class PlasticityConfig:
    """Mirrors :class:`plasticagents.PlasticitySpec` (rule, mode, granularity, ...)."""

    rule: Literal["hebbian", "oja", "bcm", "abcd", "stdp"] = "hebbian"
    mode: Literal["plain", "modulated", "retroactive", "gated"] = "plain"
    granularity: Literal["scalar", "post", "synapse"] = "synapse"
    eta: float = 0.1
    alpha_init: float = 0.01
    clip: float = 1.0
    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    tau_theta: float = 1.0
    n_modulators: int = 1
    # what the neuromodulator reads: the layer's own activity or its input currents
    modulator_input: Literal["activity", "input"] = "activity"
    # gated mode: the gate's initial bias (sigmoid(-4) = 0.018: the fast weights start held)
    gate_bias: float = -4.0
    # float16: fast weights held as half, slow weights and alpha used rounded to half; halves
    # the memory the ES population's C step streams (part of the network: evaluate with it)
    storage: Literal["float32", "float16"] = "float32"
    # which presynaptic rows learn: all, input, recurrent, or constant (only the constant
    # input's row, agent.constant_input: true: a plastic bias); the others stay static
    rows: Literal["all", "input", "recurrent", "constant"] = "all"
    # rule abcd: (A, B, C, D) at the start; [0, rho, -1, 0] on rows: constant in plain mode is
    # intrinsic (homeostatic) plasticity, each neuron's bias pulling its rate back to rho
    abcd_init: list[float] = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])
    # coefficients kept at their starting value, neither trained nor searched (alpha, eta,
    # A..D, a_plus, a_minus): e.g. a homeostasis that training cannot turn off
    fixed: list[str] = field(default_factory=list)


@dataclass
class AgentConfig:
    """The policy. ``kind: snn`` with ``plasticity: null`` is the static SNN baseline;
    ``kind: lstm`` (ES only) is a non-spiking LSTM of ``hidden`` units with a tanh readout."""

    kind: Literal["snn", "mlp", "lstm"] = "snn"
    hidden: int = 128  # spiking neurons (snn) or LSTM units (lstm)
    neuron: Literal["lif", "alif"] = "lif"
    # after a spike: subtract the threshold (default) or set the membrane to 0 ("zero": the
    # reset NIR expresses, so `plasticagents export` needs no --approximate-reset)
    reset: Literal["subtract", "zero"] = "subtract"
    encoder: Literal["direct", "population"] = "direct"
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    steps_per_input: int = 2
    recurrent: bool = True
    dale: bool = False
    excitatory_fraction: float = 0.8
    density: float = 1.0
    gain: float = 1.0
    tau_mem: float = 20e-3
    # heterogeneous membrane time constants (HRSNN): one per neuron from this distribution,
    # mean tau_mem, coefficient of variation tau_spread ("constant" or 0: homogeneous)
    tau_distribution: Literal["constant", "gamma", "lognormal", "uniform"] = "constant"
    tau_spread: float = 0.0
    tau_syn: float = 5e-3
    readout_tau_mem: float = 10e-3
    readout_tau_syn: float = 5e-3
    dt: float = 1e-3
    tau_trace: float = 20e-3  # low-pass of pre/post activity that plasticity reads
    # a presynaptic unit always at 1 (snn): a bias row, whose fast weights are a bias the
    # network writes within an episode
    constant_input: bool = False
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
    # Step HalfCheetah-v5 / Ant-v5 slots (nominal or with model-edit perturbations active from
    # step 0) by batched MuJoCo calls instead of Gymnasium's per-env step; results identical.
    fast_physics: bool = False
    compile: bool = False
    # The population's network step: "native" runs a PlasticSNN through the hand-written C
    # step of plasticagents.native (same results up to float rounding; a network it does not
    # cover warns and runs the torch step), "torch" the vmapped torch step (compiled when
    # `compile`), "auto" native when `compile` is on.
    kernel: Literal["auto", "torch", "native"] = "auto"
    eval_every: int = 10
    eval_episodes: int = 5
    checkpoint_every: int = 1
    # Training-env settings that change over the generations, e.g. a cue shown long at first:
    # {cue_steps: {start: 250, generations: 60}} sets the training envs' cue_steps to 250 at
    # generation 0, moves it linearly to env.kwargs.cue_steps by generation 60 and holds it
    # there (ints rounded). Only attributes an env layer declares changeable qualify
    # (curriculum_attributes; training/evolution.py: curriculum_owner). Training episodes
    # only: evaluations and every other command build their envs from env.kwargs.
    curriculum: dict[str, dict[str, Any]] = field(default_factory=dict)


def curriculum_value(entry: dict[str, Any], target: Any, generation: int) -> Any:
    """The value a :attr:`ESConfig.curriculum` ``entry`` gives at ``generation``: ``start`` at
    generation 0, linearly to ``target`` (the env kwarg) at ``entry["generations"]``, then
    ``target``; rounded to an int where ``target`` is one.

    Example:
        >>> [curriculum_value({"start": 250, "generations": 4}, 10, g) for g in (0, 1, 4, 9)]
        [250, 190, 10, 10]
    """
    frac = min(max(generation, 0) / entry["generations"], 1.0)
    value = entry["start"] + (target - entry["start"]) * frac
    return round(value) if isinstance(target, int) else float(value)


@dataclass
class BPTTConfig:
    """Gradient meta-training through time (SpikePropamine): each update runs ``batch`` fresh
    episodes in lockstep and backpropagates an actor-critic loss through every step, plastic
    updates included, into the initial weights, plasticity coefficients and neuromodulator.

    The policy is binary per action dimension: ``+1`` with probability ``sigmoid(logit)``,
    else ``-1`` (what the temporal tasks read: go / no-go, arm 0 / 1); a second readout is the
    value baseline. Evaluation acts greedily (``+1`` iff ``logit > 0``), or samples like
    training with ``eval_sample: true`` (tasks whose solution explores within the episode).

    Exploration: ``explore`` (epsilon) mixes uniform random go / no-go into the behaviour
    policy during training; ``entropy_coef`` can ramp linearly to ``entropy_coef_final`` over
    the first ``entropy_anneal`` fraction of the iterations.
    """

    kind: Literal["bptt"] = "bptt"
    iterations: int = 300
    batch: int = 32
    lr: float = 3e-3
    gamma: float = 0.9
    value_coef: float = 0.5
    entropy_coef: float = 0.02
    entropy_coef_final: float | None = None
    entropy_anneal: float = 0.5
    explore: float = 0.0
    eval_sample: bool = False
    grad_clip: float = 1.0
    eval_every: int = 25
    eval_episodes: int = 100
    checkpoint_every: int = 10


@dataclass
class _PPOShared:
    """What both PPO trainers take (SB3's MuJoCo defaults); evaluation episodes are scored
    every ``eval_every`` iterations (one iteration = ``n_envs x n_steps`` env steps)."""

    kind: str = ""  # each trainer narrows it; declared here so it stays the first key
    total_timesteps: int = 1_000_000
    n_epochs: int = 10
    lr: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.0
    max_grad_norm: float = 0.5
    eval_episodes: int = 5
    checkpoint_every: int = 1


@dataclass
class PPOConfig(_PPOShared):
    """stable-baselines3 PPO; ``agent.kind: snn`` puts the SNN in front of SB3's heads as a
    features extractor (stateless per env step), ``mlp`` is SB3's MLP PPO (tanh, ``mlp_hidden``).
    Defaults follow SB3's MuJoCo settings; observations and rewards go through VecNormalize."""

    kind: Literal["ppo"] = "ppo"
    n_envs: int = 1
    n_steps: int = 2048
    batch_size: int = 64
    features_dim: int = 64
    pi_arch: list[int] = field(default_factory=lambda: [64])
    vf_arch: list[int] = field(default_factory=lambda: [64, 64])
    # snn policies: "shared" = the critic head reads the SNN's features too; "mlp" = the critic
    # is an MLP (vf_arch, tanh) on the normalised observation and only the actor spikes
    critic: Literal["shared", "mlp"] = "shared"
    eval_every: int = 10  # iterations (rollouts of n_envs x n_steps)


@dataclass
class RecurrentPPOConfig(_PPOShared):
    """PPO for recurrent and plastic policies: the SNN's state (membranes, traces, fast
    weights) carries across env steps within an episode and resets at episode starts; each
    update backpropagates through whole ``n_steps`` rollouts of ``minibatch_envs`` envs from
    the state the rollout began with. Actions are Gaussian around the policy's tanh output
    (learned, state-independent log std); the critic is a separate MLP on the observation.
    Rewards are scaled as SB3's ``VecNormalize`` does, observations by the project's running
    norm (frozen within a rollout, saved with the policy)."""

    kind: Literal["recurrent_ppo"] = "recurrent_ppo"
    n_envs: int = 8
    n_steps: int = 256
    minibatch_envs: int = 4
    vf_coef: float = 0.5
    log_std_init: float = -0.5
    critic_hidden: list[int] = field(default_factory=lambda: [64, 64])
    eval_every: int = 5


@dataclass
class LSTMPPOConfig(_PPOShared):
    """The LSTM baseline: sb3-contrib's ``RecurrentPPO`` with its ``MlpLstmPolicy`` (RL²
    when ``env.inputs`` appends the previous action and reward). The ``agent`` section is not
    used: the policy is an LSTM (``lstm_hidden_size`` x ``n_lstm_layers``) whose output feeds
    the actor MLP ``pi_arch`` (tanh); its state carries across env steps and resets at
    episode starts. ``critic_lstm``: ``separate`` (the critic has an LSTM of its own,
    sb3-contrib's default), ``shared`` (the value head reads the actor's LSTM, detached) or
    ``none`` (the critic is an MLP on the observation). Defaults are sb3-contrib's (``n_steps``
    128, ``batch_size`` 128, an LSTM of 256, ``log_std_init`` 0) with 8 envs; observations and
    rewards go through VecNormalize, as rl-zoo's MuJoCo settings do."""

    kind: Literal["lstm_ppo"] = "lstm_ppo"
    n_envs: int = 8
    n_steps: int = 128
    batch_size: int = 128
    vf_coef: float = 0.5
    lstm_hidden_size: int = 256
    n_lstm_layers: int = 1
    critic_lstm: Literal["separate", "shared", "none"] = "separate"
    pi_arch: list[int] = field(default_factory=lambda: [64, 64])
    vf_arch: list[int] = field(default_factory=lambda: [64, 64])
    log_std_init: float = 0.0
    eval_every: int = 20  # iterations (rollouts of n_envs x n_steps): PPO's 20,480 steps


# ----------------------------------------------------------------------- classification
@dataclass
class DataConfig:
    """A classification data set and its spike encoding.

    ``source``: ``digits`` (scikit-learn 8x8), ``ucr`` (``dataset`` names one of the UCR/UEA
    sets aeon ships), ``shd`` (Heidelberg Digits files at ``train_path`` / ``test_path``,
    binned to ``dt`` seconds up to ``max_time`` and pooled to ``channels``).
    ``encoder``: ``auto`` is rate for digits, current for UCR, the spikes themselves for SHD;
    static inputs are encoded over ``steps`` bins (``scan`` holds each image row ``steps``);
    ``threshold`` is the delta encoder's.

    ``series`` (prediction, :mod:`~plasticagents.training.prediction`): predict ``series``
    ``horizon`` steps ahead from its first ``length`` values, split in time order into train,
    ``validation_fraction`` and ``test_fraction``; the first ``washout`` training steps are not
    fitted; spiking models hold each value ``hold`` simulation steps and train (STDP passes,
    BPTT minibatches) on windows of ``window`` values. Scored by NRMSE; ``auto`` encodes the
    values as current.
    """

    source: Literal["digits", "ucr", "shd", "series"] = "digits"
    dataset: str = "GunPoint"
    train_path: str | None = None
    test_path: str | None = None
    dt: float = 10e-3
    max_time: float = 1.0
    channels: int = 700
    encoder: Literal["auto", "rate", "latency", "delta", "current", "population", "scan"] = "auto"
    steps: int = 20
    threshold: float = 0.5
    fields: int = 16
    test_fraction: float = 0.25
    series: Literal["mackey_glass", "narma10", "lorenz", "santafe_laser"] = "mackey_glass"
    length: int = 3000
    horizon: int = 1
    validation_fraction: float = 0.2
    washout: int = 100
    hold: int = 5
    window: int = 50


@dataclass
class ModelConfig:
    """The spiking network (:class:`plasticagents.classifier.SpikingClassifier`, or the STDP
    reservoir's size, sparsity, neurons and E:I ratio for ``trainer.kind: stdp``).

    Time constants are per neuron from ``tau_distribution`` (``constant`` = homogeneous) with
    coefficient of variation ``tau_spread``; ``inhibitory_tau_spread`` (Dale networks) gives
    the inhibitory neurons their own gamma spread (inhibitory diversity).
    ``sparsity`` is the fraction of absent hidden-to-hidden synapses (0.75 = 1 in 4 present;
    first-layer inputs and the readout stay dense); ``rewiring`` moves them by DEEP R + RigL at
    a fixed count.
    """

    hidden: list[int] = field(default_factory=lambda: [128])
    recurrent: bool = True
    delays: Literal["none", "fixed", "learned"] = "none"
    max_delay: int = 25
    sparsity: float = 0.0
    rewiring: bool = False
    dale: bool = False
    excitatory_fraction: float = 0.8
    tau_mem: float = 20e-3
    tau_distribution: Literal["constant", "gamma", "lognormal", "uniform"] = "constant"
    tau_spread: float = 0.0
    inhibitory_tau_spread: float | None = None
    tau_syn: float = 0.0
    readout_tau_mem: float = 20e-3
    dt: float = 1e-3
    gain: float = 1.0
    readout_gain: float = 5.0
    readout: Literal["mean_softmax", "mean", "max", "last"] = "mean_softmax"
    batchnorm: bool = False
    dropout: float = 0.0
    surrogate: Literal["fast_sigmoid", "arctan", "triangle"] = "arctan"
    surrogate_alpha: float = 5.0
    learn_tau: bool = False
    reset: Literal["subtract", "zero"] = "subtract"  # as AgentConfig.reset


@dataclass
class ClassifyConfig:
    """BPTT with surrogate gradients on a classification set (Adam; delay positions learn
    ``delay_lr_scale`` times faster, as in DCLS). After training, the best checkpoint is
    tested clean and under each ``input_noise`` / ``weight_noise`` level (Gaussian std), with
    the Van Rossum distance (``vr_tau`` seconds) between clean and noisy hidden spike trains."""

    kind: Literal["classify"] = "classify"
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    delay_lr_scale: float = 100.0
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    validation_fraction: float = 0.0
    input_noise: list[float] = field(default_factory=list)
    weight_noise: list[float] = field(default_factory=list)
    vr_tau: float = 20e-3
    checkpoint_every: int = 1


@dataclass
class StdpConfig:
    """The HRSNN setting: an STDP reservoir (``model.hidden[0]`` neurons, recurrent density
    ``1 - model.sparsity``, ``model.tau_*``, ``model.excitatory_fraction``) trained without
    labels for ``epochs`` passes, then a ridge-regression readout on binned spike counts.
    ``stdp_spread`` = 0 is homogeneous STDP. Memory capacity (``mc_steps`` held inputs) and
    ``E = activity / MC`` are measured after STDP."""

    kind: Literal["stdp"] = "stdp"
    epochs: int = 1
    batch_size: int = 32
    lr: float = 1e-3
    a_plus: float = 1.0
    a_minus: float = 1.05
    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    stdp_spread: float = 0.0
    w_max: float = 1.0
    density_in: float = 0.3
    gain_in: float = 2.0
    bias: float = 0.0
    bins: int = 4
    mc_steps: int = 1500
    mc_hold: int = 5
    mc_max_delay: int = 20
    mc_gain: float = 3.0
    checkpoint_every: int = 1


@dataclass
class EsnConfig:
    """The echo state network baseline for ``data.source: series``: reservoirpy's
    ``Reservoir`` of ``model.hidden[0]`` tanh units with its documented Mackey-Glass
    hyper-parameters (leak rate, spectral radius, input scaling, recurrent and input
    connectivity), the prediction readout (ridge penalty chosen on validation) and its linear
    memory capacity (``mc_steps`` i.i.d. inputs, delays up to ``mc_max_delay``). The fit is
    closed-form, one loop step; nothing trains longer."""

    kind: Literal["esn"] = "esn"
    leak_rate: float = 0.3
    spectral_radius: float = 1.25
    input_scaling: float = 1.0
    connectivity: float = 0.1
    input_connectivity: float = 0.2
    mc_steps: int = 1500
    mc_max_delay: int = 20
    checkpoint_every: int = 1


@dataclass
class LinearArConfig:
    """The linear autoregressive baseline for ``data.source: series``: a ridge readout of the
    last ``p`` inputs (all channels), ``p`` and the penalty chosen on validation among
    ``orders``. Closed-form, one loop step."""

    kind: Literal["linear_ar"] = "linear_ar"
    orders: list[int] = field(default_factory=lambda: [1, 2, 5, 10, 20, 50])
    checkpoint_every: int = 1


@dataclass
class ExperimentConfig:
    """One experiment: what to train, on what, with which trainer."""

    name: str = "experiment"
    seed: int = 0
    device: str = "cpu"
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    trainer: ESConfig | BPTTConfig | PPOConfig | RecurrentPPOConfig | LSTMPPOConfig = field(
        default_factory=ESConfig
    )

    # ``trainer`` is chosen by its ``kind`` among the registry's policy trainers.
    _unions: ClassVar[dict[str, str]] = {"trainer": "policy"}


@dataclass
class ClassificationConfig:
    """A classification experiment: ``data`` -> ``model`` trained by ``trainer`` (``classify``
    or ``stdp``); same run directories, resume and ``--set`` overrides as the RL trainers."""

    name: str = "classification"
    seed: int = 0
    device: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: ClassifyConfig | StdpConfig | EsnConfig | LinearArConfig = field(
        default_factory=ClassifyConfig
    )

    _unions: ClassVar[dict[str, str]] = {"trainer": "classifier"}


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
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
            value = float(value)  # PyYAML reads 10e-3 (no dot) as a string: YAML 1.1's rule
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if not math.isfinite(value):  # .nan / .inf parse as floats; no setting wants them
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
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
            from plasticagents.training.registry import kinds

            choices = kinds(unions[name])
            value = data[name]
            kind = value.get("kind", next(iter(choices))) if isinstance(value, dict) else None
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


def from_dict(data: dict, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Validate a plain dict (plus overrides) into an :class:`ExperimentConfig`, or a
    :class:`ClassificationConfig` when ``trainer.kind`` is a classification trainer."""
    from plasticagents.training.registry import lookup

    data = apply_overrides(yaml.safe_load(yaml.safe_dump(data or {})), list(overrides))
    trainer = data.get("trainer") if isinstance(data, dict) else None
    kind = trainer.get("kind", "es") if isinstance(trainer, dict) else "es"
    if lookup(kind).family == "classifier":
        cfg = _build(ClassificationConfig, data, "")
        _check_classification(cfg)
        return cfg
    cfg = _build(ExperimentConfig, data, "")
    _check_ranges(cfg)
    return cfg


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """Load a YAML experiment file; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not data:
        raise ConfigError(
            f"{path}: the config is empty; an experiment names at least its env (env.id) and "
            "trainer (trainer.kind), a classification run its data (data.source) and trainer"
        )
    try:
        return from_dict(data, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def to_dict(cfg: Any) -> dict:
    """The config as plain data (what a run directory stores as ``config.yaml``)."""
    return dataclasses.asdict(cfg)


def _positive(where: str, value: float | int | None, allow_zero: bool = False) -> None:
    if value is not None and not (value >= 0 if allow_zero else value > 0):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{where}: must be {bound}, got {value!r}")


def _within(where: str, value: float, low: float, high: float, open_low: bool = False) -> None:
    if not ((low < value if open_low else low <= value) and value <= high):
        bracket = "(" if open_low else "["
        raise ConfigError(f"{where}: must be in {bracket}{low}, {high}], got {value!r}")


_MAX_DT = 1.0  # seconds: one simulation step
_MAX_TAU = 1000.0  # seconds: beyond, a neuron or trace no longer forgets within any episode


def _check_times(section: str, obj: Any, names: tuple[str, ...]) -> None:
    """``dt`` in (0, 1] s and each time constant in (0, 1000] s (zero allowed where a field
    means "no filter", e.g. a current-based synapse's ``tau_syn``: checked by the caller)."""
    if not 0 < obj.dt <= _MAX_DT:
        raise ConfigError(f"{section}.dt: must be in (0, {_MAX_DT}] seconds, got {obj.dt!r}")
    for name in names:
        value = getattr(obj, name)
        if value > _MAX_TAU:
            raise ConfigError(f"{section}.{name}: must be <= {_MAX_TAU:g} seconds, got {value!r}")


def _check_trainer(t: Any) -> None:
    """Ranges of every trainer section (all checked here, before a run directory exists)."""
    counts = {  # by kind, not class: a module imported twice (doctests) has two classes
        "es": ("generations", "popsize", "episodes", "threads", "lanes"),
        "bptt": ("iterations", "batch", "eval_episodes"),
        "ppo": ("total_timesteps", "n_envs", "n_steps", "batch_size", "n_epochs"),
        "recurrent_ppo": ("total_timesteps", "n_envs", "n_steps", "minibatch_envs", "n_epochs"),
        "lstm_ppo": (
            "total_timesteps",
            "n_envs",
            "n_steps",
            "batch_size",
            "n_epochs",
            "lstm_hidden_size",
            "n_lstm_layers",
        ),
    }[t.kind]
    for name in (*counts, "checkpoint_every"):
        _positive(f"trainer.{name}", getattr(t, name))
    for name in ("eval_every", "eval_episodes"):
        _positive(f"trainer.{name}", getattr(t, name), allow_zero=True)
    if t.kind in ("es", "recurrent_ppo") and t.eval_every and t.eval_episodes < 1:
        raise ConfigError(
            f"trainer.eval_episodes: must be >= 1 when trainer.eval_every is set "
            f"({t.eval_every}), got {t.eval_episodes} (eval_every: 0 turns evaluation off)"
        )
    if t.kind == "es":
        for name in ("stdev_init", "center_lr", "max_speed"):
            _positive(f"trainer.{name}", getattr(t, name))
        # search-space steps: the parameters start in [-1, 1]; beyond 10 nothing is searched
        for name in ("stdev_init", "center_lr", "stdev_lr", "max_speed"):
            value = getattr(t, name)
            if value is not None and value > 10:
                raise ConfigError(f"trainer.{name}: must be <= 10, got {value!r}")
        for name in ("stdev_lr", "action_noise", "num_actors", "obs_norm_warmup"):
            _positive(f"trainer.{name}", getattr(t, name), allow_zero=True)
        for name, entry in t.curriculum.items():
            where = f"trainer.curriculum.{name}"
            if not isinstance(entry, dict) or set(entry) != {"start", "generations"}:
                raise ConfigError(
                    f"{where}: expected a mapping with keys ['generations', 'start'], got {entry!r}"
                )
            start, gens = entry["start"], entry["generations"]
            if isinstance(start, bool) or not isinstance(start, (int, float)):
                raise ConfigError(f"{where}.start: expected a number, got {start!r}")
            if not math.isfinite(start):
                raise ConfigError(f"{where}.start: expected a finite number, got {start!r}")
            if isinstance(gens, bool) or not isinstance(gens, int) or gens < 1:
                raise ConfigError(f"{where}.generations: must be an integer >= 1, got {gens!r}")
        if t.algorithm == "pgpe" and t.popsize % 2:
            raise ConfigError(
                f"trainer.popsize: PGPE samples symmetric pairs, so popsize must be even, "
                f"got {t.popsize}"
            )
        return
    _positive("trainer.lr", t.lr)
    _within("trainer.gamma", t.gamma, 0.0, 1.0)
    if t.kind == "bptt":
        _positive("trainer.grad_clip", t.grad_clip)
        if not 0 <= t.explore < 1:
            raise ConfigError(f"trainer.explore: must be in [0, 1), got {t.explore!r}")
        _within("trainer.entropy_anneal", t.entropy_anneal, 0.0, 1.0, open_low=True)
        return
    _within("trainer.gae_lambda", t.gae_lambda, 0.0, 1.0)
    for name in ("clip_range", "max_grad_norm"):
        _positive(f"trainer.{name}", getattr(t, name))
    if t.kind == "recurrent_ppo" and t.minibatch_envs > t.n_envs:
        raise ConfigError(
            f"trainer.minibatch_envs: must be <= trainer.n_envs ({t.n_envs}), "
            f"got {t.minibatch_envs}"
        )
    if t.kind == "lstm_ppo":
        _positive("trainer.vf_coef", t.vf_coef, allow_zero=True)
        for name in ("pi_arch", "vf_arch"):
            if any(h <= 0 for h in getattr(t, name)):
                raise ConfigError(f"trainer.{name}: sizes must be > 0, got {getattr(t, name)}")
        # advantages are normalised per minibatch: one sample has no standard deviation
        if not 2 <= t.batch_size <= t.n_envs * t.n_steps:
            raise ConfigError(
                f"trainer.batch_size: must be in [2, n_envs * n_steps = "
                f"{t.n_envs * t.n_steps}], got {t.batch_size}"
            )


def _check_ranges(cfg: ExperimentConfig) -> None:
    t, a = cfg.trainer, cfg.agent
    _check_trainer(t)
    if t.kind == "bptt" and a.kind != "snn":
        raise ConfigError(
            f"agent.kind: trainer.kind 'bptt' trains spiking networks, got {a.kind!r} "
            "(valid: ['snn'])"
        )
    if a.kind == "lstm" and t.kind != "es":
        raise ConfigError(
            f"agent.kind 'lstm' is trained by trainer.kind 'es', got trainer.kind {t.kind!r} "
            "(for PPO with an LSTM use trainer.kind 'lstm_ppo', which builds sb3-contrib's)"
        )
    for name in (
        "hidden",
        "steps_per_input",
        "tau_mem",
        "tau_syn",
        "readout_tau_mem",
        "readout_tau_syn",
        "dt",
        "tau_trace",
    ):
        _positive(f"agent.{name}", getattr(a, name))
    _positive("agent.gain", a.gain)
    _check_times(
        "agent", a, ("tau_mem", "tau_syn", "readout_tau_mem", "readout_tau_syn", "tau_trace")
    )
    if not 0 < a.density <= 1:
        raise ConfigError(f"agent.density: must be in (0, 1], got {a.density!r}")
    _positive("agent.tau_spread", a.tau_spread, allow_zero=True)
    _within("agent.excitatory_fraction", a.excitatory_fraction, 0.0, 1.0)
    if any(h <= 0 for h in a.mlp_hidden):
        raise ConfigError(f"agent.mlp_hidden: sizes must be > 0, got {a.mlp_hidden}")
    if a.plasticity is not None:
        from plasticagents.plasticity import PlasticitySpec

        try:
            PlasticitySpec(**dataclasses.asdict(a.plasticity))
        except ValueError as err:
            raise ConfigError(f"agent.plasticity: {err}") from None
    if t.kind == "es":
        for name in t.curriculum:
            target = cfg.env.kwargs.get(name)
            if isinstance(target, bool) or not isinstance(target, (int, float)):
                raise ConfigError(
                    f"trainer.curriculum.{name}: env.kwargs.{name} must be the number the "
                    f"curriculum ends at, got {target!r} (env.kwargs: {sorted(cfg.env.kwargs)})"
                )
    _positive("env.max_episode_steps", cfg.env.max_episode_steps)
    if len(set(cfg.env.inputs)) != len(cfg.env.inputs):
        raise ConfigError(f"env.inputs: each input at most once, got {cfg.env.inputs}")


def _check_classification(cfg: ClassificationConfig) -> None:
    positive = _positive
    d, m, t = cfg.data, cfg.model, cfg.trainer
    for name in ("dt", "max_time", "channels", "steps", "threshold"):
        positive(f"data.{name}", getattr(d, name))
    if not 0 < d.test_fraction < 1:
        raise ConfigError(f"data.test_fraction: must be in (0, 1), got {d.test_fraction!r}")
    if d.source == "ucr":
        from plasticagents.envs.datasets import UCR_DATASETS

        if d.dataset not in UCR_DATASETS:
            raise ConfigError(
                f"data.dataset: unknown UCR/UEA data set {d.dataset!r}; valid choices "
                f"(shipped with aeon): {list(UCR_DATASETS)}"
            )
    if d.source == "shd" and not (d.train_path and d.test_path):
        raise ConfigError(
            "data.train_path / data.test_path: data.source 'shd' needs the local paths of "
            "shd_train.h5 and shd_test.h5 (they cannot be downloaded here)"
        )
    if d.source != "digits" and d.encoder in ("rate", "latency", "scan"):
        raise ConfigError(
            f"data.encoder: {d.encoder!r} encodes static inputs; {d.source} samples are "
            "sequences (valid: ['auto', 'delta', 'current', 'population'])"
        )
    if d.source == "digits" and d.encoder == "delta":
        raise ConfigError(
            "data.encoder: 'delta' encodes time series; digits are static "
            "(valid: ['auto', 'rate', 'latency', 'current', 'population', 'scan'])"
        )
    if not m.hidden or min(m.hidden) < 1:
        raise ConfigError(f"model.hidden: layer sizes must be > 0, got {m.hidden}")
    if not 0 <= m.sparsity < 1:
        raise ConfigError(f"model.sparsity: must be in [0, 1), got {m.sparsity!r}")
    if m.rewiring and m.sparsity == 0:
        raise ConfigError(
            "model.rewiring: needs model.sparsity > 0 (a dense matrix has no "
            "absent synapse to regrow)"
        )
    if not 0 <= m.excitatory_fraction <= 1:
        raise ConfigError(
            f"model.excitatory_fraction: must be in [0, 1] (0.8 = 80:20), got "
            f"{m.excitatory_fraction!r}"
        )
    if m.inhibitory_tau_spread is not None and not m.dale:
        raise ConfigError("model.inhibitory_tau_spread: needs model.dale: true")
    if not 0 <= m.dropout < 1:
        raise ConfigError(f"model.dropout: must be in [0, 1), got {m.dropout!r}")
    for name in ("tau_mem", "readout_tau_mem", "dt", "gain", "readout_gain", "surrogate_alpha"):
        positive(f"model.{name}", getattr(m, name))
    _check_times("model", m, ("tau_mem", "tau_syn", "readout_tau_mem"))
    positive("model.tau_syn", m.tau_syn, allow_zero=True)
    positive("model.tau_spread", m.tau_spread, allow_zero=True)
    positive("model.max_delay", m.max_delay, allow_zero=m.delays == "none")
    for name in ("epochs", "batch_size", "lr", "checkpoint_every"):
        if hasattr(t, name):  # the closed-form baselines have no passes, batches or rate
            positive(f"trainer.{name}", getattr(t, name))
    if d.source == "series":
        _check_series(d)
    if t.kind in ("esn", "linear_ar"):
        _check_baseline(t)
    elif t.kind == "classify":
        if not 0 <= t.validation_fraction < 1:
            raise ConfigError(
                f"trainer.validation_fraction: must be in [0, 1), got {t.validation_fraction!r}"
            )
        for name in ("input_noise", "weight_noise"):
            if any(v < 0 for v in getattr(t, name)):
                raise ConfigError(f"trainer.{name}: noise levels must be >= 0")
        positive("trainer.vr_tau", t.vr_tau)
    else:
        if len(m.hidden) != 1:
            raise ConfigError(
                f"model.hidden: the STDP reservoir is one recurrent layer, got {m.hidden}"
            )
        for name in (
            "a_plus",
            "a_minus",
            "tau_plus",
            "tau_minus",
            "w_max",
            "density_in",
            "bins",
            "mc_steps",
            "mc_hold",
            "mc_max_delay",
        ):
            positive(f"trainer.{name}", getattr(t, name))
        positive("trainer.stdp_spread", t.stdp_spread, allow_zero=True)


def _check_series(d: DataConfig) -> None:
    """The prediction keys of ``data`` (``source: series``): counts, fractions, a length the
    series has, and splits that keep samples at this horizon and washout."""
    from plasticagents.training.prediction import SERIES_LENGTH

    for name in ("length", "horizon", "hold"):
        _positive(f"data.{name}", getattr(d, name))
    _positive("data.washout", d.washout, allow_zero=True)
    if d.window < 2:
        raise ConfigError(f"data.window: must be >= 2 values, got {d.window!r}")
    limit = SERIES_LENGTH.get(d.series)
    if limit is not None and d.length > limit:
        raise ConfigError(f"data.length: {d.series} has {limit} values, got {d.length}")
    if not (0 < d.validation_fraction < 1 and d.validation_fraction + d.test_fraction < 1):
        raise ConfigError(
            f"data.validation_fraction: must be in (0, 1) with data.test_fraction "
            f"({d.test_fraction}) summing below 1, got {d.validation_fraction!r}"
        )
    n_val, n_test = round(d.length * d.validation_fraction), round(d.length * d.test_fraction)
    n_train = d.length - n_val - n_test
    for split, kept in (
        ("train", n_train - d.horizon - d.washout),
        ("validation", n_val - d.horizon),
        ("test", n_test - d.horizon),
    ):
        if kept < 10:
            raise ConfigError(
                f"data.length: the {split} split keeps {kept} samples at data.horizon "
                f"{d.horizon} and data.washout {d.washout}; need >= 10 (raise data.length)"
            )
    if d.window > n_train - d.horizon:
        raise ConfigError(
            f"data.window: must be <= the training segment ({n_train - d.horizon} samples), "
            f"got {d.window}"
        )


def _check_baseline(t: Any) -> None:
    """The ``esn`` and ``linear_ar`` sections."""
    if t.kind == "linear_ar":
        if not t.orders or min(t.orders) < 1:
            raise ConfigError(f"trainer.orders: lags must be >= 1, got {t.orders}")
        return
    for name in ("spectral_radius", "input_scaling", "mc_steps", "mc_max_delay"):
        _positive(f"trainer.{name}", getattr(t, name))
    for name in ("leak_rate", "connectivity", "input_connectivity"):
        _within(f"trainer.{name}", getattr(t, name), 0.0, 1.0, open_low=True)
