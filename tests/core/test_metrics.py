import json
import math

import numpy as np
import pytest
import torch

from plasticagents.metrics import (
    energy_ratio,
    memory_capacity,
    spikes_per_sample,
    synaptic_operations,
    van_rossum_distance,
)


def test_ideal_delay_line_has_capacity_equal_to_its_length():
    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, 3000)
    k = 10
    states = np.stack([np.roll(u, d) for d in range(1, k + 1)], axis=1)  # x(t) = u(t-1..t-K)
    mc, r2 = memory_capacity(states, u, max_delay=15, washout=20)
    assert mc == pytest.approx(k, abs=0.01)
    assert r2[:k] == pytest.approx(np.ones(k), abs=0.01)
    assert r2[k:] == pytest.approx(np.zeros(5), abs=0.02)


def test_memoryless_map_has_no_capacity():
    rng = np.random.default_rng(1)
    u = rng.uniform(-1, 1, 3000)
    w = rng.normal(size=(1, 50))
    states = np.tanh(u[:, None] * w + rng.normal(size=50))
    mc, _ = memory_capacity(states, u, max_delay=10)
    assert mc < 0.1


def test_memory_capacity_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"states \[T, D\] and inputs \[T\]"):
        memory_capacity(np.zeros((100, 3)), np.zeros(90))
    with pytest.raises(ValueError, match="too few"):
        memory_capacity(np.zeros((50, 3)), np.zeros(50), washout=40)


@pytest.mark.parametrize("gap", [0, 1, 3, 10, 40])
def test_van_rossum_of_two_single_spikes_matches_the_closed_form(gap):
    tau, dt = 5.0, 0.5
    a, b = torch.zeros(200, 1), torch.zeros(200, 1)
    a[20, 0] = 1
    b[20 + gap, 0] = 1
    d = float(van_rossum_distance(a, b, tau=tau, dt=dt)[0])
    assert d == pytest.approx(math.sqrt(1 - math.exp(-gap * dt / tau)), abs=1e-6)


def test_van_rossum_of_one_spike_against_none_and_of_identical_trains():
    a = torch.zeros(30, 4)
    a[3, 1] = 1
    assert float(van_rossum_distance(a, torch.zeros_like(a), tau=2.0)[1]) == pytest.approx(
        math.sqrt(0.5)
    )
    assert torch.equal(van_rossum_distance(a, a, tau=2.0), torch.zeros(4))


def test_spike_counts_and_synaptic_operations():
    spikes = torch.zeros(5, 2, 3)
    spikes[0, 0, 0] = spikes[1, 0, 2] = spikes[4, 1, 2] = 1
    assert spikes_per_sample(spikes) == 1.5
    assert synaptic_operations(spikes, torch.tensor([10.0, 0.0, 4.0])) == (10 + 4 + 4) / 2
    assert energy_ratio(2.0, 4.0) == 0.5


@pytest.mark.parametrize("capacity", [0.0, -0.0, -1.0, float("nan")])
def test_energy_ratio_without_memory_is_none_and_writes_as_json_null(capacity):
    assert energy_ratio(1.0, capacity) is None
    result = {"E": energy_ratio(1.0, capacity)}
    assert json.loads(json.dumps(result, allow_nan=False)) == {"E": None}
