"""The recurrent actor-critic that ``trainer.kind: recurrent_ppo`` trains, and its update.

:class:`RecurrentActorCritic` puts the configured (plastic) SNN in front as a Gaussian actor
and an MLP critic on the observation; :func:`sequence_log_probs` re-runs it over whole env
sequences from a saved state (with the episode-start resets the rollout had), so
:func:`ppo_update`'s clipped loss backpropagates through every simulation step and plastic
update; :class:`ReturnNorm` is SB3 ``VecNormalize``'s reward scaling.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents.state import map_state, reset_where
from plasticagents.training.builders import build_policy
from plasticagents.training.config import ExperimentConfig, RecurrentPPOConfig
from plasticagents.training.rollout import Carry, EnvPool, RunningNorm, collect

__all__ = [
    "RecurrentActorCritic",
    "ReturnNorm",
    "collect_rollout",
    "ppo_update",
    "sequence_log_probs",
]


class RecurrentActorCritic(nn.Module):
    """The configured policy network as a Gaussian actor, plus an MLP critic on observations."""

    def __init__(
        self, cfg: ExperimentConfig, obs_dim: int, act_dim: int, t: RecurrentPPOConfig
    ) -> None:
        """``actor``: the network the ``agent`` section builds (tanh outputs, from
        ``cfg.seed``), the part a checkpoint's ``policy`` keeps; ``log_std: [act_dim]``,
        state-independent, from ``t.log_std_init``; ``critic``: a tanh MLP
        ``obs_dim -> t.critic_hidden -> 1`` on the normalised observation, not on the SNN's
        state, so the values of a whole ``[T, B]`` sequence are one batched call.
        """
        super().__init__()
        self.actor = build_policy(cfg.agent, obs_dim, act_dim, cfg.seed, output="tanh")
        self.log_std = nn.Parameter(torch.full((act_dim,), float(t.log_std_init)))
        layers: list[nn.Module] = []
        width = obs_dim
        for h in t.critic_hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        self.critic = nn.Sequential(*layers, nn.Linear(width, 1))

    def initial_state(self, batch: int) -> Any:
        """The actor's fresh state for ``batch`` envs (the critic has none)."""
        return self.actor.initial_state(batch)

    def step(self, obs: Tensor, state: Any, episode_start: Tensor) -> tuple[Tensor, Any]:
        """Mean action ``[B, A]`` for one step; rows flagged in ``episode_start`` restart."""
        if bool(episode_start.any()):
            fresh = self.actor.initial_state(obs.shape[0])
            state = reset_where(state, episode_start, fresh)
        return self.actor(obs, state)

    def value(self, obs: Tensor) -> Tensor:
        """``obs: [..., obs_dim]`` (normalised) -> state values ``[...]``."""
        return self.critic(obs).squeeze(-1)

    def distribution(self, mean: Tensor) -> torch.distributions.Normal:
        """The Gaussian policy ``N(mean, exp(log_std))``, independent per action dimension;
        ``mean: [..., A]``."""
        return torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))


def _select(state: Any, rows: Tensor) -> Any:
    """The rows ``rows`` (env indices) of every tensor in a policy state: a minibatch's start
    state."""
    return map_state(lambda leaf: leaf[rows], state)


class ReturnNorm:
    """SB3 ``VecNormalize``'s reward scaling: rewards divided by the running standard deviation
    of the discounted return (reset where an episode ends), clipped to ``[-clip, clip]``."""

    def __init__(self, n: int, gamma: float, clip: float = 10.0, eps: float = 1e-8) -> None:
        """``n`` envs, discount ``gamma``; ``clip`` and ``eps`` as ``VecNormalize``'s defaults."""
        from stable_baselines3.common.running_mean_std import RunningMeanStd

        self.rms, self.gamma, self.clip, self.eps = RunningMeanStd(shape=()), gamma, clip, eps
        self.returns = np.zeros(n)

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Scale one step's ``rewards [n]`` (updating the statistics); ``dones [n]`` bool.

        ``R <- gamma * R + r`` per env, the running variance of ``R`` is updated, the result is
        ``clip(r / sqrt(var + eps), -clip, clip)``, and ``R`` restarts at 0 where ``dones``.
        Rewards are divided, not centred, so their sign is kept.
        """
        self.returns = self.returns * self.gamma + rewards
        self.rms.update(self.returns)
        scaled = np.clip(rewards / np.sqrt(self.rms.var + self.eps), -self.clip, self.clip)
        self.returns[dones] = 0
        return scaled

    def state_dict(self) -> dict[str, Any]:
        """The return statistics (``mean``, ``var``, ``count``) for a checkpoint; the per-env
        running returns are not kept (a resumed run starts fresh episodes)."""
        return {"mean": self.rms.mean, "var": self.rms.var, "count": float(self.rms.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s statistics."""
        self.rms.mean, self.rms.var = np.array(state["mean"]), np.array(state["var"])
        self.rms.count = state["count"]


