from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.evaluation import evaluate_policy

from plasticagents.cli import main
from plasticagents.training.config import load_config
from plasticagents.training.evaluate import evaluate_run, load_policy
from plasticagents.training.ppo import SpikingFeatures, train_ppo
from plasticagents.training.run import RunDir

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke" / "ppo.yaml"


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ppo")
    from plasticagents.training.config import to_dict

    cfg = load_config(SMOKE)
    run = RunDir.create(root, "ppo", to_dict(cfg))
    train_ppo(cfg, run, log=lambda m: None, tensorboard=False)
    return run


def test_spiking_features_carry_gradients_into_the_snn():
    import gymnasium as gym

    from plasticagents.training.config import to_dict

    agent = to_dict(load_config(SMOKE))["agent"]
    space = gym.spaces.Box(-np.inf, np.inf, (17,), np.float32)
    features = SpikingFeatures(space, features_dim=8, agent=agent, seed=0)
    out = features(torch.randn(5, 17))
    assert out.shape == (5, 8) and features.last_spikes > 0
    out.square().sum().backward()
    weights = features.net.layer.synapses.raw
    assert weights.grad is not None and weights.grad.abs().sum() > 0  # surrogate gradients


def test_ppo_smoke_run_writes_a_run_and_its_policy_passes_evaluate_policy(ppo_run):
    rows = ppo_run.read_metrics()
    assert [r["iteration"] for r in rows] == ["0", "1"]
    assert int(rows[-1]["env_steps"]) == 512 and rows[-1]["eval_return"] != ""
    loaded = load_policy(ppo_run.path)
    model = loaded.predictor.model
    assert type(model.policy.features_extractor).__name__ == "SpikingFeatures"
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    # SB3's own evaluation, on the training statistics the checkpoint keeps
    env = DummyVecEnv([lambda: Monitor(gym.make("HalfCheetah-v5", max_episode_steps=64))])
    env = VecNormalize(env, training=False, norm_reward=False)
    env.obs_rms = loaded.checkpoint["obs_rms"]
    mean, std = evaluate_policy(model, env, n_eval_episodes=2)
    assert np.isfinite(mean) and np.isfinite(std)
    returns = evaluate_run(ppo_run.path, episodes=2, threads=1)  # through our rollout loop
    assert returns.shape == (2,) and np.isfinite(returns).all()


def test_ppo_resume_trains_longer(ppo_run, capsys):
    argv = ["train", "--resume", str(ppo_run.path), "--set", "trainer.total_timesteps=1024"]
    assert main(argv) == 0
    rows = ppo_run.read_metrics()
    assert [r["iteration"] for r in rows] == ["0", "1", "2", "3"]
    assert int(rows[-1]["env_steps"]) == 1024
    assert main(["evaluate", str(ppo_run.path), "--episodes", "2", "--threads", "1"]) == 0
