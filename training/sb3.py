"""stable-baselines3 policies with spiking networks (what ``trainer.kind: ppo`` trains).

:class:`SpikingFeatures` is an SB3 features extractor: the configured SNN runs
``agent.steps_per_input`` simulation steps on each observation from a fresh state and its
leaky-integrator readout membrane (``agent.hidden`` spiking neurons -> ``features_dim``
readouts) is what SB3's actor and critic heads read; surrogate gradients carry PPO's loss into
the spiking layer. It is stateless across env steps (SB3's ``ActorCriticPolicy`` has no
recurrent state), so plasticity has nothing to carry: use ``agent.plasticity: null``. With
``agent.kind: mlp`` the run is SB3's own MLP PPO, the baseline.

``trainer.critic`` says what the value head reads: ``shared`` (SB3's default for a features
extractor: the SNN's readouts feed the actor and the critic, and the value loss trains the SNN
too) or ``mlp`` (:class:`SpikingActorCriticPolicy`: the critic is an MLP on the normalised
observation, as in PopSAN-style spiking actor / deep critic training; only the actor spikes,
and the critic is not needed to act).

SB3's pieces work unchanged: ``PPO``, ``VecNormalize`` (observations and rewards), callbacks,
its logger. The run directory holds the same files as every other trainer's: the policy's
weights and observation statistics are stored in the project's checkpoint format and the
model is rebuilt from the config, so no SB3 zip (which unpickles on load) is ever read.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    FlattenExtractor,
    create_mlp,
)
from torch import nn

from plasticagents.training.builders import build_policy
from plasticagents.training.config import ExperimentConfig, PPOConfig, to_dict

__all__ = [
    "SB3Agent",
    "SpikingActorCriticPolicy",
    "SpikingFeatures",
    "make_model",
    "sb3_hyperparameters",
]


class SpikingFeatures(BaseFeaturesExtractor):
    """SB3 features extractor around a :class:`~plasticagents.PlasticSNN` (see module doc).

    SB3 builds it as ``SpikingFeatures(observation_space, features_dim=..., agent=..., seed=...)``
    with ``agent`` the config's ``agent`` section as a dict.
    """

    def __init__(
        self, observation_space: gym.spaces.Box, features_dim: int, agent: dict, seed: int
    ) -> None:
        """Build the SNN from the ``agent`` dict (validated like the config's own section) with
        ``features_dim`` linear readouts, from ``seed``: the same weights on every rebuild, which
        is what lets a checkpoint's state dict load into a model rebuilt from the config.

        Raises:
            ConfigError: an invalid ``agent`` section.
        """
        super().__init__(observation_space, features_dim)
        from plasticagents.training.config import AgentConfig, _build

        cfg = _build(AgentConfig, agent, "agent")
        obs_dim = int(np.prod(observation_space.shape))
        self.net = build_policy(cfg, obs_dim, features_dim, seed, output="linear")
        self.last_spikes = 0.0
        self.last_state: Any = None  # the SNN state of the last call without autograd (acting)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs: [B, *obs_shape]`` (normalised by ``VecNormalize``) -> readout features
        ``[B, features_dim]``: ``steps_per_input`` simulation steps from a fresh state. Records
        ``last_spikes`` (mean hidden spikes per observation) and, when acting without autograd,
        ``last_state``.
        """
        features, state = self.net(obs.flatten(1), None)
        self.last_spikes = float(state.spikes.sum(-1).mean().detach())
        # kept for rollout's spike counts and probes when acting (SB3's predict runs under
        # no_grad); never during training, where it would hold the graph alive
        self.last_state = None if torch.is_grad_enabled() else state
        return features


class _SplitExtractor(nn.Module):
    """SB3's ``mlp_extractor`` contract with separate inputs: the actor MLP reads the policy
    features, the critic MLP reads the value features (of another size)."""

    def __init__(
        self, pi_in: int, vf_in: int, pi_arch: list[int], vf_arch: list[int], activation: type
    ) -> None:
        """Actor MLP ``pi_in -> pi_arch`` and critic MLP ``vf_in -> vf_arch`` (hidden layers only;
        SB3 adds the action and value heads on ``latent_dim_pi`` / ``latent_dim_vf``).
        """
        super().__init__()
        # SB3's own MLP builder (output_dim -1: hidden layers only, like its MlpExtractor)
        self.policy_net = nn.Sequential(*create_mlp(pi_in, -1, list(pi_arch), activation))
        self.value_net = nn.Sequential(*create_mlp(vf_in, -1, list(vf_arch), activation))
        self.latent_dim_pi = pi_arch[-1] if pi_arch else pi_in
        self.latent_dim_vf = vf_arch[-1] if vf_arch else vf_in

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Refused: one features tensor cannot feed inputs of two sizes. SB3 calls it only with a
        shared extractor, which :class:`SpikingActorCriticPolicy` never has.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("_SplitExtractor takes actor and critic features separately")

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, pi_in]`` -> the actor's latent ``[B, latent_dim_pi]``."""
        return self.policy_net(features)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        """``[B, vf_in]`` -> the critic's latent ``[B, latent_dim_vf]``."""
        return self.value_net(features)


