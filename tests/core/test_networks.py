import dataclasses

import numpy as np
import pytest
import torch

from plasticagents import (
    Agent,
    LSTMPolicy,
    MLPPolicy,
    PlasticitySpec,
    PlasticSNN,
    Population,
    PopulationEncoder,
    parameters_to_vector,
    reset_where,
    resolve_device,
    vector_to_parameters,
)
from plasticagents.networks import make_encoder
from plasticagents.neurons import TimeConstants
from plasticagents.plasticity import Plasticity, is_post_major


def make_net(gen, plasticity=None, steps_per_input=3, **kw):
    return PlasticSNN(
        6,
        3,
        hidden=24,
        steps_per_input=steps_per_input,
        plasticity=plasticity,
        generator=gen,
        encoder_kwargs={"gain": 4.0},
        **kw,
    )


def rollout(net, xs, state=None, grad=False):
    outs = []
    with torch.set_grad_enabled(grad):
        for x in xs:
            y, state = net(x, state)
            outs.append(y)
    return torch.stack(outs), state


@pytest.mark.parametrize("rule", ["hebbian", "oja", "abcd", "stdp"])
def test_plasticity_off_is_exactly_the_static_network(rule, gen):
    static = make_net(torch.Generator().manual_seed(3))
    plastic = make_net(torch.Generator().manual_seed(3), PlasticitySpec(rule, mode="modulated"))
    plastic.load_state_dict(static.state_dict(), strict=False)
    with torch.no_grad():
        plastic.layer.plasticity.alpha.zero_()
    xs = torch.randn(20, 5, 6, generator=gen)
    y_static, s_static = rollout(static, xs)
    y_plastic, s_plastic = rollout(plastic, xs)
    assert torch.equal(y_static, y_plastic)
    assert float(s_static.spikes.sum()) > 0  # the comparison saw spikes, not a silent net
    assert float(s_plastic.layer.plastic.hebb.abs().sum()) > 0  # fast weights moved but unused


def test_plasticity_changes_behaviour_within_an_episode(gen):
    net = make_net(gen, PlasticitySpec("hebbian", eta=0.5, alpha_init=1.0))
    xs = torch.randn(30, 2, 6, generator=gen)
    y, _ = rollout(net, xs)
    static = make_net(torch.Generator().manual_seed(0))
    static.load_state_dict(net.state_dict(), strict=False)
    y0, _ = rollout(static, xs)
    assert not torch.allclose(y, y0)


def assert_population_equals_individuals(pop, xs, atol):
    """``pop`` stepped through ``xs: [T, P, B, D]`` from its initial state gives each
    individual's outputs alone, and the individuals really differ."""
    state = pop.initial_state(xs.shape[2])
    batched = []
    for x in xs:
        y, state = pop(x, state)
        batched.append(y)
    batched = torch.stack(batched, 1)  # [P, T, B, A]
    for i in range(pop.size):
        alone, _ = rollout(pop.individual(i), xs[:, i])
        torch.testing.assert_close(batched[i], alone, atol=atol, rtol=1e-5)
    assert not torch.allclose(batched[0], batched[1])
    return state


@pytest.mark.parametrize(
    "spec",
    [
        None,
        PlasticitySpec("hebbian"),
        PlasticitySpec("oja", mode="modulated", granularity="post"),
        PlasticitySpec("bcm", mode="retroactive", granularity="scalar"),
        PlasticitySpec("abcd", n_modulators=2, mode="modulated"),
        PlasticitySpec("stdp", tau_plus=TimeConstants(20e-3, "gamma", 0.3)),
        PlasticitySpec("hebbian", mode="modulated", granularity="post", modulator_input="input"),
        PlasticitySpec("hebbian", mode="gated", granularity="post", modulator_input="input"),
        PlasticitySpec("oja", mode="gated", n_modulators=2, gate_bias=0.0),
    ],
)
@pytest.mark.parametrize("neuron", ["lif", "alif"])
@pytest.mark.parametrize("post_major", [False, True])
def test_population_output_equals_each_individual_alone(spec, neuron, post_major, gen):
    # a constant input with the gated rule and with the input-reading neuromodulator (its
    # fast weights: a bias the network writes; the neuromodulator reads it too)
    const = spec is not None and (spec.mode == "gated" or spec.modulator_input == "input")
    net = make_net(gen, spec, neuron=neuron, dale=True, constant_input=const)
    pop = Population(net, 5, post_major=post_major)
    pop.load_vectors(pop.to_vectors() + 0.3 * torch.randn(5, pop.num_params, generator=gen))
    assert_population_equals_individuals(pop, torch.randn(8, 5, 4, 6, generator=gen), 1e-5)


def test_population_shares_fixed_parameters_without_copies(gen):
    net = make_net(gen, PlasticitySpec("hebbian"))
    net.layer.synapses.raw.requires_grad_(False)
    pop = Population(net, 3)
    assert "layer.synapses.raw" not in pop.names
    assert pop.num_params == sum(p.numel() for p in net.parameters() if p.requires_grad)


