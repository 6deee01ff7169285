"""The hand-written C population step (plasticagents.native) against the torch step it replaces:
same outputs and states, step by step, for every network it covers; the torch step, with a
warning that names the reason, for every network it does not."""

from __future__ import annotations

import itertools
import os
import shutil

import pytest
import torch

from plasticagents import PlasticitySpec, PlasticSNN, Population, TimeConstants
from plasticagents.native import NativeSNNStep, build_error, library, unsupported


@pytest.fixture
def native_lib():
    """The compiled C step. Skips only where there is no C compiler at all; a compiler that
    fails on the source is an error (not a skip)."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler {cc!r} for the native step")
    lib = library()
    assert lib is not None, f"the native step did not build: {build_error()}"
    return lib


COVERED = list(
    itertools.product([True, False], ["plain", "modulated"], ["post", "scalar", "synapse"])
)


def _net(
    recurrent=True,
    mode="plain",
    granularity="post",
    eta=0.3,
    modulator_input="activity",
    storage="float32",
    hidden=16,
    rows="all",
    gate_bias=-4.0,
    n_modulators=1,
    rule="hebbian",
    plasticity=None,
    **kwargs,
):
    torch.manual_seed(0)
    spec = PlasticitySpec(
        rule,
        **(plasticity or {}),
        mode=mode,
        granularity=granularity,
        alpha_init=0.5,
        eta=eta,
        clip=0.8,
        modulator_input=modulator_input,
        storage=storage,
        rows=rows,
        gate_bias=gate_bias,
        n_modulators=n_modulators,
    )
    return PlasticSNN(
        7, 3, hidden=hidden, dt=0.025, gain=2.0, recurrent=recurrent, plasticity=spec, **kwargs
    )


def _pair(net, size=4, native=True):
    """A torch population and a native one holding the same perturbed individuals."""
    torch_pop = Population(net, size, post_major=True)
    vectors = torch_pop.to_vectors()
    vectors = vectors + 0.3 * torch.randn(vectors.shape, generator=torch.Generator().manual_seed(1))
    torch_pop.load_vectors(vectors)
    native_pop = Population(net, size, native=native)
    native_pop.load_vectors(vectors)
    return torch_pop, native_pop


def _leaves(state):
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, tuple):
        return [leaf for s in state for leaf in _leaves(s)]
    return []


def _step_together(torch_pop, native_pop, steps: int, tol: float = 1e-4) -> tuple[float, object]:
    """Run both populations on the same random inputs (2 episodes each), asserting after
    every step that outputs and every state leaf agree (dtypes too) within ``tol``; returns
    the torch side's total spike count and its last state."""
    s_torch, s_native = torch_pop.initial_state(2), native_pop.initial_state(2)
    gen = torch.Generator().manual_seed(2)
    spikes = 0.0
    for _ in range(steps):
        x = 2.0 * torch.randn(4, 2, 7, generator=gen)
        y_torch, s_torch = torch_pop(x, s_torch)
        y_native, s_native = native_pop(x, s_native)
        torch.testing.assert_close(y_native, y_torch, atol=tol, rtol=tol)
        for a, b in zip(_leaves(s_native), _leaves(s_torch), strict=True):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, atol=tol, rtol=tol)
        spikes += float(s_torch.spikes.sum())
    return spikes, s_torch


@pytest.mark.parametrize("recurrent,mode,granularity", COVERED)
def test_native_step_equals_the_torch_step(recurrent, mode, granularity, native_lib):
    net = _net(recurrent, mode, granularity)
    assert unsupported(net) is None
    torch_pop, native_pop = _pair(net)
    assert native_pop.native and not torch_pop.native
    spikes, s_torch = _step_together(torch_pop, native_pop, 40)
    assert spikes > 100  # the comparison saw a spiking, learning network
    assert float(s_torch.layer.plastic.hebb.abs().mean()) > 0.05


# float16 storage: both paths round the same float32 values to half, but the float32 values
# can differ in their last bit (torch's vectorised lerp fuses a multiply-add), so a fast weight
# now and then lands one half-precision step (4.9e-4 below the clip 0.8) away, and the
# membranes follow; the tolerance allows a few such steps
_HALF_TOL = 5e-3


