from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3.common.evaluation import evaluate_policy

from plasticagents.training.analysis.evaluate import load_policy
from plasticagents.training.api import train
from plasticagents.training.cli import main
from plasticagents.training.config import load_config
from plasticagents.training.run import RunDir
from plasticagents.training.sb3 import SpikingFeatures

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke" / "ppo.yaml"


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ppo")
    result = train(SMOKE, run_dir=root / "ppo", log=lambda m: None, tensorboard=False)
    return RunDir.open(result.run)


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
    env.obs_rms = loaded.predictor.obs_rms  # rebuilt from the checkpoint's statistics
    saved = loaded.checkpoint.policy["obs_rms"]
    np.testing.assert_array_equal(env.obs_rms.mean, saved["mean"])
    np.testing.assert_array_equal(env.obs_rms.var, saved["var"])
    env.seed(123)  # the episode our rollout loop resets with seed 123
    sb3_returns, _ = evaluate_policy(model, env, n_eval_episodes=1, return_episode_rewards=True)
    from plasticagents.training.builders import env_maker
    from plasticagents.training.rollout import EnvPool, rollout

    env_cfg = loaded.env_config(None, None, None)
    pool = EnvPool([env_maker(env_cfg)], threads=1)
    try:
        ours = rollout(loaded.agent(env_cfg), pool, [123]).returns
    finally:
        pool.close()
    # the same policy on the same episode: the same return, whoever runs the loop
    assert ours[0] == pytest.approx(sb3_returns[0], rel=1e-4)
    # the trainer's last evaluation (held-out seeds from (seed, 10**6)) replays from the best
    # checkpoint to the score it recorded
    best = ppo_run.load("best")
    assert best.score == pytest.approx(float(rows[-1]["eval_return"]))
    seeds = np.random.SeedSequence([0, 10**6]).generate_state(2).tolist()
    pool = EnvPool([env_maker(env_cfg)] * 2, threads=1)
    try:
        replayed = rollout(loaded.agent(env_cfg), pool, seeds).returns
    finally:
        pool.close()
    assert float(replayed.mean()) == pytest.approx(best.score, rel=1e-5)


def test_ppo_spiking_rollouts_count_and_record_the_snn_spikes(ppo_run):
    from plasticagents.training.analysis.viewer import record_episode

    loaded = load_policy(ppo_run.path)
    # (noisy sensors: the smoke policy's quiet deterministic gait barely drives 16 neurons)
    noise = [{"type": "gaussian_noise_observation", "std": 1.0}]
    rec = record_episode(loaded, perturbations=noise, seed=1, render=False, progress=False)
    assert rec.neuron_spikes.shape == (64, 16)  # agent.hidden neurons, one row per env step
    assert rec.neuron_spikes.sum() > 0 and rec.modulation.shape == (64, 0)
    # the viewer's counts are the ones SB3's own extractor produces on the same observations
    extractor = loaded.predictor.model.policy.features_extractor
    obs = loaded.checkpoint.policy["obs_rms"]
    x = np.clip((rec.obs - obs["mean"]) / np.sqrt(obs["var"] + 1e-8), -10, 10).astype(np.float32)
    with torch.no_grad():
        extractor(torch.as_tensor(x))
    np.testing.assert_array_equal(rec.neuron_spikes, extractor.last_state.spikes.numpy())
    extractor(torch.as_tensor(x))  # a training forward keeps no state (it would hold the graph)
    assert extractor.last_state is None


def test_ppo_resume_trains_longer(ppo_run, capsys):
    argv = ["train", "--resume", str(ppo_run.path), "--set", "trainer.total_timesteps=1024"]
    assert main(argv) == 0
    rows = ppo_run.read_metrics()
    assert [r["iteration"] for r in rows] == ["0", "1", "2", "3"]
    assert int(rows[-1]["env_steps"]) == 1024
    assert main(["evaluate", str(ppo_run.path), "--episodes", "2", "--threads", "1"]) == 0


def test_mlp_critic_reads_the_observation_and_leaves_the_snn_to_the_actor(tmp_path):
    from plasticagents.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from plasticagents.training.config import to_dict
    from plasticagents.training.sb3 import SpikingActorCriticPolicy, make_model
    from plasticagents.training.trainers.ppo import _vec_env, load_model

    cfg = load_config(SMOKE, ["trainer.critic=mlp"])
    env = _vec_env(cfg, 1, 0)
    policy = make_model(cfg, env).policy
    assert isinstance(policy, SpikingActorCriticPolicy)
    assert type(policy.pi_features_extractor).__name__ == "SpikingFeatures"
    assert type(policy.vf_features_extractor).__name__ == "FlattenExtractor"
    obs = torch.randn(6, 17)
    policy.predict_values(obs).sum().backward()  # the value loss does not reach the SNN
    assert policy.pi_features_extractor.net.layer.synapses.raw.grad is None
    actions, values, log_prob = policy(obs)
    assert actions.shape == (6, 6) and values.shape == (6, 1) and log_prob.shape == (6,)
    _, log_prob, _ = policy.evaluate_actions(obs, torch.ones(6, 6))
    log_prob.sum().backward()  # the policy loss does
    assert policy.pi_features_extractor.net.layer.synapses.raw.grad.abs().sum() > 0
    # a checkpoint of the policy (our format, no SB3 zip) rebuilds the same policy
    model = make_model(cfg, env)
    with torch.no_grad():  # a policy unlike the one a fresh make_model builds
        for p in model.policy.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    rms = {"mean": np.full(17, 0.5), "var": np.full(17, 4.0), "count": 10.0}
    payload = {"state_dict": dict(model.policy.state_dict()), "obs_rms": rms}
    save_checkpoint(Checkpoint("ppo", 0, to_dict(cfg), payload), tmp_path / "best.safetensors")
    policy, agent = load_model(cfg, load_checkpoint(tmp_path / "best.safetensors").policy)
    assert isinstance(policy, SpikingActorCriticPolicy) and agent.model.policy is policy
    x = np.random.default_rng(0).normal(size=(3, 17)).astype(np.float32)
    np.testing.assert_allclose(
        agent.model.predict(x, deterministic=True)[0], model.predict(x, deterministic=True)[0]
    )
    np.testing.assert_allclose(
        policy.predict_values(torch.as_tensor(x)).detach(),
        model.policy.predict_values(torch.as_tensor(x)).detach(),
    )
    # the agent acts on observations normalised by the saved statistics
    np.testing.assert_allclose(
        agent.predict(0.5 + 2.0 * x, deterministic=True)[0],
        model.predict(x, deterministic=True)[0],
        atol=1e-5,
    )


def test_unknown_critic_is_named_with_the_choices():
    from plasticagents.training.config import ConfigError

    with pytest.raises(ConfigError, match=r"critic.*'mlp'.*'shared'|critic.*'shared'.*'mlp'"):
        load_config(SMOKE, ["trainer.critic=lstm"])
