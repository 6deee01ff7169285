"""stable-baselines3 PPO with spiking policies (``trainer.kind: ppo``).

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
its logger and ``evaluate_policy``. The run directory holds the same files as the other
trainers: ``metrics.csv`` (one row per rollout), TensorBoard events, and
``checkpoints/latest.zip`` / ``best.zip`` (model) with ``latest.pt`` / ``best.pt`` (what
``load_policy`` and ``--resume`` read).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    FlattenExtractor,
    create_mlp,
)
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

from plasticagents.training.builders import build_policy, env_maker, env_spaces
from plasticagents.training.config import ExperimentConfig, PPOConfig, to_dict
from plasticagents.training.run import RunDir, atomic_save

__all__ = [
    "METRIC_COLUMNS",
    "SB3Agent",
    "SpikingActorCriticPolicy",
    "SpikingFeatures",
    "load_sb3_agent",
    "make_model",
    "train_ppo",
]

METRIC_COLUMNS = [
    "iteration",
    "env_steps",
    "wall_time",
    "mean_return",
    "spikes_per_step",
    "eval_return",
]


class SpikingFeatures(BaseFeaturesExtractor):
    """SB3 features extractor around a :class:`~plasticagents.PlasticSNN` (see module doc).

    SB3 builds it as ``SpikingFeatures(observation_space, features_dim=..., agent=..., seed=...)``
    with ``agent`` the config's ``agent`` section as a dict.
    """

    def __init__(
        self, observation_space: gym.spaces.Box, features_dim: int, agent: dict, seed: int
    ) -> None:
        super().__init__(observation_space, features_dim)
        from plasticagents.training.config import AgentConfig, _build

        cfg = _build(AgentConfig, agent, "agent")
        obs_dim = int(np.prod(observation_space.shape))
        self.net = build_policy(cfg, obs_dim, features_dim, seed, output="linear")
        self.last_spikes = 0.0
        self.last_state: Any = None  # the SNN state of the last call without autograd (acting)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
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
        super().__init__()
        # SB3's own MLP builder (output_dim -1: hidden layers only, like its MlpExtractor)
        self.policy_net = nn.Sequential(*create_mlp(pi_in, -1, list(pi_arch), activation))
        self.value_net = nn.Sequential(*create_mlp(vf_in, -1, list(vf_arch), activation))
        self.latent_dim_pi = pi_arch[-1] if pi_arch else pi_in
        self.latent_dim_vf = vf_arch[-1] if vf_arch else vf_in

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise RuntimeError("_SplitExtractor takes actor and critic features separately")

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return self.policy_net(features)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return self.value_net(features)


class SpikingActorCriticPolicy(ActorCriticPolicy):
    """SB3's ``ActorCriticPolicy`` with a spiking actor and an MLP critic (``trainer.critic:
    mlp``): the actor head reads the features extractor (:class:`SpikingFeatures`), the critic
    MLP (``net_arch["vf"]``) reads the flattened observation. Everything else (distribution,
    ``predict``, ``evaluate_actions``, saving) is SB3's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["share_features_extractor"] = False
        super().__init__(*args, **kwargs)

    def make_features_extractor(self) -> BaseFeaturesExtractor:
        # SB3 asks for the actor's extractor first, then (not shared) the critic's
        if getattr(self, "features_extractor", None) is None:
            return super().make_features_extractor()
        return FlattenExtractor(self.observation_space)

    def _build_mlp_extractor(self) -> None:
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
        self.model, self.obs_rms, self.clip_obs = model, obs_rms, clip_obs
        self.policy = model.policy

    def initial_state(self, batch: int) -> None:
        return None

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
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
    """The SB3 PPO model the config describes, on the vectorized ``env``."""
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
    return PPO(
        policy,
        env,
        learning_rate=t.lr,
        n_steps=t.n_steps,
        batch_size=t.batch_size,
        n_epochs=t.n_epochs,
        gamma=t.gamma,
        gae_lambda=t.gae_lambda,
        clip_range=t.clip_range,
        ent_coef=t.ent_coef,
        max_grad_norm=t.max_grad_norm,
        policy_kwargs=policy_kwargs,
        seed=cfg.seed,
        device="cpu",
        verbose=0,
    )


def _vec_env(cfg: ExperimentConfig, n: int, seed: int):
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    maker = env_maker(cfg.env)
    env = DummyVecEnv([lambda: Monitor(maker()) for _ in range(n)])
    env.seed(seed)
    return env


