import os

import numpy as np
import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture
def tiny_config():
    """A config small enough to train in seconds (HalfCheetah, 100-step episodes, 16 neurons)."""
    from plasticagents.training.config import from_dict

    def make(**sections):
        data = {
            "name": "tiny",
            "seed": 4,
            "env": {"id": "HalfCheetah-v5", "max_episode_steps": 100},
            "agent": {
                "kind": "snn",
                "hidden": 16,
                "dt": 0.025,
                "gain": 2.0,
                "plasticity": {"rule": "hebbian", "granularity": "post"},
            },
            "trainer": {
                "kind": "es",
                "generations": 3,
                "popsize": 8,
                "threads": 1,
                "eval_every": 0,
                "stdev_init": 0.1,
                "center_lr": 0.2,
            },
        }
        for key, value in sections.items():
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
        return from_dict(data)

    return make


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny spiking run (modulated Hebbian, 16 neurons, 80-step episodes) trained 2 gens."""
    from plasticagents.training.api import train
    from plasticagents.training.config import from_dict

    cfg = from_dict(
        {
            "name": "tiny-plastic",
            "seed": 1,
            "env": {"id": "HalfCheetah-v5", "max_episode_steps": 80},
            "agent": {
                "kind": "snn",
                "hidden": 16,
                "dt": 0.025,
                "gain": 6.0,
                "plasticity": {"rule": "hebbian", "mode": "modulated", "granularity": "post"},
            },
            "trainer": {
                "kind": "es",
                "generations": 2,
                "popsize": 4,
                "threads": 1,
                "eval_every": 1,
                "eval_episodes": 1,
                "compile": False,
            },
        }
    )
    root = tmp_path_factory.mktemp("runs")
    return train(cfg, runs_dir=root, log=lambda msg: None, tensorboard=False).run


def _same_tensors(a, b, where="checkpoint"):
    """Nested dicts / lists / tuples of tensors, arrays and plain values, equal exactly."""
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(b, a, rtol=0, atol=0, msg=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(b, a, err_msg=where)
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            _same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_tensors(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b, where


@pytest.fixture
def same_tensors():
    """Asserts two checkpoint payloads (nested tensors, arrays, numbers) are exactly equal."""
    return _same_tensors
