"""NIR export: round trips through snnTorch, refusals, snapshots, unsupported parts.

Round trip: a run's network is exported (:func:`export_run`), read back with ``nir.read`` and
rebuilt in snnTorch: every node by snnTorch 1.0's own converter
(``snntorch.import_nir._nir_to_snntorch_module``: ``alpha, beta = 1 - dt/tau`` at its fixed
``dt = 1e-4``, weights divided out of the threshold by ``w_in dt / tau_syn``), the graph by
NIRTorch's executor. Two gaps in ``snntorch.import_nir.import_from_nir`` are bridged here:
it has no mapping for the readout's ``LI`` / ``CubaLI`` nodes (added below, in snnTorch's own
convention: a ``Leaky`` / ``Synaptic`` without reset whose output is its membrane), and its
rewrite of recurrent cycles into sub-graphs feeds the layer's external input through the
recurrent matrix (``W_rec (x + z)`` instead of ``x + W_rec z``), so the cycle is left to
NIRTorch, which runs it as ``z_{t-1} -> W_rec``.

Tolerance: 1e-5 absolute on the readout membrane (float32; measured ~2e-7), with identical
hidden spike trains. NIR 1.0 has no subtractive reset, so the files are written with
``approximate_reset`` and compared with our network switched to reset-to-zero, the network
the file describes (a test below shows that the subtractive one differs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir")
snn = pytest.importorskip("snntorch")
nirtorch = pytest.importorskip("nirtorch")

from plasticagents.training import train  # noqa: E402
from plasticagents.training.export import SNNTORCH_DT, export_network, export_run  # noqa: E402

TOL = 1e-5
FAST_ES = [
    "trainer.generations=1",
    "trainer.popsize=4",
    "trainer.eval_every=0",
    "env.max_episode_steps=20",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")

    def make(cfg, overrides):
        return train(f"configs/smoke/{cfg}.yaml", overrides, runs_dir=root, log=None).run

    return {
        "classifier": make("classify", ["trainer.epochs=1"]),
        "static": make("es", [*FAST_ES, "agent.plasticity=null"]),
        "static_const": make(
            "es", [*FAST_ES, "agent.plasticity=null", "agent.constant_input=true"]
        ),
        "plastic": make("es", [*FAST_ES, "agent.gain=5.0"]),  # spiking, so hebb moves
    }


class _Membrane(torch.nn.Module):
    """A snnTorch neuron without reset whose output is its membrane (a readout)."""

    def __init__(self, neuron: torch.nn.Module) -> None:
        super().__init__()
        self.neuron = neuron

    def forward(self, x):
        return self.neuron(x)[-1]


def _readout(node):
    beta = torch.as_tensor(
        1 - SNNTORCH_DT / node.tau_mem
        if isinstance(node, nir.CubaLI)
        else 1 - SNNTORCH_DT / node.tau
    )
    kw = dict(beta=beta, reset_mechanism="none", init_hidden=True, output=True)
    if isinstance(node, nir.CubaLI):
        return _Membrane(snn.Synaptic(alpha=torch.as_tensor(1 - SNNTORCH_DT / node.tau_syn), **kw))
    return _Membrane(snn.Leaky(**kw))


def load_in_snntorch(path):
    from snntorch.import_nir import _nir_to_snntorch_module

    graph = nir.read(path)
    node_map = {
        kind: (lambda node: _nir_to_snntorch_module(node, init_hidden=True))
        for kind in (nir.Affine, nir.Linear, nir.LIF, nir.CubaLIF)
    }
    node_map.update({nir.LI: _readout, nir.CubaLI: _readout})
    return nirtorch.nir_to_torch(graph, node_map)


def run_snntorch(module, x, repeat=1):
    """``x: [T, B, I]`` through the imported graph, each step held ``repeat`` graph steps;
    the output at the last of them ``[T, B, O]``."""
    state, outs = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            for _ in range(repeat):
                y, state = module(x[t], state)
            outs.append(y)
    return torch.stack(outs)


def zero_reset(net):
    for m in net.modules():
        if isinstance(getattr(m, "reset", None), str):
            m.reset = "zero"
    return net


def test_classifier_round_trip_through_snntorch(runs, tmp_path, capsys):
    from plasticagents.training.classification import load_classifier

    result = export_run(runs["classifier"], tmp_path / "c.nir", approximate_reset=True)
    module = load_in_snntorch(result.path)
    _, net = load_classifier(runs["classifier"])
    x = torch.bernoulli(
        torch.full((30, 4, net.n_in), 0.3), generator=torch.Generator().manual_seed(1)
    )
    theirs = run_snntorch(module, x)
    with torch.no_grad():
        subtract = net(x)
        ours = zero_reset(net)(x)
    assert float(ours.spikes[0].sum()) > 50  # the comparison covers many spikes and resets
    assert torch.allclose(theirs, ours.readout, atol=TOL, rtol=0)
    # the trained (subtractive-reset) network is not what the file says: the note is needed
    assert not torch.allclose(subtract.readout, ours.readout, atol=TOL)
    assert any("subtractive reset" in note for note in result.notes)
    assert float(result.graph.metadata["dt_nir"]) == SNNTORCH_DT


def test_a_classifier_trained_with_zero_reset_exports_exactly_without_approximation(tmp_path):
    from plasticagents.training.classification import load_classifier

    run = train(
        "configs/smoke/classify.yaml",
        ["trainer.epochs=1", "model.reset=zero"],
        runs_dir=tmp_path,
        log=None,
    ).run
    result = export_run(run, tmp_path / "z.nir")  # no approximate_reset needed
    assert not any("reset" in note for note in result.notes)
    _, net = load_classifier(run)
    x = torch.bernoulli(
        torch.full((30, 4, net.n_in), 0.3), generator=torch.Generator().manual_seed(2)
    )
    with torch.no_grad():
        ours = net(x)  # the trained network itself, not a patched copy
    assert float(ours.spikes[0].sum()) > 50
    theirs = run_snntorch(load_in_snntorch(result.path), x)
    assert torch.allclose(theirs, ours.readout, atol=TOL, rtol=0)


@pytest.mark.parametrize("run", ["static", "static_const"])
def test_static_policy_round_trip_through_snntorch(runs, run, tmp_path):
    """The exported graph runs as the policy does; a constant input's row (agent.constant_input)
    is folded into the hidden synapses' bias."""
    from plasticagents.training.analysis.evaluate import load_policy

    result = export_run(runs[run], tmp_path / "p.nir", approximate_reset=True)
    module = load_in_snntorch(nir.read(result.path) and result.path)
    loaded = load_policy(runs[run])
    assert loaded.policy.constant_input == (run == "static_const")
    net, norm = zero_reset(loaded.policy), loaded.obs_norm
    gen = torch.Generator().manual_seed(2)
    std = torch.as_tensor(np.sqrt(norm.var), dtype=torch.float32)
    z = (1.5 * torch.randn(25, 3, net.n_in, generator=gen)).clamp(-4.5, 4.5)  # inside the clip
    obs = torch.as_tensor(norm.mean, dtype=torch.float32) + z * std
    theirs = run_snntorch(module, obs, repeat=net.steps_per_input)
    ours, state, spikes = [], None, 0.0
    with torch.no_grad():
        for t in range(obs.shape[0]):
            action, state = net(torch.as_tensor(norm.normalize(obs[t].numpy())), state)
            ours.append(state.readout.v)
            spikes += float(state.spikes.sum())
            assert torch.allclose(action, torch.tanh(state.readout.v))
    assert spikes > 50
    assert torch.allclose(theirs, torch.stack(ours), atol=TOL, rtol=0)
    assert any("hold each observation for 2 steps" in n for n in result.notes)


