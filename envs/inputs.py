"""Learner inputs: the previous action and reward beside the observation (RL², Backpropamine).

An agent that must adapt within an episode needs the signal a learner learns from: what it
just did and what that earned. :class:`PreviousActionReward` appends them to every
observation::

    obs'_t = [obs_t, a_{t-1} (scaled to [-1, 1] by the action bounds), r_{t-1}]

with zeros at the first step of an episode. Which of the two are appended is ``inputs``
(``("action", "reward")``, either, or both). The reward is the env's own (the agents'
observation normalisers scale it like every other input; ``reward_scale`` multiplies it
first). The factory applies this wrapper last, after every perturbation, so sensor noise
or delays never touch what the agent did and earned.

Example:
    >>> import gymnasium as gym
    >>> env = PreviousActionReward(gym.make("Pendulum-v1"), ("action", "reward"))
    >>> obs, _ = env.reset(seed=0)
    >>> obs.shape, obs[-2:].tolist()  # 3 sensors, the previous action, the previous reward
    ((5,), [0.0, 0.0])
    >>> obs, reward, *_ = env.step(env.action_space.high)
    >>> bool(obs[-2] == 1.0), bool(abs(obs[-1] - reward) < 1e-6)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np

from plasticagents.envs.split import SplitStep

__all__ = ["INPUTS", "PreviousActionReward"]

INPUTS = ("action", "reward")


class PreviousActionReward(SplitStep, gym.utils.RecordConstructorArgs):
    """Append the previous action and/or reward to a flat Box observation (see module doc).

    Args:
        env: an env with a flat ``Box`` observation and a ``Box`` action space.
        inputs: which learner inputs to append, a subset of :data:`INPUTS` (in that order).
        reward_scale: the reward is appended as ``reward_scale * r``.
    """

    def __init__(
        self, env: gym.Env, inputs: Sequence[str] = INPUTS, reward_scale: float = 1.0
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, inputs=list(inputs), reward_scale=reward_scale
        )
        gym.Wrapper.__init__(self, env)
        unknown = [i for i in inputs if i not in INPUTS]
        if unknown or not inputs or len(set(inputs)) != len(inputs):
            raise ValueError(
                f"learner inputs must be distinct names among {list(INPUTS)}, got {list(inputs)}"
            )
        obs_space, act_space = env.observation_space, env.action_space
        if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
            raise ValueError(f"learner inputs need a flat Box observation, got {obs_space}")
        if not isinstance(act_space, gym.spaces.Box):
            raise ValueError(f"learner inputs need a Box action space, got {act_space}")
        self.inputs = tuple(i for i in INPUTS if i in inputs)
        self.reward_scale = float(reward_scale)
        self._low = act_space.low.astype(np.float64)
        self._span = (act_space.high - act_space.low).astype(np.float64)
        extra_low, extra_high = [], []
        if "action" in self.inputs:
            extra_low += [-1.0] * act_space.shape[0]
            extra_high += [1.0] * act_space.shape[0]
        if "reward" in self.inputs:
            extra_low.append(-np.inf)
            extra_high.append(np.inf)
        self.observation_space = gym.spaces.Box(
            np.concatenate([obs_space.low, extra_low]).astype(obs_space.dtype),
            np.concatenate([obs_space.high, extra_high]).astype(obs_space.dtype),
            dtype=obs_space.dtype,
        )
        self._extra = np.zeros(len(extra_low))

    def _observe(self, obs: np.ndarray) -> np.ndarray:
        return np.concatenate([obs, self._extra]).astype(self.observation_space.dtype)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._extra = np.zeros_like(self._extra)
        return self._observe(obs), info

    def after_step(self, action, obs, reward, terminated, truncated, info):
        parts = []
        if "action" in self.inputs:
            a = np.clip(np.asarray(action, dtype=np.float64), self._low, self._low + self._span)
            parts.append(2.0 * (a - self._low) / self._span - 1.0)
        if "reward" in self.inputs:
            parts.append([self.reward_scale * float(reward)])
        self._extra = np.concatenate(parts)
        return self._observe(obs), reward, terminated, truncated, info
