import math

import pytest
import torch

from plasticagents.neurons import TimeConstants
from plasticagents.plasticity import (
    MODES,
    RULES,
    Plasticity,
    PlasticityParams,
    PlasticitySpec,
    PlasticState,
    is_post_major,
    plasticity_step,
    post_major,
    post_major_state,
)

PRE = torch.tensor([1.0, 2.0])
POST = torch.tensor([3.0])
HEBB = torch.tensor([[0.1], [-0.2]])


def one_step(rule, **kw):
    state = PlasticState(HEBB, theta=torch.tensor([4.0]) if rule == "bcm" else None)
    p = PlasticityParams(eta=0.5, clip=100.0, **kw)
    return plasticity_step(PRE, POST, state, p, rule).hebb[:, 0].tolist()


def test_golden_single_steps():
    # hebbian (Miconi): (1 - eta) hebb + eta pre*post
    assert one_step("hebbian") == pytest.approx([0.5 * 0.1 + 0.5 * 3, 0.5 * -0.2 + 0.5 * 6])
    # oja: hebb + eta post (pre - post hebb)
    assert one_step("oja") == pytest.approx([0.1 + 0.5 * 3 * (1 - 0.3), -0.2 + 0.5 * 3 * (2 + 0.6)])
    # bcm: hebb + eta pre post (post - theta), theta = 4
    assert one_step("bcm") == pytest.approx([0.1 + 0.5 * 1 * 3 * -1, -0.2 + 0.5 * 2 * 3 * -1])
    # abcd: hebb + eta (A pre post + B pre + C post + D)
    got = one_step("abcd", A=1.0, B=0.5, C=-1.0, D=0.25)
    assert got == pytest.approx([0.1 + 0.5 * (3 + 0.5 - 3 + 0.25), -0.2 + 0.5 * (6 + 1 - 3 + 0.25)])


def test_clip_bounds_fast_weights():
    state = PlasticState(torch.zeros(2, 1))
    new = plasticity_step(PRE * 10, POST, state, PlasticityParams(eta=1.0, clip=0.5), "oja")
    assert new.hebb.tolist() == [[0.5], [0.5]]


def test_modulated_and_retroactive_modes():
    p = PlasticityParams(eta=0.5, clip=100.0)
    plain_term = PRE[:, None] * POST[None, :]
    zero = plasticity_step(PRE, POST, PlasticState(HEBB), p, "hebbian", torch.zeros(1))
    assert torch.equal(zero.hebb, HEBB)  # no neuromodulator, no change (and no decay)
    m = torch.tensor([-2.0])
    mod = plasticity_step(PRE, POST, PlasticState(HEBB), p, "hebbian", m)
    torch.testing.assert_close(mod.hebb, HEBB + m * 0.5 * plain_term)
    elig = torch.full((2, 1), 0.2)
    retro = plasticity_step(PRE, POST, PlasticState(HEBB, elig=elig), p, "hebbian", m)
    new_elig = 0.5 * elig + 0.5 * plain_term
    torch.testing.assert_close(retro.elig, new_elig)
    torch.testing.assert_close(retro.hebb, HEBB + m * new_elig)


@pytest.mark.parametrize("rule", RULES)
def test_inputs_never_mutated(rule):
    spec = PlasticitySpec(rule, mode="retroactive")
    plast = Plasticity(2, 3, spec)
    state = plast.initial_state((4,), torch.zeros(()))
    state = state._replace(
        **{k: torch.rand_like(v) for k, v in state._asdict().items() if v is not None}
    )
    before = [None if t is None else t.clone() for t in state]
    pre, post, m = torch.rand(4, 2), torch.rand(4, 3), torch.rand(4, 3)
    copies = (pre.clone(), post.clone(), m.clone())
    plast(pre, post, state, m)
    for a, b in zip(state, before, strict=True):
        assert (a is None and b is None) or torch.equal(a, b)
    assert all(torch.equal(a, b) for a, b in zip((pre, post, m), copies, strict=True))


