import pytest
import torch
from torch.func import vmap

from plasticagents.surrogate import SURROGATES, surrogate, surrogate_primitive


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_forward_is_heaviside(name):
    x = torch.tensor([-1.0, -1e-6, 0.0, 1e-6, 2.0])
    assert surrogate(name, 5.0)(x).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("name", sorted(SURROGATES))
@pytest.mark.parametrize("alpha", [0.5, 2.0, 10.0])
def test_backward_equals_finite_difference_of_primitive(name, alpha):
    # offset so no grid point sits on the triangle's kinks (0, ±1/alpha)
    x = (torch.linspace(-2.0, 2.0, 41, dtype=torch.float64) + 0.0123).requires_grad_()
    surrogate(name, alpha)(x).sum().backward()
    prim, h = surrogate_primitive(name, alpha), 1e-6
    numeric = (prim(x.detach() + h) - prim(x.detach() - h)) / (2 * h)
    torch.testing.assert_close(x.grad, numeric, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_surrogate_integrates_to_one(name):
    prim = surrogate_primitive(name, 3.0)
    lo, hi = (
        prim(torch.tensor(-1e4, dtype=torch.float64)),
        prim(torch.tensor(1e4, dtype=torch.float64)),
    )
    assert float(hi - lo) == pytest.approx(1.0, abs=1e-3)


def test_works_under_vmap_with_gradients():
    spike = surrogate("arctan", 2.0)
    x = torch.randn(4, 3, requires_grad=True)
    y = vmap(spike)(x)
    y.sum().backward()
    assert torch.equal(y, (x > 0).float())
    assert bool((x.grad > 0).all())


def test_bad_name_and_alpha_are_named():
    with pytest.raises(ValueError, match="'sigmoidal'.*valid choices.*arctan"):
        surrogate("sigmoidal")
    with pytest.raises(ValueError, match="alpha must be > 0, got -1"):
        surrogate("arctan", -1)
