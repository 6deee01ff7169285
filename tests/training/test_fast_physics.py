"""``trainer.fast_physics``: ES on the batched backend trains to the same numbers as on
Gymnasium's envs, and the backend really ran."""

import pytest

from plasticagents.envs.batched import BatchedLocomotion
from plasticagents.training.api import train
from plasticagents.training.config import ConfigError
from plasticagents.training.run import RunDir

pytest.importorskip("evotorch")


def _metrics(cfg, path):
    result = train(cfg, run_dir=path, log=lambda msg: None, tensorboard=False)
    return [
        {k: v for k, v in r.items() if k != "wall_time"}
        for r in RunDir.open(result.run).read_metrics()
    ]


def test_es_with_fast_physics_reproduces_the_gymnasium_run(tiny_config, tmp_path, monkeypatch):
    env = {
        "id": "Ant-v5",
        "max_episode_steps": 40,
        # episode 0: a leg off from step 0; episode 1: off from step 10 (the onset's hook runs
        # between two batched steps)
        "train_distribution": [
            [{"type": "cripple_leg", "leg": "back_leg"}],
            [{"type": "cripple_leg", "leg": "back_leg", "onset": 10}],
        ],
    }
    trainer = {
        "generations": 2,
        "popsize": 4,
        "episodes": 2,
        "threads": 2,
        "eval_every": 1,
        "eval_episodes": 2,
        "obs_norm_warmup": 200,
    }
    stepped = []
    original = BatchedLocomotion.step_arrays

    def counting(self, actions, indices, map_fn=None, infos=True):
        stepped.append(len(indices))
        return original(self, actions, indices, map_fn, infos)

    monkeypatch.setattr(BatchedLocomotion, "step_arrays", counting)
    slow = _metrics(tiny_config(env=env, trainer=trainer), tmp_path / "gym")
    assert not stepped
    fast = _metrics(
        tiny_config(env=env, trainer={**trainer, "fast_physics": True}), tmp_path / "fast"
    )
    assert sum(stepped) > 0
    assert fast == slow
    assert len(fast) == 2


def test_fast_physics_is_a_boolean_off_by_default(tiny_config):
    assert tiny_config().trainer.fast_physics is False
    assert tiny_config(trainer={"fast_physics": True}).trainer.fast_physics is True
    with pytest.raises(ConfigError, match="trainer.fast_physics: expected bool"):
        tiny_config(trainer={"fast_physics": "yes"})
