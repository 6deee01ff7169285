import torch

from plasticagents.neurons import TimeConstants, decay
from plasticagents.reservoir import STDPReservoir, STDPSpec


def _reservoir(spread: float) -> STDPReservoir:
    return STDPReservoir(
        3,
        30,
        tau_mem=TimeConstants(20e-3, "gamma", 0.8),
        density_rec=0.2,
        gain_in=3.0,
        bias=0.3,
        stdp=STDPSpec(lr=0.05, spread=spread),
        generator=torch.Generator().manual_seed(0),
    )


def _reference_stdp_run(res: STDPReservoir, x: torch.Tensor) -> torch.Tensor:
    """The module docstring's equations written out: per-neuron traces, batch-mean update of
    the excitatory magnitudes, clipped to [0, w_max]. Returns the final magnitudes."""
    s, batch = res.stdp, x.shape[1]
    raw = res.rec.raw.clone()
    sign = res.rec.sign.unsqueeze(-1)
    weight = lambda m: torch.where(sign == 0, m, sign * torch.relu(m)) * res.rec.mask  # noqa: E731
    current = res.input.current(x) + res.bias
    state = res.neurons.initial_state((batch,), x)
    z = torch.zeros(batch, res.n)
    x_pre, y_post = torch.zeros_like(z), torch.zeros_like(z)
    d_plus, d_minus = decay(res.tau_plus[:, 0], res.dt), decay(res.tau_minus[0], res.dt)
    for t in range(x.shape[0]):
        z_prev = z
        z, state = res.neurons(current[t] + z_prev @ weight(raw), state)
        x_pre = d_plus * x_pre + z_prev
        y_post = d_minus * y_post + z
        ltp = res.a_plus * (x_pre.T @ z) / batch
        ltd = res.a_minus * (z_prev.T @ y_post) / batch
        updated = (raw + s.lr * (ltp - ltd)).clamp(0.0, s.w_max)
        raw = torch.where(sign > 0, updated, raw)
    return raw


def test_reservoir_stdp_is_the_trace_form_rule_to_the_last_bit():
    # exact, not close: the pinned smoke results of the STDP trainer depend on this rounding
    for spread in (0.0, 0.5):
        res = _reservoir(spread)
        x = torch.rand(60, 3, 3, generator=torch.Generator().manual_seed(1)) * 2
        want = _reference_stdp_run(res, x)
        with torch.no_grad():
            res.run(x, learn=True)
        assert not torch.equal(want, _reservoir(spread).rec.raw)  # STDP did change weights
        assert torch.equal(res.rec.raw, want)


def test_heterogeneous_stdp_draws_per_synapse_amplitudes_and_per_neuron_time_constants():
    res = _reservoir(0.5)
    assert res.a_plus.shape == (30, 30) and res.a_plus.std() > 0
    assert res.tau_plus.shape == (30, 1) and res.tau_minus.shape == (1, 30)
    assert res.tau_plus.std() > 0
    homogeneous = _reservoir(0.0)
    assert bool((homogeneous.a_minus == 1.05).all()) and bool((homogeneous.tau_plus == 20e-3).all())