def test_plastic_policy_without_snapshot_is_refused(runs, tmp_path):
    from plasticagents.training.cli import main

    with pytest.raises(ValueError, match=r"plastic \(hebbian rule\).*--snapshot STEP"):
        export_run(runs["plastic"], tmp_path / "x.nir", approximate_reset=True)
    assert not (tmp_path / "x.nir").exists()
    assert main(["export", str(runs["plastic"]), "--out", str(tmp_path / "x.nir")]) == 2


def _hebb_after(loaded, steps, seed):
    """Fast weights after ``steps`` env steps, replayed here with the network itself."""
    from plasticagents.training.builders import env_maker

    env = env_maker(loaded.env_config())()
    obs, _ = env.reset(seed=seed)
    low, high = env.action_space.low, env.action_space.high
    state = loaded.policy.initial_state(1)
    with torch.no_grad():
        for _ in range(steps):
            x = torch.as_tensor(loaded.obs_norm.normalize(obs[None]))
            a, state = loaded.policy(x, state)
            obs, *_ = env.step(low + (a[0].numpy() + 1) * (high - low) / 2)
    env.close()
    return state.layer.plastic.hebb[0]


def test_snapshot_folds_fast_weights_at_the_step(runs, tmp_path, capsys):
    from plasticagents.neurons import decay
    from plasticagents.training.analysis.evaluate import load_policy
    from plasticagents.training.cli import main

    out = tmp_path / "s.nir"
    argv = ["export", str(runs["plastic"]), "--out", str(out), "--snapshot", "7"]
    assert main([*argv, "--approximate-reset"]) == 0
    printed = capsys.readouterr().out
    assert "dropped: further plasticity" in printed and str(out) in printed
    graph = nir.read(out)
    assert int(graph.metadata["snapshot_step"]) == 7
    loaded = load_policy(runs["plastic"])
    layer = loaded.policy.layer
    hebb = _hebb_after(loaded, 7, seed=0)
    assert float(hebb.abs().max()) > 0
    w = layer.synapses.raw.detach() + layer.plasticity.alpha.detach() * hebb
    lif = layer.neurons
    gain = (1 - decay(lif.tau_mem, lif.dt)) * (1 - decay(lif.tau_syn, lif.dt))
    exported = torch.as_tensor(graph.nodes["hidden_recurrent"].weight, dtype=torch.float32)
    assert torch.allclose(exported, (w[layer.n_in :] * gain).T, atol=1e-6)
    static = (layer.synapses.raw.detach()[layer.n_in :] * gain).T
    assert not torch.allclose(exported, static, atol=1e-4)  # the fast part is really there


