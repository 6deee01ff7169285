"""``env.inputs``: every RL trainer's network sees the previous action and reward."""

from pathlib import Path

import pytest
import torch

from plasticagents.training.builders import env_spaces
from plasticagents.training.config import load_config
from plasticagents.training.registry import adapter

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke"


def _network(trainer):
    for path in ("problem.template", "policy_net.net", "model.actor"):
        obj = trainer
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    raise AssertionError(f"no network on {type(trainer).__name__}")


@pytest.mark.parametrize("kind", ["es", "bptt", "recurrent_ppo"])
def test_the_network_output_moves_with_the_previous_reward_alone(kind):
    cfg = load_config(SMOKE / f"{kind}.yaml", ["env.inputs=[action, reward]"])
    plain = load_config(SMOKE / f"{kind}.yaml")
    obs_dim, act_dim, _, _ = env_spaces(plain.env)
    trainer = adapter(kind).Trainer(cfg, log=lambda m: None)
    try:
        net = _network(trainer)
        obs = torch.zeros(2, net.n_in)
        obs[1, -1] = 5.0  # only the previous reward differs
        with torch.no_grad():
            out, _ = net(obs, None)
        assert net.n_in == obs_dim + act_dim + 1  # sensors, previous action, previous reward
        assert not torch.allclose(out[0], out[1])
    finally:
        trainer.close()


def test_a_run_with_learner_inputs_evaluates_with_them(tmp_path):
    from plasticagents.training import evaluate, train

    result = train(
        SMOKE / "bptt.yaml",
        ["env.inputs=[action, reward]", "trainer.iterations=1"],
        runs_dir=tmp_path,
        log=lambda m: None,
        tensorboard=False,
    )
    assert evaluate(result.run, episodes=2).shape == (2,)  # built from the run's env.inputs