@pytest.mark.parametrize("recurrent,mode,granularity", COVERED)
def test_native_float16_storage_equals_the_torch_step(recurrent, mode, granularity, native_lib):
    net = _net(recurrent, mode, granularity, storage="float16")
    assert unsupported(net) is None
    torch_pop, native_pop = _pair(net)
    assert native_pop.native
    spikes, s_torch = _step_together(torch_pop, native_pop, 40, tol=_HALF_TOL)
    assert spikes > 100
    hebb = s_torch.layer.plastic.hebb
    assert hebb.dtype == torch.float16 and float(hebb.float().abs().mean()) > 0.05


def test_native_float16_fast_weights_round_as_torch_rounds(native_lib):
    """The C step rounds a fast weight to half as torch does (to nearest even): after a few
    steps almost every stored value is torch's, bit for bit, and none is more than a couple
    of half steps away (the float32 values before rounding differ in their last bits now and
    then: torch's vectorised lerp fuses a multiply-add). Truncating would miss about half."""
    net = _net(True, "plain", "post", storage="float16", hidden=48, steps_per_input=1)
    torch_pop, native_pop = _pair(net)
    s_torch, s_native = torch_pop.initial_state(2), native_pop.initial_state(2)
    gen = torch.Generator().manual_seed(4)
    for _ in range(6):
        x = 2.0 * torch.randn(4, 2, 7, generator=gen)
        _, s_torch = torch_pop(x, s_torch)
        _, s_native = native_pop(x, s_native)
    a, b = s_native.layer.plastic.hebb, s_torch.layer.plastic.hebb
    moved = b != 0
    assert int(moved.sum()) > 1000
    assert float((a == b)[moved].float().mean()) > 0.95
    assert float((a.float() - b.float()).abs().max()) <= 2 * 2.0**-11  # 2 half steps at 0.5-1


@pytest.mark.parametrize("storage", ["float32", "float16"])
@pytest.mark.parametrize("hidden", [48, 57])
def test_native_step_equals_the_torch_step_on_rows_of_many_blocks(storage, hidden, native_lib):
    """Rows of 55 and 64 synapses: the C step's paired 16-lane blocks, a full block after
    them and a masked tail (the small networks above only reach the tail)."""
    net = _net(True, "modulated", "synapse", storage=storage, hidden=hidden)
    torch_pop, native_pop = _pair(net)
    tol = 1e-4 if storage == "float32" else _HALF_TOL
    spikes, _ = _step_together(torch_pop, native_pop, 30, tol=tol)
    assert spikes > 100


# (rows, network options): each run of plastic rows with frozen rows before it, after it or
# on both sides, in rows of several 16-lane blocks and masked tails
ROWS = [
    ("input", dict(recurrent=True, mode="modulated", granularity="synapse")),
    ("recurrent", dict(recurrent=True, mode="plain", granularity="post")),
    ("recurrent", dict(recurrent=True, mode="plain", granularity="synapse")),
    ("constant", dict(recurrent=False, mode="modulated", granularity="post", constant_input=True)),
    ("constant", dict(recurrent=True, mode="plain", granularity="synapse", constant_input=True)),
    ("all", dict(recurrent=True, mode="modulated", granularity="post", constant_input=True)),
    # the neuromodulator reading the input currents' traces (the constant unit's among them)
    (
        "constant",
        dict(recurrent=False, mode="modulated", constant_input=True, modulator_input="input"),
    ),
    ("all", dict(recurrent=True, mode="modulated", granularity="synapse", modulator_input="input")),
    # gated: a sigmoid gate on the decay rule's step (per neuron, per synapse; 2 gates)
    ("all", dict(recurrent=False, mode="gated", modulator_input="input", gate_bias=-1.0)),
    (
        "constant",
        dict(
            recurrent=True,
            mode="gated",
            granularity="synapse",
            constant_input=True,
            modulator_input="input",
            gate_bias=0.0,
            n_modulators=2,
        ),
    ),
    ("all", dict(recurrent=True, mode="gated", gate_bias=2.0)),
]