def sequence_log_probs(
    model: RecurrentActorCritic,
    obs: Tensor,
    actions: Tensor,
    starts: Tensor,
    state: Any,
) -> tuple[Tensor, Tensor]:
    """Re-run the policy over ``obs: [T, B, obs_dim]`` from ``state`` with the episode-start
    resets ``starts: [T, B]``; returns log-probabilities ``[T, B]`` of ``actions`` and the
    entropy ``[T, B]``."""
    means = []
    for t in range(obs.shape[0]):
        mean, state = model.step(obs[t], state, starts[t])
        means.append(mean)
    dist = model.distribution(torch.stack(means))
    return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1)


def ppo_update(
    model, optimizer, buffer, rollout_info, t: RecurrentPPOConfig, rng
) -> dict[str, float]:
    """``t.n_epochs`` of PPO's clipped loss over minibatches of whole env sequences, each
    re-run from the state its rollout began with; returns the mean losses, KL, clip share.

    Each epoch shuffles the ``n_envs`` sequences (``rng``: a NumPy generator) into minibatches
    of ``t.minibatch_envs`` envs x all ``n_steps`` steps; a minibatch re-runs the actor through
    :func:`sequence_log_probs` from ``rollout_info["start_state"]`` and takes one optimizer
    step on::

        ratio = exp(log pi_new(a) - log pi_old(a))
        A     = (A - mean(A)) / (std(A) + 1e-8)          (per minibatch)
        loss  = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))
                + vf_coef * mean((V(obs) - returns) ** 2) - ent_coef * mean(entropy)

    with the gradient norm clipped to ``t.max_grad_norm`` (the value loss is not clipped).

    Args:
        model: the :class:`RecurrentActorCritic` being trained.
        optimizer: its optimizer.
        buffer: SB3's ``RolloutBuffer`` after ``compute_returns_and_advantage``: observations
            ``[T, E, obs_dim]`` (normalised), actions, episode starts, old log-probabilities,
            advantages and returns ``[T, E]``.
        rollout_info: :func:`~plasticagents.training.trainers.recurrent_ppo.collect_rollout`'s
            result (its ``start_state``).
        t: the trainer section.
        rng: draws the minibatch order.

    Returns:
        ``pg`` (policy loss), ``vf`` (value loss), ``kl`` (``mean((ratio - 1) - log ratio)``,
        before each step), ``clip`` (share of ratios outside ``1 +- clip_range``): means over
        all minibatches of all epochs.
    """
    obs = torch.as_tensor(buffer.observations, dtype=torch.float32)  # [T, E, obs]
    actions = torch.as_tensor(buffer.actions, dtype=torch.float32)
    starts = torch.as_tensor(buffer.episode_starts).bool()  # [T, E]
    old_log_probs = torch.as_tensor(buffer.log_probs, dtype=torch.float32)
    advantages = torch.as_tensor(buffer.advantages, dtype=torch.float32)
    returns = torch.as_tensor(buffer.returns, dtype=torch.float32)
    stats: dict[str, list[float]] = {k: [] for k in ("pg", "vf", "kl", "clip")}
    n_envs = obs.shape[1]
    for _ in range(t.n_epochs):
        order = torch.as_tensor(rng.permutation(n_envs))
        for k in range(0, n_envs, t.minibatch_envs):
            rows = order[k : k + t.minibatch_envs]
            state = _select(rollout_info["start_state"], rows)
            log_probs, entropy = sequence_log_probs(
                model, obs[:, rows], actions[:, rows], starts[:, rows], state
            )
            adv = advantages[:, rows]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            ratio = torch.exp(log_probs - old_log_probs[:, rows])
            pg_loss = -torch.min(
                ratio * adv, ratio.clamp(1 - t.clip_range, 1 + t.clip_range) * adv
            ).mean()
            vf_loss = ((model.value(obs[:, rows]) - returns[:, rows]) ** 2).mean()
            loss = pg_loss + t.vf_coef * vf_loss - t.ent_coef * entropy.mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), t.max_grad_norm)
            optimizer.step()
            with torch.no_grad():
                log_ratio = log_probs - old_log_probs[:, rows]
                stats["kl"].append(float(((ratio - 1) - log_ratio).mean()))
                stats["clip"].append(float(((ratio - 1).abs() > t.clip_range).float().mean()))
            stats["pg"].append(float(pg_loss.detach()))
            stats["vf"].append(float(vf_loss.detach()))
    return {key: float(np.mean(v)) for key, v in stats.items()}