def _unrolled_loss(rule, mode):
    """Loss after 4 steps of a rate network whose [3, 2] synapses follow ``rule`` in ``mode``."""
    gen = torch.Generator().manual_seed(0)
    xs = torch.rand(4, 2, 3, generator=gen, dtype=torch.float64)

    def loss(w, alpha, eta, coef_a, coef_b, w_mod):
        p = PlasticityParams(
            eta=eta,
            A=coef_a,
            B=coef_b,
            C=coef_b * 0.5,
            D=coef_a * 0.1,
            a_plus=coef_a,
            a_minus=coef_b,
            tau_plus=15e-3,
            tau_minus=25e-3,
            tau_theta=0.01,
            clip=50.0,
        )
        z = lambda *s: torch.zeros(2, *s, dtype=torch.float64)  # noqa: E731
        state = PlasticState(
            z(3, 2),
            z(3, 2) if mode == "retroactive" else None,
            z(2) if rule == "bcm" else None,
            z(3, 1) if rule == "stdp" else None,
            z(1, 2) if rule == "stdp" else None,
        )
        total = 0.0
        for x in xs:
            post = torch.tanh((x.unsqueeze(-2) @ (w + alpha * state.hebb)).squeeze(-2))
            squash = torch.sigmoid if mode == "gated" else torch.tanh
            m = None if mode == "plain" else squash(post @ w_mod).expand(2, 2)
            state = plasticity_step(x, post, state, p, rule, m, gated=mode == "gated")
            total = total + (post**2).sum() + state.hebb.sum()
        return total

    return loss


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rule", RULES)
def test_gradients_through_plasticity_equal_finite_differences(rule, mode):
    if rule == "stdp" and mode == "gated":
        pytest.skip("gated mode takes rate rules, not STDP")
    gen = torch.Generator().manual_seed(1)
    r = lambda *s: (0.5 * torch.randn(*s, generator=gen, dtype=torch.float64)).requires_grad_()  # noqa: E731
    args = (
        r(3, 2),
        r(3, 2),
        (0.2 + 0.1 * torch.rand(3, 2, generator=gen, dtype=torch.float64)).requires_grad_(),
        r(2),
        r(2),
        r(2, 1),
    )
    assert torch.autograd.gradcheck(_unrolled_loss(rule, mode), args)


def test_oja_converges_to_principal_component(gen):
    cov = torch.tensor([[3.0, 1.2], [1.2, 1.0]])
    chol = torch.linalg.cholesky(cov)
    x = torch.randn(6000, 2, generator=gen) @ chol.T
    state = PlasticState(torch.tensor([[0.3], [-0.1]]))
    p = PlasticityParams(eta=0.003, clip=10.0)
    for xt in x:
        post = xt @ state.hebb  # one linear neuron, y = w . x
        state = plasticity_step(xt, post, state, p, "oja")
    w = state.hebb[:, 0]
    pc1 = torch.linalg.eigh(cov).eigenvectors[:, -1]
    assert abs(float(w @ pc1)) / float(w.norm()) > 0.995
    assert float(w.norm()) == pytest.approx(1.0, abs=0.05)


def test_bcm_threshold_tracks_mean_squared_activity(gen):
    state = PlasticState(torch.zeros(1, 2), theta=torch.zeros(2))
    p = PlasticityParams(eta=0.0, tau_theta=0.05, dt=1e-3)
    scale = torch.tensor([0.5, 2.0])
    thetas = []
    for t in range(3000):
        post = scale * torch.rand(2, generator=gen)  # E[post^2] = scale^2 / 3
        state = plasticity_step(torch.ones(1), post, state, p, "bcm")
        if t > 1000:
            thetas.append(state.theta)
    mean_theta = torch.stack(thetas).mean(0)
    torch.testing.assert_close(mean_theta, scale**2 / 3, rtol=0.05, atol=0.0)


