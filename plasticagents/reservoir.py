"""A heterogeneous recurrent SNN that learns without labels by STDP (the HRSNN setting).

Chakraborty & Mukhopadhyay (ICLR 2023): a sparse recurrent network of LIF neurons whose
membrane time constants differ per neuron (heterogeneous integration), trained unsupervised
by STDP whose amplitudes and time constants differ per synapse / neuron (heterogeneous
plasticity); a linear readout on its spikes does the task. Heterogeneous neurons raise the
memory capacity; heterogeneous STDP lowers the activity paid for it, ``E = activity / MC``.

Network: ``I`` inputs -> sparse input synapses (free signs, fixed) -> ``N`` LIF neurons with
sparse recurrent synapses obeying Dale's law (``excitatory_fraction``). STDP (pair-based,
trace form) acts on the recurrent synapses leaving excitatory neurons::

    x_i <- exp(-dt/tau_plus_i) x_i + s_i            (presynaptic trace, per neuron)
    y_n <- exp(-dt/tau_minus_n) y_n + s_n           (postsynaptic trace, per neuron)
    Δm_in = lr (A+_in x_i s_n - A-_in s_i y_n)       (per synapse amplitudes)

averaged over the batch and applied every step to the magnitudes, clipped to ``[0, w_max]``:
the ``stdp`` rule of :func:`~plasticagents.plasticity.plasticity_step` on a fast weight shared by
the batch (``shared=True``), here the reservoir's magnitudes themselves, with ``eta = lr``,
``floor = 0``, ``clip = w_max`` and the excitatory rows as the ``plastic`` mask.
Heterogeneous STDP draws ``A±`` per synapse from a log-normal with coefficient of variation
``stdp_spread`` and ``tau±`` per neuron from a gamma with the same spread (traces per neuron,
not per synapse, keep an update ``O(I N)`` per step; stated deviation from fully per-synapse
time constants).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents.metrics import memory_capacity
from plasticagents.neurons import LIF, TimeConstants, decay
from plasticagents.plasticity import PlasticityParams, PlasticState, plasticity_step
from plasticagents.synapses import Synapses

__all__ = ["STDPReservoir", "STDPSpec", "spike_features"]


@dataclass(frozen=True)
class STDPSpec:
    """Unsupervised STDP on the reservoir's excitatory recurrent synapses (see module doc)."""

    lr: float = 1e-3
    a_plus: float = 1.0
    a_minus: float = 1.05
    tau_plus: float = 20e-3
    tau_minus: float = 20e-3
    spread: float = 0.0  # heterogeneity of amplitudes (log-normal CV) and time constants
    w_max: float = 1.0

    def __post_init__(self) -> None:
        for name in ("lr", "a_plus", "a_minus", "tau_plus", "tau_minus", "w_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"STDP {name} must be > 0, got {getattr(self, name)!r}")
        if not self.spread >= 0:
            raise ValueError(f"STDP spread must be >= 0, got {self.spread!r}")


def _lognormal(mean: float, cv: float, shape: tuple[int, ...], generator) -> Tensor:
    if cv == 0:
        return torch.full(shape, mean)
    sigma2 = math.log1p(cv**2)
    z = torch.randn(shape, generator=generator)
    return mean * torch.exp(math.sqrt(sigma2) * z - sigma2 / 2)


class STDPReservoir(nn.Module):
    """Heterogeneous recurrent LIF reservoir with unsupervised STDP.

    Args:
        n_in, n: inputs and neurons.
        tau_mem: membrane time constant(s), e.g. ``TimeConstants(20e-3, "gamma", 0.5)`` for
            heterogeneous neurons or a float for a homogeneous network.
        density_in, density_rec: connection densities.
        gain_in, gain_rec: initial current scales of the input and recurrent blocks.
        stdp: :class:`STDPSpec`.

    Example:
        >>> res = STDPReservoir(3, 20, generator=torch.Generator().manual_seed(0))
        >>> res.run(torch.rand(50, 4, 3)).shape
        torch.Size([50, 4, 20])
    """

    def __init__(
        self,
        n_in: int,
        n: int = 200,
        tau_mem: float | TimeConstants = 20e-3,
        tau_syn: float = 5e-3,
        density_in: float = 0.3,
        density_rec: float = 0.1,
        excitatory_fraction: float = 0.8,
        gain_in: float = 2.0,
        gain_rec: float = 1.0,
        bias: float = 0.0,
        stdp: STDPSpec | None = None,
        dt: float = 1e-3,
        generator: torch.Generator | None = None,
        reset: str = "subtract",
    ) -> None:
        super().__init__()
        self.n_in, self.n, self.dt = n_in, n, dt
        self.stdp = stdp or STDPSpec()
        self.neurons = LIF(
            n, tau_mem=tau_mem, tau_syn=tau_syn, dt=dt, generator=generator, reset=reset
        )
        self.input = Synapses(n_in, n, density=density_in, gain=gain_in, generator=generator)
        self.rec = Synapses(
            n,
            n,
            density=density_rec,
            dale_rows=n,
            excitatory_fraction=excitatory_fraction,
            gain=gain_rec,
            generator=generator,
        )
        self.bias = bias
        s = self.stdp
        self.register_buffer("a_plus", _lognormal(s.a_plus, s.spread, (n, n), generator))
        self.register_buffer("a_minus", _lognormal(s.a_minus, s.spread, (n, n), generator))
        dist = "gamma" if s.spread > 0 else "constant"
        # tau+ belongs to the presynaptic neuron (a row), tau- to the postsynaptic one (a column)
        tp = TimeConstants(s.tau_plus, dist, s.spread).sample(n, generator)
        tm = TimeConstants(s.tau_minus, dist, s.spread).sample(n, generator)
        self.register_buffer("tau_plus", tp.unsqueeze(-1))
        self.register_buffer("tau_minus", tm.unsqueeze(0))
        self.register_buffer("plastic_rows", (self.rec.sign > 0).unsqueeze(-1))
        self.requires_grad_(False)

    def stdp_params(self) -> PlasticityParams:
        """The reservoir's STDP as :class:`~plasticagents.plasticity.PlasticityParams`."""
        s = self.stdp
        return PlasticityParams(
            eta=s.lr,
            a_plus=self.a_plus,
            a_minus=self.a_minus,
            tau_plus=self.tau_plus,
            tau_minus=self.tau_minus,
            clip=s.w_max,
            dt=self.dt,
            floor=0.0,
            plastic=self.plastic_rows,
        )

    @torch.no_grad()
    def run(self, x: Tensor, learn: bool = False, drive: Tensor | None = None) -> Tensor:
        """Simulate ``x: [T, B, I]`` -> spikes ``[T, B, N]``; ``learn`` applies STDP online.

        ``drive`` (``[T, B, N]``) replaces the input synapses' current (memory-capacity probes).
        """
        if x.dim() != 3 or x.shape[-1] != self.n_in:
            raise ValueError(f"expected input [T, B, {self.n_in}], got {list(x.shape)}")
        steps, batch = x.shape[:2]
        current_in = self.input.current(x) if drive is None else drive
        current_in = current_in + self.bias
        state = self.neurons.initial_state((batch,), x)
        z = torch.zeros(batch, self.n, dtype=x.dtype)
        w = self.rec.weight()
        params = self.stdp_params()
        plastic = PlasticState(
            self.rec.raw,
            x_pre=torch.zeros(batch, self.n, 1, dtype=x.dtype),
            y_post=torch.zeros(batch, 1, self.n, dtype=x.dtype),
        )
        out = []
        for t in range(steps):
            z_prev = z
            z, state = self.neurons(current_in[t] + z_prev @ w, state)
            out.append(z)
            if learn:
                # pre spikes at t-1 reach post at t: LTP pairs the pre trace with the post spike,
                # LTD pairs the (earlier) post trace with the pre spike.
                plastic = plasticity_step(z_prev, z, plastic, params, "stdp", shared=True)
                self.rec.raw.copy_(plastic.hebb)
                w = self.rec.weight()
        return torch.stack(out)

    def forward(self, x: Tensor) -> Tensor:
        return self.run(x, learn=False)

    @torch.no_grad()
    def memory_capacity(
        self,
        steps: int = 1500,
        hold: int = 5,
        max_delay: int = 20,
        gain: float = 2.0,
        generator: torch.Generator | None = None,
    ) -> tuple[float, float, np.ndarray]:
        """Linear memory capacity under an i.i.d. drive ``u ~ U(-1, 1)``.

        Each ``u`` is held ``hold`` steps and enters every neuron through a fixed random
        projection scaled by ``gain``; the state is each neuron's spike count per hold window
        filtered by its own membrane decay. Returns ``(MC, activity, r2)``; ``activity`` is
        spikes per neuron per held input (what ``E = activity / MC`` charges).
        """
        u = torch.rand(steps, generator=generator) * 2 - 1
        proj = torch.randn(self.n, generator=generator) * gain
        drive = (u.repeat_interleave(hold).view(-1, 1, 1) * proj).float()
        spikes = self.run(torch.zeros(drive.shape[0], 1, self.n_in), drive=drive)
        counts = spikes.view(steps, hold, self.n).sum(1)
        a = decay(self.neurons.params().tau_mem, self.dt * hold)
        state = torch.zeros(self.n)
        states = []
        for t in range(steps):
            state = a * state + counts[t]
            states.append(state)
        mc, r2 = memory_capacity(torch.stack(states), u, max_delay=max_delay, washout=50)
        return mc, float(counts.mean()), r2


def spike_features(spikes: Tensor, bins: int = 4) -> Tensor:
    """Readout features ``[B, bins N]``: spike counts of each neuron in ``bins`` equal windows
    of the sequence ``spikes: [T, B, N]``."""
    steps = spikes.shape[0]
    edges = torch.linspace(0, steps, bins + 1).round().long().tolist()
    parts = [spikes[a:b].sum(0) for a, b in itertools.pairwise(edges)]
    return torch.cat(parts, dim=-1)
