import pytest
import torch

from plasticagents.delays import DelayedSynapses, dcls_sigma


def _single_synapse(mode: str, max_delay: int = 6) -> DelayedSynapses:
    syn = DelayedSynapses(1, 1, max_delay=max_delay, mode=mode)
    with torch.no_grad():
        syn.synapses.raw.fill_(1.0)
    return syn


def test_learned_delay_shifts_a_spike_by_the_rounded_position():
    syn = _single_synapse("learned")
    with torch.no_grad():
        syn.position.fill_(3.4)  # rounds to 3 at evaluation
    x = torch.zeros(12, 1, 1)
    x[2] = 1.0
    syn.eval()
    out = syn(x)[:, 0, 0].detach()
    assert out.nonzero().flatten().tolist() == [5]
    assert float(out[5]) == pytest.approx(1.0)


def test_fixed_delays_shift_each_synapse_by_its_own_delay():
    syn = DelayedSynapses(
        3, 2, max_delay=5, mode="fixed", generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        syn.synapses.raw.fill_(1.0)
    delays = syn.delays()
    for i in range(3):
        x = torch.zeros(10, 1, 3)
        x[1, 0, i] = 1.0
        out = syn(x)[:, 0]
        for n in range(2):
            assert out[:, n].nonzero().flatten().tolist() == [1 + int(delays[i, n])]


def test_no_delay_mode_is_a_plain_matrix_product():
    syn = DelayedSynapses(4, 3, mode="none")
    x = torch.randn(7, 2, 4)
    torch.testing.assert_close(syn(x), x @ syn.synapses.weight())


def test_gradients_reach_positions_and_match_finite_differences():
    torch.manual_seed(0)
    syn = DelayedSynapses(2, 2, max_delay=6, mode="learned").double()
    syn.sigma = 1.5
    x = torch.randn(15, 3, 2, dtype=torch.float64)
    target = torch.randn(15, 3, 2, dtype=torch.float64)

    def loss() -> torch.Tensor:
        return ((syn(x) - target) ** 2).sum()

    loss().backward()
    grad = syn.position.grad.clone()
    assert torch.isfinite(grad).all() and (grad != 0).all()
    eps = 1e-6
    with torch.no_grad():
        syn.position[0, 1] += eps
        up = float(loss())
        syn.position[0, 1] -= 2 * eps
        down = float(loss())
    assert grad[0, 1].item() == pytest.approx((up - down) / (2 * eps), rel=1e-5)


@pytest.mark.parametrize("mode", ["none", "fixed", "learned"])
@pytest.mark.parametrize("training", [True, False])
def test_step_by_step_equals_the_whole_sequence(mode, training):
    syn = DelayedSynapses(3, 4, max_delay=5, mode=mode, generator=torch.Generator().manual_seed(2))
    syn.train(training)
    x = torch.rand(12, 2, 3)
    buffer, steps = syn.initial_state(2), []
    for t in range(12):
        out, buffer = syn.step(x[t], buffer)
        steps.append(out)
    torch.testing.assert_close(torch.stack(steps), syn(x))


def test_sigma_schedule_narrows_to_half_a_step_in_the_first_quarter():
    assert dcls_sigma(0.0, 24) == pytest.approx(12.27)
    assert dcls_sigma(0.125, 24) == pytest.approx((12 + 0.23) / 2 + 0.27)
    assert dcls_sigma(0.25, 24) == pytest.approx(0.5)
    assert dcls_sigma(1.0, 24) == pytest.approx(0.5)


def test_positions_are_clamped_into_range():
    syn = _single_synapse("learned", max_delay=4)
    with torch.no_grad():
        syn.position.fill_(9.0)
    syn.clamp_positions()
    assert float(syn.position.detach()) == 4.0


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="unknown delay mode 'dcls'.*'learned'"):
        DelayedSynapses(2, 2, mode="dcls")
    with pytest.raises(ValueError, match="needs max_delay >= 1"):
        DelayedSynapses(2, 2, mode="fixed", max_delay=0)
    with pytest.raises(ValueError, match=r"expected a sequence \[T, B, 2\]"):
        DelayedSynapses(2, 2, mode="fixed", max_delay=3)(torch.zeros(5, 3))
