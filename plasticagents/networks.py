"""Encoders, the recurrent plastic spiking layer, readouts and whole policy networks.

Every stateful module follows ``forward(x, state=None) -> (y, state)`` and
``initial_state(batch)``, with ``batch`` an int or a tuple of leading axes (``(B,)`` for B
environments, ``(P, B)`` for a population evaluated through :class:`~plasticagents.Population`).
Shapes are written for one individual: ``[..., D]`` means any leading batch axes.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from plasticagents.encoding import check_fields, receptive_fields
from plasticagents.neurons import ALIF, LI, LIF, ALIFState, LIFState, LIState, TimeConstants, decay
from plasticagents.plasticity import (
    Neuromodulator,
    Plasticity,
    PlasticitySpec,
    PlasticState,
    as_stored,
)
from plasticagents.synapses import Synapses

__all__ = [
    "NEURONS",
    "DirectCurrentEncoder",
    "LSTMPolicy",
    "LSTMState",
    "LayerState",
    "MLPPolicy",
    "PlasticSNN",
    "PopulationEncoder",
    "RecurrentSpikingLayer",
    "SNNState",
    "make_encoder",
]

NEURONS = ("lif", "alif")
SIGNALS = ("traces", "spikes")
OUTPUTS = ("tanh", "linear")


def _batch(batch: int | tuple[int, ...]) -> tuple[int, ...]:
    return (batch,) if isinstance(batch, int) else tuple(batch)


class DirectCurrentEncoder(nn.Module):
    """Observation as input current: ``y = scale ⊙ x + bias``, ``[..., D] -> [..., D]``."""

    def __init__(self, n_in: int, gain: float = 1.0) -> None:
        super().__init__()
        self.n_in = self.n_out = n_in
        self.scale = nn.Parameter(torch.full((n_in,), float(gain)))
        self.bias = nn.Parameter(torch.zeros(n_in))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.bias


class PopulationEncoder(nn.Module):
    """Gaussian receptive fields: each of ``D`` inputs drives ``M`` neurons.

    Shapes ``[..., D] -> [..., D*M]``.

    Neuron ``m`` of input ``d`` receives ``gain * exp(-(x_d - mu_m)^2 / (2 sigma^2))`` with centres
    ``mu`` evenly spaced on ``[low, high]`` and ``sigma = width * (high - low) / (M - 1)``
    (:func:`~plasticagents.encoding.receptive_fields`); inputs are expected normalised (the
    default range covers ±3 standard deviations).
    """

    def __init__(
        self,
        n_in: int,
        per_input: int = 8,
        low: float = -3.0,
        high: float = 3.0,
        width: float = 1.0,
        gain: float = 1.0,
    ) -> None:
        super().__init__()
        check_fields(per_input, low, high, width)
        self.n_in, self.per_input, self.n_out = n_in, per_input, n_in * per_input
        self.low, self.high, self.width, self.gain = low, high, width, gain

    def forward(self, x: Tensor) -> Tensor:
        return self.gain * receptive_fields(x, self.per_input, self.low, self.high, self.width)


def make_encoder(kind: str, n_in: int, **kwargs) -> nn.Module:
    """Build a network's input encoder by name: ``direct`` (:class:`DirectCurrentEncoder`) or
    ``population`` (:class:`PopulationEncoder`, the population code of
    :data:`plasticagents.encoding.ENCODERS` applied at every step)."""
    if kind == "direct":
        return DirectCurrentEncoder(n_in, **kwargs)
    if kind == "population":
        return PopulationEncoder(n_in, **kwargs)
    raise ValueError(f"unknown encoder {kind!r}; valid choices: ['direct', 'population']")


class LayerState(NamedTuple):
    """State of a :class:`RecurrentSpikingLayer`.

    ``neuron``: LIF/ALIF state ``[..., N]``; ``z``: last spikes ``[..., N]``; ``pre_trace``:
    low-pass of the presynaptic vector ``[..., I + N]``; ``post_trace``: ``[..., N]``;
    ``plastic``: fast weights (``None`` without plasticity).
    """

    neuron: LIFState | ALIFState
    z: Tensor
    pre_trace: Tensor
    post_trace: Tensor
    plastic: PlasticState | None


class RecurrentSpikingLayer(nn.Module):
    """A recurrent layer of spiking neurons whose synapses can learn within an episode.

    One call is one simulation step of ``dt``. The presynaptic vector is the input current
    concatenated with the layer's own spikes of the previous step,
    ``pre = [x, z_{t-1}]: [..., I+N]``,
    and the synapse matrix ``[I+N, N]`` is ``W + alpha ⊙ hebb`` when plastic. Plasticity sees
    low-pass traces of pre and post activity (``signal="traces"``, time constant ``tau_trace``,
    ``trace <- a trace + (1 - a) s`` so a trace is a rate in [0, 1] for spikes) or the raw spikes
    (``signal="spikes"``; STDP always uses spikes and keeps its own traces). In modulated modes
    the layer computes ``M = Neuromodulator(post_trace)`` (or, with the spec's
    ``modulator_input="input"``, from the input currents' traces ``pre_trace[..., :I]``).

    Args:
        n_in, n_hidden: input current size ``I`` and number of neurons ``N``.
        neuron: ``lif`` or ``alif``; ``neuron_kwargs`` go to :class:`~plasticagents.LIF`.
        plasticity: a :class:`PlasticitySpec`, or ``None`` for a static layer.
        recurrent: include the ``N`` recurrent rows.
        dale: apply Dale's law to the recurrent rows, with ``excitatory_fraction``.
        density: connection density of the ``[I+N, N]`` matrix.
        constant_inputs: how many of the last inputs are constant units (always 1; set by
            :class:`PlasticSNN`'s ``constant_input``): the rows the plasticity spec's
            ``rows="constant"`` makes plastic.
    """

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        neuron: str = "lif",
        plasticity: PlasticitySpec | None = None,
        recurrent: bool = True,
        dale: bool = False,
        excitatory_fraction: float = 0.8,
        density: float = 1.0,
        gain: float = 1.0,
        tau_trace: float = 20e-3,
        signal: str = "traces",
        dt: float = 1e-3,
        generator: torch.Generator | None = None,
        constant_inputs: int = 0,
        **neuron_kwargs,
    ) -> None:
        super().__init__()
        if neuron not in NEURONS:
            raise ValueError(f"unknown neuron model {neuron!r}; valid choices: {list(NEURONS)}")
        if signal not in SIGNALS:
            raise ValueError(
                f"unknown plasticity signal {signal!r}; valid choices: {list(SIGNALS)}"
            )
        if dale and not recurrent:
            raise ValueError("dale=True constrains the recurrent rows, so it needs recurrent=True")
        self.n_in, self.n_hidden, self.recurrent, self.signal = n_in, n_hidden, recurrent, signal
        self.n_pre = n_in + (n_hidden if recurrent else 0)
        self.trace_decay = decay(tau_trace, dt)
        self.neurons = (LIF if neuron == "lif" else ALIF)(
            n_hidden, dt=dt, generator=generator, **neuron_kwargs
        )
        self.synapses = Synapses(
            self.n_pre,
            n_hidden,
            density=density,
            dale_rows=n_hidden if dale else 0,
            excitatory_fraction=excitatory_fraction,
            gain=gain,
            generator=generator,
            row_blocks=(n_in, n_hidden) if recurrent else None,
        )
        if not 0 <= constant_inputs <= n_in:
            raise ValueError(f"constant_inputs must be in [0, {n_in}], got {constant_inputs!r}")
        self.plasticity = (
            Plasticity(
                self.n_pre,
                n_hidden,
                plasticity,
                dt,
                generator,
                rows=self._plastic_rows(plasticity.rows, constant_inputs),
            )
            if plasticity
            else None
        )
        modulated = plasticity is not None and plasticity.mode != "plain"
        self.modulator_reads_input = modulated and plasticity.modulator_input == "input"
        self.modulator = (
            Neuromodulator(
                n_in if self.modulator_reads_input else n_hidden,
                n_hidden,
                plasticity.n_modulators,
                generator,
                gate_bias=plasticity.gate_bias if plasticity.mode == "gated" else None,
            )
            if modulated
            else None
        )

    def _plastic_rows(self, rows: str, constant_inputs: int) -> tuple[int, int] | None:
        """The run ``(start, stop)`` of presynaptic rows (of ``[I+N]``) that learn for
        ``spec.rows`` (``None``: all of them)."""
        if rows == "all":
            return None
        if rows == "recurrent" and not self.recurrent:
            raise ValueError(
                "plasticity rows 'recurrent' makes the recurrent synapses plastic, but this "
                "layer has none (recurrent=False): use rows 'all' or 'input', or recurrent=True"
            )
        if rows == "constant" and constant_inputs == 0:
            raise ValueError(
                "plasticity rows 'constant' makes only the constant input's synapses plastic, "
                "but the network has no constant input: set constant_input=True "
                "(agent.constant_input: true), or use rows 'all', 'input' or 'recurrent'"
            )
        if rows == "input":
            return (0, self.n_in)
        if rows == "recurrent":
            return (self.n_in, self.n_pre)
        return (self.n_in - constant_inputs, self.n_in)

    def modulator_source(self, pre_trace: Tensor, post_trace: Tensor) -> Tensor:
        """What the neuromodulator reads (``spec.modulator_input``): the traces of the input
        currents, ``pre_trace[..., :I]``, or of the layer's own spikes, ``post_trace``."""
        return pre_trace[..., : self.n_in] if self.modulator_reads_input else post_trace

    def post_major_parameters(self) -> list[str]:
        """Names (relative to this layer) of the ``[I, N]`` parameters read elementwise with the
        fast weights at every step (``raw``, ``alpha``, per-synapse coefficients, these over
        the plastic rows): the ones a compiled :class:`~plasticagents.Population` stores
        post-major, like ``hebb``. Empty for a static layer."""
        if self.plasticity is None:
            return []
        shapes = {
            "synapses": (self.n_pre, self.n_hidden),
            "plasticity": (self.plasticity.n_rows, self.n_hidden),
        }
        return [
            name
            for name, p in self.named_parameters()
            if tuple(p.shape) == shapes.get(name.split(".")[0])
        ]

    def initial_state(self, batch: int | tuple[int, ...]) -> LayerState:
        batch = _batch(batch)
        like = self.synapses.raw
        z = torch.zeros((*batch, self.n_hidden), dtype=like.dtype, device=like.device)
        return LayerState(
            neuron=self.neurons.initial_state(batch, z),
            z=z,
            pre_trace=torch.zeros((*batch, self.n_pre), dtype=like.dtype, device=like.device),
            post_trace=z.clone(),
            plastic=self.plasticity.initial_state(batch, like) if self.plasticity else None,
        )

    def forward(self, x: Tensor, state: LayerState | None = None) -> tuple[Tensor, LayerState]:
        """One step: input current ``x: [..., I]`` -> spikes ``z: [..., N]`` and the new state."""
        if x.shape[-1] != self.n_in:
            raise ValueError(f"expected layer input [..., {self.n_in}], got {list(x.shape)}")
        if state is None:
            state = self.initial_state(tuple(x.shape[:-1]))
        pre = torch.cat([x, state.z], dim=-1) if self.recurrent else x
        plastic = state.plastic
        if plastic is None:
            current = self.synapses.current(pre)
        else:
            plasticity = self.plasticity
            current = self.synapses.current(
                pre, plasticity.alpha, plastic.hebb, plasticity.storage_dtype, plasticity.rows
            )
        z, neuron = self.neurons(current, state.neuron)
        a = self.trace_decay
        pre_trace = a * state.pre_trace + (1.0 - a) * pre
        post_trace = a * state.post_trace + (1.0 - a) * z
        if plastic is not None:
            m = None
            if self.modulator is not None:
                m = self.modulator(self.modulator_source(pre_trace, post_trace))
            use_spikes = self.signal == "spikes" or self.plasticity.spec.rule == "stdp"
            plastic = self.plasticity(
                pre if use_spikes else pre_trace, z if use_spikes else post_trace, plastic, m
            )
        return z, LayerState(neuron, z, pre_trace, post_trace, plastic)


class SNNState(NamedTuple):
    """State of a :class:`PlasticSNN`; ``spikes [..., N]``: each hidden neuron's spike count in
    the last call (over its ``steps_per_input`` simulation steps)."""

    layer: LayerState
    readout: LIState
    spikes: Tensor


class PlasticSNN(nn.Module):
    """Encoder -> recurrent plastic spiking layer -> leaky-integrator readout.

    One ``forward`` consumes one input vector (an environment observation or a time bin),
    runs ``steps_per_input`` simulation steps with it held constant, and returns the readout
    membrane after the last step, squashed by ``tanh`` for actions (``output="tanh"``) or raw
    for logits (``output="linear"``).

    Args:
        n_in, n_out: observation size and number of outputs (actions or classes).
        hidden: number of spiking neurons.
        encoder: ``direct`` or ``population`` (``encoder_kwargs`` go to it).
        steps_per_input: simulation steps per input.
        readout_tau_mem, readout_tau_syn: readout time constants (s).
        constant_input: add a presynaptic unit that is always 1 to the layer's inputs (after
            the encoded observation): its row of the synapse matrix is a bias (initialised as
            one more random input row), and with plasticity its fast weights are a bias the
            network writes within the episode, read the same way at every step whatever the
            observation. A neuromodulator reading the input (``modulator_input="input"``)
            reads it too.
        layer_kwargs: passed to :class:`RecurrentSpikingLayer` (neuron, plasticity, dale, ...).

    Example:
        >>> net = PlasticSNN(4, 2, hidden=16, plasticity=PlasticitySpec("hebbian"))
        >>> y, state = net(torch.zeros(3, 4))
        >>> y.shape, state.layer.plastic.hebb.shape
        (torch.Size([3, 2]), torch.Size([3, 20, 16]))
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        hidden: int = 128,
        encoder: str = "direct",
        encoder_kwargs: dict | None = None,
        steps_per_input: int = 2,
        output: str = "tanh",
        readout_tau_mem: float | TimeConstants = 10e-3,
        readout_tau_syn: float | TimeConstants = 5e-3,
        dt: float = 1e-3,
        generator: torch.Generator | None = None,
        constant_input: bool = False,
        **layer_kwargs,
    ) -> None:
        super().__init__()
        if steps_per_input < 1:
            raise ValueError(f"steps_per_input must be >= 1, got {steps_per_input!r}")
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; valid choices: {list(OUTPUTS)}")
        self.n_in, self.n_out, self.steps_per_input, self.output = (
            n_in,
            n_out,
            steps_per_input,
            output,
        )
        self.encoder = make_encoder(encoder, n_in, **(encoder_kwargs or {}))
        self.constant_input = bool(constant_input)
        self.layer = RecurrentSpikingLayer(
            self.encoder.n_out + self.constant_input,
            hidden,
            dt=dt,
            generator=generator,
            constant_inputs=int(self.constant_input),
            **layer_kwargs,
        )
        self.readout_weight = nn.Parameter(
            torch.randn(hidden, n_out, generator=generator) / math.sqrt(hidden)
        )
        self.readout = LI(n_out, readout_tau_mem, readout_tau_syn, dt=dt, generator=generator)

    def initial_state(self, batch: int | tuple[int, ...]) -> SNNState:
        batch = _batch(batch)
        layer = self.layer.initial_state(batch)
        return SNNState(
            layer,
            self.readout.initial_state(batch, layer.z),
            torch.zeros_like(layer.z),
        )

    def forward(self, x: Tensor, state: SNNState | None = None) -> tuple[Tensor, SNNState]:
        """``x: [..., n_in]`` -> outputs ``[..., n_out]`` and the new state."""
        if x.shape[-1] != self.n_in:
            raise ValueError(f"expected input [..., {self.n_in}], got {list(x.shape)}")
        if state is None:
            state = self.initial_state(tuple(x.shape[:-1]))
        current = self.encoder(x)
        if self.constant_input:  # a presynaptic unit always at 1, after the encoded inputs
            current = nn.functional.pad(current, (0, 1), value=1.0)
        layer, readout = state.layer, state.readout
        spikes = torch.zeros_like(state.spikes)
        for _ in range(self.steps_per_input):
            z, layer = self.layer(current, layer)
            v, readout = self.readout(z @ self.readout_weight, readout)
            spikes = spikes + z
        out = torch.tanh(v) if self.output == "tanh" else v
        return out, SNNState(layer, readout, spikes)

    def modulation(self, state: SNNState) -> Tensor | None:
        """The K neuromodulatory signals ``tanh(source @ w_mod): [..., K]`` (in ``gated`` mode
        the gates ``sigmoid(source @ w_mod + b_mod)``) the network computes in ``state`` from
        its activity (``post_trace``) or its input (see
        :meth:`RecurrentSpikingLayer.modulator_source`); ``None`` without a neuromodulator."""
        if self.layer.modulator is None:
            return None
        source = self.layer.modulator_source(state.layer.pre_trace, state.layer.post_trace)
        return self.layer.modulator.signals(source)

    def weight_change(self, state: SNNState) -> Tensor:
        """Frobenius norm of the plastic part of the synapse matrix, ``||alpha * hebb||``, per
        episode ``[...]`` (zeros for a static network): how far the synapses have moved."""
        plastic = state.layer.plastic
        if plastic is None:
            return torch.zeros(state.spikes.shape[:-1], dtype=state.spikes.dtype)
        alpha = self.layer.plasticity.alpha  # over the plastic rows, like hebb
        delta = as_stored(alpha, plastic.hebb.dtype) * plastic.hebb.to(alpha.dtype)
        return delta.flatten(-2).norm(dim=-1)


class MLPPolicy(nn.Module):
    """The non-spiking baseline: ``tanh(MLP(x))`` with ``tanh`` hidden units; stateless.

    It follows the same protocol (its state is the empty tuple) so trainers treat both alike.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        hidden: tuple[int, ...] = (64, 64),
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = [n_in, *hidden, n_out]
        layers: list[nn.Module] = []
        for k, (a, b) in enumerate(itertools.pairwise(sizes)):
            lin = nn.Linear(a, b)
            with torch.no_grad():
                lin.weight.copy_(torch.randn(b, a, generator=generator) / math.sqrt(a))
                lin.bias.zero_()
            layers += [lin] if k == len(sizes) - 2 else [lin, nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.n_in, self.n_out = n_in, n_out

    def initial_state(self, batch: int | tuple[int, ...]) -> tuple:
        return ()

    def forward(self, x: Tensor, state: tuple | None = None) -> tuple[Tensor, tuple]:
        if x.shape[-1] != self.n_in:
            raise ValueError(f"expected input [..., {self.n_in}], got {list(x.shape)}")
        return torch.tanh(self.net(x)), ()


class LSTMState(NamedTuple):
    """An :class:`LSTMPolicy`'s state: hidden output ``h`` and cell ``c``, ``[..., H]``."""

    h: Tensor
    c: Tensor


class LSTMPolicy(nn.Module):
    """The non-spiking recurrent baseline: one LSTM layer (``hidden`` units) and a ``tanh``
    readout, ``y = tanh(W h + b)``. Its memory is the cell state, trained by ES like the SNNs
    (population-batched through :class:`~plasticagents.Population`); the gradient trainers use
    sb3-contrib's LSTM instead (``trainer.kind: lstm_ppo``).

    Gates ``i, f, g, o`` in :class:`torch.nn.LSTM`'s order and weight layout (``[4H, ...]``),
    weights initialised uniform in ``±1/sqrt(H)``; one bias vector (torch has two), zero but
    for the forget gate's 1, so the cell starts out remembering. The readout ``N(0, 1/H)``
    with zero bias.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        hidden: int = 32,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("n_in", n_in), ("n_out", n_out), ("hidden", hidden)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"LSTMPolicy {name} must be a positive int, got {value!r}")
        bound = 1.0 / math.sqrt(hidden)

        def uniform(*shape: int) -> nn.Parameter:
            return nn.Parameter((torch.rand(*shape, generator=generator) * 2 - 1) * bound)

        self.weight_ih = uniform(4 * hidden, n_in)
        self.weight_hh = uniform(4 * hidden, hidden)
        bias = torch.zeros(4 * hidden)
        bias[hidden : 2 * hidden] = 1.0
        self.bias = nn.Parameter(bias)
        self.readout_weight = nn.Parameter(
            torch.randn(n_out, hidden, generator=generator) / math.sqrt(hidden)
        )
        self.readout_bias = nn.Parameter(torch.zeros(n_out))
        self.n_in, self.n_out, self.hidden = n_in, n_out, hidden

    def initial_state(self, batch: int | tuple[int, ...]) -> LSTMState:
        shape, w = (*_batch(batch), self.hidden), self.weight_ih
        zeros = torch.zeros(shape, dtype=w.dtype, device=w.device)
        return LSTMState(zeros, zeros.clone())

    def forward(self, x: Tensor, state: LSTMState | None = None) -> tuple[Tensor, LSTMState]:
        if x.shape[-1] != self.n_in:
            raise ValueError(f"expected input [..., {self.n_in}], got {list(x.shape)}")
        if state is None:
            state = self.initial_state(tuple(x.shape[:-1]))
        h, c = state
        gates = x @ self.weight_ih.T + h @ self.weight_hh.T + self.bias
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        y = torch.tanh(h @ self.readout_weight.T + self.readout_bias)
        return y, LSTMState(h, c)