@pytest.mark.parametrize("post_major", [False, True])
def test_vectors_round_trip(post_major, gen):
    net = make_net(gen, PlasticitySpec("abcd", granularity="synapse"))
    pop = Population(net, 4, post_major=post_major)
    v = torch.randn(4, pop.num_params, generator=gen)
    pop.load_vectors(v)
    assert torch.equal(pop.to_vectors(), v)
    raw = pop.params["layer.synapses.raw"]
    assert is_post_major(raw) == post_major  # the copy, not a view of v, when post-major
    assert torch.equal(
        raw[1], parameters_to_vector(pop.individual(1).layer.synapses, ["raw"]).view(30, 24)
    )
    clone = pop.individual(2)
    assert torch.equal(parameters_to_vector(clone), v[2])
    vector_to_parameters(v[1], clone)
    assert torch.equal(parameters_to_vector(clone), v[1])
    with pytest.raises(ValueError, match=rf"shape \[4, {pop.num_params}\], got \[4, 3\]"):
        pop.load_vectors(torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"parameter vector of shape \["):
        vector_to_parameters(torch.zeros(2), clone)
    with pytest.raises(ValueError, match="unknown parameter names"):
        Population(net, 2, names=["nope"])


def test_reset_where_resets_only_flagged_rows(gen):
    net = make_net(gen, PlasticitySpec("hebbian", mode="retroactive"))
    _, state = rollout(net, torch.randn(10, 4, 6, generator=gen) * 3)
    flags = torch.tensor([True, False, False, True])
    fresh = net.initial_state(4)
    new = reset_where(state, flags, fresh)
    for leaf_new, leaf_old in zip(_leaves(new), _leaves(state), strict=True):
        assert torch.equal(leaf_new[1:3], leaf_old[1:3])
        assert not bool(leaf_new[[0, 3]].any())
    assert bool(state.layer.plastic.hebb[0].any())  # input not modified
    with pytest.raises(ValueError, match=r"episode_start has shape \[3\]"):
        reset_where(state, torch.zeros(3, dtype=torch.bool))


def _leaves(tree):
    if tree is None:
        return []
    if isinstance(tree, torch.Tensor):
        return [tree]
    return [leaf for sub in tree for leaf in _leaves(sub)]