@pytest.mark.parametrize("storage", ["float32", "float16"])
@pytest.mark.parametrize("rows,options", ROWS)
def test_native_step_equals_the_torch_step_on_plastic_rows(rows, options, storage, native_lib):
    """PlasticitySpec.rows and constant_input in the C step: the plastic rows' fast weights,
    alpha and coefficients compact ([R, N]), the frozen rows' synapses read from raw alone,
    the constant unit at 1; the same outputs and states as the torch step."""
    net = _net(storage=storage, hidden=48, rows=rows, **options)
    hebb = _native_matches_torch(net, storage)
    assert hebb.shape[-2:] == (net.layer.plasticity.n_rows, 48)


def _native_matches_torch(net, storage):
    """The C step of ``net`` beside its torch step for 30 calls: the same outputs and states
    (within float16's rounding where stored so), with spikes and moving fast weights.
    Returns the torch step's last fast weights."""
    assert unsupported(net) is None
    torch_pop, native_pop = _pair(net)
    assert native_pop.native
    tol = 1e-4 if storage == "float32" else _HALF_TOL
    spikes, s_torch = _step_together(torch_pop, native_pop, 30, tol=tol)
    assert spikes > 100
    hebb = s_torch.layer.plastic.hebb
    assert float(hebb.float().abs().mean()) > 0.01
    return hebb


# the abcd rule (A pre post + B pre + C post + D, Najarro & Risi): each individual's own
# coefficients at every granularity, plain and modulated, on every row or the constant row
# only; the last is the sensor task's homeostat (every coefficient fixed, shared)
ABCD = [
    ("all", dict(recurrent=True, mode="plain", granularity="post")),
    ("all", dict(recurrent=False, mode="plain", granularity="scalar", eta=0.05)),
    ("all", dict(recurrent=True, mode="modulated", granularity="synapse")),
    ("constant", dict(recurrent=False, mode="modulated", granularity="post", constant_input=True)),
    (
        "constant",
        dict(
            recurrent=False,
            mode="plain",
            granularity="post",
            constant_input=True,
            eta=0.1,
            plasticity=dict(
                abcd_init=(0.0, 0.2, -1.0, 0.0), fixed=("alpha", "eta", "A", "B", "C", "D")
            ),
        ),
    ),
]


@pytest.mark.parametrize("storage", ["float32", "float16"])
@pytest.mark.parametrize("rows,options", ABCD)
def test_native_step_equals_the_torch_step_under_the_abcd_rule(rows, options, storage, native_lib):
    """The abcd rule in the C step: the same outputs and states as the torch step, the
    coefficients read per individual (or from the template where fixed) in eta's layout."""
    _native_matches_torch(
        _net(rule="abcd", storage=storage, hidden=48, rows=rows, **options), storage
    )