def stdp_weight_change(lag, tau_plus, tau_minus, a_plus=1.0, a_minus=0.5):
    """Δw of one synapse after a pre spike at step 20 and a post spike at step 20 + lag."""
    n_pre, n_post = (
        tau_plus.shape if isinstance(tau_plus, torch.Tensor) and tau_plus.dim() else (1, 1)
    )
    p = PlasticityParams(
        eta=1.0,
        a_plus=a_plus,
        a_minus=a_minus,
        tau_plus=tau_plus,
        tau_minus=tau_minus,
        clip=10.0,
        dt=1e-3,
    )
    trace_shape = (n_pre, n_post) if isinstance(tau_plus, torch.Tensor) and tau_plus.dim() else None
    state = PlasticState(
        torch.zeros(n_pre, n_post),
        x_pre=torch.zeros(trace_shape or (n_pre, 1)),
        y_post=torch.zeros(trace_shape or (1, n_post)),
    )
    for t in range(60):
        pre = torch.full((n_pre,), float(t == 20))
        post = torch.full((n_post,), float(t == 20 + lag))
        state = plasticity_step(pre, post, state, p, "stdp")
    return state.hebb


@pytest.mark.parametrize("lag", [-15, -5, -1, 1, 5, 15])
def test_stdp_window_sign_and_exponential_shape(lag):
    dw = float(stdp_weight_change(lag, 10e-3, 20e-3)[0, 0])
    if lag > 0:  # pre before post: potentiation A+ exp(-lag dt / tau_plus)
        assert dw == pytest.approx(1.0 * math.exp(-lag * 1e-3 / 10e-3), rel=1e-5)
    else:  # post before pre: depression -A- exp(-|lag| dt / tau_minus)
        assert dw == pytest.approx(-0.5 * math.exp(lag * 1e-3 / 20e-3), rel=1e-5)
    assert float(stdp_weight_change(0, 10e-3, 20e-3)[0, 0]) == pytest.approx(0.5)  # A+ - A-


def test_heterogeneous_stdp_time_constants_are_per_synapse():
    taus = torch.tensor([[5e-3, 40e-3]])
    dw = stdp_weight_change(5, taus, taus)[0]
    expected = torch.exp(-5e-3 / taus[0])
    torch.testing.assert_close(dw, expected)
    plast = Plasticity(3, 4, PlasticitySpec("stdp", tau_plus=TimeConstants(20e-3, "gamma", 0.5)))
    assert plast.tau_plus.shape == (3, 4)
    assert plast.initial_state((2,), torch.zeros(())).x_pre.shape == (2, 3, 4)


def _random_state(rule, batch, gen):
    """A random plastic state for 3 pre and 2 post neurons with leading axes ``batch``."""
    r = lambda *s: torch.rand(*batch, *s, generator=gen, dtype=torch.float64)  # noqa: E731
    return PlasticState(
        r(3, 2) - 0.5,
        theta=r(2) if rule == "bcm" else None,
        x_pre=r(3, 1) if rule == "stdp" else None,
        y_post=r(1, 2) if rule == "stdp" else None,
    )


@pytest.mark.parametrize("rule", RULES)
def test_a_shared_fast_weight_moves_by_the_batch_mean_of_the_per_sample_updates(rule, gen):
    p = PlasticityParams(eta=0.3, A=0.7, B=0.2, C=-0.4, D=0.1, a_minus=0.8, clip=100.0)
    per_sample = _random_state(rule, (5,), gen)
    shared = per_sample._replace(  # one weight (and BCM threshold) for the batch
        hebb=per_sample.hebb[0], theta=None if rule != "bcm" else per_sample.theta[0]
    )
    per_sample = per_sample._replace(
        hebb=shared.hebb.expand(5, 3, 2),
        theta=None if rule != "bcm" else shared.theta.expand(5, 2),
    )
    pre = torch.rand(5, 3, generator=gen, dtype=torch.float64)
    post = torch.rand(5, 2, generator=gen, dtype=torch.float64)
    looped = plasticity_step(pre, post, per_sample, p, rule)
    batched = plasticity_step(pre, post, shared, p, rule, shared=True)
    assert batched.hebb.shape == (3, 2)
    torch.testing.assert_close(batched.hebb, looped.hebb.mean(0))
    if rule == "bcm":
        torch.testing.assert_close(batched.theta, looped.theta.mean(0))
    if rule == "stdp":  # the traces stay per sample
        torch.testing.assert_close(batched.x_pre, looped.x_pre)


