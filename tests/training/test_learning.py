"""Learning checks: each trainer kind, on a task small enough to learn in seconds, must beat an
untrained / random / chance baseline by a margin that a broken learner (no update applied,
zero step size, labels shuffled, readout not fitted) cannot reach.

The margins were measured over seeds 0, 1, 2 (the values are in each test's docstring) on a
2-core machine; each test runs seed 0. Every test here was seen to fail on a deliberately
broken trainer before it was committed.
"""

import gymnasium as gym
import numpy as np
import pytest
import torch

from plasticagents.training.analysis.evaluate import evaluate_run
from plasticagents.training.api import train
from plasticagents.training.config import from_dict
from plasticagents.training.run import RunDir

EVAL_SEED, EVAL_EPISODES = 100, 10
# InvertedPendulum-v5 pays 1 per step the pole stays up: short episodes while the policy is
# poor, so a few thousand env steps train it in seconds. Capped at 200 steps.
PENDULUM = {"id": "InvertedPendulum-v5", "max_episode_steps": 200}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread, as the margins were measured: these networks are too small to gain
    from a second, and on a loaded 2-core machine two threads per process thrash."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train(tmp_path, config: dict, *overrides: str):
    result = train(
        from_dict(config, list(overrides)),
        run_dir=tmp_path / "run",
        log=lambda msg: None,
        tensorboard=False,
    )
    return result


def _random_return(env: dict, episodes: int = EVAL_EPISODES, seed: int = EVAL_SEED) -> float:
    """Mean return of uniformly random actions on the evaluation seeds."""
    returns = []
    for s in range(seed, seed + episodes):
        e = gym.make(env["id"], max_episode_steps=env["max_episode_steps"])
        e.reset(seed=s)
        e.action_space.seed(s)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = e.step(e.action_space.sample())
            total, done = total + reward, terminated or truncated
        e.close()
        returns.append(total)
    return float(np.mean(returns))


def _centre_return(run) -> float:
    """The trained policy (the last checkpoint: ES's search centre, PPO's current policy) on
    the evaluation seeds, deterministic actions."""
    return float(evaluate_run(run, EVAL_EPISODES, EVAL_SEED, which="latest", threads=1).mean())


def test_es_balances_the_inverted_pendulum(tmp_path):
    """PGPE (popsize 16, 10 generations, MLP policy, 100-step episodes): the search centre
    scored 100, 82.1, 100 over seeds 0, 1, 2 (the maximum is 100); random actions 5.7."""
    env = {**PENDULUM, "max_episode_steps": 100}
    config = {
        "seed": 0,
        "env": env,
        "agent": {"kind": "mlp", "mlp_hidden": [16]},
        "trainer": {
            "kind": "es",
            "generations": 10,
            "popsize": 16,
            "stdev_init": 0.1,
            "center_lr": 0.2,
            "threads": 1,
            "eval_every": 10,
            "eval_episodes": 5,
        },
    }
    run = _train(tmp_path, config).run
    random = _random_return(env)
    assert random < 10
    assert _centre_return(run) > random + 50


_PPO = {"n_epochs": 5, "lr": 1e-3, "eval_every": 100, "eval_episodes": 5}


def test_ppo_balances_the_inverted_pendulum(tmp_path):
    """SB3 PPO, 2,048 env steps (MLP policy): 88.7, 76.2, 77.8 over seeds 0, 1, 2 (out of
    200); random actions 5.7 on the same evaluation seeds."""
    config = {
        "seed": 0,
        "env": PENDULUM,
        "agent": {"kind": "mlp", "mlp_hidden": [32, 32]},
        "trainer": {
            "kind": "ppo",
            "total_timesteps": 2048,
            "n_envs": 2,
            "n_steps": 256,
            "batch_size": 64,
            "pi_arch": [32],
            "vf_arch": [32],
            **_PPO,
        },
    }
    run = _train(tmp_path, config).run
    random = _random_return(PENDULUM)
    assert random < 10
    assert _centre_return(run) > random + 40


