"""Synapses with per-synapse transmission delays: none, fixed integers, or learned (DCLS).

A delayed synapse ``i -> n`` with delay ``d_in`` steps and weight ``W_in`` delivers::

    I_n(t) = Σ_i W_in x_i(t - d_in)

which is a temporal kernel ``K[d, i, n]`` of length ``L = max_delay + 1`` per synapse:
``I(t) = Σ_d x(t - d) @ K[d]``. The kernel is

- ``none``: ``K[0] = W`` (no delay);
- ``fixed``: ``K[d] = W ⊙ [d_in = d]`` with integer delays drawn uniformly in ``0..max_delay``;
- ``learned`` (DCLS, Hammouamri et al. 2023; Mészáros, Knight & Nowotny 2024): a normalised
  Gaussian at a learned real position ``P_in`` with width ``sigma``::

      K[d, i, n] = W_in g_d / Σ_d' g_d',   g_d = exp(-½ ((d - P_in) / sigma)²)

  so gradients reach the positions. ``sigma`` follows :func:`dcls_sigma` during training
  (wide at first, so far-away delays get gradient, narrowing to 0.5 step); in ``eval()`` mode
  positions are rounded to whole steps and the kernel is a true integer delay.

Whole sequences (``forward``) run as one causal ``conv1d``; :meth:`DelayedSynapses.step` is the
same map one step at a time over a buffer of the last ``L`` inputs, for online use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from plasticagents.synapses import Synapses

__all__ = ["DELAY_MODES", "DelayedSynapses", "dcls_sigma"]

DELAY_MODES = ("none", "fixed", "learned")


def dcls_sigma(
    progress: float, max_delay: int, final: float = 0.23, decay_fraction: float = 0.25
) -> float:
    """DCLS kernel width at ``progress`` in [0, 1] of training: ``sigma = |SIG| + 0.27`` with
    ``SIG`` decaying linearly from ``max_delay / 2`` to ``final`` over the first
    ``decay_fraction`` of training, then constant (so sigma ends at 0.5 step)."""
    frac = min(max(progress / decay_fraction, 0.0), 1.0) if decay_fraction > 0 else 1.0
    sig = max_delay / 2 + (final - max_delay / 2) * frac
    return abs(sig) + 0.27


class DelayedSynapses(nn.Module):
    """Feed-forward synapses ``[I, N]`` whose every connection has its own delay.

    Args:
        n_pre, n_post: matrix shape.
        max_delay: longest delay in steps (``L = max_delay + 1`` kernel taps).
        mode: one of :data:`DELAY_MODES`.
        density, dale_rows, excitatory_fraction, gain: passed to :class:`Synapses` (mask,
            Dale's law, initialisation); rewiring operates on ``self.synapses``.

    Example:
        >>> syn = DelayedSynapses(2, 3, max_delay=4, mode="fixed")
        >>> syn(torch.zeros(10, 5, 2)).shape   # [T, B, I] -> [T, B, N]
        torch.Size([10, 5, 3])
    """

    def __init__(
        self,
        n_pre: int,
        n_post: int,
        max_delay: int = 25,
        mode: str = "learned",
        density: float = 1.0,
        dale_rows: int = 0,
        excitatory_fraction: float = 0.8,
        gain: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if mode not in DELAY_MODES:
            raise ValueError(f"unknown delay mode {mode!r}; valid choices: {list(DELAY_MODES)}")
        if not (isinstance(max_delay, int) and max_delay >= 0):
            raise ValueError(f"max_delay must be an int >= 0 steps, got {max_delay!r}")
        if mode != "none" and max_delay == 0:
            raise ValueError(f"delay mode {mode!r} needs max_delay >= 1")
        self.mode, self.max_delay = mode, max_delay if mode != "none" else 0
        self.synapses = Synapses(
            n_pre,
            n_post,
            density=density,
            dale_rows=dale_rows,
            excitatory_fraction=excitatory_fraction,
            gain=gain,
            generator=generator,
        )
        self.n_pre, self.n_post = n_pre, n_post
        if mode == "fixed":
            delay = torch.randint(0, max_delay + 1, (n_pre, n_post), generator=generator)
            self.register_buffer("delay", delay)
        if mode == "learned":
            self.position = nn.Parameter(torch.rand(n_pre, n_post, generator=generator) * max_delay)
        self.sigma = dcls_sigma(0.0, max_delay) if mode == "learned" else 0.0

    def delays(self) -> Tensor:
        """The integer delays ``[I, N]`` in use at evaluation (learned positions rounded)."""
        if self.mode == "fixed":
            return self.delay
        if self.mode == "learned":
            return self.position.detach().round().clamp(0, self.max_delay).long()
        return torch.zeros(
            self.n_pre, self.n_post, dtype=torch.long, device=self.synapses.raw.device
        )

    def clamp_positions(self) -> None:
        """Keep learned positions inside ``[0, max_delay]`` (call after each optimiser step)."""
        if self.mode == "learned":
            with torch.no_grad():
                self.position.clamp_(0, self.max_delay)

    def kernel(self) -> Tensor:
        """``K: [L, I, N]``, tap ``d`` is what an input ``d`` steps old contributes."""
        w = self.synapses.weight()
        if self.mode == "none":
            return w.unsqueeze(0)
        if self.mode == "learned" and self.training:
            taps = torch.arange(self.max_delay + 1, dtype=w.dtype, device=w.device).view(-1, 1, 1)
            g = torch.exp(-0.5 * ((taps - self.position) / self.sigma) ** 2)
            return w * g / (g.sum(0) + 1e-7)
        onehot = F.one_hot(self.delays(), self.max_delay + 1).to(w.dtype)  # [I, N, L]
        return w * onehot.permute(2, 0, 1)

    def forward(self, x: Tensor) -> Tensor:
        """A whole sequence ``x: [T, B, I]`` -> currents ``[T, B, N]`` (causal)."""
        if x.dim() != 3 or x.shape[-1] != self.n_pre:
            raise ValueError(f"expected a sequence [T, B, {self.n_pre}], got {list(x.shape)}")
        kernel = self.kernel()
        if self.max_delay == 0:
            return x @ kernel[0]
        _steps, _batch = x.shape[:2]
        seq = F.pad(x.permute(1, 2, 0), (self.max_delay, 0))  # [B, I, L-1+T]
        weight = kernel.flip(0).permute(2, 1, 0)  # [N, I, L]: tap l holds delay L-1-l
        return F.conv1d(seq, weight).permute(2, 0, 1)

    def initial_state(self, batch: int) -> Tensor:
        """Buffer of the last ``L`` inputs ``[L, B, I]`` (oldest first), zeros."""
        like = self.synapses.raw
        return torch.zeros(
            self.max_delay + 1, batch, self.n_pre, dtype=like.dtype, device=like.device
        )

    def step(self, x: Tensor, buffer: Tensor) -> tuple[Tensor, Tensor]:
        """One step: ``x: [B, I]`` -> ``([B, N], new buffer)``; equals ``forward`` step by step."""
        buffer = torch.cat([buffer[1:], x.unsqueeze(0)], dim=0)
        current = torch.einsum("lbi,lin->bn", buffer.flip(0), self.kernel())
        return current, buffer

    def extra_repr(self) -> str:
        return f"{self.n_pre}, {self.n_post}, mode={self.mode!r}, max_delay={self.max_delay}"