def test_a_shared_fast_weight_refuses_per_sample_modulation():
    state = PlasticState(torch.zeros(2, 1))
    with pytest.raises(ValueError, match="shared fast weight takes the plain update"):
        plasticity_step(
            PRE.expand(3, 2),
            POST.expand(3, 1),
            state,
            PlasticityParams(),
            "hebbian",
            torch.ones(3, 1),
            shared=True,
        )


def test_floor_and_plastic_mask_bound_and_select_the_synapses_that_learn():
    hebb = torch.tensor([[0.25, 5.0], [0.25, -5.0]])  # the 5s lie outside the bounds
    pre, post = torch.tensor([1.0, 1.0]), torch.tensor([-1.0, 1.0])
    rows = torch.tensor([[True], [False]])
    p = PlasticityParams(eta=1.0, clip=1.0, floor=0.0, plastic=rows)
    new = plasticity_step(pre, post, PlasticState(hebb), p, "abcd").hebb
    # row 0: 0.25 + pre post, clipped to [0, 1]; row 1 is not plastic and keeps even -5
    assert new.tolist() == [[0.0, 1.0], [0.25, -5.0]]
    default = plasticity_step(
        pre, post, PlasticState(hebb), p._replace(floor=None, plastic=None), "abcd"
    ).hebb
    assert default.tolist() == [[-0.75, 1.0], [-0.75, -1.0]]  # floor defaults to -clip


def test_bad_plasticity_specs_are_named():
    with pytest.raises(ValueError, match="rule 'hebb'.*valid choices.*'oja'"):
        PlasticitySpec("hebb")
    with pytest.raises(ValueError, match="mode 'gate'.*'retroactive', 'gated'"):
        PlasticitySpec(mode="gate")
    with pytest.raises(ValueError, match="granularity 'layer'"):
        PlasticitySpec(granularity="layer")
    with pytest.raises(ValueError, match="clip must be > 0"):
        PlasticitySpec(clip=0.0)
    with pytest.raises(ValueError, match="unknown plasticity rule 'x'"):
        plasticity_step(PRE, POST, PlasticState(HEBB), PlasticityParams(), "x")


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("mode", MODES)
def test_a_post_major_state_steps_to_the_same_values_and_stays_post_major(rule, mode, gen):
    if rule == "stdp" and mode != "plain":
        pytest.skip("STDP runs in plain mode")
    plast = Plasticity(5, 4, PlasticitySpec(rule, mode=mode, granularity="synapse"))
    row = plast.initial_state((3,), torch.zeros(()))
    row = row._replace(
        **{k: torch.rand(v.shape, generator=gen) for k, v in row._asdict().items() if v is not None}
    )
    col = post_major_state(row)
    assert is_post_major(col.hebb) and not is_post_major(row.hebb)
    m = torch.rand(3, 4, generator=gen) if mode != "plain" else None
    for _ in range(3):
        pre, post = torch.rand(3, 5, generator=gen), torch.rand(3, 4, generator=gen)
        row, col = plast(pre, post, row, m), plast(pre, post, col, m)
        for a, b in zip(row, col, strict=True):
            assert (a is None and b is None) or torch.equal(a, b)
        assert is_post_major(col.hebb) and (col.elig is None or is_post_major(col.elig))


def test_post_major_leaves_vectors_and_size_one_axes_alone():
    assert post_major(torch.zeros(2, 1)).stride() == (1, 1)
    assert post_major(torch.zeros(3)).shape == (3,)
    assert not is_post_major(None) and not is_post_major(torch.zeros(4, 5))