def test_population_encoder_peaks_at_its_centres():
    enc = PopulationEncoder(2, per_input=5, low=-2.0, high=2.0)
    y = enc(torch.tensor([[-2.0, 1.0]]))
    assert y.shape == (1, 10)
    assert int(y[0, :5].argmax()) == 0 and int(y[0, 5:].argmax()) == 3
    assert float(y.max()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown encoder 'rate'.*direct.*population"):
        make_encoder("rate", 3)


def test_gradients_reach_every_plasticity_parameter_through_an_episode(gen):
    net = make_net(gen, PlasticitySpec("abcd", mode="retroactive", alpha_init=0.5))
    y, _ = rollout(net, torch.randn(25, 4, 6, generator=gen) * 2, grad=True)
    y.pow(2).sum().backward()
    for name in [
        "layer.plasticity.alpha",
        "layer.plasticity.eta",
        "layer.plasticity.A",
        "layer.plasticity.B",
        "layer.plasticity.C",
        "layer.plasticity.D",
        "layer.modulator.w_mod",
        "layer.modulator.fanout",
    ]:
        grad = dict(net.named_parameters())[name].grad
        assert (
            grad is not None and bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0
        ), name


@pytest.mark.parametrize("rule", ["hebbian", "oja"])
def test_float16_storage_is_the_float32_network_with_its_synapses_rounded_to_half(rule, gen):
    """``storage: float16``: the fast weights are held as half, rounded after every update,
    and the slow weight and ``alpha`` are used rounded: the float32 network with those
    roundings applied by hand gives the same numbers, bit for bit."""
    kw = dict(granularity="post", alpha_init=0.5, eta=0.3, clip=0.8)

    def net(storage):  # one simulation step per input: the hand rounding below is per step
        spec = PlasticitySpec(rule, storage=storage, **kw)
        return make_net(torch.Generator().manual_seed(3), spec, steps_per_input=1)

    half, ref, plain = net("float16"), net("float32"), net("float32")
    xs = torch.randn(30, 4, 6, generator=gen) * 2
    s_half = s_ref = s_plain = None
    diverged = False
    with torch.no_grad():
        for name in ("layer.synapses.raw", "layer.plasticity.alpha"):
            value = ref.get_parameter(name)
            value.copy_(value.half().float())
        for x in xs:
            y_half, s_half = half(x, s_half)
            y_ref, s_ref = ref(x, s_ref)
            hebb = s_ref.layer.plastic.hebb.half().float()
            s_ref = s_ref._replace(
                layer=s_ref.layer._replace(plastic=s_ref.layer.plastic._replace(hebb=hebb))
            )
            _, s_plain = plain(x, s_plain)
            assert s_half.layer.plastic.hebb.dtype == torch.float16
            assert torch.equal(y_half, y_ref)
            assert torch.equal(s_half.layer.plastic.hebb.float(), s_ref.layer.plastic.hebb)
            assert torch.equal(s_half.layer.neuron.v, s_ref.layer.neuron.v)
            diverged |= not torch.equal(s_plain.layer.neuron.v, s_ref.layer.neuron.v)
        assert diverged  # the roundings change the numbers, so the comparison can tell
        assert float(s_half.layer.plastic.hebb.float().abs().mean()) > 5e-4  # it learned
        torch.testing.assert_close(
            half.weight_change(s_half), ref.weight_change(s_ref), rtol=1e-6, atol=1e-7
        )


def test_float32_storage_keeps_a_float64_networks_own_dtype(gen):
    # "float32" is the default storage: the network's own dtype, nothing rounded
    net = make_net(gen, PlasticitySpec("hebbian", alpha_init=0.5)).double()
    y, state = rollout(net, torch.randn(5, 4, 6, generator=gen, dtype=torch.float64) * 2)
    assert y.dtype == state.layer.plastic.hebb.dtype == torch.float64
    half = make_net(gen, PlasticitySpec("hebbian", storage="float16")).double()
    _, state = rollout(half, torch.randn(5, 4, 6, generator=gen, dtype=torch.float64) * 2)
    assert state.layer.plastic.hebb.dtype == torch.float16


def test_as_stored_rounds_the_value_and_passes_the_gradient_unchanged():
    from plasticagents.plasticity import as_stored

    t = torch.tensor([1e-3, 0.3, 7.0, 1e-6], requires_grad=True)
    out = as_stored(t, torch.float16)
    assert torch.equal(out.detach(), t.detach().half().float())
    g = torch.tensor([1e-8, 1e5, 1.0, 2.0])  # a half cast's backward: 0 and inf for these
    (out * g).sum().backward()
    assert torch.equal(t.grad, g)


def test_gradients_pass_the_float16_roundings(gen):
    spec = PlasticitySpec("hebbian", mode="modulated", alpha_init=0.5, storage="float16")
    net = make_net(gen, spec)
    y, state = rollout(net, torch.randn(15, 4, 6, generator=gen) * 2, grad=True)
    assert state.layer.plastic.hebb.dtype == torch.float16
    y.pow(2).sum().backward()
    for name in ("layer.synapses.raw", "layer.plasticity.alpha", "layer.plasticity.eta"):
        grad = net.get_parameter(name).grad
        assert grad is not None and bool(torch.isfinite(grad).all()), name
        assert float(grad.abs().sum()) > 0, name


def test_agent_protocol_shapes_bounds_and_resets(gen):
    net = make_net(gen, PlasticitySpec("hebbian"))
    agent = Agent(
        net, action_low=np.array([-2.0, 0.0, 10.0]), action_high=np.array([2.0, 1.0, 11.0])
    )
    obs = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    action, state = agent.predict(obs, deterministic=True)
    assert action.shape == (4, 3)
    assert (action[:, 1] >= 0).all() and (action[:, 1] <= 1).all() and (action[:, 2] >= 10).all()
    one, _ = agent.predict(obs[0])
    assert one.shape == (3,)
    for _ in range(5):
        action, state = agent.predict(obs, state, np.zeros(4, dtype=bool))
    again, _ = agent.predict(obs, state, np.array([True, False, False, False]))
    first, _ = agent.predict(obs)
    np.testing.assert_allclose(again[0], first[0])  # row 0 restarted from a fresh state
    assert not np.allclose(again[1], first[1])


def test_agent_exploration_noise_is_seeded(gen):
    net = make_net(gen)
    obs = np.zeros((3, 6), dtype=np.float32)
    a1, _ = Agent(net, noise_std=0.3, seed=5).predict(obs)
    a2, _ = Agent(net, noise_std=0.3, seed=5).predict(obs)
    det, _ = Agent(net, noise_std=0.3, seed=5).predict(obs, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    assert not np.allclose(a1, det)


def test_agent_wraps_a_population(gen):
    pop = Population(MLPPolicy(6, 3, generator=gen), 4)
    pop.load_vectors(torch.randn(4, pop.num_params, generator=gen))
    agent = Agent(pop)
    action, state = agent.predict(np.ones((4, 2, 6), dtype=np.float32))
    assert action.shape == (4, 2, 3) and state == ()


def test_agent_rejects_bad_observations(gen):
    agent = Agent(make_net(gen))
    with pytest.raises(ValueError, match=r"obs_dim=6, got \[2, 5\]"):
        agent.predict(np.zeros((2, 5)))
    bad = np.zeros((2, 6))
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf at indices \[\[1, 3\]\]"):
        agent.predict(bad)
    huge = np.zeros((2, 6))
    huge[0, 2] = 1e300  # finite as float64, inf as the float32 the network gets
    with pytest.raises(ValueError, match=r"NaN or inf at indices \[\[0, 2\]\]"):
        agent.predict(huge)
    with pytest.raises(ValueError, match=r"NaN or inf at indices \[\[0, 1\]\]"):
        agent.predict(torch.tensor([[0.0, float("inf"), 0, 0, 0, 0]]))
    grad = torch.zeros(1, 6, requires_grad=True)  # a tensor in a graph is checked too
    agent.predict(grad)
    with pytest.raises(ValueError, match=r"NaN or inf at indices \[\[0, 0\], \[0, 1\]"):
        agent.predict(grad * float("nan"))
    with pytest.raises(ValueError, match="action bounds must be finite"):
        Agent(make_net(gen), action_low=-np.inf)


def test_a_populations_float32_observations_are_checked_and_shared(gen, monkeypatch):
    # the ES hot path: float32 [P, B, obs_dim] rows go to the network as they are (no copy,
    # no torch.as_tensor), still checked for NaN and inf; any other form is converted and
    # checked as before
    pop = Population(MLPPolicy(6, 3, generator=gen), 4)
    agent = Agent(pop)
    obs = np.ones((4, 2, 6), dtype=np.float32)
    with monkeypatch.context() as patch:
        patch.setattr(torch, "as_tensor", None)  # the fast path calls no as_tensor
        assert agent._check_obs(obs).data_ptr() == obs.ctypes.data
    obs[2, 1, 4] = np.inf
    with pytest.raises(ValueError, match=r"NaN or inf at indices \[\[2, 1, 4\]\]"):
        agent.predict(obs)
    with pytest.raises(ValueError, match=r"obs_dim=6, got \[4, 2, 5\]"):
        agent.predict(np.ones((4, 2, 5), dtype=np.float32))
    action, _ = agent.predict(np.ones((4, 2, 6), dtype=np.float32))
    expected, _ = agent.predict(np.ones((4, 2, 6)))  # float64: the converting path
    np.testing.assert_array_equal(action, expected)


def test_actions_are_scaled_to_the_bounds_as_torch_scales_them(gen):
    # the CPU path scales the network's outputs in NumPy: the same float32 operations as the
    # torch formula low + (a + 1) * (high - low) / 2, bit for bit, per dimension or scalar
    net = MLPPolicy(6, 3, generator=gen)
    x = torch.randn(5, 6, generator=gen)
    with torch.no_grad():
        a, _ = net(x, net.initial_state(5))
    for low, high in (([-2.0, -0.3, 0.1], [1.0, 0.7, 3.3]), (-0.75, 1.9)):
        agent = Agent(net, action_low=low, action_high=high)
        low32, high32 = np.float32(low), np.float32(high)
        low_t, half_t = torch.as_tensor(low32), torch.as_tensor((high32 - low32) / 2)
        expected = (low_t + (a + 1.0) * half_t).numpy()
        action, _ = agent.predict(x.numpy())
        assert action.dtype == np.float32 and np.array_equal(action, expected)


def test_bad_network_arguments_are_named(gen):
    with pytest.raises(ValueError, match="neuron model 'izhikevich'.*valid choices"):
        make_net(gen, neuron="izhikevich")
    with pytest.raises(ValueError, match=r"expected input \[..., 6\], got \[2, 7\]"):
        make_net(gen)(torch.zeros(2, 7))
    with pytest.raises(ValueError, match="steps_per_input must be >= 1"):
        PlasticSNN(2, 2, steps_per_input=0)


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        resolve_device("gpu")


def test_population_falls_back_to_eager_when_compile_fails(monkeypatch):
    def broken_compile(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no C++ compiler found")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    net = MLPPolicy(3, 2, hidden=(4,))
    eager = Population(net, 2)
    compiled = Population(net, 2, compile=True)
    x = torch.randn(2, 5, 3)
    with pytest.warns(RuntimeWarning, match="torch.compile failed .*no C\\+\\+ compiler"):
        y, _ = compiled(x, ())
    torch.testing.assert_close(y, eager(x, ())[0])
    compiled(x, ())  # warned once; later calls run eagerly without trying again


def test_post_major_population_stores_fast_weights_post_major(gen):
    net = make_net(gen, PlasticitySpec("hebbian", mode="retroactive", granularity="synapse"))
    pop = Population(net, 3, post_major=True)
    assert sorted(n for n in pop.names if is_post_major(pop.params[n])) == [
        "layer.plasticity.alpha",
        "layer.plasticity.eta",
        "layer.synapses.raw",
    ]  # the [I, N] parameters read with hebb; the neuromodulator's [N, N] weights are not
    state = pop.initial_state(2)
    for _ in range(3):
        _, state = pop(torch.randn(3, 2, 6, generator=gen), state)
    assert is_post_major(state.layer.plastic.hebb) and is_post_major(state.layer.plastic.elig)
    assert not Population(make_net(gen), 3, post_major=True)._post_major_names  # static: none


# dynamo itself trips a DeprecationWarning (it instantiates the surrogate's autograd Function)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("episodes", [1, 2])
def test_compiled_population_keeps_the_post_major_layout_without_recompiling(episodes, gen):
    from torch._dynamo.utils import counters

    net = make_net(gen, PlasticitySpec("hebbian", granularity="post"))
    eager, compiled = Population(net, 3), Population(net, 3, compile=True)
    assert compiled.post_major and not eager.post_major
    graphs = counters["stats"]["unique_graphs"]
    s_eager, s_comp = eager.initial_state(episodes), compiled.initial_state(episodes)
    for t in range(8):
        if t % 4 == 0:  # a new generation: new vectors, as ES loads them
            v = eager.to_vectors() + 0.3 * torch.randn(3, eager.num_params, generator=gen)
            eager.load_vectors(v)
            compiled.load_vectors(v)
        if t == 4:  # an episode restart in the first row, as Agent.predict does it
            start = torch.tensor([[True] + [False] * (episodes - 1)] * 3)
            s_eager = reset_where(s_eager, start, eager.initial_state(episodes))
            s_comp = reset_where(s_comp, start, compiled.initial_state(episodes))
        x = 3 * torch.randn(3, episodes, 6, generator=gen)
        y_eager, s_eager = eager(x, s_eager)
        y_comp, s_comp = compiled(x, s_comp)
        torch.testing.assert_close(y_comp, y_eager, atol=1e-4, rtol=1e-4)
    assert is_post_major(s_comp.layer.plastic.hebb)
    torch.testing.assert_close(s_comp.layer.plastic.hebb, s_eager.layer.plastic.hebb)
    assert float(s_eager.spikes.sum()) > 0
    assert counters["stats"]["unique_graphs"] - graphs == 1  # one graph: the layout held


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_compiled_population_rounds_float16_storage_as_the_eager_one(gen):
    """Inductor keeps a fused kernel's values in float32 across a cast to half and back unless
    told to emulate the casts; the compiled step must round raw, alpha and the fast weights
    as the eager step does. One step from a learned state: equal up to the float32 sums'
    order, far below what skipping the roundings moves (a relative 2^-11 of each weight)."""
    spec = PlasticitySpec("hebbian", granularity="post", alpha_init=0.5, storage="float16")
    net = make_net(gen, spec)
    eager = Population(net, 3, post_major=True)
    compiled = Population(net, 3, compile=True)
    v = eager.to_vectors() + 0.3 * torch.randn(3, eager.num_params, generator=gen)
    eager.load_vectors(v)
    compiled.load_vectors(v)
    s_eager = eager.initial_state(2)
    for _ in range(6):
        x = 3 * torch.randn(3, 2, 6, generator=gen)
        _, s_comp = compiled(x, s_eager)  # each step from the eager state: no drift
        _, s_eager = eager(x, s_eager)
        assert s_comp.layer.plastic.hebb.dtype == torch.float16
        torch.testing.assert_close(s_comp.layer.neuron.v, s_eager.layer.neuron.v, atol=2e-6, rtol=0)
    assert float(s_eager.layer.plastic.hebb.float().abs().max()) > 0


def test_lstm_policy_is_torchs_lstm_cell_with_a_tanh_readout(gen):
    """Gate order, forget bias and the state's h/c roles, against ``nn.LSTMCell``."""
    net = LSTMPolicy(5, 2, hidden=7, generator=gen)
    assert torch.equal(net.bias[7:14], torch.ones(7))  # forget gate starts remembering
    with torch.no_grad():
        net.bias.add_(0.2 * torch.randn(28, generator=gen))
    cell = torch.nn.LSTMCell(5, 7)
    with torch.no_grad():
        cell.weight_ih.copy_(net.weight_ih)
        cell.weight_hh.copy_(net.weight_hh)
        cell.bias_ih.copy_(net.bias)
        cell.bias_hh.zero_()
    xs = torch.randn(6, 3, 5, generator=gen)
    ys, state = rollout(net, xs)
    h = c = torch.zeros(3, 7)
    with torch.no_grad():
        for t, x in enumerate(xs):
            h, c = cell(x, (h, c))
            y = torch.tanh(h @ net.readout_weight.T + net.readout_bias)
            torch.testing.assert_close(ys[t], y)
    torch.testing.assert_close(state.h, h)
    torch.testing.assert_close(state.c, c)


def test_lstm_population_equals_each_individual_and_remembers(gen):
    net = LSTMPolicy(4, 2, hidden=6, generator=gen)
    pop = Population(net, 3)
    pop.load_vectors(pop.to_vectors() + 0.3 * torch.randn(3, pop.num_params, generator=gen))
    state = assert_population_equals_individuals(pop, torch.randn(5, 3, 2, 4, generator=gen), 1e-6)
    assert state.h.shape == state.c.shape == (3, 2, 6)
    # memory: the same last input after different first inputs gives different outputs
    one = pop.individual(0)
    a, _ = rollout(one, torch.stack([torch.ones(1, 4), torch.zeros(1, 4)]))
    b, _ = rollout(one, torch.stack([-torch.ones(1, 4), torch.zeros(1, 4)]))
    assert not torch.allclose(a[1], b[1])


def test_lstm_state_follows_the_parameters_dtype(gen):
    net = LSTMPolicy(3, 1, hidden=4, generator=gen).double()
    y, state = net(torch.zeros(2, 3, dtype=torch.float64))
    assert y.dtype == state.h.dtype == state.c.dtype == torch.float64


def test_bad_lstm_arguments_are_named(gen):
    with pytest.raises(ValueError, match="LSTMPolicy hidden must be a positive int, got 0"):
        LSTMPolicy(3, 1, hidden=0)
    with pytest.raises(ValueError, match=r"expected input \[..., 3\], got \[2, 4\]"):
        LSTMPolicy(3, 1, hidden=4, generator=gen)(torch.zeros(2, 4))


@pytest.mark.parametrize("recurrent", [False, True])
def test_a_neuromodulator_reading_the_input_gates_plasticity_by_it(recurrent, gen):
    """``modulator_input="input"``: M is computed from the input currents' traces (not the
    recurrent spikes' beside them), so an input channel can switch the fast weights' learning
    on and off; the default reads activity."""
    spec = PlasticitySpec("hebbian", mode="modulated", granularity="post", modulator_input="input")
    net = make_net(gen, spec, recurrent=recurrent)
    assert net.layer.modulator.w_mod.shape == (6, 1)  # one row per input current
    with torch.no_grad():
        net.layer.modulator.w_mod.zero_()
        net.layer.modulator.w_mod[0] = 5.0  # only input channel 0 modulates
    quiet = torch.rand(20, 2, 6, generator=gen) * 2
    quiet[..., 0] = 0.0  # the gating channel silent: no learning
    _, state = rollout(net, quiet)
    assert state.layer.plastic.hebb.abs().max() == 0.0
    assert state.spikes.sum() > 0  # not for want of activity
    assert state.layer.pre_trace.shape[-1] == (30 if recurrent else 6)  # [x, z] if recurrent
    source = state.layer.pre_trace[..., :6]
    torch.testing.assert_close(
        net.modulation(state), torch.tanh(source @ net.layer.modulator.w_mod)
    )
    cued = quiet.clone()
    cued[:3, :, 0] = 1.0  # the gate opens for three steps, then the fast weights are held
    _, state = rollout(net, cued)
    assert state.layer.plastic.hebb.abs().max() > 0.0
    default = make_net(gen, PlasticitySpec("hebbian", mode="modulated", granularity="post"))
    assert default.layer.modulator.w_mod.shape == (24, 1)  # the hidden layer's activity
    with pytest.raises(ValueError, match="modulator_input 'spikes'.*'activity', 'input'"):
        PlasticitySpec("hebbian", mode="modulated", modulator_input="spikes")
    with pytest.raises(ValueError, match="needs a neuromodulator: mode 'modulated'"):
        PlasticitySpec("hebbian", mode="plain", modulator_input="input")  # would do nothing


@pytest.mark.parametrize("recurrent", [False, True])
def test_a_gated_fast_weight_holds_until_the_gate_opens_then_is_rewritten(recurrent, gen):
    """``mode="gated"``: G = sigmoid(input traces @ w_mod + b_mod) gates Miconi's decay rule,
    hebb <- hebb + G eta (pre post - hebb). Shut, the fast weights hold whatever they hold
    while the layer spikes on; open (G = 1, eta = 1), they become the current pre * post,
    whatever they held before: a write, not an accumulation."""
    spec = PlasticitySpec(
        "hebbian", mode="gated", granularity="post", modulator_input="input", eta=1.0
    )
    # traces that follow their signal within a step, so the gate opens and shuts on the cue
    net = make_net(gen, spec, recurrent=recurrent, tau_trace=1e-5)
    mod = net.layer.modulator
    assert mod.b_mod.shape == (1,) and torch.equal(mod.b_mod.data, torch.tensor([-4.0]))
    with torch.no_grad():
        mod.w_mod.zero_()
        mod.w_mod[0] = 1e3  # input channel 0 opens the gate fully
        mod.b_mod.fill_(-1e3)  # and it is shut otherwise: G = 0 exactly
    x = torch.rand(30, 2, 6, generator=gen) * 2
    x[..., 0] = 0.0
    x[:4, :, 0] = 1.0  # open for the first four steps
    states = []
    state = None
    with torch.no_grad():
        for t in range(len(x)):
            _, state = net(x[t], state)
            states.append(state)
    written = states[3].layer.plastic.hebb
    assert written.abs().max() > 0.0
    # while open, the fast weight is exactly the term of the traces (old content replaced)
    pre, post = states[3].layer.pre_trace, states[3].layer.post_trace
    torch.testing.assert_close(written, (pre.unsqueeze(-1) * post.unsqueeze(-2)).clamp(-1, 1))
    # shut: held bit for bit through 26 more steps of activity
    assert sum(float(s.spikes.sum()) for s in states[4:]) > 0
    assert torch.equal(states[-1].layer.plastic.hebb, written)
    torch.testing.assert_close(
        net.modulation(states[-1]),
        torch.sigmoid(states[-1].layer.pre_trace[..., :6] @ mod.w_mod + mod.b_mod),
    )


def test_a_configured_gate_bias_and_modulator_count_reach_the_gate(tmp_path):
    """``agent.plasticity.gate_bias`` from a config is the gate's starting bias, and with K
    modulators the gates start as their average (each G_j in [0, 1])."""
    from plasticagents.training.builders import build_policy
    from plasticagents.training.config import AgentConfig, PlasticityConfig

    cfg = AgentConfig(
        hidden=8,
        plasticity=PlasticityConfig(mode="gated", gate_bias=-6.5, n_modulators=3),
    )
    net = build_policy(cfg, obs_dim=5, act_dim=2, seed=0)
    mod = net.layer.modulator
    assert torch.equal(mod.b_mod.data, torch.full((3,), -6.5))
    gates = mod(torch.randn(7, 8) * 10)
    assert gates.min() >= 0 and gates.max() <= 1
    assert not hasattr(
        make_net(torch.Generator(), PlasticitySpec(mode="modulated")).layer.modulator, "b_mod"
    )


def test_the_gated_update_is_the_gates_share_of_the_decay_step(gen):
    """plasticity_step(gated=True): hebb + G eta (T - hebb), then clipped; G = 0 changes
    nothing, a plain modulated step would add G eta T instead."""
    from plasticagents.plasticity import PlasticityParams, PlasticState, plasticity_step

    pre, post = torch.rand(3, 5, generator=gen), torch.rand(3, 4, generator=gen)
    hebb = torch.rand(3, 5, 4, generator=gen) - 0.5
    gate = torch.rand(3, 4, generator=gen)
    p = PlasticityParams(eta=torch.full((4,), 0.7))
    got = plasticity_step(pre, post, PlasticState(hebb), p, "hebbian", gate, gated=True).hebb
    term = pre.unsqueeze(-1) * post.unsqueeze(-2)
    want = hebb + (0.7 * gate).unsqueeze(-2) * (term - hebb)
    torch.testing.assert_close(got, want)
    shut = plasticity_step(pre, post, PlasticState(hebb), p, "hebbian", 0 * gate, gated=True)
    assert torch.equal(shut.hebb, hebb)
    with pytest.raises(ValueError, match="gated mode needs the gate"):
        plasticity_step(pre, post, PlasticState(hebb), p, "hebbian", None, gated=True)
    with pytest.raises(ValueError, match="mode 'gated'.*rule 'stdp'"):
        PlasticitySpec("stdp", mode="gated")
    with pytest.raises(ValueError, match="gate_bias must be finite"):
        PlasticitySpec("hebbian", mode="gated", gate_bias=float("nan"))
    with pytest.raises(ValueError, match="valid choices.*'gated'"):
        PlasticitySpec("hebbian", mode="gate")


# dynamo itself trips a DeprecationWarning (it instantiates the surrogate's autograd Function)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "rows,learning",
    [("input", slice(0, 7)), ("recurrent", slice(7, 31)), ("constant", slice(6, 7))],
)
def test_plasticity_rows_confine_the_fast_weights_to_those_rows(gen, rows, learning):
    """``PlasticitySpec(rows=...)``: only the named presynaptic rows (the inputs with the
    constant unit, the recurrent spikes, or the constant unit alone) have fast weights, and
    they move; the network computes what the whole-matrix network computes with ``alpha`` zero
    on the other rows (whose fast weights that network does write), loads its checkpoint
    (cutting the rows), and searches or trains no parameter for a frozen synapse. The batched
    :class:`Population` step (eager and compiled) keeps the same rows."""
    spec = PlasticitySpec("hebbian", mode="modulated", granularity="synapse", eta=0.5)
    net = make_net(gen, spec, constant_input=True)
    frozen = torch.ones(31, dtype=torch.bool)
    frozen[learning] = False
    with torch.no_grad():
        net.layer.plasticity.alpha.normal_(0.0, 0.5, generator=gen)
        net.layer.plasticity.alpha[frozen] = 0.0
    masked = make_net(gen, dataclasses.replace(spec, rows=rows), constant_input=True)
    masked.load_state_dict(net.state_dict())
    from plasticagents.training.builders import load_params, policy_payload

    load_params(masked, policy_payload(net)["params"])
    plasticity, k = masked.layer.plasticity, learning.stop - learning.start
    assert plasticity.alpha.shape == plasticity.eta.shape == (k, 24)
    assert torch.equal(plasticity.spread(plasticity.alpha), net.layer.plasticity.alpha)
    dims = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert dims(net) - dims(masked) == 2 * (31 - k) * 24  # alpha and eta per synapse
    xs = torch.randn(12, 2, 6) * 2
    (y_all, state_all), (y, state) = rollout(net, xs), rollout(masked, xs)
    hebb_all, hebb = state_all.layer.plastic.hebb, state.layer.plastic.hebb
    assert hebb.shape == (2, k, 24)
    assert hebb_all[:, frozen].abs().sum() > 0 and hebb.abs().sum() > 0
    assert torch.allclose(y, y_all, atol=1e-5)
    assert torch.allclose(plasticity.spread(hebb), hebb_all * ~frozen.view(31, 1), atol=1e-5)
    for compile in (False, True):
        pop = Population(masked, 3, compile=compile)
        state = pop.initial_state(2)
        with torch.no_grad():
            for x in xs:
                y_pop, state = pop(x.expand(3, 2, 6), state)
        assert state.layer.plastic.hebb.shape == (3, 2, k, 24)
        assert torch.allclose(y_pop, y[-1].expand(3, 2, 3), atol=1e-4)


@pytest.mark.parametrize(
    "rows,spec,layer",
    [
        (
            "recurrent",
            PlasticitySpec("hebbian", mode="modulated", granularity="post", storage="float16"),
            {"dale": True, "density": 0.5},
        ),
        ("input", PlasticitySpec("stdp", tau_plus=TimeConstants(20e-3, "gamma", 0.3)), {}),
    ],
)
def test_plasticity_rows_keep_dale_mask_half_storage_and_stdp_time_constants(rows, spec, layer):
    """The rows path keeps what the whole matrix does on the frozen rows (Dale's signs, the
    sparse mask, half-precision storage) and on the plastic ones (STDP's per-synapse time
    constants: the same draws as the whole matrix's, and a whole-matrix checkpoint's cut)."""
    learning = {"recurrent": slice(7, 31), "input": slice(0, 7)}[rows]
    frozen = torch.ones(31, dtype=torch.bool)
    frozen[learning] = False
    net = make_net(torch.Generator().manual_seed(5), spec, constant_input=True, **layer)
    with torch.no_grad():
        net.layer.plasticity.alpha.fill_(0.5)
        net.layer.plasticity.alpha[frozen] = 0.0
    masked = make_net(
        torch.Generator().manual_seed(5),
        dataclasses.replace(spec, rows=rows),
        constant_input=True,
        **layer,
    )
    mine, whole = masked.layer.plasticity, net.layer.plasticity
    if spec.rule == "stdp":
        assert torch.equal(mine.tau_plus, whole.tau_plus[learning])
        with torch.no_grad():
            whole.tau_plus.mul_(1.5)  # a checkpoint's own time constants
    masked.load_state_dict(net.state_dict())
    if spec.rule == "stdp":
        assert torch.equal(mine.tau_plus, whole.tau_plus[learning])
    xs = torch.randn(10, 2, 6) * 2
    (y_all, state_all), (y, state) = rollout(net, xs), rollout(masked, xs)
    assert state.layer.plastic.hebb.abs().sum() > 0
    torch.testing.assert_close(y, y_all)
    torch.testing.assert_close(masked.weight_change(state), net.weight_change(state_all))


def test_plasticity_rows_refuse_rows_the_layer_lacks(gen):
    spec = PlasticitySpec("hebbian", rows="constant")
    with pytest.raises(ValueError, match="no constant input: set constant_input=True"):
        make_net(gen, spec)
    with pytest.raises(ValueError, match="rows 'recurrent'.*recurrent=False"):
        make_net(gen, PlasticitySpec("hebbian", rows="recurrent"), recurrent=False)
    with pytest.raises(ValueError, match=r"unknown plasticity rows 'bias'; valid choices: \['all'"):
        PlasticitySpec("hebbian", rows="bias")
    assert make_net(gen, spec, constant_input=True).layer.plasticity.rows == (6, 7)
    with pytest.raises(ValueError, match=r"a run \(start, stop\).*got \(3, 3\)"):
        Plasticity(8, 4, spec, rows=(3, 3))


def test_a_constant_input_is_a_bias_row_whose_fast_weights_the_network_writes(gen):
    """``constant_input=True``: the layer gets one more presynaptic unit, always 1 (after the
    encoded inputs, before the recurrent ones); its row of W adds a fixed current, and its row
    of the fast weights is a bias written by plasticity while the observation is 0."""
    spec = PlasticitySpec("hebbian", mode="gated", granularity="post", gate_bias=10.0, eta=1.0)
    net = make_net(gen, spec, constant_input=True)
    assert net.layer.n_in == 7 and net.layer.n_pre == 7 + 24  # 6 encoded + 1 constant + 24
    with torch.no_grad():
        x = torch.zeros(2, 6)
        net.layer.synapses.raw.zero_()
        net.layer.synapses.raw[6] = 3.0  # only the constant row drives the layer
        _, state = rollout(net, x.expand(5, 2, 6))
        assert state.spikes.sum() > 0  # driven by the constant alone
        assert torch.all(state.layer.pre_trace[..., 6] > 0)  # the constant's trace
        hebb = state.layer.plastic.hebb
        assert hebb[:, 6].abs().sum() > 0  # its fast weights written (the gate is open)
        assert hebb[:, :6].abs().sum() == 0  # the silent inputs' are not
    plain = make_net(torch.Generator().manual_seed(0), spec)
    assert plain.layer.n_in == 6
    with pytest.raises(ValueError, match=r"expected input \[..., 6\], got \[2, 7\]"):
        net(torch.zeros(2, 7))