def _two_calls_are_one_call_of_two_steps(lib_override, storage, monkeypatch):
    """A call with two simulation steps per input against two calls of one step with that
    input: the same work, so the same numbers, provided the second step's current reads the
    fast weights as the first step stored them (rounded to half in float16 storage)."""
    from plasticagents import native

    one, two = (
        _net(True, "modulated", "post", storage=storage, hidden=48, steps_per_input=k)
        for k in (1, 2)
    )
    with monkeypatch.context() as m:
        if lib_override is not None:
            m.setitem(native._state, "snn", lib_override)
        _, pop_one = _pair(one)
        _, pop_two = _pair(two)
    assert pop_one.native and pop_two.native
    s_one, s_two = pop_one.initial_state(2), pop_two.initial_state(2)
    gen = torch.Generator().manual_seed(3)
    for _ in range(20):
        x = 2.0 * torch.randn(4, 2, 7, generator=gen)
        _, s_one = pop_one(x, s_one)
        spikes = s_one.spikes
        y_one, s_one = pop_one(x, s_one)
        y_two, s_two = pop_two(x, s_two)
        torch.testing.assert_close(y_two, y_one, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(s_two.spikes, s_one.spikes + spikes)
        for a, b in zip(_leaves(s_two)[:-1], _leaves(s_one)[:-1], strict=True):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    assert float(s_two.layer.plastic.hebb.float().abs().mean()) > 0.05


@pytest.mark.parametrize("storage", ["float32", "float16"])
def test_two_simulation_steps_per_input_are_two_calls(storage, native_lib, monkeypatch):
    _two_calls_are_one_call_of_two_steps(None, storage, monkeypatch)


def test_the_build_without_avx512_steps_alike(native_lib, monkeypatch):
    """The portable loops (a CPU without AVX-512) compute what the AVX-512 blocks compute,
    in both storages."""
    from plasticagents import native

    portable = native._build([*native._FLAGS, "-mno-avx512f"])
    assert hasattr(portable, "snn_step_f16") and portable.snn_simd() == 0
    flags = set(native._cpu_flags().split())
    if {"avx512f", "avx512bw", "avx512vl"} <= flags:  # else both builds are portable ones
        assert native_lib.snn_simd() == 1
    for storage, tol in (("float32", 1e-4), ("float16", _HALF_TOL)):
        net = _net(True, "plain", "post", storage=storage, hidden=48)
        _, simd_pop = _pair(net)
        with monkeypatch.context() as m:
            m.setitem(native._state, "snn", portable)
            _, portable_pop = _pair(net)
        assert portable_pop._native.lib is portable and simd_pop._native.lib is not portable
        _step_together(simd_pop, portable_pop, 30, tol=tol)
        _two_calls_are_one_call_of_two_steps(portable, storage, monkeypatch)
    static = [
        PlasticSNN(7, 3, hidden=48, dt=0.025, gain=2.0, plasticity=None, constant_input=c)
        for c in (False, True)
    ]
    nets = [_net(hidden=48, rows=rows, **options) for rows, options in ROWS]
    for net in nets + static:  # the plastic rows' runs, frozen rows around them; no plastic row
        _, simd_pop = _pair(net)
        with monkeypatch.context() as m:
            m.setitem(native._state, "snn", portable)
            _, portable_pop = _pair(net)
        _step_together(simd_pop, portable_pop, 20)


def test_native_step_does_not_write_its_inputs(native_lib):
    net = _net(mode="modulated")
    _, native_pop = _pair(net)
    state = native_pop.initial_state(2)
    x = torch.randn(4, 2, 7)
    _, state = native_pop(x, state)
    before = [leaf.clone() for leaf in _leaves(state)]
    x_before = x.clone()
    _, new = native_pop(x, state)
    for a, b in zip(_leaves(state), before, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(x, x_before)
    assert new.layer.plastic.hebb.stride(-2) == 1  # post-major, like the compiled step's


def _subnormal(t: torch.Tensor) -> torch.Tensor:
    return (t != 0) & (t.abs() < torch.finfo(torch.float32).tiny)


@pytest.mark.parametrize("storage", ["float32", "float16"])
def test_native_step_flushes_subnormal_fast_weights_and_restores_the_callers_mode(
    storage, native_lib
):
    """A silent neuron's fast weights decay through the subnormal range, where x86 takes a
    microcode assist per operation (the population step ran 2.3x slower): the C step flushes
    them to zero in every thread, and leaves each thread's float mode as it found it."""
    net = _net(recurrent=False, eta=0.05, storage=storage)
    _, native_pop = _pair(net)
    native_pop._native.threads = 2  # a team: the slots split between two threads
    state = native_pop.initial_state(2)
    state.layer.post_trace.fill_(1e-39)
    if storage == "float32":  # (a float16 fast weight is never subnormal as a float32)
        state.layer.plastic.hebb.fill_(1e-39)
    _, new = native_pop(torch.zeros(4, 2, 7), state)
    assert not _subnormal(new.layer.post_trace).any()
    hebb = new.layer.plastic.hebb.float()
    assert not _subnormal(hebb).any()
    silent = new.layer.post_trace == 0  # neurons that did not spike: their rows are zero
    assert silent.any()
    rows = hebb.transpose(-1, -2)[silent]  # [silent neurons, inputs]
    assert torch.equal(rows, torch.zeros_like(rows))
    x = torch.tensor([1e-38]) * torch.tensor([0.01])  # this thread's mode: subnormals kept
    assert _subnormal(x).all()
    # and every thread of the step's team (OpenMP pools its threads: the next region of the
    # process may run on them)
    import ctypes

    team = (ctypes.c_uint * 8)()
    size = native_lib.snn_team_csr(2, team)
    assert size in (0, 1, 2) and all(team[t] & 0x8040 == 0 for t in range(size))


@pytest.mark.parametrize(
    "kwargs,reason",
    [
        ({"neuron": "alif"}, "neuron is not lif"),
        ({"dale": True}, "Dale's law"),
        ({"density": 0.5}, "sparsity mask"),
        ({"signal": "spikes"}, "plasticity signal"),
    ],
)
def test_uncovered_networks_run_the_torch_step_with_a_warning(kwargs, reason):
    net = _net(**kwargs)
    assert reason in unsupported(net)
    with pytest.raises(ValueError, match=reason):
        NativeSNNStep(net, 2)
    with pytest.warns(RuntimeWarning, match=f"native SNN step does not cover.*{reason}"):
        pop = Population(net, 2, native=True)
    assert not pop.native
    eager = Population(net, 2)
    x = torch.randn(2, 1, 7)
    y, _ = pop(x, pop.initial_state(1))
    torch.testing.assert_close(y, eager(x, eager.initial_state(1))[0])


def test_unsupported_names_the_rule_and_the_module():
    torch.manual_seed(0)
    assert "rule 'oja'" in unsupported(PlasticSNN(3, 2, hidden=4, plasticity=PlasticitySpec("oja")))
    gated_abcd = PlasticSNN(3, 2, hidden=4, plasticity=PlasticitySpec("abcd", mode="gated"))
    assert "rule 'abcd' in gated mode" in unsupported(gated_abcd)
    assert "not PlasticSNN" in unsupported(torch.nn.Linear(3, 2))


@pytest.mark.parametrize("recurrent,constant_input", [(True, False), (False, True)])
def test_native_step_equals_the_torch_step_on_a_static_layer(recurrent, constant_input, native_lib):
    """A layer with no plasticity (the static SNN arms): the C step with no plastic row, a
    state without fast weights, the same outputs and states as the torch step."""
    torch.manual_seed(0)
    net = PlasticSNN(
        7, 3, hidden=48, dt=0.025, gain=2.0, recurrent=recurrent, plasticity=None,
        constant_input=constant_input,
    )  # fmt: skip
    assert unsupported(net) is None
    torch_pop, native_pop = _pair(net)
    assert native_pop.native
    spikes, s_torch = _step_together(torch_pop, native_pop, 30)
    assert spikes > 100 and s_torch.layer.plastic is None
    with pytest.raises(ValueError, match="holds fast weights, but this network's layer is static"):
        native_pop(torch.zeros(4, 2, 7), _pair(_net())[1].initial_state(2))


def test_native_step_refuses_a_wrong_input_shape(native_lib):
    net = _net()
    _, native_pop = _pair(net)
    with pytest.raises(ValueError, match=r"expected input \[4, B, 7\], got \[4, 2, 5\]"):
        native_pop(torch.zeros(4, 2, 5), native_pop.initial_state(2))


def test_native_step_runs_on_the_threads_it_is_given_with_the_same_results(native_lib):
    # an ES lane sets its share of the cores (Population(threads=...)); each slot is stepped
    # by one thread, so the count changes nothing in the results
    net = _net()
    torch_pop, _ = _pair(net)
    pops = {n: Population(net, 4, native=True, threads=n) for n in (1, 2)}
    states = {}
    for n, pop in pops.items():
        pop.load_vectors(torch_pop.to_vectors())
        states[n] = pop.initial_state(2)
    gen = torch.Generator().manual_seed(3)
    for _ in range(4):
        x = 2.0 * torch.randn(4, 2, 7, generator=gen)
        (y1, states[1]), (y2, states[2]) = (pops[n](x, states[n]) for n in (1, 2))
        assert torch.equal(y1, y2)
        for a, b in zip(_leaves(states[1]), _leaves(states[2]), strict=True):
            assert torch.equal(a, b)
    assert [pops[n]._native._dims[(2, 7)].n_threads for n in (1, 2)] == [1, 2]
    with pytest.raises(ValueError, match="threads must be a positive int or None, got 0"):
        Population(net, 4, native=True, threads=0)


def test_native_step_follows_new_individuals(native_lib):
    # the C layouts are cached per parameter set: loading a generation must not reuse them
    net = _net()
    torch_pop, native_pop = _pair(net)
    x = torch.randn(4, 1, 7)
    native_pop(x, native_pop.initial_state(1))
    vectors = torch_pop.to_vectors() * 1.5
    torch_pop.load_vectors(vectors)
    native_pop.load_vectors(vectors)
    s_torch, s_native = torch_pop.initial_state(1), native_pop.initial_state(1)
    for _ in range(5):
        y_torch, s_torch = torch_pop(x, s_torch)
        y_native, s_native = native_pop(x, s_native)
    torch.testing.assert_close(y_native, y_torch, atol=1e-4, rtol=1e-4)


def test_native_step_refuses_a_state_of_another_batch_and_a_float64_input(native_lib):
    _, native_pop = _pair(_net())
    with pytest.raises(ValueError, match=r"fast weights \[4, 3, 23, 16\] .*\(expected \[4, 2, 23"):
        native_pop(torch.zeros(4, 2, 7), native_pop.initial_state(3))
    with pytest.raises(ValueError, match="expected a float32 CPU input, got torch.float64"):
        native_pop(torch.zeros(4, 2, 7, dtype=torch.float64), native_pop.initial_state(2))
    # the state the step itself just returned is checked against the input too
    _, state = native_pop(torch.zeros(4, 2, 7), native_pop.initial_state(2))
    with pytest.raises(ValueError, match=r"fast weights \[4, 2, 23, 16\] .*\(expected \[4, 3, 23"):
        native_pop(torch.zeros(4, 3, 7), state)


def test_native_step_reads_a_state_edited_in_place_or_rebuilt(native_lib):
    """The step takes the state it returned last without re-checking it, but reads its
    tensors as they are now: a membrane edited in place, or a state rebuilt around new
    tensors (a reset), gives the torch step's result."""
    torch_pop, native_pop = _pair(_net())
    x = 2.0 * torch.randn(4, 2, 7, generator=torch.Generator().manual_seed(5))
    _, s_native = native_pop(x, native_pop.initial_state(2))
    _, s_torch = torch_pop(x, torch_pop.initial_state(2))
    for s in (s_native, s_torch):
        s.layer.neuron.v.fill_(0.9)  # in place
    y_native, s_native = native_pop(x, s_native)
    y_torch, s_torch = torch_pop(x, s_torch)
    torch.testing.assert_close(y_native, y_torch, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s_native.layer.neuron.v, s_torch.layer.neuron.v)
    from plasticagents.state import reset_where

    flags = torch.tensor([[True, False]] * 4)
    s_native, s_torch = reset_where(s_native, flags), reset_where(s_torch, flags)
    y_native, s_native = native_pop(x, s_native)
    y_torch, s_torch = torch_pop(x, s_torch)
    torch.testing.assert_close(y_native, y_torch, atol=1e-4, rtol=1e-4)
    for a, b in zip(_leaves(s_native), _leaves(s_torch), strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


VARIANTS = {
    "zero reset to 0.3, threshold 0.7": dict(
        neuron_kwargs=dict(reset="zero", v_reset=0.3, v_th=0.7)
    ),
    "subtract reset to -0.2": dict(neuron_kwargs=dict(v_reset=-0.2, v_th=0.8)),
    "per-neuron time constants": dict(
        neuron_kwargs=dict(
            tau_mem=TimeConstants(0.05, "gamma", spread=0.5),
            tau_syn=TimeConstants(0.025, "uniform", spread=0.8),
        ),
        readout_tau_mem=TimeConstants(0.05, "gamma", spread=0.5),
        readout_tau_syn=TimeConstants(0.025, "uniform", spread=0.8),
    ),
    "three modulators": dict(mode="modulated", n_modulators=3),
    "three modulators, per-synapse eta": dict(
        mode="modulated", n_modulators=3, granularity="synapse"
    ),
    "one step per input, linear output": dict(steps_per_input=1, output="linear"),
    "three steps per input": dict(steps_per_input=3),
    "learning rate above 0.5": dict(eta=0.8),
}


@pytest.mark.parametrize("storage", ["float32", "float16"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_native_step_equals_the_torch_step_on_every_option_it_reads(variant, storage, native_lib):
    opts = dict(VARIANTS[variant])
    neuron_kwargs = opts.pop("neuron_kwargs", {})
    spec_keys = ("mode", "n_modulators", "granularity", "eta")
    spec = {k: opts.pop(k) for k in spec_keys if k in opts}
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    net = PlasticSNN(
        7,
        3,
        hidden=16,
        dt=0.025,
        gain=2.0,
        generator=gen,
        plasticity=PlasticitySpec(
            "hebbian", alpha_init=0.5, clip=0.8, storage=storage, **{"eta": 0.3, **spec}
        ),
        **neuron_kwargs,
        **opts,
    )
    assert unsupported(net) is None
    tol = 1e-4 if storage == "float32" else _HALF_TOL
    spikes, _ = _step_together(*_pair(net), 30, tol=tol)
    assert spikes > 0


def test_native_step_reads_shared_parameters_and_time_constants_as_they_are_now(native_lib):
    # a parameter kept out of the population's names (shared by every individual) and a time
    # constant edited in place must not be served from the cached C layout
    net = _net()
    shared = [n for n, _ in net.named_parameters() if n != "readout_weight"]
    torch_pop = Population(net, 4, names=shared, post_major=True)
    native_pop = Population(net, 4, names=shared, native=True)
    x = torch.randn(4, 1, 7)
    native_pop(x, native_pop.initial_state(1))
    with torch.no_grad():
        net.readout_weight.mul_(-2.0)
        net.readout.tau_mem.mul_(0.5)
    s_torch, s_native = torch_pop.initial_state(1), native_pop.initial_state(1)
    for _ in range(5):
        y_torch, s_torch = torch_pop(x, s_torch)
        y_native, s_native = native_pop(x, s_native)
    torch.testing.assert_close(y_native, y_torch, atol=1e-4, rtol=1e-4)


def test_a_per_neuron_threshold_is_not_covered():
    net = _net()
    net.layer.neurons.v_th = torch.full((16,), 0.9)
    assert "per-neuron threshold" in unsupported(net)


def test_a_library_that_cannot_be_built_is_tried_once_and_says_why():
    from plasticagents.native import load_error, load_once

    calls, reasons = [], []

    def build():
        calls.append(1)
        raise RuntimeError("no compiler 'xcc' on PATH")

    for _ in range(3):
        assert load_once("test-unbuildable", build, reasons.append) is None
    assert len(calls) == 1 and reasons == ["no compiler 'xcc' on PATH"]
    assert load_error("test-unbuildable") == "no compiler 'xcc' on PATH"
    assert load_error("never-tried") is None


STATE_KINDS = [("float32", True), ("float16", True), ("float32", False)]


def _native_twins(storage: str, plastic: bool) -> tuple[Population, Population]:
    """Two native populations of the same 4 perturbed individuals: a modulated plastic SNN
    (fast weights stored as ``storage``) or a static one."""
    net = _net(mode="modulated", storage=storage)
    if not plastic:
        net = PlasticSNN(7, 3, hidden=16, dt=0.025, gain=2.0)
    _, first = _pair(net)
    second = Population(net, 4, native=True)
    second.load_vectors(first.to_vectors())
    return first, second


@pytest.mark.parametrize("storage,plastic", STATE_KINDS)
def test_native_step_holds_the_slots_not_active(storage, plastic, native_lib):
    # a rollout's ended episodes: held slots keep their state, spike nowhere and output 0;
    # every active slot steps exactly as in a population where every slot runs
    full, held = _native_twins(storage, plastic)
    s_full, s_held = full.initial_state(2), held.initial_state(2)
    gen = torch.Generator().manual_seed(5)
    active = torch.ones(4, 2, dtype=torch.bool)
    for step in range(8):
        if step >= 2:  # slots end one by one, in no order
            active.view(-1)[[3, 6, 0, 5, 1, 7][step - 2]] = False
        x = 2.0 * torch.randn(4, 2, 7, generator=gen)
        y_full, s_full = full(x, s_full)
        before = _leaves((s_held.layer, s_held.readout))
        y_held, s_held = held(x, s_held, active=active.numpy())
        assert torch.equal(y_held[active], y_full[active])
        assert torch.equal(s_held.spikes[active], s_full.spikes[active])
        assert not y_held[~active].any() and not s_held.spikes[~active].any()
        leaves = _leaves((s_held.layer, s_held.readout))
        for a, b, old in zip(leaves, _leaves((s_full.layer, s_full.readout)), before, strict=True):
            assert torch.equal(a[active], b[active])
            assert torch.equal(a[~active], old[~active])
    assert float(s_full.spikes.sum()) > 0
    with pytest.raises(ValueError, match=r"expected active slots \[4, 2\], got \[8\]"):
        held(x, s_held, active=active.view(-1).numpy())


@pytest.mark.parametrize("storage,plastic", STATE_KINDS)
def test_a_donated_state_is_updated_in_place_with_the_same_values(storage, plastic, native_lib):
    # a rollout gives up each state it passes on: the step then writes the new state over the
    # one it returned last call (the same object comes back) and computes what it computes
    # without donation, held slots included; the outputs are new memory at every call, and a
    # state the step did not return is never written
    kept, given = _native_twins(storage, plastic)
    s_kept, s_given = kept.initial_state(2), given.initial_state(2)
    initial = [leaf.clone() for leaf in _leaves(s_given)]
    gen = torch.Generator().manual_seed(3)
    active = torch.ones(4, 2, dtype=torch.bool)
    outputs = []
    for step in range(6):
        if step >= 3:
            active.view(-1)[[5, 2, 7][step - 3]] = False
        x = 2.0 * torch.randn(4, 2, 7, generator=gen)
        y_kept, s_kept = kept(x, s_kept, active=active.numpy())
        previous = s_given
        y_given, s_given = given(x, s_given, active=active.numpy(), donate=True)
        outputs.append((y_given, y_kept))
        for y, y_ref in outputs:  # this call's outputs, and every earlier call's as they were
            assert torch.equal(y, y_ref)
        for a, b in zip(_leaves(s_given), _leaves(s_kept), strict=True):
            assert torch.equal(a, b)
        if step == 0:  # the initial state is not the step's own: it stays as it was
            assert s_given is not previous
            for a, b in zip(_leaves(previous), initial, strict=True):
                assert torch.equal(a, b)
        else:  # its own state: written over
            assert s_given is previous
    assert float(s_kept.spikes.sum()) > 0
    # the step's own state, rebuilt around new tensors (a reset), is not its own any more
    from plasticagents.state import reset_where

    rebuilt = reset_where(s_given, torch.tensor([[True, False]] * 4))
    before = [leaf.clone() for leaf in _leaves(rebuilt)]
    _, new = given(x, rebuilt, donate=True)
    assert new is not rebuilt
    for a, b in zip(_leaves(rebuilt), before, strict=True):
        assert torch.equal(a, b)


def test_an_agent_gives_up_a_state_for_one_predict(native_lib):
    import numpy as np

    from plasticagents import Agent

    _, pop = _pair(_net())
    agent = Agent(pop)
    x = np.random.default_rng(0).normal(size=(4, 2, 7)).astype(np.float32)
    _, first = agent.predict(x)
    agent.donate_state()
    _, second = agent.predict(x, first)  # given up: written over
    assert second is first
    before = second.layer.plastic.hebb.clone()
    _, third = agent.predict(x, second)  # not given up: kept
    assert torch.equal(second.layer.plastic.hebb, before)
    assert not torch.equal(third.layer.plastic.hebb, before)
