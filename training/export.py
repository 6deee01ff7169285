"""Export trained spiking networks to NIR, the Neuromorphic Intermediate Representation.

``plasticagents export RUN --out model.nir`` writes a run's network as a :class:`nir.NIRGraph`
(``nir.write``), which snnTorch, Norse, SpikingJelly, Lava and several chips read. What maps
to what:

=================================  ============================================================
ours                               NIR
=================================  ============================================================
LIF layer, ``tau_syn = 0``          ``LIF`` (``v_reset``: reset to a value, see below)
LIF layer, ``tau_syn > 0``          ``CubaLIF``
leaky-integrator readout           ``LI`` (``tau_syn = 0``) or ``CubaLI``; its output is the
                                   membrane, the network's output
synapses (sparse, Dale's law)      ``Linear`` / ``Affine`` with the effective signed matrix
                                   (absent synapses are zeros), ``weight: [out, in]``
recurrent synapses                 a ``Linear`` in a cycle with its layer (``layer -> rec ->
                                   layer``): at step ``t`` it carries the spikes of ``t - 1``
integer / learned delays           per delay value ``d`` present, a ``Delay`` node (``d dt``
                                   seconds, all inputs) and a ``Linear`` holding the synapses
                                   of that delay; learned positions are rounded, as in
                                   evaluation
batch norm (eval statistics)       folded into the layer's input ``Affine``
direct-current encoder, the        folded into the input ``Affine`` (the normaliser's clip at
observation normaliser             ±``clip`` standard deviations is left out)
a constant input                   its row folded into the input ``Affine``'s bias
(``agent.constant_input``)
dropout                            nothing (identity at evaluation)
=================================  ============================================================

Left out, with a message that names them: the Gaussian population encoder (the graph takes
the encoded vector), ``tanh`` and the action scaling of a policy (the graph outputs the
readout membrane), a classifier's read-out of class scores over time, and, for plastic
networks exported as a snapshot, the plasticity itself. Refused with an error naming the part:
adaptive-threshold neurons (``neuron: alif``), non-spiking policies, subtractive reset unless
``approximate_reset``, plastic networks without ``snapshot_step``.

**Time-step convention.** NIR states continuous-time ODEs; a discrete simulator integrates
them with forward Euler at its own step ``dt_nir``. Our kernels integrate exactly over
``dt`` (:mod:`plasticagents.neurons`), with decays ``a_m = exp(-dt/tau_mem)``,
``a_s = exp(-dt/tau_syn)``. The file is written in snnTorch's own export convention, for
which Euler at ``dt_nir`` reproduces our updates exactly::

    tau_mem' = dt_nir / (1 - a_m)     tau_syn' = dt_nir / (1 - a_s)
    r = tau_mem' / dt_nir             w_in = tau_syn' / dt_nir
    I_t = a_s I_{t-1} + W' x_t        v_t = a_m v_{t-1} + I_t        (Euler at dt_nir)

so ``v`` is our membrane and ``I = (1 - a_m) i`` our synaptic current scaled, provided every
matrix into a neuron carries its input gain ``g = (1 - a_m)(1 - a_s)``: ``W'[n] = g_n W[n]``
(``a_s = 0`` without a synaptic filter). snnTorch's importer (1.0) always steps
``dt_nir = 1e-4`` s, hence the default :data:`SNNTORCH_DT`; pass the network's own ``dt`` to
get time constants close to the trained ones in seconds (``tau' = tau + dt/2 + O(dt²)``) for
a simulator that lets you choose its step. The graph's ``metadata`` records ``dt_nir``, the
network's ``dt``, ``steps_per_input`` and what was left out.

**Reset.** NIR 1.0's ``LIF`` / ``CubaLIF`` set the membrane to ``v_reset`` after a spike; our
neurons subtract the threshold by default (``reset="subtract"``), which NIR cannot express.
Such a network is refused unless ``approximate_reset=True`` (``--approximate-reset``), which
writes ``v_reset = 0``: the exported network then differs from ours after every spike whose
membrane overshot the threshold. A network whose neurons reset to zero (trained with
``agent.reset: zero`` or ``model.reset: zero``) exports exactly.

Example (a run of ``configs/smoke/classify.yaml``)::

    result = export_run("runs/smoke-classify-...", "model.nir", approximate_reset=True)
    graph = nir.read(result.path)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["SNNTORCH_DT", "ExportResult", "export_network", "export_run", "snapshot_state"]

SNNTORCH_DT = 1e-4
"""The step (seconds) at which snnTorch's NIR importer integrates every neuron (fixed in 1.0)."""