class SpikingActorCriticPolicy(ActorCriticPolicy):
    """SB3's ``ActorCriticPolicy`` with a spiking actor and an MLP critic (``trainer.critic:
    mlp``): the actor head reads the features extractor (:class:`SpikingFeatures`), the critic
    MLP (``net_arch["vf"]``) reads the flattened observation. Everything else (distribution,
    ``predict``, ``evaluate_actions``, saving) is SB3's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """SB3's constructor arguments, with ``share_features_extractor`` forced off (the critic
        must not read the spiking features).
        """
        kwargs["share_features_extractor"] = False
        super().__init__(*args, **kwargs)

    def make_features_extractor(self) -> BaseFeaturesExtractor:
        """The first call (the actor's) builds the configured :class:`SpikingFeatures`; the second
        (the critic's) a plain ``FlattenExtractor`` of the observation.
        """
        # SB3 asks for the actor's extractor first, then (not shared) the critic's
        if getattr(self, "features_extractor", None) is None:
            return super().make_features_extractor()
        return FlattenExtractor(self.observation_space)

    def _build_mlp_extractor(self) -> None:
        """Replace SB3's ``MlpExtractor`` (one input size) with a :class:`_SplitExtractor` whose
        actor reads ``features_dim`` features and whose critic reads the flat observation.
        """
        arch = self.net_arch if isinstance(self.net_arch, dict) else {}
        self.mlp_extractor = _SplitExtractor(
            self.features_dim,
            self.vf_features_extractor.features_dim,
            arch.get("pi", []),
            arch.get("vf", []),
            self.activation_fn,
        )


class SB3Agent:
    """An SB3 model in this project's predict protocol (for ``rollout``, ``evaluate``,
    ``robustness`` and ``view``): observations pass through the frozen ``VecNormalize``
    statistics first. With a spiking policy, ``predict`` returns the SNN state of the step
    (spike counts per hidden neuron) as its state, so rollouts count spikes and
    :func:`~plasticagents.training.rollout.policy_probe` records them; SB3's policy itself is
    stateless across steps and ignores the state passed in."""

    population = False

    def __init__(self, model: Any, obs_rms: Any | None, clip_obs: float = 10.0) -> None:
        """``model``: an SB3 model (its ``predict`` and ``policy``); ``obs_rms``: a
        ``RunningMeanStd`` of the training observations (``None``: raw observations);
        ``clip_obs``: ``VecNormalize``'s default clip of normalised observations.
        """
        self.model, self.obs_rms, self.clip_obs = model, obs_rms, clip_obs
        self.policy = model.policy

    def initial_state(self, batch: int) -> None:
        """``None``: SB3's policy keeps nothing between steps."""
        return None

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        """``obs: [n, obs_dim]`` -> ``(actions [n, act_dim], SNN state of this step or None)``.

        Normalises as ``VecNormalize`` does, ``clip((obs - mean) / sqrt(var + 1e-8), +-clip_obs)``,
        then calls SB3's ``predict`` (actions clipped to the action box; ``deterministic``: the
        Gaussian mean). ``state`` and ``episode_start`` are ignored.
        """
        obs = np.asarray(obs, dtype=np.float32)
        if self.obs_rms is not None:
            obs = np.clip(
                (obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + 1e-8),
                -self.clip_obs,
                self.clip_obs,
            ).astype(np.float32)
        action, _ = self.model.predict(obs, deterministic=deterministic)
        extractor = getattr(self.policy, "features_extractor", None)
        return action, getattr(extractor, "last_state", None)


def make_model(cfg: ExperimentConfig, env: Any) -> Any:
    """The SB3 PPO model the config describes, on the vectorized ``env``.

    ``agent.kind: snn``: a :class:`SpikingFeatures` extractor with ``trainer.features_dim``
    readouts, then actor MLP ``trainer.pi_arch`` and critic MLP ``trainer.vf_arch``, the
    critic reading the same extractor (``critic: shared``) or the observation
    (``critic: mlp``, :class:`SpikingActorCriticPolicy`). ``agent.kind: mlp``: SB3's
    ``MlpPolicy`` with tanh hidden layers ``agent.mlp_hidden`` for the actor and
    ``trainer.vf_arch`` for the critic. Seeded with ``cfg.seed``, on CPU, silent; PPO's
    hyper-parameters are the ``trainer`` section's.

    Raises:
        ValueError: ``trainer.critic`` is neither ``shared`` nor ``mlp``.
    """
    t: PPOConfig = cfg.trainer
    policy_kwargs: dict[str, Any] = {"net_arch": {"pi": list(t.pi_arch), "vf": list(t.vf_arch)}}
    policy: Any = "MlpPolicy"
    if t.critic not in ("shared", "mlp"):
        raise ValueError(f"trainer.critic must be one of ['shared', 'mlp'], got {t.critic!r}")
    if cfg.agent.kind == "snn":
        policy_kwargs.update(
            features_extractor_class=SpikingFeatures,
            features_extractor_kwargs={
                "features_dim": t.features_dim,
                "agent": to_dict(cfg)["agent"],
                "seed": cfg.seed,
            },
        )
        if t.critic == "mlp":
            policy = SpikingActorCriticPolicy
        else:
            policy_kwargs["share_features_extractor"] = True
    else:
        policy_kwargs["net_arch"] = {"pi": list(cfg.agent.mlp_hidden), "vf": list(t.vf_arch)}
        policy_kwargs["activation_fn"] = nn.Tanh
    return PPO(policy, env, policy_kwargs=policy_kwargs, **sb3_hyperparameters(cfg))


def sb3_hyperparameters(cfg: ExperimentConfig) -> dict[str, Any]:
    """The keyword arguments SB3's ``PPO`` and sb3-contrib's ``RecurrentPPO`` take from the
    shared PPO section (``trainer.lr``, ``n_steps``, ``batch_size``, ``n_epochs``, ``gamma``,
    ``gae_lambda``, ``clip_range``, ``ent_coef``, ``max_grad_norm``), seeded with ``cfg.seed``,
    on the CPU, quiet."""
    t = cfg.trainer
    return {
        "learning_rate": t.lr,
        "n_steps": t.n_steps,
        "batch_size": t.batch_size,
        "n_epochs": t.n_epochs,
        "gamma": t.gamma,
        "gae_lambda": t.gae_lambda,
        "clip_range": t.clip_range,
        "ent_coef": t.ent_coef,
        "max_grad_norm": t.max_grad_norm,
        "seed": cfg.seed,
        "device": "cpu",
        "verbose": 0,
    }
