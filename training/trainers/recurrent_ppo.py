"""PPO for recurrent, plastic spiking policies (``trainer.kind: recurrent_ppo``).

sb3-contrib's RecurrentPPO only knows LSTM states; a plastic SNN's state is a nest of
membranes, traces and ``[I, N]`` fast weights per environment. This trainer keeps SB3's
pieces where they fit, reading top to bottom like a CleanRL script:

- SB3 ``DummyVecEnv`` + ``Monitor`` (auto-reset, episode returns) and ``VecNormalize`` for
  rewards; SB3 ``RolloutBuffer`` for storage and GAE (``compute_returns_and_advantage``);
  SB3's logger (TensorBoard).
- Rollout: ``n_envs`` environments step ``n_steps`` times; the policy state carries across
  steps and rows whose episode just began are reset (``reset_where`` with the initial state),
  exactly as the agent protocol does everywhere else. Time-limit truncations bootstrap
  from the critic, like SB3's PPO.
- Update: for ``n_epochs``, minibatches of ``minibatch_envs`` whole environment sequences
  re-run the policy from the state they had when the rollout began (detached: truncated
  BPTT at rollout boundaries), with the same resets, so the recomputed log-probabilities equal
  the stored ones before the first step (tested), and PPO's clipped loss backpropagates
  through every simulation step and plastic update of the rollout.

The policy mean is the SNN's tanh output in [-1, 1] (scaled to the action bounds like every
agent here); its best checkpoint has the same format as the ES trainer's, so ``evaluate``,
``robustness`` and ``view`` run it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents import Agent
from plasticagents.state import map_state, reset_where
from plasticagents.training.builders import (
    build_policy,
    env_maker,
    env_spaces,
    load_network,
    policy_payload,
)
from plasticagents.training.config import ExperimentConfig, RecurrentPPOConfig
from plasticagents.training.loop import Candidate, TrainerBase
from plasticagents.training.rollout import EnvPool, NormalizedAgent, RunningNorm, rollout

__all__ = ["METRIC_COLUMNS", "RecurrentActorCritic", "Trainer", "collect_rollout", "load_model"]

METRIC_COLUMNS = [
    "iteration",
    "env_steps",
    "wall_time",
    "mean_return",
    "policy_loss",
    "value_loss",
    "approx_kl",
    "clip_fraction",
    "std",
    "spikes_per_step",
    "eval_return",
]


class RecurrentActorCritic(nn.Module):
    """The configured policy network as a Gaussian actor, plus an MLP critic on observations."""

    def __init__(
        self, cfg: ExperimentConfig, obs_dim: int, act_dim: int, t: RecurrentPPOConfig
    ) -> None:
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
        return self.actor.initial_state(batch)

    def step(self, obs: Tensor, state: Any, episode_start: Tensor) -> tuple[Tensor, Any]:
        """Mean action ``[B, A]`` for one step; rows flagged in ``episode_start`` restart."""
        if bool(episode_start.any()):
            fresh = self.actor.initial_state(obs.shape[0])
            state = reset_where(state, episode_start, fresh)
        return self.actor(obs, state)

    def value(self, obs: Tensor) -> Tensor:
        return self.critic(obs).squeeze(-1)

    def distribution(self, mean: Tensor) -> torch.distributions.Normal:
        return torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))


def _select(state: Any, rows: Tensor) -> Any:
    return map_state(lambda leaf: leaf[rows], state)


def _spikes(state: Any) -> float:
    spikes = getattr(state, "spikes", None)
    return float(spikes.sum(-1).mean()) if spikes is not None else 0.0


def collect_rollout(
    model: RecurrentActorCritic,
    venv: Any,
    buffer: Any,
    carry: dict[str, Any],
    obs_norm: RunningNorm,
    low: np.ndarray,
    high: np.ndarray,
    gamma: float,
    generator: torch.Generator,
) -> dict[str, Any]:
    """Fill ``buffer`` with ``buffer.buffer_size`` steps of every env.

    ``carry`` holds what continues across rollouts: ``obs`` (raw), ``episode_start`` and the
    policy ``state``. Returns the state at the rollout's start (for the update), finished
    episodes' returns and the raw observations seen (to update ``obs_norm`` afterwards).
    """
    buffer.reset()
    start_state = map_state(lambda x: x.detach().clone(), carry["state"])
    start_flags = carry["episode_start"].copy()
    returns, raw_obs, spikes = [], [], 0.0
    state, obs, starts = carry["state"], carry["obs"], carry["episode_start"]
    with torch.no_grad():
        for _ in range(buffer.buffer_size):
            raw_obs.append(obs)
            x = torch.as_tensor(obs_norm.normalize(obs), dtype=torch.float32)
            mean, state = model.step(x, state, torch.as_tensor(starts))
            spikes += _spikes(state)
            dist = model.distribution(mean)
            action = mean + dist.stddev * torch.randn(mean.shape, generator=generator)
            log_prob = dist.log_prob(action).sum(-1)
            value = model.value(x)
            env_action = low + (action.clamp(-1, 1).numpy() + 1.0) * (high - low) / 2
            new_obs, rewards, dones, infos = venv.step(env_action)
            for k, info in enumerate(infos):
                if "episode" in info:
                    returns.append(float(info["episode"]["r"]))
                if dones[k] and info.get("TimeLimit.truncated", False):
                    # the episode was cut, not ended: bootstrap like SB3's PPO
                    terminal = obs_norm.normalize(info["terminal_observation"][None])
                    v = model.value(torch.as_tensor(terminal, dtype=torch.float32))
                    rewards[k] += gamma * float(v[0])
            buffer.add(x.numpy(), action.numpy(), rewards, starts, value, log_prob)
            obs, starts = new_obs, dones.astype(bool)
        last = model.value(torch.as_tensor(obs_norm.normalize(obs), dtype=torch.float32))
        buffer.compute_returns_and_advantage(last_values=last, dones=starts)
    carry.update(state=state, obs=obs, episode_start=starts)
    return {
        "start_state": start_state,
        "start_flags": start_flags,
        "returns": returns,
        "raw_obs": np.concatenate(raw_obs),
        "spikes_per_step": spikes / buffer.buffer_size,
    }


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


def _update(model, optimizer, buffer, rollout_info, t: RecurrentPPOConfig, rng) -> dict[str, float]:
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


def _vec_env(cfg: ExperimentConfig, n: int, seed: int, gamma: float):
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    maker = env_maker(cfg.env)
    env = DummyVecEnv([lambda: Monitor(maker()) for _ in range(n)])
    env.seed(seed)
    return VecNormalize(env, norm_obs=False, norm_reward=True, gamma=gamma)


def _evaluate(model, obs_norm, pool, low, high, seed: int) -> float:
    agent = NormalizedAgent(Agent(model.actor, low, high), obs_norm)
    seeds = [int(s) for s in np.random.SeedSequence([seed, 10**6]).generate_state(len(pool))]
    return float(rollout(agent, pool, seeds).returns.mean())


class Trainer(TrainerBase):
    """Recurrent PPO in the trainer loop: each step collects ``n_envs x n_steps`` env steps
    with the state carried across them and runs ``n_epochs`` of BPTT updates; the actor is
    evaluated every ``eval_every`` iterations on held-out episodes (best candidate)."""

    name, unit = "rppo", "iteration"
    columns: ClassVar[list[str]] = [
        c for c in METRIC_COLUMNS if c not in ("iteration", "wall_time")
    ]
    log_keys: ClassVar[dict[str, str]] = {
        "env_steps": "steps",
        "mean_return": "return",
        "approx_kl": "kl",
        "std": "std",
        "eval_return": "eval",
    }

    def __init__(self, cfg: ExperimentConfig, log: Callable[[str], None]) -> None:
        from stable_baselines3.common.buffers import RolloutBuffer

        t = self.t = cfg.trainer
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.obs_dim, self.act_dim, low, high = env_spaces(cfg.env)
        self.low, self.high = np.asarray(low, np.float32), np.asarray(high, np.float32)
        self.model = RecurrentActorCritic(cfg, self.obs_dim, self.act_dim, t)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=t.lr, eps=1e-5)
        self.obs_norm = RunningNorm(self.obs_dim)
        self.venv = _vec_env(cfg, t.n_envs, cfg.seed, t.gamma)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.per_iteration = t.n_envs * t.n_steps
        self.total = -(-t.total_timesteps // self.per_iteration)
        self.checkpoint_every = t.checkpoint_every
        self.buffer = RolloutBuffer(
            t.n_steps,
            self.venv.observation_space,
            self.venv.action_space,
            device="cpu",
            gae_lambda=t.gae_lambda,
            gamma=t.gamma,
            n_envs=t.n_envs,
        )
        self.eval_pool = EnvPool([env_maker(cfg.env)] * max(t.eval_episodes, 1), threads=2)
        self.carry: dict[str, Any] | None = None
        self.rng = np.random.default_rng([cfg.seed, 0])

    def describe(self) -> str:
        cfg, t = self.cfg, self.t
        kind = cfg.agent.kind
        if kind == "snn":
            p = cfg.agent.plasticity
            kind += f" ({'static' if p is None else p.rule})"
        return (
            f"{cfg.name}: {cfg.env.id}, agent {kind}, {t.n_envs} envs x {t.n_steps} steps per "
            f"iteration, {t.total_timesteps:,d} steps"
        )

    def state(self) -> dict[str, Any]:
        ret = self.venv.ret_rms
        return {
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "obs_norm": self.obs_norm.state_dict(),
            "ret_rms": {"mean": ret.mean, "var": ret.var, "count": float(ret.count)},
            "rng": self.generator.get_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_norm = RunningNorm.from_state(state["obs_norm"])
        ret = self.venv.ret_rms
        ret.mean, ret.var = np.array(state["ret_rms"]["mean"]), np.array(state["ret_rms"]["var"])
        ret.count = state["ret_rms"]["count"]
        self.generator.set_state(state["rng"])

    def _start(self, it: int) -> None:
        first_obs = self.venv.reset()
        if self.obs_norm.count == 0:
            self.obs_norm.update(first_obs)
        n = self.t.n_envs
        self.carry = {
            "obs": first_obs,
            "episode_start": np.ones(n, dtype=bool),
            "state": self.model.initial_state(n),
        }
        self.rng = np.random.default_rng([self.cfg.seed, it])

    def step(self, it: int) -> dict[str, Any]:
        t = self.t
        if self.carry is None:
            self._start(it)
        info = collect_rollout(
            self.model,
            self.venv,
            self.buffer,
            self.carry,
            self.obs_norm,
            self.low,
            self.high,
            t.gamma,
            self.generator,
        )
        stats = _update(self.model, self.optimizer, self.buffer, info, t, self.rng)
        self.obs_norm.update(info["raw_obs"])  # frozen during the rollout and its update
        evaluate = t.eval_every and ((it + 1) % t.eval_every == 0 or it == self.total - 1)
        eval_return = None
        if evaluate:
            eval_return = _evaluate(
                self.model, self.obs_norm, self.eval_pool, self.low, self.high, self.cfg.seed
            )
        return {
            "env_steps": (it + 1) * self.per_iteration,
            "mean_return": float(np.mean(info["returns"])) if info["returns"] else None,
            "policy_loss": stats["pg"],
            "value_loss": stats["vf"],
            "approx_kl": stats["kl"],
            "clip_fraction": stats["clip"],
            "std": float(self.model.log_std.detach().exp().mean()),
            "spikes_per_step": info["spikes_per_step"],
            "eval_return": eval_return,
        }

    def select(self, it: int, row: dict[str, Any]) -> Candidate | None:
        return None if row["eval_return"] is None else Candidate(row["eval_return"], self.policy())

    def policy(self) -> dict[str, Any]:
        return policy_payload(
            self.model.actor,
            obs_norm=self.obs_norm.state_dict(),
            obs_dim=self.obs_dim,
            act_dim=self.act_dim,
        )

    def close(self) -> None:
        self.venv.close()
        self.eval_pool.close()


load_model = load_network  # the actor is the configured network, as ES trains it
