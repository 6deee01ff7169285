import os

# as the CLI does, before torch loads libgomp (plasticagents.OMP_SPINNING otherwise)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch


@pytest.fixture
def gen():
    """A seeded generator: every stochastic call in the tests is explicit and repeatable."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def _seeded_globals():
    """Each test starts from the same global torch/numpy/random state, so a test that builds a
    network with the default initialiser draws the same weights whatever ran before it (the
    order and the set of selected tests would otherwise pick them)."""
    import random

    import numpy as np

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield
