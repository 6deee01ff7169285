import pytest
import torch

from plasticagents.encoding import (
    delta_encode,
    encode,
    latency_encode,
    population_encode,
    rate_encode,
    receptive_fields,
)
from plasticagents.networks import PopulationEncoder


def test_rate_code_fires_in_proportion_to_the_value_and_is_seeded():
    x = torch.tensor([[0.0, 0.25, 1.0]])
    s = rate_encode(x.expand(4000, 3), 5, torch.Generator().manual_seed(0))
    assert s.shape == (5, 4000, 3)
    assert s.mean((0, 1)).tolist() == pytest.approx([0.0, 0.25, 1.0], abs=0.01)
    again = rate_encode(x.expand(4000, 3), 5, torch.Generator().manual_seed(0))
    assert torch.equal(s, again)


def test_latency_code_sends_stronger_features_earlier():
    s = latency_encode(torch.tensor([[1.0, 0.5, 0.0]]), 11)
    assert s[:, 0].nonzero().tolist() == [[0, 0], [5, 1]]  # silent third feature


def test_delta_code_reconstructs_the_signal_to_within_the_threshold():
    t = torch.linspace(0, 6.28, 200)
    x = torch.stack([torch.sin(t), torch.cos(3 * t)], -1).unsqueeze(1)  # [T, 1, 2]
    thr = 0.05
    s = delta_encode(x, thr)
    rebuilt = x[0] + thr * (s[:, :, :2] - s[:, :, 2:]).cumsum(0)
    assert (rebuilt - x).abs().max() <= thr + 1e-6


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        rate_encode(torch.tensor([[2.0]]), 3)
    with pytest.raises(ValueError, match="unknown encoder 'poisson'"):
        encode("poisson", torch.zeros(2, 2), 3)
    with pytest.raises(ValueError, match="NaN"):
        delta_encode(torch.full((3, 1, 1), float("nan")), 0.1)


def test_receptive_fields_golden_values():
    # centres -1, 0, 1 (sigma = spacing = 1): exp(-d²/2) at distances 1.5, 0.5, 0.5
    y = receptive_fields(torch.tensor([[0.5]]), fields=3, low=-1.0, high=1.0)
    e = lambda d: torch.exp(torch.tensor(-0.5 * d * d)).item()  # noqa: E731
    assert y[0].tolist() == pytest.approx([e(1.5), e(0.5), e(0.5)])
    narrow = receptive_fields(torch.tensor([[0.5]]), fields=3, low=-1.0, high=1.0, width=0.5)
    assert narrow[0, 2].item() == pytest.approx(e(1.0))  # sigma 0.5: distance 0.5 is one sigma


def test_the_network_population_encoder_is_the_data_population_code_times_its_gain(gen):
    x = torch.randn(4, 2, 3, generator=gen) * 2
    enc = PopulationEncoder(3, per_input=7, low=-2.5, high=2.5, gain=3.0)
    assert torch.equal(enc(x), 3.0 * population_encode(x, fields=7))
    assert not list(enc.state_dict())  # nothing to save: the fields follow from the arguments


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fields": 1}, "fields >= 2, got 1"),
        ({"low": 1.0, "high": 1.0}, r"high > low, got \[1.0, 1.0\]"),
    ],
)
def test_bad_population_arguments_are_named_by_both_encoders(kwargs, match):
    with pytest.raises(ValueError, match=match):
        population_encode(torch.zeros(1, 2), **kwargs)
    net_kwargs = {"per_input" if k == "fields" else k: v for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=match):
        PopulationEncoder(2, **net_kwargs)
    with pytest.raises(ValueError, match="width > 0"):
        PopulationEncoder(2, width=0.0)
