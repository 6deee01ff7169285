"""Wrappers whose ``step`` is two hooks around the inner env's step.

A wrapper that only edits what goes in and what comes out of the env it wraps (a perturbation,
a hidden goal, the learner inputs) writes its ``step`` as two halves::

    def step(self, action):
        inner = self.before_step(action)                        # e.g. start a perturbation
        return self.after_step(action, *self.env.step(inner))   # e.g. rescore the reward

:class:`SplitStep` is that ``step``; subclasses implement the hooks and never override ``step``
itself. The split is what lets :class:`~plasticagents.envs.batched.BatchedLocomotion` step a
population's physics in one batched call and still run every wrapper's own code, in the order
Gymnasium runs it (``before_step`` from the outermost wrapper in, ``after_step`` from the
innermost out), so the fast path is the wrappers' code, not a copy of it.

Contract for the hooks: they may read and write the wrapper's own state, draw from its
generators and edit the MuJoCo model or data of ``env.unwrapped`` (a perturbation's onset);
``before_step`` must not step the inner env or read what the step is about to produce.

Example:
    >>> import gymnasium as gym
    >>> class Doubled(SplitStep):
    ...     def after_step(self, action, obs, reward, terminated, truncated, info):
    ...         return obs, 2 * reward, terminated, truncated, info
    >>> env = Doubled(gym.make("Pendulum-v1"))
    >>> _ = env.reset(seed=0)
    >>> bool(env.step(env.action_space.sample())[1] <= 0)
    True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

__all__ = ["SplitStep", "StepArrays", "splits_step"]


class SplitStep(gym.Wrapper):
    """A wrapper whose step is ``after_step(action, *env.step(before_step(action)))``."""

    def step(self, action: Any):
        inner = self.before_step(action)
        return self.after_step(action, *self.env.step(inner))

    def before_step(self, action: Any) -> Any:
        """Runs before the inner step; returns the action the inner env takes."""
        return action

    def after_step(
        self, action: Any, obs: Any, reward: Any, terminated: bool, truncated: bool, info: dict
    ) -> tuple[Any, Any, bool, bool, dict]:
        """The wrapper's step result from the inner env's (``action`` as this wrapper got it)."""
        return obs, reward, terminated, truncated, info


def splits_step(wrapper: gym.Env) -> bool:
    """Whether ``wrapper``'s step is exactly its two hooks (it does not override ``step``)."""
    return isinstance(wrapper, SplitStep) and type(wrapper).step is SplitStep.step


class StepArrays(NamedTuple):
    """One step of ``k`` envs as arrays: what ``env.step`` returned for each, stacked
    (:meth:`~plasticagents.envs.batched.BatchedLocomotion.step_arrays`,
    :meth:`~plasticagents.training.rollout.EnvPool.step_arrays`)."""

    obs: np.ndarray  # [k, *obs_shape] float64
    rewards: np.ndarray  # [k] float64 (a float32 reward widened exactly)
    terminated: np.ndarray  # [k] bool
    truncated: np.ndarray  # [k] bool
    infos: list[dict | None]  # [k] each slot's info (None: not asked for and not built)