def test_abcd_init_starts_the_rule_coefficients():
    spec = PlasticitySpec("abcd", granularity="post", abcd_init=(0.0, 0.25, -1.0, 0.5))
    rule = Plasticity(3, 4, spec)
    assert [getattr(rule, name).tolist() for name in "ABCD"] == [
        [0.0] * 4,
        [0.25] * 4,
        [-1.0] * 4,
        [0.5] * 4,
    ]
    default = Plasticity(3, 4, PlasticitySpec("abcd", granularity="scalar"))
    assert [getattr(default, name).item() for name in "ABCD"] == [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"abcd_init must be 4 finite numbers.*nan"):
        PlasticitySpec("abcd", abcd_init=(0.0, float("nan"), 1.0, 0.0))


@torch.no_grad()
def test_homeostatic_bias_pulls_each_neuron_back_after_an_input_offset():
    """abcd_init (0, rho, -1, 0) on a constant input's row, plain mode: each neuron's bias
    integrates eta (rho - post), so a constant shift of the inputs, which moves a static
    network's rates for good, is integrated away neuron by neuron."""
    from plasticagents import PlasticSNN

    def rate_shift(spec):  # mean |rate after the offset - rate before| over neurons
        torch.manual_seed(0)
        net = PlasticSNN(5, 2, hidden=32, recurrent=False, constant_input=True, plasticity=spec,
                         gain=2.0, dt=0.025, tau_mem=0.05, tau_syn=0.025)  # fmt: skip
        if spec is not None:
            net.layer.plasticity.alpha.fill_(1.0)
        x = torch.randn(5, generator=torch.Generator().manual_seed(1))
        offset = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0])
        state, rates = None, []
        for t in range(900):  # a gait-like oscillation on top, the offset from step 400
            drive = x + 0.5 * math.sin(0.6 * t) + (offset if t >= 400 else 0.0)
            _, state = net(drive.unsqueeze(0), state)
            rates.append(state.spikes[0])
        rates = torch.stack(rates)
        before, after = rates[200:400].mean(0), rates[700:].mean(0)
        return float((after - before).abs().mean())

    homeostat = PlasticitySpec(
        "abcd", granularity="post", rows="constant", abcd_init=(0.0, 0.2, -1.0, 0.0), eta=0.1,
        clip=5.0,
    )  # fmt: skip
    static = rate_shift(None)
    assert static > 0.2  # the offset moves a static network's rates (spikes per call)
    assert rate_shift(homeostat) < 0.1 * static
    hebbian = PlasticitySpec("abcd", granularity="post", rows="constant", eta=0.1, clip=5.0)
    assert rate_shift(hebbian) > 0.5 * static  # the default Hebbian start does not


def test_fixed_coefficients_are_neither_trained_nor_searched():
    from plasticagents import PlasticSNN, Population

    spec = PlasticitySpec(
        "abcd", granularity="post", rows="constant", abcd_init=(0.0, 0.2, -1.0, 0.0),
        fixed=["alpha", "eta", "A", "B", "C", "D"],
    )  # fmt: skip
    net = PlasticSNN(3, 2, hidden=8, recurrent=False, constant_input=True, plasticity=spec)
    searched = Population(net, size=4)
    searchable = PlasticitySpec("abcd", granularity="post", rows="constant")
    free = PlasticSNN(3, 2, hidden=8, recurrent=False, constant_input=True, plasticity=searchable)
    # alpha [1, 8], eta and A..D [8] each: 56 numbers the population does not vary
    assert Population(free, size=4).num_params - searched.num_params == 8 + 5 * 8
    coefficients = dict(net.layer.plasticity.named_parameters())
    before = {name: p.detach().clone() for name, p in coefficients.items()}
    optimiser = torch.optim.SGD(net.parameters(), lr=1.0)
    state, loss = None, 0.0
    for _ in range(5):
        out, state = net(torch.randn(1, 3), state)
        loss = loss + out.square().sum()
    loss.backward()
    optimiser.step()
    assert all(torch.equal(coefficients[n], before[n]) for n in before)
    assert net.layer.synapses.raw.grad is not None  # the slow weights still learn
    with pytest.raises(ValueError, match=r"fixed names 'A', not a coefficient of rule 'hebbian'"):
        PlasticitySpec("hebbian", fixed=["A"])
