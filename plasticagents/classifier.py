"""Spiking networks for sequence classification, trained by BPTT with surrogate gradients.

:class:`SpikingClassifier` (Mészáros, Knight & Nowotny 2024; Kilgore et al. 2024)::

    input spikes / currents [T, B, I]
      -> (delayed, sparse) synapses -> [batch norm] -> LIF layer (optionally recurrent) -> dropout
      -> ... more hidden layers ...
      -> synapses -> leaky-integrator readout v: [T, B, C]

Loss: by default the cross-entropy of the time-averaged softmax,
``p = (1/T) Σ_t softmax(v_t)``, ``loss = -log p_y``; the prediction is ``argmax p``
(:func:`sequence_loss`, :data:`READOUTS` for the other choices).

Dale's law (``dale=True``): every hidden neuron is excitatory or inhibitory
(``excitatory_fraction``, the first ones excitatory) and *all* its outgoing synapses,
recurrent, to the next layer and to the readout, carry its sign; trained magnitudes stay
non-negative (:class:`~plasticagents.Synapses`). ``inhibitory_tau_mem`` draws the inhibitory
neurons' membrane time constants from their own distribution (inhibitory diversity).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plasticagents.delays import DelayedSynapses
from plasticagents.neurons import LI, LIF, TimeConstants
from plasticagents.synapses import Synapses, dale_signs

__all__ = [
    "READOUTS",
    "ClassifierOutput",
    "SpikingClassifier",
    "sequence_logits",
    "sequence_loss",
    "sequence_predict",
]


class ClassifierOutput(NamedTuple):
    """``readout: [T, B, C]``: readout membrane; ``spikes``: per hidden layer ``[T, B, N]``."""

    readout: Tensor
    spikes: list[Tensor]


READOUTS = ("mean_softmax", "mean", "max", "last")


def sequence_logits(readout: Tensor, mode: str = "mean_softmax") -> Tensor:
    """Per-sample log-probabilities ``[B, C]`` from the readout membrane ``[T, B, C]``.

    ``mean_softmax``: ``log((1/T) Σ_t softmax(v_t))`` (Mészáros et al. 2024); ``mean``:
    log-softmax of the time-averaged membrane; ``max``: of its maximum over time (Zenke &
    Vogels 2021 on SHD); ``last``: of the last step.
    """
    if mode == "mean_softmax":
        return torch.log(torch.softmax(readout, dim=-1).mean(0) + 1e-8)
    if mode == "mean":
        return torch.log_softmax(readout.mean(0), dim=-1)
    if mode == "max":
        return torch.log_softmax(readout.max(0).values, dim=-1)
    if mode == "last":
        return torch.log_softmax(readout[-1], dim=-1)
    raise ValueError(f"unknown readout {mode!r}; valid choices: {list(READOUTS)}")


def sequence_loss(readout: Tensor, labels: Tensor, mode: str = "mean_softmax") -> Tensor:
    """Cross-entropy of :func:`sequence_logits`; ``readout: [T, B, C]``, ``labels: [B]``."""
    return F.nll_loss(sequence_logits(readout, mode), labels)


def sequence_predict(readout: Tensor, mode: str = "mean_softmax") -> Tensor:
    """Class per sample ``[B]``: argmax of :func:`sequence_logits`."""
    return sequence_logits(readout, mode).argmax(-1)


class _HiddenLayer(nn.Module):
    def __init__(
        self,
        n_in: int,
        n: int,
        *,
        input_dale: bool,
        recurrent: bool,
        dale: bool,
        excitatory_fraction: float,
        delay_mode: str,
        max_delay: int,
        input_density: float,
        density: float,
        gain: float,
        batchnorm: bool,
        neuron_kwargs: dict,
        inhibitory_tau_mem: TimeConstants | None,
        generator: torch.Generator | None,
    ) -> None:
        super().__init__()
        self.n = n
        self.forward_synapses = DelayedSynapses(
            n_in,
            n,
            max_delay=max_delay,
            mode=delay_mode,
            density=input_density,
            dale_rows=n_in if input_dale else 0,
            excitatory_fraction=excitatory_fraction,
            gain=gain,
            generator=generator,
        )
        self.recurrent = (
            Synapses(
                n,
                n,
                density=density,
                dale_rows=n if dale else 0,
                excitatory_fraction=excitatory_fraction,
                gain=gain,
                generator=generator,
            )
            if recurrent
            else None
        )
        # momentum=None: running statistics are the plain average over the batches seen since
        # the last reset; the trainer re-measures them after every epoch on the final weights.
        self.norm = nn.BatchNorm1d(n, momentum=None) if batchnorm else None
        self.neurons = LIF(n, generator=generator, **neuron_kwargs)
        if inhibitory_tau_mem is not None:
            n_inh = n - int((dale_signs(n, excitatory_fraction) > 0).sum())
            if n_inh:
                with torch.no_grad():
                    tau = inhibitory_tau_mem.sample(n_inh, generator)
                    if hasattr(self.neurons, "log_tau_mem"):
                        self.neurons.log_tau_mem[n - n_inh :] = tau.log()
                    else:
                        self.neurons.tau_mem[n - n_inh :] = tau

    def forward(self, x: Tensor) -> Tensor:
        steps, batch = x.shape[:2]
        drive = self.forward_synapses(x)
        if self.norm is not None:
            drive = self.norm(drive.reshape(steps * batch, self.n)).view(steps, batch, self.n)
        w_rec = self.recurrent.weight() if self.recurrent is not None else None
        state = self.neurons.initial_state((batch,), drive)
        z = torch.zeros_like(drive[0])
        out = []
        for t in range(steps):
            current = drive[t] if w_rec is None else drive[t] + z @ w_rec
            z, state = self.neurons(current, state)
            out.append(z)
        return torch.stack(out)


class SpikingClassifier(nn.Module):
    """Spiking sequence classifier; ``forward(x: [T, B, I]) -> ClassifierOutput``.

    Args:
        n_in, n_classes: input channels and classes.
        hidden: neurons per hidden layer.
        recurrent: add recurrent synapses inside each hidden layer (no delay on them).
        delay_mode, max_delay: feed-forward delays (:data:`~plasticagents.delays.DELAY_MODES`).
        density: connection density of the hidden-to-hidden matrices (between hidden layers
            and recurrent; rewiring keeps it). The input synapses of the first layer and the
            readout stay dense: with tens of input channels or classes, a sparse fan-in would
            leave neurons without input (Mészáros et al. prune the hidden connections).
        dale, excitatory_fraction: Dale's law on the hidden neurons' outgoing synapses.
        tau_mem, tau_syn: hidden neuron time constants (seconds; float or distribution).
        inhibitory_tau_mem: separate distribution for inhibitory neurons (needs ``dale``).
        readout_tau_mem: readout integrator time constant.
        gain: initial input-current scale (low values give low initial rates).
        readout_gain: initial scale of the readout synapses; sparse spikes (rates of a few
            percent) need a larger one than unit-variance inputs to move the softmax.
        batchnorm, dropout: on each hidden layer's feed-forward drive / output spikes.
        readout_mode: how the readout membrane becomes class scores (:data:`READOUTS`);
            stored for users of the trained model (the trainer passes it to the loss).

    Example:
        >>> net = SpikingClassifier(4, 3, hidden=(8,))
        >>> out = net(torch.rand(20, 2, 4))
        >>> out.readout.shape, out.spikes[0].shape
        (torch.Size([20, 2, 3]), torch.Size([20, 2, 8]))
    """

    def __init__(
        self,
        n_in: int,
        n_classes: int,
        hidden: Sequence[int] = (128,),
        recurrent: bool = True,
        delay_mode: str = "none",
        max_delay: int = 25,
        density: float = 1.0,
        dale: bool = False,
        excitatory_fraction: float = 0.8,
        tau_mem: float | TimeConstants = 20e-3,
        tau_syn: float | TimeConstants = 0.0,
        inhibitory_tau_mem: TimeConstants | None = None,
        readout_tau_mem: float = 20e-3,
        dt: float = 1e-3,
        gain: float = 1.0,
        readout_gain: float = 5.0,
        batchnorm: bool = False,
        dropout: float = 0.0,
        surrogate_name: str = "arctan",
        alpha: float = 5.0,
        learn_tau: bool = False,
        readout_mode: str = "mean_softmax",
        generator: torch.Generator | None = None,
        reset: str = "subtract",
    ) -> None:
        super().__init__()
        if readout_mode not in READOUTS:
            raise ValueError(f"unknown readout {readout_mode!r}; valid choices: {list(READOUTS)}")
        self.readout_mode = readout_mode
        hidden = list(hidden)
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must list positive layer sizes, got {hidden}")
        if n_in < 1 or n_classes < 2:
            raise ValueError(f"need n_in >= 1 and n_classes >= 2, got {n_in}, {n_classes}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if inhibitory_tau_mem is not None and not dale:
            raise ValueError(
                "inhibitory_tau_mem sets the inhibitory neurons' time constants: it needs dale=True"
            )
        self.n_in, self.n_classes, self.dt = n_in, n_classes, dt
        neuron_kwargs = dict(
            tau_mem=tau_mem,
            tau_syn=tau_syn,
            dt=dt,
            surrogate_name=surrogate_name,
            alpha=alpha,
            learn_tau=learn_tau,
            reset=reset,
        )
        layers, width = [], n_in
        for i, n in enumerate(hidden):
            layers.append(
                _HiddenLayer(
                    width,
                    n,
                    input_dale=dale and i > 0,
                    recurrent=recurrent,
                    dale=dale,
                    excitatory_fraction=excitatory_fraction,
                    delay_mode=delay_mode,
                    max_delay=max_delay,
                    input_density=density if i > 0 else 1.0,
                    density=density,
                    gain=gain,
                    batchnorm=batchnorm,
                    neuron_kwargs=neuron_kwargs,
                    inhibitory_tau_mem=inhibitory_tau_mem,
                    generator=generator,
                )
            )
            width = n
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(dropout) if dropout else None
        self.readout_synapses = Synapses(
            width,
            n_classes,
            dale_rows=width if dale else 0,
            excitatory_fraction=excitatory_fraction,
            gain=readout_gain,
            generator=generator,
        )
        self.readout = LI(n_classes, tau_mem=readout_tau_mem, tau_syn=0.0, dt=dt)

    def forward(self, x: Tensor) -> ClassifierOutput:
        if x.dim() != 3 or x.shape[-1] != self.n_in:
            raise ValueError(f"expected input [T, B, {self.n_in}], got {list(x.shape)}")
        if bool(torch.isnan(x).any()):
            raise ValueError("classifier input contains NaN")
        spikes = []
        h = x
        for layer in self.layers:
            h = layer(h)
            spikes.append(h)
            if self.dropout is not None:
                h = self.dropout(h)
        current = h @ self.readout_synapses.weight()
        state = self.readout.initial_state((x.shape[1],), current)
        out = []
        for t in range(current.shape[0]):
            v, state = self.readout(current[t], state)
            out.append(v)
        return ClassifierOutput(torch.stack(out), spikes)

    def synapse_modules(self) -> list[Synapses]:
        """Every trained matrix (what rewiring and synaptic-operation counts walk)."""
        return [m for m in self.modules() if isinstance(m, Synapses)]

    def delay_modules(self) -> list[DelayedSynapses]:
        return [m for m in self.modules() if isinstance(m, DelayedSynapses)]

    def fan_out(self) -> list[Tensor]:
        """Present outgoing synapses per hidden neuron, per layer ``[N]`` (for SynOps)."""
        outs = []
        nexts = [layer.forward_synapses.synapses for layer in self.layers[1:]]
        nexts.append(self.readout_synapses)
        for layer, nxt in zip(self.layers, nexts, strict=True):
            count = _present(nxt).sum(1)
            if layer.recurrent is not None:
                count = count + _present(layer.recurrent).sum(1)
            outs.append(count)
        return outs


def _present(syn: Synapses) -> Tensor:
    if syn.mask is None:
        return torch.ones(syn.n_pre, syn.n_post)
    return syn.mask.float()
