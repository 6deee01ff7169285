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

import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents import Agent
from plasticagents.population import parameters_to_vector
from plasticagents.state import map_state, reset_where
from plasticagents.training.builders import build_policy, env_maker, env_spaces
from plasticagents.training.config import ExperimentConfig, RecurrentPPOConfig, to_dict
from plasticagents.training.rollout import EnvPool, NormalizedAgent, RunningNorm, rollout
from plasticagents.training.run import RunDir

__all__ = ["METRIC_COLUMNS", "RecurrentActorCritic", "collect_rollout", "train_recurrent_ppo"]

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


def _policy_checkpoint(cfg, model, obs_norm, iteration, score, obs_dim, act_dim) -> dict:
    names = [n for n, p in model.actor.named_parameters() if p.requires_grad]
    return {
        "kind": "policy",
        "trainer": "recurrent_ppo",
        "vector": parameters_to_vector(model.actor, names).detach().clone(),
        "param_names": names,
        "obs_norm": obs_norm.state_dict(),
        "generation": iteration,
        "score": score,
        "config": to_dict(cfg),
        "obs_dim": obs_dim,
        "act_dim": act_dim,
    }


def _evaluate(model, obs_norm, pool, low, high, seed: int) -> float:
    agent = NormalizedAgent(Agent(model.actor, low, high), obs_norm)
    seeds = [int(s) for s in np.random.SeedSequence([seed, 10**6]).generate_state(len(pool))]
    return float(rollout(agent, pool, seeds).returns.mean())


def train_recurrent_ppo(
    cfg: ExperimentConfig,
    run: RunDir,
    resume: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    tensorboard: bool = True,
) -> dict[str, Any]:
    """Train, writing metrics and checkpoints into ``run``; returns the last checkpoint."""
    from stable_baselines3.common.buffers import RolloutBuffer

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t = cfg.trainer
    if not isinstance(t, RecurrentPPOConfig):
        raise ValueError(f"train_recurrent_ppo needs trainer.kind 'recurrent_ppo', got {t.kind!r}")
    for name in ("total_timesteps", "n_envs", "n_steps", "minibatch_envs", "n_epochs"):
        if getattr(t, name) < 1:
            raise ValueError(f"trainer.{name} must be >= 1, got {getattr(t, name)!r}")
    torch.manual_seed(cfg.seed)
    obs_dim, act_dim, low, high = env_spaces(cfg.env)
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    model = RecurrentActorCritic(cfg, obs_dim, act_dim, t)
    optimizer = torch.optim.Adam(model.parameters(), lr=t.lr, eps=1e-5)
    obs_norm = RunningNorm(obs_dim)
    venv = _vec_env(cfg, t.n_envs, cfg.seed, t.gamma)
    generator = torch.Generator().manual_seed(cfg.seed)
    start, env_steps, wall0, best = 0, 0, 0.0, -math.inf
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        obs_norm = RunningNorm.from_state(resume["obs_norm"])
        venv.ret_rms = resume["ret_rms"]
        generator.set_state(resume["rng"])
        start, env_steps = resume["iteration"] + 1, resume["env_steps"]
        wall0, best = resume["wall_time"], resume["best"]
        run.truncate_metrics("iteration", resume["iteration"])
    rng = np.random.default_rng([cfg.seed, start])
    per_iteration = t.n_envs * t.n_steps
    iterations = -(-t.total_timesteps // per_iteration)
    if start >= iterations:
        log(f"[rppo] {run.path} already reached {env_steps:,d} of {t.total_timesteps:,d} steps")
        return resume or {}
    buffer = RolloutBuffer(
        t.n_steps,
        venv.observation_space,
        venv.action_space,
        device="cpu",
        gae_lambda=t.gae_lambda,
        gamma=t.gamma,
        n_envs=t.n_envs,
    )
    first_obs = venv.reset()
    if obs_norm.count == 0:
        obs_norm.update(first_obs)
    carry = {
        "obs": first_obs,
        "episode_start": np.ones(t.n_envs, dtype=bool),
        "state": model.initial_state(t.n_envs),
    }
    eval_pool = EnvPool([env_maker(cfg.env)] * t.eval_episodes, threads=2)
    logger = None
    if tensorboard:
        from stable_baselines3.common.logger import configure

        logger = configure(str(run.path / "tb"), ["tensorboard"])
    kind = cfg.agent.kind
    if kind == "snn":
        kind += f" ({'static' if cfg.agent.plasticity is None else cfg.agent.plasticity.rule})"
    log(
        f"[rppo] {cfg.name}: {cfg.env.id}, agent {kind}, "
        f"{t.n_envs} envs x {t.n_steps} steps per iteration, iterations {start}..{iterations - 1}"
        f" -> {run.path}"
    )
    clock = time.perf_counter()
    state: dict[str, Any] = {}
    try:
        for it in range(start, iterations):
            info = collect_rollout(
                model, venv, buffer, carry, obs_norm, low, high, t.gamma, generator
            )
            stats = _update(model, optimizer, buffer, info, t, rng)
            obs_norm.update(info["raw_obs"])  # frozen during the rollout and its update
            env_steps += per_iteration
            last = it == iterations - 1
            eval_return = None
            if t.eval_every and ((it + 1) % t.eval_every == 0 or last):
                eval_return = _evaluate(model, obs_norm, eval_pool, low, high, cfg.seed)
                if eval_return > best:
                    best = eval_return
                    run.save_checkpoint(
                        "best",
                        _policy_checkpoint(cfg, model, obs_norm, it, best, obs_dim, act_dim),
                    )
            row = {
                "iteration": it,
                "env_steps": env_steps,
                "wall_time": wall0 + time.perf_counter() - clock,
                "mean_return": float(np.mean(info["returns"])) if info["returns"] else None,
                "policy_loss": stats["pg"],
                "value_loss": stats["vf"],
                "approx_kl": stats["kl"],
                "clip_fraction": stats["clip"],
                "std": float(model.log_std.detach().exp().mean()),
                "spikes_per_step": info["spikes_per_step"],
                "eval_return": eval_return,
            }
            run.append_metrics(row, METRIC_COLUMNS)
            if logger is not None:
                for key, value in row.items():
                    if key != "iteration" and value is not None:
                        logger.record(f"rppo/{key}", value)
                logger.dump(env_steps)
            ret = f"{row['mean_return']:9.1f}" if info["returns"] else "      n/a"
            log(
                f"[rppo] it {it:4d}  steps {env_steps:>9,d}  return {ret}  kl "
                f"{stats['kl']:.4f}  std {row['std']:.3f}  "
                + (f"eval {eval_return:9.1f}  " if eval_return is not None else "")
                + f"{row['wall_time']:7.1f}s"
            )
            state = {
                **_policy_checkpoint(cfg, model, obs_norm, it, None, obs_dim, act_dim),
                "kind": "recurrent_ppo",
                "iteration": it,
                "env_steps": env_steps,
                "wall_time": row["wall_time"],
                "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "ret_rms": venv.ret_rms,
                "rng": generator.get_state(),
                "best": best,
            }
            if (it + 1 - start) % t.checkpoint_every == 0 or last:
                run.save_checkpoint("latest", state)
    finally:
        venv.close()
        eval_pool.close()
        if logger is not None:
            logger.close()
    if state and best == -math.inf:
        run.save_checkpoint(
            "best",
            _policy_checkpoint(cfg, model, obs_norm, state["iteration"], None, obs_dim, act_dim),
        )
    return state
