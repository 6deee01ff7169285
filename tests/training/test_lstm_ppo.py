"""The LSTM baseline (``trainer.kind: lstm_ppo``, sb3-contrib RecurrentPPO): trains through the
API, its runs evaluate, view and stress-test like any other, the LSTM state carries within an
episode and resets at its start, resume continues the latest checkpoint, nothing is unpickled."""

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("sb3_contrib")

from plasticagents.training import evaluate, robustness, train
from plasticagents.training.analysis.evaluate import load_policy
from plasticagents.training.config import ConfigError, load_config
from plasticagents.training.run import RunDir

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke" / "lstm_ppo.yaml"
OBS, ACT = 17, 6  # HalfCheetah-v5


def _quiet(message: str) -> None:
    pass


def _same(a, b):
    """Equal up to float32 rounding (a batch of two may sum in another order than one)."""
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)


def _differ(a, b):
    """Apart by far more than rounding (the smoke policy's actions are ~1e-3; rounding ~1e-10)."""
    assert np.abs(np.asarray(a) - np.asarray(b)).max() > 1e-5


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    result = train(SMOKE, runs_dir=tmp_path_factory.mktemp("lstm"), log=_quiet, tensorboard=False)
    return result.run


def test_a_smoke_run_trains_through_the_api_and_evaluates(lstm_run):
    rows = RunDir.open(lstm_run).read_metrics()
    assert [r["iteration"] for r in rows] == ["0", "1"]
    assert [int(r["env_steps"]) for r in rows] == [128, 256]  # 2 envs x 64 steps per iteration
    assert rows[0]["eval_return"] == "" and rows[1]["eval_return"] != ""  # eval_every 2
    for column in ("policy_loss", "value_loss", "approx_kl", "clip_fraction", "std"):
        assert np.isfinite(float(rows[1][column])), column
    best = RunDir.open(lstm_run).load("best")
    assert best.trainer == "lstm_ppo" and best.score == pytest.approx(float(rows[1]["eval_return"]))
    returns = evaluate(lstm_run, episodes=2, threads=1)
    assert returns.shape == (2,) and np.isfinite(returns).all()


def test_the_lstm_state_carries_across_steps_and_resets_at_episode_start(lstm_run):
    agent = load_policy(lstm_run).predictor
    x = np.random.default_rng(0).normal(size=(1, OBS + ACT + 1))
    first, state = agent.predict(x, None, np.array([True]), deterministic=True)
    assert [s.shape for s in state] == [(1, 1, 16), (1, 1, 16)]  # (h, c): layers, envs, units
    again, carried = agent.predict(x, state, np.array([False]), deterministic=True)
    _differ(again, first)  # the same observation, another memory
    fresh, _ = agent.predict(x, carried, np.array([True]), deterministic=True)
    _same(fresh, first)  # episode_start: the memory is gone
    zeros, _ = agent.predict(x, agent.initial_state(1), np.array([False]), deterministic=True)
    _same(zeros, first)
    # row by row: only the slot whose episode starts is reset
    both = (np.concatenate([carried[0]] * 2, axis=1), np.concatenate([carried[1]] * 2, axis=1))
    rows, _ = agent.predict(
        np.concatenate([x, x]), both, np.array([True, False]), deterministic=True
    )
    _same(rows[0], first[0])
    _same(rows[1], agent.predict(x, carried, np.array([False]), deterministic=True)[0][0])


def test_the_lstm_sees_the_previous_action_and_reward(lstm_run):
    loaded = load_policy(lstm_run)
    assert loaded.config.env.inputs == ["action", "reward"]
    assert loaded.policy.observation_space.shape == (OBS + ACT + 1,)
    assert loaded.policy.lstm_actor.input_size == OBS + ACT + 1
    obs = np.zeros((2, OBS + ACT + 1))
    obs[1, -1] = 5.0  # only the previous reward differs
    actions, _ = loaded.predictor.predict(obs, None, np.array([True, True]), deterministic=True)
    _differ(actions[0], actions[1])


