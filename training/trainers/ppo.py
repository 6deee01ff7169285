"""SB3 PPO in the trainer loop (``trainer.kind: ppo``): spiking or MLP policies
(:mod:`plasticagents.training.sb3`), one ``learn`` call per loop step, checkpoints in the
project's format (the model is rebuilt from the config; no SB3 zip is ever read).

One loop step ("iteration") is one PPO rollout of ``n_envs x n_steps`` env steps followed by
its update (``n_epochs`` over minibatches of ``batch_size``); the run has
``ceil(total_timesteps / (n_envs * n_steps))`` iterations, so it may overshoot
``total_timesteps`` by less than one rollout. The envs are a ``DummyVecEnv`` of
``Monitor``-wrapped envs (seeded ``seed, seed + 1, ...``) inside ``VecNormalize``
(observations and rewards, ``gamma`` as the trainer's).

``metrics.csv`` columns, one row per iteration:

``iteration``        index of the iteration (0-based)
``env_steps``        SB3's ``num_timesteps``: training env steps so far, all envs
``wall_time``        seconds since the run started (summed over resumed sessions)
``mean_return``      mean raw return (``Monitor`` sits inside ``VecNormalize``) of the last
                     finished training episodes (SB3's window of up to 100), stochastic
                     actions; empty until an episode has ended
``spikes_per_step``  hidden spikes of the SNN extractor at the rollout's last step, mean over
                     envs: a snapshot, not a rollout average (0 for an MLP policy)
``eval_return``      mean return of the updated policy on ``eval_episodes`` held-out
                     episodes (deterministic actions), every ``eval_every`` iterations and at
                     the last; empty otherwise

Checkpoints. ``policy``: ``state_dict`` (SB3's whole policy: SNN features extractor or
MLP, actor and critic heads, ``log_std``), ``obs_rms`` (``VecNormalize``'s observation
``mean`` / ``var`` / ``count``), ``obs_dim``, ``act_dim``. ``trainer_state``: ``optimizer``
(Adam), ``ret_rms`` (the return statistics that scale rewards), ``num_timesteps``,
``n_updates``, and ``policy`` (the payload above). Resume rebuilds the model from the config
and restores all of these; the envs then start fresh episodes and SB3's random streams
restart from the seed, so a resumed run continues training but does not repeat an
uninterrupted run step for step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

from plasticagents.training.builders import env_maker, env_spaces
from plasticagents.training.config import ExperimentConfig
from plasticagents.training.loop import Candidate, TrainerBase
from plasticagents.training.rollout import EnvPool, rollout
from plasticagents.training.run import RunDir
from plasticagents.training.sb3 import SB3Agent, make_model

__all__ = ["METRIC_COLUMNS", "Trainer", "load_model"]

METRIC_COLUMNS = [
    "iteration",
    "wall_time",
    "env_steps",
    "mean_return",
    "spikes_per_step",
    "eval_return",
]


def _vec_env(cfg: ExperimentConfig, n: int, seed: int):
    """``n`` configured envs, each in SB3's ``Monitor`` (episode returns and lengths for
    ``ep_info_buffer``), in a ``DummyVecEnv`` whose next reset seeds env ``i`` with
    ``seed + i``.
    """
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    maker = env_maker(cfg.env)
    env = DummyVecEnv([lambda: Monitor(maker()) for _ in range(n)])
    env.seed(seed)
    return env


def _rms_state(rms: Any) -> dict[str, Any]:
    """An SB3 ``RunningMeanStd`` as checkpointable data: ``mean``, ``var`` (arrays), ``count``."""
    return {"mean": rms.mean, "var": rms.var, "count": float(rms.count)}


def _rms_from(state: dict[str, Any]) -> Any:
    """The inverse of :func:`_rms_state`: a fresh ``RunningMeanStd`` with those statistics."""
    from stable_baselines3.common.running_mean_std import RunningMeanStd

    rms = RunningMeanStd(shape=np.shape(state["mean"]))
    rms.mean, rms.var, rms.count = np.array(state["mean"]), np.array(state["var"]), state["count"]
    return rms


class _RolloutEnd(BaseCallback):
    """Keeps the spike count of the policy's last acting step (a rollout's, before the update
    runs the extractor on training batches)."""

    spikes = 0.0

    def _on_step(self) -> bool:
        """Never stops training (SB3 stops when a callback returns ``False``)."""
        return True

    def _on_rollout_end(self) -> None:
        """Read the extractor's spike count after collection, before SB3's update overwrites it."""
        self.spikes = getattr(self.model.policy.features_extractor, "last_spikes", 0.0)


class Trainer(TrainerBase):
    """SB3 PPO in the trainer loop: each step is one ``learn`` call of ``n_envs x n_steps``
    env steps (one rollout, one update), so resume, metrics, checkpoints and best tracking are
    the loop's. The policy is evaluated after its update on held-out episodes through the
    project's rollout engine (observation statistics frozen); an evaluated policy is the
    ``best`` candidate."""

    name, unit = "ppo", "iteration"
    columns: ClassVar[list[str]] = METRIC_COLUMNS
    log_keys: ClassVar[dict[str, str]] = {
        "env_steps": "steps",
        "mean_return": "return",
        "eval_return": "eval",
    }
    build_model = staticmethod(make_model)  # (cfg, vec env) -> the SB3 model (subclasses swap)
    agent_class = SB3Agent  # (model, obs_rms) -> the predict-protocol agent that evaluates it

    def __init__(self, cfg: ExperimentConfig, log: Callable[[str], None]) -> None:
        """Build the normalised vector env, the SB3 PPO model (:func:`~plasticagents.training.sb3.
        make_model`, seeded with ``cfg.seed``) and, with ``eval_every`` and ``eval_episodes``
        both set, a pool of ``eval_episodes`` envs for the evaluations.

        Raises:
            ValueError: an unknown ``trainer.critic``.
        """
        t = self.t = cfg.trainer
        self.cfg = cfg
        self.obs_dim, self.act_dim, _, _ = env_spaces(cfg.env)
        self.env = VecNormalize(_vec_env(cfg, t.n_envs, cfg.seed), gamma=t.gamma)
        self.model = self.build_model(cfg, self.env)
        self.per_iteration = t.n_steps * t.n_envs
        self.total = -(-t.total_timesteps // self.per_iteration)
        self.checkpoint_every = t.checkpoint_every
        self.callback = _RolloutEnd()
        self.fresh_start = False
        self.eval_pool = (
            EnvPool([env_maker(cfg.env)] * t.eval_episodes, threads=2)
            if t.eval_every and t.eval_episodes
            else None
        )

    def describe(self) -> str:
        """The header line: env, agent kind, envs x steps per iteration, budget."""
        cfg, t = self.cfg, self.t
        return (
            f"{cfg.name}: {cfg.env.id}, agent {cfg.agent.kind}, {t.n_envs} envs x {t.n_steps} "
            f"steps per iteration, {t.total_timesteps:,d} steps"
        )

    def fresh(self) -> None:
        """Mark the next ``learn`` call as the run's first: SB3 then zeroes its step counter
        (a resumed run keeps the restored one). Later calls continue SB3's episodes across
        iterations instead of resetting the envs."""
        self.fresh_start = True

    def bind(self, run: RunDir, tensorboard: bool) -> None:
        """Point SB3's logger at ``run/tb/sb3`` so its losses, KL and clip fraction are in
        TensorBoard beside the loop's metrics (nothing without ``tensorboard``).
        """
        if tensorboard:  # SB3's own training statistics (losses, KL, ...) beside ours
            from stable_baselines3.common.logger import configure

            self.model.set_logger(configure(str(run.path / "tb" / "sb3"), ["tensorboard"]))

    def state(self) -> dict[str, Any]:
        """Resume state: optimizer, return statistics, counters and the policy payload (module
        docstring).
        """
        return {
            "optimizer": self.model.policy.optimizer.state_dict(),
            "ret_rms": _rms_state(self.env.ret_rms),
            "num_timesteps": self.model.num_timesteps,
            "n_updates": self.model._n_updates,
            "policy": self.policy(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state`: policy weights, observation and return statistics, Adam
        and SB3's counters (``env_steps`` continues from the restored ``num_timesteps``)."""
        self.model.policy.load_state_dict(state["policy"]["state_dict"])
        self.env.obs_rms = _rms_from(state["policy"]["obs_rms"])
        self.model.policy.optimizer.load_state_dict(state["optimizer"])
        self.env.ret_rms = _rms_from(state["ret_rms"])
        self.model.num_timesteps = state["num_timesteps"]
        self.model._n_updates = state["n_updates"]

    def step(self, it: int) -> dict[str, Any]:
        """One iteration: ``learn`` exactly one rollout and its update, then, when due, evaluate.

        The evaluation runs after the update on purpose: the policy it scores is the one
        :meth:`policy` returns now, so the ``best`` candidate's score and weights belong
        together (scoring before the update would pair the previous weights' return with the new
        weights). The ``mean_return`` column, by contrast, lags: its episodes were played by
        earlier policies.
        """
        t = self.t
        self.model.learn(
            total_timesteps=self.per_iteration,
            callback=self.callback,
            reset_num_timesteps=self.fresh_start,
        )
        self.fresh_start = False
        returns = [info["r"] for info in self.model.ep_info_buffer]
        evaluate = t.eval_every and ((it + 1) % t.eval_every == 0 or it == self.total - 1)
        return {
            "env_steps": self.model.num_timesteps,
            "mean_return": float(np.mean(returns)) if returns else None,
            "spikes_per_step": self.callback.spikes,
            "eval_return": self._evaluate() if evaluate and self.eval_pool else None,
        }

    def _evaluate(self) -> float:
        """Mean return of the current policy on one episode per evaluation env, deterministic
        (the Gaussian mean), through the project's rollout engine with ``VecNormalize``'s
        observation statistics read, not updated. The reset seeds derive from
        ``(seed, 10**6)``: the same held-out episodes at every evaluation, so successive
        ``eval_return`` values compare policies, not episodes.
        """
        agent = self.agent_class(self.model, self.env.obs_rms)
        seeds = [
            int(s)
            for s in np.random.SeedSequence([self.cfg.seed, 10**6]).generate_state(
                len(self.eval_pool)
            )
        ]
        return float(rollout(agent, self.eval_pool, seeds).returns.mean())

    def select(self, it: int, row: dict[str, Any]) -> Candidate | None:
        """The updated policy, scored by ``eval_return``, in evaluated iterations only."""
        return None if row["eval_return"] is None else Candidate(row["eval_return"], self.policy())

    def policy(self) -> dict[str, Any]:
        """The policy payload: SB3's policy state dict, observation statistics, env sizes."""
        return {
            "state_dict": dict(self.model.policy.state_dict()),
            "obs_rms": _rms_state(self.env.obs_rms),
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
        }

    def close(self) -> None:
        """Close the training envs and the evaluation pool."""
        self.env.close()
        if self.eval_pool is not None:
            self.eval_pool.close()


def load_model(cfg: ExperimentConfig, policy: dict[str, Any]) -> tuple[nn.Module, SB3Agent]:
    """The SB3 policy of a PPO checkpoint, rebuilt from the config (no SB3 zip is unpickled),
    and its predict-protocol agent with the saved observation statistics."""
    env = _vec_env(cfg, 1, cfg.seed)
    try:
        model = make_model(cfg, env)
    finally:
        env.close()
    model.policy.load_state_dict(policy["state_dict"])
    return model.policy, SB3Agent(model, _rms_from(policy["obs_rms"]))