@dataclass
class ExportResult:
    """What :func:`export_run` wrote: the ``.nir`` ``path``, the ``graph`` and the ``notes``
    (one line per part left out, approximated or snapshotted), also in ``graph.metadata``."""

    path: Path
    graph: Any
    notes: list[str] = field(default_factory=list)


def _np(x: Tensor | float, n: int | None = None) -> np.ndarray:
    arr = x.detach().cpu().double().numpy() if isinstance(x, Tensor) else np.asarray(float(x))
    return np.broadcast_to(arr, (n,)).copy() if n is not None else arr


def _decays(module: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """``(a_m, a_s)`` per neuron ``[N]`` of a LIF or LI module (``a_s = 0``: no filter)."""
    dt, n = module.dt, module.n
    tau_mem = _np(module._tau("tau_mem"), n)
    tau_syn = _np(module._tau("tau_syn"), n)
    a_m = np.exp(-dt / tau_mem)
    with np.errstate(divide="ignore"):
        a_s = np.where(tau_syn > 0, np.exp(-dt / np.where(tau_syn > 0, tau_syn, 1.0)), 0.0)
    return a_m, a_s


def _neuron_node(
    module: nn.Module,
    dt_nir: float,
    spiking: bool,
    where: str,
    notes: list[str],
    approximate_reset: bool,
) -> tuple[Any, np.ndarray]:
    """The NIR node of a LIF (``spiking``) or LI module and the input gain ``g: [N]`` that
    every matrix into it must carry (module docstring)."""
    import nir

    from plasticagents.neurons import ALIF

    if isinstance(module, ALIF):
        raise ValueError(
            f"{where}: adaptive-threshold LIF neurons (neuron: alif) cannot be exported: NIR 1.0 "
            "has no neuron whose threshold adapts"
        )
    a_m, a_s = _decays(module)
    n = module.n
    tau_mem = dt_nir / (1.0 - a_m)
    r = tau_mem / dt_nir
    zeros = np.zeros(n)
    gain = (1.0 - a_m) * (1.0 - a_s)
    cuba = bool((a_s > 0).any())
    tau_syn = dt_nir / (1.0 - a_s)
    if not spiking:
        if cuba:
            node = nir.CubaLI(
                tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=zeros, w_in=tau_syn / dt_nir
            )
        else:
            node = nir.LI(tau=tau_mem, r=r, v_leak=zeros)
        return node, gain
    if module.reset == "subtract":
        if not approximate_reset:
            raise ValueError(
                f"{where}: these LIF neurons reset by subtracting the threshold, and NIR 1.0's "
                "LIF/CubaLIF reset the membrane to v_reset instead. Export with "
                "--approximate-reset (approximate_reset=True) to write v_reset = 0: spike "
                "trains then differ after every spike whose membrane overshot the threshold; "
                "or train the network with agent.reset=zero / model.reset=zero, which exports "
                "exactly"
            )
        notes.append(
            f"{where}: subtractive reset written as reset to 0 (NIR 1.0 has no subtractive "
            "reset); spike trains differ from the trained network's after an overshoot"
        )
    v_th = np.full(n, float(module.v_th))
    v_reset = np.full(n, float(module.v_reset))
    if cuba:
        node = nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            r=r,
            v_leak=zeros,
            v_threshold=v_th,
            v_reset=v_reset,
            w_in=tau_syn / dt_nir,
        )
    else:
        node = nir.LIF(tau=tau_mem, r=r, v_leak=zeros, v_threshold=v_th, v_reset=v_reset)
    return node, gain


def _dense(weight: np.ndarray, gain: np.ndarray, bias: np.ndarray | None = None) -> Any:
    """``Linear`` / ``Affine`` of our ``[I, N]`` matrix with the target's input gain."""
    import nir

    w = (weight * gain[None, :]).T.astype(np.float32)
    if bias is None:
        return nir.Linear(weight=w)
    return nir.Affine(weight=w, bias=(bias * gain).astype(np.float32))


class _Graph:
    """Nodes and edges under construction."""

    def __init__(self) -> None:
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []

    def add(self, name: str, node: Any, *sources: str) -> str:
        self.nodes[name] = node
        self.edges += [(s, name) for s in sources]
        return name


def _io(n: int, kind: str) -> Any:
    import nir

    shape = {kind: np.array([n])}
    return nir.Input(input_type=shape) if kind == "input" else nir.Output(output_type=shape)