def test_resume_continues_from_the_latest_checkpoint(lstm_run, tmp_path):
    run = Path(shutil.copytree(lstm_run, tmp_path / "run"))
    before = RunDir.open(run).load("latest")
    steps = [s["step"] for s in before.trainer_state["optimizer"]["state"].values()]
    assert before.step == 1 and before.trainer_state["num_timesteps"] == 256
    result = train(
        resume=run, overrides=["trainer.total_timesteps=384"], log=_quiet, tensorboard=False
    )
    assert result.run == run and result.step == 2
    rows = RunDir.open(run).read_metrics()
    assert [r["iteration"] for r in rows] == ["0", "1", "2"]
    assert int(rows[-1]["env_steps"]) == 384  # SB3's step counter was restored
    after = RunDir.open(run).load("latest")
    assert after.trainer_state["n_updates"] == before.trainer_state["n_updates"] + 2  # n_epochs
    # Adam went on from its saved moments: two more minibatches per epoch, two epochs
    for step, state in zip(steps, after.trainer_state["optimizer"]["state"].values(), strict=True):
        assert float(state["step"]) == float(step) + 4


def test_the_checkpoint_loads_without_unpickling_anything(lstm_run, monkeypatch):
    assert not [p for p in lstm_run.rglob("*") if p.suffix in (".zip", ".pkl", ".pt")]

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint must load without unpickling")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded = load_policy(lstm_run)
    saved = loaded.checkpoint.policy
    assert {"state_dict", "obs_rms", "obs_dim", "act_dim"} <= set(saved)
    own = loaded.policy.state_dict()
    assert "lstm_actor.weight_ih_l0" in saved["state_dict"] and set(own) == set(saved["state_dict"])
    for name, value in saved["state_dict"].items():
        torch.testing.assert_close(own[name], value, rtol=0, atol=0, msg=name)
    np.testing.assert_array_equal(loaded.predictor.obs_norm.mean, saved["obs_rms"]["mean"])


def test_view_and_robustness_take_the_run_and_ablations_are_refused(lstm_run, tmp_path):
    from plasticagents.training.analysis.viewer import record_episode

    rec = record_episode(load_policy(lstm_run), max_steps=10, render=False, progress=False)
    assert rec.actions.shape == (10, ACT) and rec.obs.shape == (10, OBS + ACT + 1)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "env: HalfCheetah-v5\nepisodes: 1\nperturbations:\n"
        "  - {name: leg, type: cripple_leg, leg: bthigh, strength: 1.0, onsets: [5]}\n"
    )
    rows = robustness(
        [lstm_run], suite, tmp_path / "out", max_episode_steps=20, threads=1, progress=False
    )
    assert sorted(r["condition"] for r in rows) == ["leg@5", "nominal"]
    assert all(r["length"] == 20 for r in rows)
    with pytest.raises(ValueError, match="needs a plastic agent.*an LSTM"):
        evaluate(lstm_run, episodes=1, ablation="lesion")


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.batch_size=1", "trainer.batch_size: must be in [2, n_envs * n_steps = 128]"),
        ("trainer.batch_size=129", "trainer.batch_size: must be in [2, n_envs * n_steps = 128]"),
        ("trainer.lstm_hidden_size=0", "trainer.lstm_hidden_size: must be > 0"),
        ("trainer.n_lstm_layers=0", "trainer.n_lstm_layers: must be > 0"),
        ("trainer.pi_arch=[32, 0]", "trainer.pi_arch: sizes must be > 0"),
        ("trainer.vf_coef=-1", "trainer.vf_coef: must be >= 0"),
        ("trainer.critic_lstm=both", "valid choices: ['separate', 'shared', 'none']"),
    ],
)
def test_invalid_values_are_config_errors(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(SMOKE, [override])
    assert message in str(err.value)


@pytest.mark.parametrize("critic", ["separate", "shared", "none"])
def test_the_critic_reads_what_critic_lstm_says(critic):
    from plasticagents.training.trainers.lstm_ppo import make_model
    from plasticagents.training.trainers.ppo import _vec_env

    cfg = load_config(SMOKE, [f"trainer.critic_lstm={critic}"])
    env = _vec_env(cfg, 1, 0)
    try:
        policy = make_model(cfg, env).policy
    finally:
        env.close()
    assert (policy.lstm_critic is not None) == (critic == "separate")
    assert policy.shared_lstm == (critic == "shared")
    assert isinstance(policy.critic, torch.nn.Linear) == (critic == "none")
