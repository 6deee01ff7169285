import os

# as the CLI does, before torch loads libgomp (plasticagents.OMP_SPINNING otherwise)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch


@pytest.fixture
def gen():
    """A seeded generator: every stochastic call in the tests is explicit and repeatable."""
    return torch.Generator().manual_seed(1234)
