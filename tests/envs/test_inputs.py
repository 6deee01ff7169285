"""The learner-inputs wrapper: the previous action and reward beside the observation."""

import gymnasium as gym
import numpy as np
import pytest

from plasticagents.envs import make_env
from plasticagents.envs.inputs import PreviousActionReward


def test_previous_action_and_reward_follow_the_observation():
    env = make_env("Pendulum-v1", inputs=["action", "reward"], max_episode_steps=5)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5,) and obs[3:].tolist() == [0.0, 0.0]
    for action in (-2.0, 1.0, 0.0):
        obs, reward, *_ = env.step(np.array([action], np.float32))
        assert obs[3] == pytest.approx(action / 2.0)  # [-2, 2] scaled to [-1, 1]
        assert obs[4] == pytest.approx(reward)
    obs, _ = env.reset(seed=1)
    assert obs[3:].tolist() == [0.0, 0.0]  # a new episode has no previous step


def test_only_the_asked_inputs_are_appended_and_spaces_match():
    env = make_env("HalfCheetah-v5", inputs=["reward"], max_episode_steps=3)
    assert env.observation_space.shape == (18,)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for _ in range(3):
        obs, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and obs.dtype == env.observation_space.dtype
    with pytest.raises(ValueError, match=r"learner inputs must be distinct names among"):
        PreviousActionReward(gym.make("Pendulum-v1"), ["velocity"])


def test_observation_perturbations_never_touch_the_learner_inputs():
    noisy = make_env(
        "Pendulum-v1",
        [{"type": "gaussian_noise_observation", "std": 5.0}],
        ["action", "reward"],
        max_episode_steps=3,
    )
    obs, _ = noisy.reset(seed=0)
    obs, reward, *_ = noisy.step(np.array([2.0], np.float32))
    assert obs[3] == 1.0 and obs[4] == pytest.approx(reward)