def _effective_weight(layer: Any, hebb: Tensor | None) -> Tensor:
    """The ``[I, N]`` matrix the layer uses: ``mask(dale(raw))``, or with a fast-weight
    snapshot ``hebb`` ``mask(dale(raw + alpha * hebb))``; with float16 storage, ``raw`` and
    ``alpha`` as the network uses them (rounded to half)."""
    from plasticagents.plasticity import as_stored

    storage = layer.plasticity.storage_dtype if layer.plasticity is not None else None
    with torch.no_grad():
        if hebb is None:
            w = layer.synapses.weight()
            return w if storage is None else as_stored(w, storage)
        eye = torch.eye(layer.n_pre, dtype=layer.synapses.raw.dtype)
        return layer.synapses.current(
            eye, layer.plasticity.alpha, hebb, storage, layer.plasticity.rows
        )


def _policy_graph(
    net: Any,
    dt_nir: float,
    obs_norm: Any,
    hebb: Tensor | None,
    approximate_reset: bool,
    notes: list[str],
) -> _Graph:
    from plasticagents.networks import DirectCurrentEncoder

    layer = net.layer
    w = _effective_weight(layer, hebb).double().numpy()
    # the encoded inputs, then (constant_input) one row fed a constant 1: a bias
    n_obs = net.encoder.n_out
    w_in, w_const, w_rec = w[:n_obs], w[n_obs : layer.n_in], w[layer.n_in :]
    # x -> encoder -> current, as one affine map x -> scale' x + shift' folded into w_in.
    scale, shift = np.ones(n_obs), np.zeros(n_obs)
    if isinstance(net.encoder, DirectCurrentEncoder):
        scale, shift = _np(net.encoder.scale), _np(net.encoder.bias)
        if obs_norm is not None:
            std = np.sqrt(np.asarray(obs_norm.var, dtype=float) + obs_norm.eps)
            mean = np.asarray(obs_norm.mean, dtype=float)
            shift = shift - scale * mean / std
            scale = scale / std
            notes.append(
                "observation normaliser folded into the input Affine; its clip at "
                f"±{obs_norm.clip} standard deviations is left out"
            )
    else:
        notes.append(
            f"encoder {type(net.encoder).__name__} left out (NIR has no Gaussian receptive "
            f"field): the graph's input is the encoded vector [{n_obs}] = "
            "plasticagents.encoding.receptive_fields(x, per_input, low, high, width) * gain"
            + (" of the normalised observation" if obs_norm is not None else "")
        )
    g = _Graph()
    hidden, gain = _neuron_node(
        layer.neurons, dt_nir, True, "hidden layer", notes, approximate_reset
    )
    g.add("input", _io(n_obs, "input"))
    bias = shift @ w_in + w_const.sum(axis=0)  # the constant input's row, if any
    g.add("hidden_synapses", _dense(w_in * scale[:, None], gain, bias), "input")
    g.add("hidden", hidden, "hidden_synapses")
    if layer.recurrent:
        g.add("hidden_recurrent", _dense(w_rec, gain), "hidden")
        g.edges.append(("hidden_recurrent", "hidden"))
    readout, ro_gain = _neuron_node(net.readout, dt_nir, False, "readout", notes, False)
    g.add("readout_synapses", _dense(_np(net.readout_weight), ro_gain), "hidden")
    g.add("readout", readout, "readout_synapses")
    g.add("output", _io(net.n_out, "output"), "readout")
    if net.steps_per_input > 1:
        notes.append(
            f"one graph step is one simulation step: hold each observation for "
            f"{net.steps_per_input} steps and read the output at the last"
        )
    if net.output == "tanh":
        notes.append(
            "tanh and the action scaling are left out: action = low + (tanh(output) + 1) "
            "(high - low) / 2"
        )
    return g


