import math

import pytest
import torch

from plasticagents.neurons import (
    ALIF,
    LI,
    LIF,
    ALIFParams,
    ALIFState,
    LIFParams,
    LIFState,
    LIParams,
    LIState,
    TimeConstants,
    alif_step,
    li_step,
    lif_step,
)

A_M = math.exp(-0.1)  # tau_mem = 10 ms, dt = 1 ms


def run_lif(xs, params, n=1):
    state = LIFState(torch.zeros(n), torch.zeros(n))
    out = []
    for x in xs:
        z, state = lif_step(torch.full((n,), x), state, params)
        out.append((round(float(state.v[0]), 6), int(z[0])))
    return out


def test_lif_golden_constant_input():
    # v_t = 3 (1 - a^t) until v > 1 at t = 5, then v -= 1 (subtract reset); hand-computed.
    params = LIFParams(tau_mem=10e-3, tau_syn=0.0, dt=1e-3)
    assert run_lif([3.0] * 6, params) == [
        (0.285488, 0),
        (0.543808, 0),
        (0.777545, 0),
        (0.98904, 0),
        (0.180408, 1),
        (0.448728, 0),
    ]


def test_lif_golden_synaptic_pulse():
    # i = a_s i + (1 - a_s) x with a_s = exp(-0.2); v follows v = a v + (1 - a) i.
    params = LIFParams(tau_mem=10e-3, tau_syn=5e-3, dt=1e-3)
    state = LIFState(torch.zeros(1), torch.zeros(1))
    trace = []
    for x in [2.0, 0.0, 0.0]:
        _, state = lif_step(torch.tensor([x]), state, params)
        trace.append((round(float(state.i[0]), 6), round(float(state.v[0]), 6)))
    assert trace == [(0.362538, 0.0345), (0.296821, 0.059463), (0.243017, 0.076931)]


def test_lif_zero_reset_and_leak_steady_state():
    params = LIFParams(tau_mem=10e-3, tau_syn=0.0, dt=1e-3, reset="zero")
    assert run_lif([3.0] * 5, params)[-1] == (0.0, 1)
    sub = LIFParams(tau_mem=10e-3, tau_syn=0.0, dt=1e-3, v_th=100.0, v_leak=0.5)
    assert run_lif([0.2] * 400, sub)[-1][0] == pytest.approx(0.7, abs=1e-5)  # v -> v_leak + i


def test_alif_threshold_rises_after_a_spike():
    p = ALIFParams(tau_mem=10e-3, tau_syn=0.0, tau_adapt=100e-3, beta=2.0, dt=1e-3)
    state = ALIFState(torch.zeros(1), torch.zeros(1), torch.zeros(1))
    spikes = []
    for _ in range(60):
        z, state = alif_step(torch.tensor([3.0]), state, p)
        spikes.append(int(z))
    first = spikes.index(1)
    assert first == 4  # same first spike as plain LIF
    assert float(state.b) > 0
    isis = [
        j - i
        for i, j in zip(
            [k for k, s in enumerate(spikes) if s][:-1],
            [k for k, s in enumerate(spikes) if s][1:],
            strict=True,
        )
    ]
    assert isis[-1] > isis[0]  # spike-frequency adaptation


def test_li_golden_and_gradcheck():
    p = LIParams(tau_mem=10e-3, tau_syn=0.0, dt=1e-3)
    v, _ = li_step(torch.tensor([1.0]), LIState(torch.zeros(1), torch.zeros(1)), p)
    assert float(v) == pytest.approx(1 - A_M)

    def unroll(x, tau_mem, tau_syn):
        params = LIParams(tau_mem, tau_syn, 0.0, 1e-3)
        state = LIState(torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))
        for t in range(x.shape[0]):
            v, state = li_step(x[t], state, params)
        return v

    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    tm = torch.tensor([8e-3, 12e-3, 20e-3], dtype=torch.float64, requires_grad=True)
    ts = torch.tensor([3e-3, 5e-3, 9e-3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(unroll, (x, tm, ts))


@pytest.mark.parametrize(
    "step,state_cls,params",
    [
        (lif_step, LIFState, LIFParams()),
        (alif_step, ALIFState, ALIFParams()),
        (li_step, LIState, LIParams()),
    ],
)
def test_kernels_never_mutate_inputs(step, state_cls, params):
    x = torch.full((2, 4), 5.0)
    state = state_cls(*[torch.rand(2, 4) for _ in state_cls._fields])
    before = [t.clone() for t in state]
    x0 = x.clone()
    step(x, state, params)
    assert torch.equal(x, x0)
    assert all(torch.equal(a, b) for a, b in zip(state, before, strict=True))


def test_lif_module_spikes_carry_surrogate_gradient():
    lif = LIF(5, tau_mem=10e-3, surrogate_name="arctan", alpha=2.0)
    x = torch.full((3, 5), 0.9, requires_grad=True)
    state = None
    total = 0
    for _ in range(30):
        z, state = lif(x, state)
        total = total + z.sum()
    total.backward()
    assert float(total.detach()) == 0.0  # 0.9 never reaches threshold 1 ...
    assert bool((x.grad > 0).all())  # ... yet the surrogate says more input means more spikes


@pytest.mark.parametrize("dist", ["gamma", "lognormal", "uniform"])
def test_heterogeneous_time_constants(dist, gen):
    spec = TimeConstants(20e-3, dist, spread=0.4)
    tau = spec.sample(20000, gen)
    assert float(tau.mean()) == pytest.approx(20e-3, rel=0.02)
    if dist != "uniform":
        assert float(tau.std() / tau.mean()) == pytest.approx(0.4, rel=0.05)
    else:
        assert float(tau.min()) >= 12e-3 and float(tau.max()) <= 28e-3
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(spec.sample(10, g1), spec.sample(10, g2))


def test_learnable_heterogeneous_tau_gets_gradients(gen):
    lif = LIF(4, tau_mem=TimeConstants(20e-3, "gamma", 0.5), learn_tau=True, generator=gen)
    assert "log_tau_mem" in dict(lif.named_parameters())
    v = 0
    state = None
    for _ in range(5):
        _, state = lif(torch.full((2, 4), 0.5), state)
        v = v + state.v.sum()
    v.backward()
    assert bool((lif.log_tau_mem.grad != 0).all())


def test_bad_neuron_arguments_are_named():
    with pytest.raises(ValueError, match="distribution 'normal'.*valid choices"):
        TimeConstants(20e-3, "normal")
    with pytest.raises(ValueError, match="mean must be finite"):
        TimeConstants(float("nan"))
    with pytest.raises(ValueError, match="reset 'hard'.*subtract"):
        LIF(3, reset="hard")
    with pytest.raises(ValueError, match="positive int, got 0"):
        LIF(0)
    with pytest.raises(ValueError, match="dt must be > 0"):
        LI(2, dt=0.0)
    with pytest.raises(TypeError, match="tau_mem must be a float"):
        ALIF(2, tau_mem="fast")
