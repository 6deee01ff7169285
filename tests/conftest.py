import pytest
import torch


@pytest.fixture
def gen():
    """A seeded generator: every stochastic call in the tests is explicit and repeatable."""
    return torch.Generator().manual_seed(1234)