def _classifier_graph(net: Any, dt_nir: float, approximate_reset: bool, notes: list[str]) -> _Graph:
    import nir

    net = net.eval()
    g = _Graph()
    g.add("input", _io(net.n_in, "input"))
    source = "input"
    for k, layer in enumerate(net.layers):
        name = f"layer{k}"
        node, gain = _neuron_node(
            layer.neurons, dt_nir, True, f"hidden layer {k}", notes, approximate_reset
        )
        kernel = layer.forward_synapses.kernel().detach().double().numpy()  # [L, I, N]
        col_scale, bias = np.ones(layer.n), None
        if layer.norm is not None:
            bn = layer.norm
            std = np.sqrt(_np(bn.running_var) + bn.eps)
            col_scale = (_np(bn.weight) if bn.affine else 1.0) / std
            bias = (_np(bn.bias) if bn.affine else 0.0) - _np(bn.running_mean) * col_scale
            notes.append(f"hidden layer {k}: batch norm (running statistics) folded into its input")
        taps = [d for d in range(kernel.shape[0]) if d == 0 or np.any(kernel[d])]
        for d in taps:
            w = kernel[d] * col_scale[None, :]
            if d == 0:
                g.add(f"{name}_synapses", _dense(w, gain, bias), source)
                g.edges.append((f"{name}_synapses", name))
                continue
            delay = np.full(kernel.shape[1], d * dt_nir)
            g.add(f"{name}_delay{d}", nir.Delay(delay=delay), source)
            g.add(f"{name}_synapses_delay{d}", _dense(w, gain), f"{name}_delay{d}")
            g.edges.append((f"{name}_synapses_delay{d}", name))
        g.add(name, node)
        if layer.recurrent is not None:
            g.add(f"{name}_recurrent", _dense(_np(layer.recurrent.weight()), gain), name)
            g.edges.append((f"{name}_recurrent", name))
        source = name
    readout, ro_gain = _neuron_node(net.readout, dt_nir, False, "readout", notes, False)
    g.add("readout_synapses", _dense(_np(net.readout_synapses.weight()), ro_gain), source)
    g.add("readout", readout, "readout_synapses")
    g.add("output", _io(net.n_classes, "output"), "readout")
    if any(layer.forward_synapses.max_delay for layer in net.layers):
        notes.append("delays written as Delay nodes of d * dt_nir seconds, one per delay value")
    notes.append(
        f"the class read-out over time ({net.readout_mode!r}, plasticagents.classifier."
        "sequence_logits) is left out: the output is the readout membrane at every step"
    )
    return g


def export_network(
    net: nn.Module,
    *,
    dt: float = SNNTORCH_DT,
    approximate_reset: bool = False,
    obs_norm: Any = None,
    snapshot: Any = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Any, list[str]]:
    """``(nir.NIRGraph, notes)`` of a :class:`~plasticagents.PlasticSNN` or
    :class:`~plasticagents.classifier.SpikingClassifier` (module docstring: conventions).

    Args:
        dt: the step ``dt_nir`` (seconds) at which Euler integration of the file reproduces
            the network (default: snnTorch's fixed step).
        approximate_reset: write subtractive-reset neurons with ``v_reset = 0``.
        obs_norm: a policy's observation normaliser (folded into the input layer).
        snapshot: for a plastic policy, the :class:`~plasticagents.networks.SNNState` whose
            fast weights are folded into the exported matrix (batch of one).

    Raises:
        ValueError: a part NIR cannot express (the message names it), a plastic network
            without ``snapshot``, a ``snapshot`` of a static one.
    """
    import nir

    from plasticagents.classifier import SpikingClassifier
    from plasticagents.networks import PlasticSNN

    if not dt > 0:
        raise ValueError(f"dt must be > 0 seconds, got {dt!r}")
    notes: list[str] = []
    with torch.no_grad():
        if isinstance(net, SpikingClassifier):
            if snapshot is not None:
                raise ValueError("a snapshot folds fast weights; a SpikingClassifier has none")
            g = _classifier_graph(net, dt, approximate_reset, notes)
            net_dt = net.dt
        elif isinstance(net, PlasticSNN):
            plastic = net.layer.plasticity
            hebb = None
            if plastic is not None:
                if snapshot is None:
                    raise ValueError(
                        f"the network is plastic ({plastic.spec.rule} rule): NIR has no "
                        "synaptic plasticity. Export a snapshot, its fast weights folded into "
                        "static weights at one step of an episode: --snapshot STEP "
                        "(snapshot_step=STEP)"
                    )
                hebb = snapshot.layer.plastic.hebb
                if hebb.dim() != 2:
                    if hebb.shape[:-2].numel() != 1:
                        raise ValueError(f"snapshot of a batch of one, got {list(hebb.shape)}")
                    hebb = hebb.reshape(hebb.shape[-2:])
                dropped = "further plasticity" + (
                    ", neuromodulation" if net.layer.modulator is not None else ""
                )
                notes.append(
                    f"snapshot: W + alpha * hebb ({plastic.spec.rule} rule) folded into static "
                    f"weights; dropped: {dropped}, the plasticity traces"
                )
            elif snapshot is not None:
                raise ValueError("a snapshot folds fast weights; this network is not plastic")
            g = _policy_graph(net, dt, obs_norm, hebb, approximate_reset, notes)
            net_dt = net.layer.neurons.dt
        else:
            raise ValueError(
                f"cannot export a {type(net).__name__}: NIR export takes spiking networks "
                "(PlasticSNN policies, SpikingClassifier)"
            )
    meta = {
        "source": "plasticagents",
        "dt_nir": float(dt),
        "dt": float(net_dt),
        "steps_per_input": int(getattr(net, "steps_per_input", 1)),
        "notes": "\n".join(notes),
        **(metadata or {}),
    }
    return nir.NIRGraph(nodes=g.nodes, edges=g.edges, metadata=meta), notes