def test_a_float16_storage_snapshot_exports_the_matrix_the_network_uses():
    from plasticagents import PlasticitySpec, PlasticSNN
    from plasticagents.training.export import _effective_weight

    spec = PlasticitySpec("hebbian", alpha_init=0.5, storage="float16")
    gen = torch.Generator().manual_seed(0)
    net = PlasticSNN(4, 2, hidden=6, plasticity=spec, generator=gen, encoder_kwargs={"gain": 4.0})
    state = None
    with torch.no_grad():
        for x in 3 * torch.randn(10, 1, 4, generator=torch.Generator().manual_seed(1)):
            _, state = net(x, state)
    hebb = state.layer.plastic.hebb[0]
    assert hebb.dtype == torch.float16 and float(hebb.float().abs().max()) > 0
    layer = net.layer
    raw, alpha = layer.synapses.raw.detach(), layer.plasticity.alpha.detach()
    expected = raw.half().float() + alpha.half().float() * hebb.float()
    assert torch.equal(_effective_weight(layer, hebb), expected)
    assert torch.equal(_effective_weight(layer, None), raw.half().float())


def test_unsupported_parts_are_named():
    from plasticagents import MLPPolicy, PlasticSNN

    with pytest.raises(ValueError, match=r"alif.*no neuron whose threshold adapts"):
        export_network(PlasticSNN(3, 2, hidden=8, neuron="alif"), approximate_reset=True)
    with pytest.raises(ValueError, match=r"reset by subtracting.*--approximate-reset"):
        export_network(PlasticSNN(3, 2, hidden=8))
    with pytest.raises(ValueError, match="cannot export a MLPPolicy"):
        export_network(MLPPolicy(3, 2))


def test_delays_become_delay_nodes_with_their_synapses():
    from plasticagents.classifier import SpikingClassifier

    net = SpikingClassifier(
        3,
        2,
        hidden=(4,),
        delay_mode="fixed",
        max_delay=3,
        generator=torch.Generator().manual_seed(0),
    ).eval()
    zero_reset(net)
    graph, _ = export_network(net, dt=1e-3)
    kernel = net.layers[0].forward_synapses.kernel().detach()
    gain = 1 - np.exp(-1e-3 / net.layers[0].neurons.tau_mem.numpy())
    present = [d for d in range(4) if bool(kernel[d].any())]
    assert len(present) >= 3  # 12 synapses over 4 delay values
    for d in range(4):
        name = "layer0_synapses" if d == 0 else f"layer0_synapses_delay{d}"
        if d not in present and d:
            assert name not in graph.nodes
            continue
        np.testing.assert_allclose(
            graph.nodes[name].weight, (kernel[d].numpy() * gain).T, atol=1e-6
        )
        if d:
            np.testing.assert_allclose(graph.nodes[f"layer0_delay{d}"].delay, d * 1e-3)
            assert ("input", f"layer0_delay{d}") in graph.edges
