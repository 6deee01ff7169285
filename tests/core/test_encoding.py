import pytest
import torch

from plasticagents.encoding import delta_encode, encode, latency_encode, rate_encode


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