def train_ppo(
    cfg: ExperimentConfig,
    run: RunDir,
    resume: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    tensorboard: bool = True,
) -> dict[str, Any]:
    """Train with SB3's PPO, writing metrics and checkpoints into ``run``."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t: PPOConfig = cfg.trainer
    for name in ("total_timesteps", "n_envs", "n_steps", "batch_size", "n_epochs"):
        if getattr(t, name) < 1:
            raise ValueError(f"trainer.{name} must be >= 1, got {getattr(t, name)!r}")
    obs_dim, act_dim, _, _ = env_spaces(cfg.env)
    env = VecNormalize(_vec_env(cfg, t.n_envs, cfg.seed), gamma=t.gamma)
    eval_env = VecNormalize(
        _vec_env(cfg, 1, cfg.seed + 10**6), training=False, norm_reward=False, gamma=t.gamma
    )
    if resume is not None:
        model = PPO.load(run.checkpoints / "latest.zip", env=env, device="cpu")
        env.obs_rms, env.ret_rms = resume["obs_rms"], resume["ret_rms"]
        start_iteration, best = resume["iteration"] + 1, resume["best"]
        wall0 = resume["wall_time"]
        run.truncate_metrics("iteration", resume["iteration"])
    else:
        model = make_model(cfg, env)
        start_iteration, best, wall0 = 0, -np.inf, 0.0
    steps_per_iteration = t.n_steps * t.n_envs
    if model.num_timesteps >= t.total_timesteps:
        log(f"[ppo] {run.path} already reached {model.num_timesteps} of {t.total_timesteps} steps")
        return resume or {}
    if tensorboard:
        from stable_baselines3.common.logger import configure

        model.set_logger(configure(str(run.path / "tb"), ["tensorboard"]))
    clock = time.perf_counter()

    def checkpoint(which: str, iteration: int, score: float | None) -> dict[str, Any]:
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        tmp = run.checkpoints / f".{which}-tmp.zip"
        model.save(tmp)
        tmp.replace(run.checkpoints / f"{which}.zip")  # atomic, like the .pt beside it
        state = {
            "kind": "policy",
            "trainer": "ppo",
            "iteration": iteration,
            "generation": iteration,
            "env_steps": model.num_timesteps,
            "score": score,
            "best": best,
            "wall_time": wall0 + time.perf_counter() - clock,
            "obs_rms": env.obs_rms,
            "ret_rms": env.ret_rms,
            "config": to_dict(cfg),
            "obs_dim": obs_dim,
            "act_dim": act_dim,
            "model_file": f"{which}.zip",
        }
        atomic_save(state, run.checkpoints / f"{which}.pt")
        return state

    class Recorder(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.iteration = start_iteration
            self.state: dict[str, Any] = {}

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            nonlocal best
            it = self.iteration
            returns = [info["r"] for info in model.ep_info_buffer]
            extractor = model.policy.features_extractor
            eval_return = None
            last = model.num_timesteps + steps_per_iteration > t.total_timesteps
            if t.eval_every and ((it + 1) % t.eval_every == 0 or last):
                eval_env.obs_rms = env.obs_rms
                mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=t.eval_episodes)
                eval_return = float(mean)
                if eval_return > best:
                    best = eval_return
                    checkpoint("best", it, eval_return)
            row = {
                "iteration": it,
                "env_steps": model.num_timesteps,
                "wall_time": wall0 + time.perf_counter() - clock,
                "mean_return": float(np.mean(returns)) if returns else None,
                "spikes_per_step": getattr(extractor, "last_spikes", 0.0),
                "eval_return": eval_return,
            }
            run.append_metrics(row, METRIC_COLUMNS)
            mean_text = f"{row['mean_return']:9.1f}" if returns else "      n/a"
            log(
                f"[ppo] it {it:4d}  steps {model.num_timesteps:>9,d}  return {mean_text}  "
                + (f"eval {eval_return:9.1f}  " if eval_return is not None else "")
                + f"{row['wall_time']:7.1f}s"
            )
            if (it + 1) % t.checkpoint_every == 0 or last:
                self.state = checkpoint("latest", it, None)
            self.iteration += 1

    log(
        f"[ppo] {cfg.name}: {cfg.env.id}, agent {cfg.agent.kind}, {t.n_envs} envs x {t.n_steps} "
        f"steps per iteration, {t.total_timesteps:,d} steps -> {run.path}"
    )
    recorder = Recorder()
    try:
        model.learn(
            total_timesteps=t.total_timesteps - model.num_timesteps,
            callback=recorder,
            reset_num_timesteps=resume is None,
        )
        # the last rollout's update happened after its callback: keep it
        recorder.state = checkpoint("latest", recorder.iteration - 1, None)
    finally:
        env.close()
        eval_env.close()
    if not (run.checkpoints / "best.pt").exists():
        checkpoint("best", recorder.iteration - 1, None)
    return recorder.state


def load_sb3_agent(run: RunDir, ckpt: dict[str, Any]) -> tuple[Any, SB3Agent]:
    """The SB3 model of a PPO checkpoint and its predict-protocol agent."""
    model = PPO.load(run.checkpoints / ckpt["model_file"], device="cpu")
    return model, SB3Agent(model, ckpt["obs_rms"])
