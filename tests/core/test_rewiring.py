import pytest
import torch

from plasticagents.classifier import SpikingClassifier, sequence_loss
from plasticagents.rewiring import Rewiring
from plasticagents.synapses import Synapses


def _train_steps(model, rewiring, steps: int = 20, lr: float = 0.1):
    g = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        before = [s.mask.clone() for s in rewiring.synapses]
        x = torch.rand(15, 8, model.n_in, generator=g) * 3
        y = torch.randint(0, model.n_classes, (8,), generator=g)
        loss = sequence_loss(model(x).readout, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        moved = rewiring.step()
        history.append((before, [s.mask.clone() for s in rewiring.synapses], moved))
    return history


def test_rewiring_keeps_the_count_and_only_regrows_absent_synapses():
    torch.manual_seed(0)
    model = SpikingClassifier(6, 3, hidden=(24,), density=0.25, dale=True, gain=3.0)
    rewiring = Rewiring(model.synapse_modules())
    counts = [s.connection_count() for s in rewiring.synapses]
    history = _train_steps(model, rewiring)
    assert sum(moved for *_, moved in history) > 0, "a large lr must push some weights past zero"
    for before, after, _ in history:
        for b, a, count in zip(before, after, counts, strict=True):
            assert int(a.sum()) == count
            grown = a & ~b
            assert not (grown & b).any()  # regrown synapses were absent before the step
    for syn in rewiring.synapses:  # every present synapse keeps its sign
        w = syn.weight().detach()
        present = syn.mask
        dale = syn.sign != 0
        signs = syn.sign.unsqueeze(-1).expand_as(w)
        assert ((w[present & dale.unsqueeze(-1)] * signs[present & dale.unsqueeze(-1)]) >= 0).all()


def test_regrowth_picks_the_largest_dense_gradient():
    syn = Synapses(3, 3, density=0.5, generator=torch.Generator().manual_seed(0))
    rewiring = Rewiring([syn], init=0.01)
    present = syn.mask.nonzero()[0]
    with torch.no_grad():  # one present synapse crosses zero
        syn.raw[present[0], present[1]] = -syn.conn_sign[present[0], present[1]] * 0.1
    pre = torch.ones(1, 3)
    target = torch.arange(3.0).view(1, 3) * 10
    ((pre @ syn.weight() - target) ** 2).sum().backward()
    grad = syn.dense_grad.clone()
    absent_scores = torch.where(syn.mask, torch.tensor(-1.0), grad.abs())
    best = divmod(int(absent_scores.argmax()), 3)
    assert rewiring.step() == 1
    assert bool(syn.mask[best]) and not bool(syn.mask[tuple(present.tolist())])
    # the new synapse starts small, with the sign that descends the loss
    assert float(syn.weight().detach()[best]) * float(grad[best]) < 0
    assert abs(float(syn.weight().detach()[best])) == pytest.approx(0.01)


def test_dense_matrices_are_left_alone():
    model = SpikingClassifier(4, 2, hidden=(8,))
    assert Rewiring(model.synapse_modules()).synapses == []