def snapshot_state(loaded: Any, step: int, seed: int = 0) -> Any:
    """The state of a loaded plastic policy after ``step`` env steps of one seeded episode
    of its training env (deterministic actions; the episode must last that long)."""
    from plasticagents.training.builders import env_maker
    from plasticagents.training.rollout import quiet_mujoco_warnings

    if not (isinstance(step, int) and step >= 0):
        raise ValueError(f"snapshot step must be an int >= 0, got {step!r}")
    env_cfg = loaded.env_config()
    agent = loaded.agent(env_cfg)
    with quiet_mujoco_warnings():
        env = env_maker(env_cfg)()
    try:
        obs, _ = env.reset(seed=seed)
        state = None
        for t in range(step):
            action, state = agent.predict(obs[None], state, deterministic=True)
            obs, _, terminated, truncated, _ = env.step(action[0])
            if (terminated or truncated) and t < step - 1:
                raise ValueError(
                    f"snapshot step {step}: the seed-{seed} episode ended after {t + 1} steps"
                )
    finally:
        env.close()
    if state is None:
        state = loaded.policy.initial_state(1)
    return state


def export_run(
    run: str | Path,
    out: str | Path,
    *,
    which: str = "best",
    dt: float = SNNTORCH_DT,
    snapshot_step: int | None = None,
    snapshot_seed: int = 0,
    approximate_reset: bool = False,
) -> ExportResult:
    """Write the network of ``run``'s ``which`` checkpoint to ``out`` as a NIR graph.

    A plastic policy is refused unless ``snapshot_step`` is given: it then runs one seeded
    episode of its training env (reset with ``snapshot_seed``) for ``snapshot_step`` steps and
    exports ``W + alpha * hebb`` at that step as static weights. See :func:`export_network`
    for ``dt`` and ``approximate_reset``, and the module docstring for the conventions.

    Raises:
        FileNotFoundError: not a run directory, or no such checkpoint.
        ValueError: a part NIR cannot express; a plastic network without a snapshot step.
    """
    import nir

    from plasticagents.training.config import from_dict
    from plasticagents.training.registry import adapter, lookup
    from plasticagents.training.run import RunDir

    rd = RunDir.open(run)
    ckpt = rd.load(which)
    meta = {"run": str(rd.path), "checkpoint": which, "trainer": ckpt.trainer}
    obs_norm, snapshot = None, None
    if lookup(ckpt.trainer).family == "policy":
        from plasticagents.training.analysis.evaluate import load_policy

        loaded = load_policy(rd.path, which)
        net, obs_norm = loaded.policy, loaded.obs_norm
        plastic = getattr(getattr(net, "layer", None), "plasticity", None)
        if snapshot_step is not None:
            if plastic is None:
                raise ValueError(f"--snapshot: {rd.path} is not a plastic network")
            snapshot = snapshot_state(loaded, snapshot_step, snapshot_seed)
            meta["snapshot_step"] = int(snapshot_step)
            meta["snapshot_seed"] = int(snapshot_seed)
    else:
        if snapshot_step is not None:
            raise ValueError(f"--snapshot: {rd.path} is a classifier, not a plastic network")
        net, _ = adapter(ckpt.trainer).load_model(from_dict(ckpt.config), ckpt.policy)
    where = f"{rd.path} (trainer.kind {ckpt.trainer!r})"
    try:
        graph, notes = export_network(
            net,
            dt=dt,
            approximate_reset=approximate_reset,
            obs_norm=obs_norm,
            snapshot=snapshot,
            metadata=meta,
        )
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    nir.write(out, graph)
    return ExportResult(out, graph, notes)
