from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.buffers import RolloutBuffer

from plasticagents.training.actor_critic import (
    RecurrentActorCritic,
    ReturnNorm,
    collect_rollout,
    sequence_log_probs,
)
from plasticagents.training.analysis.evaluate import load_policy
from plasticagents.training.api import train
from plasticagents.training.config import ConfigError, from_dict, load_config
from plasticagents.training.rollout import Carry, EnvPool, RunningNorm
from plasticagents.training.run import RunDir

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke" / "recurrent_ppo.yaml"


class Countdown(gym.Env):
    """Episodes of a fixed, per-env length; random observations."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, length: int) -> None:
        self.length, self.t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return obs, float(action[0]), self.t >= self.length, False, {}


def _setup(lengths=(5, 7, 11)):
    cfg = from_dict(
        {
            "env": {"id": "HalfCheetah-v5"},
            "agent": {
                "hidden": 8,
                "steps_per_input": 2,
                "gain": 3.0,
                "plasticity": {"rule": "hebbian", "mode": "modulated", "alpha_init": 0.5},
            },
            "trainer": {
                "kind": "recurrent_ppo",
                "n_envs": len(lengths),
                "n_steps": 24,
                "minibatch_envs": 1,
            },
        }
    )
    pool = EnvPool([lambda n=n: Countdown(n) for n in lengths])
    model = RecurrentActorCritic(cfg, 3, 2, cfg.trainer)
    buffer = RolloutBuffer(24, pool.observation_space, pool.action_space, n_envs=len(lengths))
    carry, _ = Carry.reset(pool, list(range(len(lengths))))
    carry.state = model.initial_state(len(lengths))
    norm = RunningNorm(3)
    norm.update(carry.obs)
    low, high = -np.ones(2, np.float32), np.ones(2, np.float32)
    try:
        info = collect_rollout(
            model,
            pool,
            buffer,
            carry,
            norm,
            ReturnNorm(len(lengths), 0.99),
            low,
            high,
            torch.Generator().manual_seed(0),
        )
    finally:
        pool.close()
    return model, buffer, info


def _replay(model, buffer, info, starts):
    obs = torch.as_tensor(buffer.observations, dtype=torch.float32)
    actions = torch.as_tensor(buffer.actions, dtype=torch.float32)
    with torch.no_grad():
        log_probs, _ = sequence_log_probs(model, obs, actions, starts, info["start_state"])
    return log_probs.numpy()


def test_replayed_log_probs_equal_the_collected_ones():
    model, buffer, info = _setup()
    starts = torch.as_tensor(buffer.episode_starts).bool()
    np.testing.assert_allclose(_replay(model, buffer, info, starts), buffer.log_probs, atol=1e-5)


def test_state_resets_at_each_envs_own_episode_boundaries():
    model, buffer, info = _setup((5, 7, 11))
    starts = buffer.episode_starts.astype(bool)
    for k, length in enumerate((5, 7, 11)):  # each env restarts every `length` steps
        assert np.flatnonzero(starts[:, k]).tolist() == list(range(0, 24, length))
    # Replaying without the resets changes each env's log-probs exactly from its first restart.
    no_reset = torch.zeros_like(torch.as_tensor(starts))
    no_reset[0] = True
    wrong = _replay(model, buffer, info, no_reset)
    for k, length in enumerate((5, 7, 11)):
        np.testing.assert_allclose(wrong[:length, k], buffer.log_probs[:length, k], atol=1e-5)
        assert not np.allclose(wrong[length:, k], buffer.log_probs[length:, k], atol=1e-4)


def test_gradients_reach_the_plasticity_parameters_through_the_rollout():
    model, buffer, info = _setup()
    obs = torch.as_tensor(buffer.observations, dtype=torch.float32)
    actions = torch.as_tensor(buffer.actions, dtype=torch.float32)
    starts = torch.as_tensor(buffer.episode_starts).bool()
    log_probs, _ = sequence_log_probs(model, obs, actions, starts, info["start_state"])
    log_probs.sum().backward()
    grads = {n: p.grad for n, p in model.actor.named_parameters()}
    plastic = [n for n in grads if "plasticity" in n or "modulator" in n]
    assert plastic
    for name in plastic:
        assert grads[name] is not None and torch.isfinite(grads[name]).all()
        assert float(grads[name].abs().sum()) > 0, name


def _quiet(msg):
    pass


def _replayed_evaluation(run_path) -> float:
    """The trainer's evaluation replayed from the best checkpoint: its policy, one episode per
    held-out seed the trainer draws from ``(seed, 10**6)``."""
    from plasticagents.training.builders import env_maker
    from plasticagents.training.rollout import rollout

    loaded = load_policy(run_path)
    env_cfg = loaded.env_config(None, None, None)
    n = loaded.config.trainer.eval_episodes
    seeds = np.random.SeedSequence([loaded.config.seed, 10**6]).generate_state(n).tolist()
    pool = EnvPool([env_maker(env_cfg)] * n, threads=1)
    try:
        return float(rollout(loaded.agent(env_cfg), pool, seeds).returns.mean())
    finally:
        pool.close()


def test_smoke_run_evaluates_and_resumes(tmp_path):
    result = train(SMOKE, run_dir=tmp_path / "run", log=_quiet, tensorboard=False)
    run = RunDir.open(result.run)
    assert result.env_steps == 512 and len(run.read_metrics()) == 2
    loaded = load_policy(run.path)
    assert loaded.obs_norm is not None and loaded.policy.layer.plasticity is not None
    # the trainer's last evaluation replays from the best checkpoint to the score it recorded
    assert run.load("best").score == pytest.approx(_replayed_evaluation(run.path), rel=1e-5)
    longer = train(
        resume=run.path,
        overrides=["trainer.total_timesteps=768"],
        log=_quiet,
        tensorboard=False,
    )
    assert longer.run == run.path and longer.env_steps == 768
    assert run.load("latest").env_steps == 768
    assert [int(r["iteration"]) for r in run.read_metrics()] == [0, 1, 2]


def test_bad_trainer_values_are_named(tmp_path):
    with pytest.raises(ConfigError, match="trainer.minibatch_envs: must be > 0, got 0"):
        load_config(SMOKE, ["trainer.minibatch_envs=0"])
    runs = tmp_path / "runs"
    with pytest.raises(ConfigError, match=r"trainer.minibatch_envs: must be <= trainer.n_envs"):
        train(SMOKE, ["trainer.minibatch_envs=5"], runs_dir=runs, log=_quiet)
    assert not runs.exists()  # refused before a run directory exists


def test_stateless_mlp_policies_train_too(tmp_path):
    cfg = load_config(SMOKE, ["agent.kind=mlp", "trainer.total_timesteps=256"])
    result = train(cfg, run_dir=tmp_path / "run", log=_quiet, tensorboard=False)
    assert result.env_steps == 256
    best = RunDir.open(result.run).load("best").score
    assert best == pytest.approx(_replayed_evaluation(result.run), rel=1e-5)
