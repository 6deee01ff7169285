"""The LSTM baseline (``trainer.kind: lstm_ppo``): sb3-contrib's ``RecurrentPPO`` with its
``MlpLstmPolicy`` in the trainer loop. With ``env.inputs: [action, reward]`` the LSTM sees its
previous action and reward beside the observation: the RL² recipe, the baseline a meta-RL
reader expects beside a plastic network. Everything outside the update is PPO's
(:mod:`~plasticagents.training.trainers.ppo`): one ``learn`` call per loop step, a
``DummyVecEnv`` of ``Monitor``-wrapped envs (seeded ``seed, seed + 1, ...``) in
``VecNormalize`` (observations and rewards), evaluation after the update through the
project's rollout engine, and checkpoints in the project's format (the model is rebuilt from
the config; no SB3 zip is ever read).

The LSTM state carries across env steps, and across iterations: each ``learn`` continues the
episodes and LSTM states the last one stopped in. In the update, sb3-contrib re-runs the LSTM
over the rollout's sequences from the states stored at their first steps (truncated BPTT at
rollout boundaries); ``n_steps`` is the longest stretch gradients flow through.

``metrics.csv`` columns, one row per iteration (one rollout of ``n_envs x n_steps`` and its
update):

``iteration``        index of the iteration (0-based)
``env_steps``        SB3's ``num_timesteps``: training env steps so far, all envs
``wall_time``        seconds since the run started (summed over resumed sessions)
``mean_return``      mean raw return of the last finished training episodes (SB3's window of
                     up to 100), stochastic actions; empty until an episode has ended
``policy_loss``      PPO's clipped surrogate loss, mean over the update's minibatches
``value_loss``       the critic's squared error against the GAE returns (scaled rewards)
``approx_kl``        ``mean((ratio - 1) - log ratio)`` of the last epoch, an estimate of
                     KL(old || new)
``clip_fraction``    share of steps whose probability ratio left ``1 +- clip_range``
``std``              mean standard deviation of the Gaussian actor after the update
``eval_return``      mean return of the updated policy (deterministic: the Gaussian mean) on
                     ``eval_episodes`` held-out episodes, every ``eval_every`` iterations and
                     at the last; empty otherwise

Checkpoints: as PPO's. ``policy``: ``state_dict`` (the whole recurrent policy: actor and
critic LSTMs, MLPs, heads, ``log_std``), ``obs_rms``, ``obs_dim``, ``act_dim``;
``trainer_state``: ``optimizer``, ``ret_rms``, ``num_timesteps``, ``n_updates``, ``policy``.
A resumed run starts fresh episodes with zero LSTM states: it continues training but does not
repeat an uninterrupted run step for step.

Example (an LSTM on HalfCheetah that sees its last action and reward)::

    plasticagents train configs/smoke/lstm_ppo.yaml --set trainer.total_timesteps=200000
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sb3_contrib import RecurrentPPO
from torch import nn

from plasticagents.training.config import ExperimentConfig, LSTMPPOConfig
from plasticagents.training.rollout import RunningNorm
from plasticagents.training.sb3 import sb3_hyperparameters
from plasticagents.training.trainers import ppo as _ppo

__all__ = ["METRIC_COLUMNS", "LSTMAgent", "Trainer", "load_model", "make_model"]

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
    "eval_return",
]
# metrics column -> the key sb3-contrib's update records it under in the model's logger
_LOGGED = {
    "policy_loss": "train/policy_gradient_loss",
    "value_loss": "train/value_loss",
    "approx_kl": "train/approx_kl",
    "clip_fraction": "train/clip_fraction",
    "std": "train/std",
}
_CLIP_OBS = 10.0  # VecNormalize's default clip of normalised observations


def make_model(cfg: ExperimentConfig, env: Any) -> RecurrentPPO:
    """The ``RecurrentPPO`` model the config describes, on the vectorized ``env``, seeded with
    ``cfg.seed`` (the same initial weights on every rebuild)."""
    t: LSTMPPOConfig = cfg.trainer
    policy_kwargs = {
        "lstm_hidden_size": t.lstm_hidden_size,
        "n_lstm_layers": t.n_lstm_layers,
        "shared_lstm": t.critic_lstm == "shared",
        "enable_critic_lstm": t.critic_lstm == "separate",
        "net_arch": {"pi": list(t.pi_arch), "vf": list(t.vf_arch)},
        "log_std_init": t.log_std_init,
    }
    return RecurrentPPO(
        "MlpLstmPolicy",
        env,
        vf_coef=t.vf_coef,
        policy_kwargs=policy_kwargs,
        **sb3_hyperparameters(cfg),
    )


class LSTMAgent:
    """A ``RecurrentPPO`` model in the project's predict protocol (``rollout``, ``evaluate``,
    ``robustness``, ``view``). Its state is the actor's LSTM state in sb3-contrib's format, a
    tuple ``(h, c)`` of ``[n_lstm_layers, n, lstm_hidden_size]`` arrays: it carries across
    steps, and rows flagged in ``episode_start`` restart from zeros. Observations pass through
    the training statistics first, as ``VecNormalize`` applies them (frozen)."""

    population = False

    def __init__(self, model: RecurrentPPO, obs_rms: Any) -> None:
        """``model``: a ``RecurrentPPO``; ``obs_rms``: SB3's ``RunningMeanStd`` of the training
        observations."""
        self.model, self.policy = model, model.policy
        self.obs_norm = RunningNorm(len(obs_rms.mean)).load_state_dict(
            {
                "count": obs_rms.count,
                "mean": obs_rms.mean,
                "m2": obs_rms.var * obs_rms.count,
                "clip": _CLIP_OBS,
            }
        )

    def initial_state(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """Zero LSTM states ``(h, c)`` for ``batch`` episodes."""
        lstm = self.policy.lstm_actor
        zeros = np.zeros((lstm.num_layers, batch, lstm.hidden_size), dtype=np.float32)
        return zeros, zeros.copy()

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        """``obs: [n, obs_dim]`` -> ``(actions [n, act_dim], (h, c))``: sb3-contrib's
        ``predict`` on ``clip((obs - mean) / sqrt(var + 1e-8), +-10)`` (actions clipped to
        the action box; ``deterministic``: the Gaussian mean). ``state=None`` is zeros."""
        obs = self.obs_norm.normalize(obs)
        return self.model.predict(obs, state, episode_start, deterministic)


class Trainer(_ppo.Trainer):
    """RecurrentPPO in the trainer loop: PPO's adapter (one ``learn`` call of ``n_envs x
    n_steps`` env steps per iteration, evaluation after the update, the same checkpoint payload
    and resume state) with sb3-contrib's LSTM model and its :class:`LSTMAgent`."""

    name, unit = "lstm", "iteration"
    columns: ClassVar[list[str]] = METRIC_COLUMNS
    log_keys: ClassVar[dict[str, str]] = {
        "env_steps": "steps",
        "mean_return": "return",
        "approx_kl": "kl",
        "eval_return": "eval",
    }
    build_model = staticmethod(make_model)
    agent_class = LSTMAgent

    def describe(self) -> str:
        """The header line: env, LSTM size, learner inputs, envs x steps, budget."""
        cfg, t = self.cfg, self.t
        inputs = ", ".join(cfg.env.inputs) or "none"
        return (
            f"{cfg.name}: {cfg.env.id}, LSTM {t.n_lstm_layers} x {t.lstm_hidden_size} (learner "
            f"inputs: {inputs}), {t.n_envs} envs x {t.n_steps} steps per iteration, "
            f"{t.total_timesteps:,d} steps"
        )

    def step(self, it: int) -> dict[str, Any]:
        """One iteration: ``learn`` exactly one rollout and its update (episodes and LSTM
        states continue from the last call), read the update's statistics from the model's
        logger, then evaluate when due (after the update, so a ``best`` score and its weights
        belong together)."""
        t = self.t
        self.model.learn(total_timesteps=self.per_iteration, reset_num_timesteps=self.fresh_start)
        self.fresh_start = False
        returns = [info["r"] for info in self.model.ep_info_buffer]
        logged = self.model.logger.name_to_value  # kept from the update until the next dump
        evaluate = t.eval_every and ((it + 1) % t.eval_every == 0 or it == self.total - 1)
        return {
            "env_steps": self.model.num_timesteps,
            "mean_return": float(np.mean(returns)) if returns else None,
            **{column: float(logged[key]) for column, key in _LOGGED.items()},
            "eval_return": self._evaluate() if evaluate and self.eval_pool else None,
        }


def load_model(cfg: ExperimentConfig, policy: dict[str, Any]) -> tuple[nn.Module, LSTMAgent]:
    """The recurrent policy of an ``lstm_ppo`` checkpoint, rebuilt from the config (no SB3 zip
    is unpickled), and its :class:`LSTMAgent` with the saved observation statistics."""
    env = _ppo._vec_env(cfg, 1, cfg.seed)
    try:
        model = make_model(cfg, env)
    finally:
        env.close()
    model.policy.load_state_dict(policy["state_dict"])
    return model.policy, LSTMAgent(model, _ppo._rms_from(policy["obs_rms"]))
