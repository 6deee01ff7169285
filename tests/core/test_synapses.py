import pytest
import torch

from plasticagents.networks import RecurrentSpikingLayer
from plasticagents.synapses import Synapses, dale_signs, random_mask


@pytest.mark.parametrize("fraction,n_exc", [(0.8, 8), (0.0, 0), (1.0, 10), (0.1, 1), (0.5, 5)])
def test_dale_signs_any_ratio(fraction, n_exc):
    signs = dale_signs(10, fraction)
    assert int((signs > 0).sum()) == n_exc and int((signs < 0).sum()) == 10 - n_exc


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "80:20"])
def test_invalid_ratio_is_named(bad):
    with pytest.raises(ValueError, match="excitatory_fraction must be a number in"):
        dale_signs(10, bad)


def test_dale_signs_hold_after_optimiser_steps(gen):
    syn = Synapses(6, 12, dale_rows=6, excitatory_fraction=0.5, generator=gen)
    opt = torch.optim.Adam(syn.parameters(), lr=0.5)
    for _ in range(50):  # push every weight to flip its sign
        opt.zero_grad()
        loss = (syn.weight() * syn.sign[:, None]).sum()
        loss.backward()
        opt.step()
    w = syn.weight()
    exc, inh = syn.sign > 0, syn.sign < 0
    assert bool((w[exc] >= 0).all()) and bool((w[inh] <= 0).all())
    assert bool((w == 0).any())  # magnitudes driven through zero switch synapses off


def test_dale_rows_only_constrain_trailing_rows(gen):
    syn = Synapses(5, 4, dale_rows=3, generator=gen)
    assert syn.sign[:2].tolist() == [0.0, 0.0]
    w = syn.weight()
    assert bool((w[:2] < 0).any()) and bool((w[:2] > 0).any())  # free input rows keep both signs


def test_dale_balanced_initialisation(gen):
    syn = Synapses(500, 400, dale_rows=500, excitatory_fraction=0.8, generator=gen)
    w = syn.weight().detach()
    exc_drive = w[syn.sign > 0].sum(0).mean()
    inh_drive = w[syn.sign < 0].sum(0).mean()
    assert float((exc_drive + inh_drive).abs() / exc_drive) < 0.05


def test_sparse_mask_exact_count_and_zero_absent_synapses(gen):
    mask = random_mask(20, 30, 0.25, gen)
    assert int(mask.sum()) == 150
    syn = Synapses(20, 30, density=0.25, generator=gen)
    assert int((syn.weight() != 0).sum()) == 150
    hebb = torch.ones(2, 20, 30)
    pre = torch.eye(20)[:2]
    cur = syn.current(pre, torch.ones(20, 30), hebb)
    # the plastic part reaches only existing synapses: row 0 current = sum over present synapses
    expected = (syn.raw + 1.0)[0] * syn.mask[0]
    torch.testing.assert_close(cur[0], expected)


def test_bad_shapes_are_named(gen):
    syn = Synapses(4, 3, generator=gen)
    with pytest.raises(ValueError, match=r"expected presynaptic input \[..., 4\], got \[2, 5\]"):
        syn.current(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="density must be in"):
        Synapses(4, 3, density=0.0)
    with pytest.raises(ValueError, match="dale_rows must be in"):
        Synapses(4, 3, dale_rows=9)


@pytest.mark.parametrize("dale", [False, True])
def test_low_initial_firing_rate(dale, gen):
    """Stated target: 0.2-5% spikes per neuron-step for held unit-variance inputs, any size."""
    for n_in, n in [(100, 200), (20, 256)]:
        layer = RecurrentSpikingLayer(n_in, n, dale=dale, generator=gen)
        x = torch.randn(16, n_in, generator=gen)  # an observation held for 300 steps
        state, total, steps = None, 0.0, 300
        with torch.no_grad():
            for _ in range(steps):
                z, state = layer(x, state)
                total += float(z.mean())
        assert 0.002 < total / steps < 0.05
