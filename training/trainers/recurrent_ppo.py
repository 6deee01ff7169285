"""PPO for recurrent, plastic spiking policies (``trainer.kind: recurrent_ppo``).

sb3-contrib's RecurrentPPO only knows LSTM states; a plastic SNN's state is a nest of
membranes, traces and ``[I, N]`` fast weights per environment. This trainer keeps SB3's
pieces where they fit, reading top to bottom like a CleanRL script:

- The project's rollout engine (:func:`~plasticagents.training.rollout.collect`: fixed-horizon
  collection with autoreset, DummyVecEnv's seeding) and SB3 ``VecNormalize``'s reward
  scaling (:class:`~plasticagents.training.actor_critic.ReturnNorm`); SB3 ``RolloutBuffer``
  for storage and GAE (``compute_returns_and_advantage``).
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

``metrics.csv`` columns, one row per iteration (one rollout and its update):

``iteration``        index of the iteration (0-based)
``env_steps``        ``(iteration + 1) * n_envs * n_steps`` training env steps
``wall_time``        seconds since the run started (summed over resumed sessions)
``mean_return``      mean raw return of the episodes that ended during this rollout
                     (sampled actions); empty when none ended
``policy_loss``      PPO's clipped surrogate loss, mean over the update's minibatches
``value_loss``       the critic's squared error against the GAE returns (scaled rewards)
``approx_kl``        ``mean((ratio - 1) - log ratio)``, an estimate of KL(old || new)
``clip_fraction``    share of steps whose probability ratio left ``1 +- clip_range``
``std``              mean standard deviation of the Gaussian actor, in the [-1, 1] units of
                     the tanh output
``spikes_per_step``  hidden spikes per env step, mean over the rollout's steps and envs
``eval_return``      mean return of the deterministic actor (its mean action) on
                     ``eval_episodes`` held-out episodes, every ``eval_every`` iterations
                     and at the last; empty otherwise

Checkpoints. ``policy``: ``params`` (the actor network's trained parameters; ``log_std``
and the critic are left out, as acting deterministically needs neither), ``obs_norm``,
``obs_dim``, ``act_dim``: the ES format. ``trainer_state``: ``model`` (the whole
actor-critic: actor, ``log_std``, critic), ``optimizer`` (Adam), ``obs_norm``, ``ret_rms``
(the reward-scaling statistics), ``rng`` (the action-sampling generator). Not saved: the
envs' episodes in progress with the policy state carried into them, the per-env discounted
returns of the reward scaling, and the minibatch-order generator; a resumed run therefore
starts fresh episodes (reset with the run's first seeds) and reseeds the minibatch order
from ``(seed, iteration)``: it continues training, but does not repeat an uninterrupted
run step for step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from plasticagents import Agent
from plasticagents.training.actor_critic import (
    RecurrentActorCritic,
    ReturnNorm,
    collect_rollout,
    ppo_update,
)
from plasticagents.training.builders import env_maker, env_spaces, load_network, policy_payload
from plasticagents.training.config import ExperimentConfig
from plasticagents.training.loop import Candidate, TrainerBase
from plasticagents.training.rollout import (
    Carry,
    EnvPool,
    NormalizedAgent,
    RunningNorm,
    rollout,
)

__all__ = ["METRIC_COLUMNS", "Trainer", "load_model"]

METRIC_COLUMNS = [
    "iteration",
    "wall_time",
    "env_steps",
    "mean_return",
    "policy_loss",
    "value_loss",
    "approx_kl",
    "clip_fraction",
    "std",
    "spikes_per_step",
    "eval_return",
]


def _evaluate(model, obs_norm, pool, low, high, seed: int) -> float:
    """Mean return of the actor's mean action (no sampling) on one episode per slot of
    ``pool``, observations through the frozen ``obs_norm``. The reset seeds derive from
    ``(seed, 10**6)``: the same held-out episodes at every evaluation, distinct from the
    training envs' seeds.
    """
    agent = NormalizedAgent(Agent(model.actor, low, high), obs_norm)
    seeds = [int(s) for s in np.random.SeedSequence([seed, 10**6]).generate_state(len(pool))]
    return float(rollout(agent, pool, seeds).returns.mean())


class Trainer(TrainerBase):
    """Recurrent PPO in the trainer loop: each step collects ``n_envs x n_steps`` env steps
    with the state carried across them and runs ``n_epochs`` of BPTT updates; the actor is
    evaluated every ``eval_every`` iterations on held-out episodes (best candidate)."""

    name, unit = "rppo", "iteration"
    columns: ClassVar[list[str]] = METRIC_COLUMNS
    log_keys: ClassVar[dict[str, str]] = {
        "env_steps": "steps",
        "mean_return": "return",
        "approx_kl": "kl",
        "std": "std",
        "eval_return": "eval",
    }

    def __init__(self, cfg: ExperimentConfig, log: Callable[[str], None]) -> None:
        """Build the actor-critic from ``cfg.seed``, Adam (``eps=1e-5``, as SB3's PPO), the
        observation normaliser, ``n_envs`` training envs (two physics threads), the reward
        scaling, the action-sampling generator, SB3's ``RolloutBuffer`` (``gamma``,
        ``gae_lambda``) and ``eval_episodes`` evaluation envs. The envs are first reset by
        :meth:`step`, not here.
        """
        from stable_baselines3.common.buffers import RolloutBuffer

        t = self.t = cfg.trainer
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.obs_dim, self.act_dim, low, high = env_spaces(cfg.env)
        self.low, self.high = np.asarray(low, np.float32), np.asarray(high, np.float32)
        self.model = RecurrentActorCritic(cfg, self.obs_dim, self.act_dim, t)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=t.lr, eps=1e-5)
        self.obs_norm = RunningNorm(self.obs_dim)
        self.pool = EnvPool([env_maker(cfg.env)] * t.n_envs, threads=2)
        self.reward_norm = ReturnNorm(t.n_envs, t.gamma)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.per_iteration = t.n_envs * t.n_steps
        self.total = -(-t.total_timesteps // self.per_iteration)
        self.checkpoint_every = t.checkpoint_every
        self.buffer = RolloutBuffer(
            t.n_steps,
            self.pool.observation_space,
            self.pool.action_space,
            device="cpu",
            gae_lambda=t.gae_lambda,
            gamma=t.gamma,
            n_envs=t.n_envs,
        )
        self.eval_pool = EnvPool([env_maker(cfg.env)] * max(t.eval_episodes, 1), threads=2)
        self.carry: Carry | None = None
        self.rng = np.random.default_rng([cfg.seed, 0])

    def describe(self) -> str:
        """The header line: env, agent and plasticity rule, envs x steps per iteration, budget."""
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
        """Resume state: model, Adam, normaliser, reward scaling, sampling RNG (module
        docstring).
        """
        return {
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "obs_norm": self.obs_norm.state_dict(),
            "ret_rms": self.reward_norm.state_dict(),
            "rng": self.generator.get_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state` onto the freshly built model, optimizer and statistics."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.obs_norm = RunningNorm.from_state(state["obs_norm"])
        self.reward_norm.load_state_dict(state["ret_rms"])
        self.generator.set_state(state["rng"])

    def _start(self, it: int) -> None:
        """Reset the training envs with seeds ``seed + i`` (``DummyVecEnv.seed``'s scheme), give an
        empty normaliser the reset observations (so the first rollout is not on raw inputs), and
        seed the minibatch order from ``(seed, it)``. Called on the first step of a session.
        """
        seeds = [self.cfg.seed + i for i in range(self.t.n_envs)]  # DummyVecEnv.seed's scheme
        self.carry, _ = Carry.reset(self.pool, seeds, dtype=self.pool.observation_space.dtype)
        if self.obs_norm.count == 0:
            self.obs_norm.update(self.carry.obs)
        self.rng = np.random.default_rng([self.cfg.seed, it])

    def step(self, it: int) -> dict[str, Any]:
        """One iteration: collect ``n_steps`` of every env with the state carried on from the last
        rollout, run :func:`~plasticagents.training.actor_critic.ppo_update`, then fold the
        rollout's raw observations into the normaliser. The normaliser changes only here, after
        the update, so a rollout's inputs, truncation bootstraps and last values all share one
        normalisation. Evaluates the updated actor (with the updated normaliser) when due.
        Returns the metrics row.
        """
        t = self.t
        if self.carry is None:
            self._start(it)
        info = collect_rollout(
            self.model,
            self.pool,
            self.buffer,
            self.carry,
            self.obs_norm,
            self.reward_norm,
            self.low,
            self.high,
            self.generator,
        )
        self.carry = info["carry"]
        stats = ppo_update(self.model, self.optimizer, self.buffer, info, t, self.rng)
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
        """The updated actor, scored by ``eval_return``, in evaluated iterations only."""
        return None if row["eval_return"] is None else Candidate(row["eval_return"], self.policy())

    def policy(self) -> dict[str, Any]:
        """The actor as an ES-format payload: parameters, normaliser state, env sizes."""
        return policy_payload(
            self.model.actor,
            obs_norm=self.obs_norm.state_dict(),
            obs_dim=self.obs_dim,
            act_dim=self.act_dim,
        )

    def close(self) -> None:
        """Close the training and evaluation pools."""
        self.pool.close()
        self.eval_pool.close()


load_model = load_network  # the actor is the configured network, as ES trains it