def test_recurrent_ppo_balances_the_inverted_pendulum(tmp_path):
    """The project's own PPO (whole-sequence replay), 4,096 env steps: 129.4, 66.6, 126.5 over
    seeds 0, 1, 2 (out of 200); random actions 5.7."""
    config = {
        "seed": 0,
        "env": PENDULUM,
        "agent": {"kind": "mlp", "mlp_hidden": [32, 32]},
        "trainer": {
            "kind": "recurrent_ppo",
            "total_timesteps": 4096,
            "n_envs": 4,
            "n_steps": 128,
            "minibatch_envs": 2,
            "critic_hidden": [32],
            **_PPO,
        },
    }
    run = _train(tmp_path, config).run
    random = _random_return(PENDULUM)
    assert random < 10
    assert _centre_return(run) > random + 40


def test_lstm_ppo_balances_the_inverted_pendulum(tmp_path):
    """sb3-contrib's RecurrentPPO (16 LSTM units), 4,096 env steps: 107.5, 87.0, 80.3 over
    seeds 0, 1, 2 (out of 200); random actions 5.7."""
    config = {
        "seed": 0,
        "env": PENDULUM,
        "trainer": {
            "kind": "lstm_ppo",
            "total_timesteps": 4096,
            "n_envs": 4,
            "n_steps": 128,
            "batch_size": 128,
            "lstm_hidden_size": 16,
            "pi_arch": [32],
            "vf_arch": [32],
            **_PPO,
        },
    }
    run = _train(tmp_path, config).run
    random = _random_return(PENDULUM)
    assert random < 10
    assert _centre_return(run) > random + 40


def test_bptt_learns_to_stop_going_on_unpaid_cues(tmp_path):
    """BPTT on the 4-cue CueAssociation-v0 (6 trials, smoke network): a random go / no-go
    earns -1.5 per episode, so the first iterations' sampled episodes do; 40 Adam steps
    teach it to go less on the cues that punish. Sampled return of the last 10 iterations
    minus the first 10: 0.45, 0.40, 0.59 over seeds 0, 1, 2 (its standard error with no
    learning ~0.19); greedy evaluation on 32 episodes: 0.0 in all three (random -1.5).
    (Solving the association itself is the slow test in test_bptt.py.)"""
    from pathlib import Path

    from plasticagents.training.config import load_config

    smoke = Path(__file__).resolve().parents[2] / "configs" / "smoke" / "bptt.yaml"
    cfg = load_config(
        smoke,
        [
            "trainer.iterations=40",
            "trainer.eval_every=40",
            "trainer.eval_episodes=32",
            "trainer.lr=0.01",
        ],
    )
    run = RunDir.open(
        train(cfg, run_dir=tmp_path / "run", log=lambda m: None, tensorboard=False).run
    )
    rows = run.read_metrics()
    sampled = np.array([float(r["mean_return"]) for r in rows])
    assert sampled[-10:].mean() > sampled[:10].mean() + 0.25
    assert float(rows[-1]["eval_return"]) > -0.5


def test_classify_learns_digits_far_above_chance(tmp_path):
    """Surrogate-gradient BPTT on scikit-learn digits (10 classes, chance 0.1), 2 epochs of a
    32-neuron recurrent SNN: test accuracy 0.729, 0.713, 0.667 over seeds 0, 1, 2."""
    config = {
        "seed": 0,
        "data": {"source": "digits", "encoder": "rate", "steps": 10},
        "model": {"hidden": [32], "gain": 3.0, "tau_mem": 0.01, "readout_tau_mem": 0.01},
        "trainer": {"kind": "classify", "epochs": 2, "batch_size": 64, "lr": 0.01},
    }
    result = _train(tmp_path, config)
    assert result.details["test_accuracy"] > 0.5


def test_stdp_reservoir_readout_classifies_far_above_chance(tmp_path):
    """An STDP reservoir with a ridge readout on ItalyPowerDemand (2 balanced classes, chance
    0.5): test accuracy 0.871, 0.887, 0.745 over seeds 0, 1, 2."""
    config = {
        "seed": 0,
        "data": {"source": "ucr", "dataset": "ItalyPowerDemand"},
        "model": {"hidden": [60], "sparsity": 0.9, "tau_distribution": "gamma", "tau_spread": 0.8},
        "trainer": {
            "kind": "stdp",
            "stdp_spread": 0.5,
            "gain_in": 3.0,
            "bias": 0.3,
            "mc_steps": 400,
        },
    }
    result = _train(tmp_path, config)
    assert result.details["test_accuracy"] > 0.65
