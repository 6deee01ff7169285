"""Build policies and environments from config sections (deterministically from the seed).

A policy is rebuilt from ``(agent config, observation size, action size, seed)`` wherever it is
needed (Ray actors, evaluation, resume); its trained parameters then come from a vector, and
everything else (masks, Dale signs, sampled time constants) is identical by construction.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gymnasium as gym
import torch
from torch import nn

from plasticagents.training.config import AgentConfig, EnvConfig

__all__ = [
    "build_policy",
    "env_maker",
    "env_pool",
    "env_spaces",
    "episode_perturbations",
    "load_network",
    "load_params",
    "membrane_time_constants",
    "policy_payload",
    "vector_params",
]


def build_policy(
    cfg: AgentConfig, obs_dim: int, act_dim: int, seed: int, output: str = "tanh"
) -> nn.Module:
    """The policy network an :class:`AgentConfig` describes, built from ``seed``.

    ``output="tanh"``: actions in ``[-1, 1]`` (ES); ``"linear"``: raw readouts (logits and
    values for the gradient trainers; ``act_dim`` then counts every readout).

    Example:
        >>> from plasticagents.training.config import AgentConfig
        >>> net = build_policy(AgentConfig(hidden=16), obs_dim=17, act_dim=6, seed=0)
        >>> type(net).__name__, net.layer.plasticity is not None
        ('PlasticSNN', True)
    """
    from plasticagents import LSTMPolicy, MLPPolicy, PlasticitySpec, PlasticSNN

    generator = torch.Generator().manual_seed(int(seed))
    if cfg.kind in ("mlp", "lstm") and output != "tanh":
        raise ValueError(f"agent.kind {cfg.kind!r} has tanh outputs only, not {output!r}")
    if cfg.kind == "mlp":
        return MLPPolicy(obs_dim, act_dim, hidden=tuple(cfg.mlp_hidden), generator=generator)
    if cfg.kind == "lstm":
        return LSTMPolicy(obs_dim, act_dim, hidden=cfg.hidden, generator=generator)
    plasticity = None
    if cfg.plasticity is not None:  # the config section mirrors PlasticitySpec field for field
        plasticity = PlasticitySpec(**dataclasses.asdict(cfg.plasticity))
    return PlasticSNN(
        obs_dim,
        act_dim,
        hidden=cfg.hidden,
        encoder=cfg.encoder,
        encoder_kwargs=dict(cfg.encoder_kwargs),
        steps_per_input=cfg.steps_per_input,
        output=output,
        readout_tau_mem=cfg.readout_tau_mem,
        readout_tau_syn=cfg.readout_tau_syn,
        dt=cfg.dt,
        generator=generator,
        constant_input=cfg.constant_input,
        neuron=cfg.neuron,
        reset=cfg.reset,
        plasticity=plasticity,
        recurrent=cfg.recurrent,
        dale=cfg.dale,
        excitatory_fraction=cfg.excitatory_fraction,
        density=cfg.density,
        gain=cfg.gain,
        tau_mem=membrane_time_constants(cfg),
        tau_syn=cfg.tau_syn,
        tau_trace=cfg.tau_trace,
    )


def episode_perturbations(cfg: EnvConfig, episode: int) -> list[dict[str, Any]]:
    """Perturbations of evaluation episode ``episode``: fixed ones plus its distribution entry."""
    extra = (
        cfg.train_distribution[episode % len(cfg.train_distribution)]
        if cfg.train_distribution
        else []
    )
    return [*cfg.perturbations, *extra]


def _make(
    env_id: str, perturbations: Sequence[Mapping[str, Any]], inputs: list[str], kwargs: dict
) -> gym.Env:
    from plasticagents.envs import make_env

    return make_env(env_id, perturbations, inputs, **kwargs)


def env_maker(
    cfg: EnvConfig, perturbations: Sequence[Mapping[str, Any]] | None = None
) -> Callable[[], gym.Env]:
    """A picklable zero-argument constructor of the configured env: ``env.id`` with its gym
    kwargs and episode cap, ``perturbations`` (default: the section's fixed ones) and, outermost,
    the learner ``env.inputs``."""
    kwargs = dict(cfg.kwargs)
    if cfg.max_episode_steps is not None:
        kwargs["max_episode_steps"] = cfg.max_episode_steps
    specs = list(cfg.perturbations) if perturbations is None else list(perturbations)
    return functools.partial(_make, cfg.id, specs, list(cfg.inputs), kwargs)


def env_pool(
    makers: Sequence[Callable[[], gym.Env]], threads: int, fast_physics: bool = False
) -> Any:
    """An :class:`~plasticagents.training.rollout.EnvPool` of ``makers``; with
    ``fast_physics`` (``trainer.fast_physics``) the slots the batched backend covers step
    without Gymnasium's per-env ``step`` and one log line names why the others do not."""
    import logging

    from plasticagents.training.rollout import EnvPool

    pool = EnvPool(makers, threads=threads, fast_physics=fast_physics)
    if pool.fast_blocked:
        slot, reason = next(iter(pool.fast_blocked.items()))
        logging.getLogger("plasticagents").info(
            "fast_physics: %d of %d slots step through Gymnasium (slot %d: %s)",
            len(pool.fast_blocked),
            len(pool),
            slot,
            reason,
        )
    return pool


def env_spaces(cfg: EnvConfig) -> tuple[int, int, Any, Any]:
    """``(obs_dim, act_dim, action_low, action_high)`` of the configured env (built and closed).

    Also validates every perturbation list (unknown types and parameters fail here, early).
    """
    from plasticagents.training.rollout import quiet_mujoco_warnings

    for k in range(max(1, len(cfg.train_distribution))):
        with quiet_mujoco_warnings():
            env = env_maker(cfg, episode_perturbations(cfg, k))()
        try:
            obs_space, act_space = env.observation_space, env.action_space
        finally:
            env.close()
    if not isinstance(act_space, gym.spaces.Box) or len(obs_space.shape or ()) != 1:
        raise ValueError(
            f"env {cfg.id!r} must have a flat Box observation and a Box action space; got "
            f"{obs_space} and {act_space}"
        )
    return obs_space.shape[0], act_space.shape[0], act_space.low, act_space.high


def vector_params(vector: torch.Tensor, template: nn.Module, names: Sequence[str]) -> dict:
    """A flat parameter vector ``[D]`` cut into ``{name: tensor}`` shaped like ``template``'s
    parameters ``names`` (the inverse of :func:`~plasticagents.population.parameters_to_vector`)."""
    params = dict(template.named_parameters())
    out, offset = {}, 0
    for name in names:
        n = params[name].numel()
        out[name] = vector[offset : offset + n].detach().reshape(params[name].shape).clone()
        offset += n
    if offset != vector.numel():
        raise ValueError(f"a vector of {vector.numel()} values for {offset} parameters")
    return out


def policy_payload(module: nn.Module, **extra: Any) -> dict[str, Any]:
    """A checkpoint's ``policy``: ``module``'s trained parameters plus ``extra`` (observation
    normaliser state, observation / action sizes, ...)."""
    params = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}
    return {"params": params, **extra}