class _Actor:
    """The Gaussian actor as a rollout agent: normalises observations with the frozen
    ``obs_norm``, samples actions from ``generator`` and keeps each step's network input,
    (unclamped) sample, log-probability and value for the update."""

    population = False

    def __init__(self, model, obs_norm, low, high, generator: torch.Generator) -> None:
        """``low`` / ``high``: the action bounds that the clamped samples in [-1, 1] map onto."""
        self.model, self.obs_norm, self.generator = model, obs_norm, generator
        self.low, self.half_range = low, (high - low) / 2
        self.inputs, self.samples, self.log_probs, self.values = [], [], [], []

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        """One step for all envs: ``obs: [n, obs_dim]`` -> env actions ``[n, act_dim]`` and the
        next state, without gradients. Rows flagged in ``episode_start`` restart from the
        initial state; the action is ``mean + std * N(0, 1)`` from ``generator``, stored
        unclamped (the log-probability is of that sample) and clamped to [-1, 1] only for the
        env. ``deterministic`` is ignored: this actor always samples.
        """
        x = torch.as_tensor(self.obs_norm.normalize(obs), dtype=torch.float32)
        if state is None:
            state = self.model.initial_state(x.shape[0])
        with torch.no_grad():
            mean, state = self.model.step(x, state, torch.as_tensor(episode_start))
            dist = self.model.distribution(mean)
            action = mean + dist.stddev * torch.randn(mean.shape, generator=self.generator)
            self.log_probs.append(dist.log_prob(action).sum(-1))
            self.values.append(self.model.value(x))
        self.inputs.append(x.numpy())
        self.samples.append(action.numpy())
        return self.low + (action.clamp(-1, 1).numpy() + 1.0) * self.half_range, state


def collect_rollout(
    model: RecurrentActorCritic,
    pool: EnvPool,
    buffer: Any,
    carry: Carry,
    obs_norm: RunningNorm,
    reward_norm: ReturnNorm,
    low: np.ndarray,
    high: np.ndarray,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Fill ``buffer`` with ``buffer.buffer_size`` steps of every env through the rollout
    engine, continuing from ``carry`` (observations, policy state, episode starts).

    Each step's reward is scaled by ``reward_norm`` (which updates its statistics) as
    ``VecNormalize`` would; where an episode was truncated (time limit), ``gamma * V(s_T)`` of
    its final observation is added to that scaled reward, as SB3's PPO bootstraps. The buffer
    then holds, per step ``[n_steps, n_envs]``: the normalised inputs, the unclamped action
    samples, scaled rewards, episode starts, values and log-probabilities, and GAE advantages
    and returns computed with the value of the observation the next rollout starts from.

    Returns:
        ``carry`` (where the next rollout continues), ``start_state`` (the policy state the
        rollout began with, detached: the update re-runs from it), ``returns`` (raw returns of
        the episodes that ended), ``raw_obs`` (``[n_steps * n_envs, obs_dim]`` un-normalised,
        to update ``obs_norm`` afterwards) and ``spikes_per_step``.
    """
    actor = _Actor(model, obs_norm, low, high, generator)
    got = collect(actor, pool, buffer.buffer_size, carry)
    start_state = carry.state if carry.state is not None else model.initial_state(len(pool))
    rewards = got.rewards.astype(np.float32)  # what a DummyVecEnv hands VecNormalize
    scaled = np.stack([reward_norm(rewards[t], got.dones[t]) for t in range(len(rewards))])
    gamma = reward_norm.gamma
    with torch.no_grad():
        for (t, i), final in zip(got.final_index, got.final_obs, strict=True):
            # the episode was cut, not ended: bootstrap like SB3's PPO
            terminal = torch.as_tensor(obs_norm.normalize(final[None]), dtype=torch.float32)
            scaled[t, i] += gamma * float(model.value(terminal)[0])
        buffer.reset()
        for t in range(buffer.buffer_size):
            buffer.add(
                actor.inputs[t],
                actor.samples[t],
                scaled[t],
                got.episode_start[t],
                actor.values[t],
                actor.log_probs[t],
            )
        x = torch.as_tensor(obs_norm.normalize(got.carry.obs), dtype=torch.float32)
        buffer.compute_returns_and_advantage(
            last_values=model.value(x), dones=got.carry.episode_start
        )
    return {
        "carry": got.carry,
        "start_state": map_state(lambda leaf: leaf.detach().clone(), start_state),
        "returns": list(got.episode_returns),
        "raw_obs": got.obs.reshape(-1, got.obs.shape[-1]),
        "spikes_per_step": float(got.spikes.mean()),
    }