def load_params(module: nn.Module, params: Mapping[str, torch.Tensor], where: str = "") -> None:
    """Copy checkpointed ``params`` into ``module``'s parameters of the same names and shapes;
    a one-line error naming the first mismatch (a checkpoint of another architecture)."""
    own = dict(module.named_parameters())
    missing = [n for n in own if own[n].requires_grad and n not in params]
    unknown = [n for n in params if n not in own]
    if missing or unknown:
        raise ValueError(
            f"{where or 'checkpoint'}: parameters do not match the model the config builds "
            f"(missing {missing[:3]}, unexpected {unknown[:3]})"
        )
    with torch.no_grad():
        for name, value in params.items():
            owner, _, local = name.rpartition(".")
            adapt = getattr(module.get_submodule(owner), "checkpoint_value", None)
            if callable(adapt):  # e.g. a checkpoint from before a module's layout changed
                value = adapt(local, value)
            if own[name].shape != value.shape:
                raise ValueError(
                    f"{where or 'checkpoint'}: parameter {name!r} has shape "
                    f"{list(value.shape)}, the model's is {list(own[name].shape)}"
                )
            own[name].copy_(value)


def load_network(cfg: Any, policy: Mapping[str, Any]) -> tuple[nn.Module, None]:
    """The configured network (``agent`` section) with a checkpoint's trained parameters: the
    policy family of ES and recurrent PPO. No predictor of its own: callers wrap it in an
    :class:`~plasticagents.Agent` with the checkpoint's observation normaliser."""
    net = build_policy(cfg.agent, policy["obs_dim"], policy["act_dim"], cfg.seed)
    load_params(net, policy["params"], "policy")
    return net, None


def membrane_time_constants(section: Any) -> Any:
    """A config section's ``tau_mem`` as the neurons take it: a float when homogeneous
    (``tau_distribution: constant`` or ``tau_spread: 0``), else a
    :class:`~plasticagents.neurons.TimeConstants` distribution with that mean and coefficient
    of variation, one value per neuron drawn from the network's seeded generator."""
    from plasticagents.neurons import TimeConstants

    if section.tau_distribution == "constant" or section.tau_spread == 0:
        return section.tau_mem
    return TimeConstants(section.tau_mem, section.tau_distribution, section.tau_spread)
