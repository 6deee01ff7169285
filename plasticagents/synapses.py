"""Synaptic connectivity: dense or masked-sparse matrices, Dale's law, low-rate initialisation.

Convention: a synapse matrix is ``[I, N]`` (presynaptic rows, postsynaptic columns) and the
current into the postsynaptic neurons is ``pre @ W`` for ``pre: [..., I]``.

Dale's law: each presynaptic neuron ``i`` of a Dale row has a fixed sign ``s_i`` (+1 excitatory,
-1 inhibitory) and the trained parameter is a magnitude, ``W_ij = s_i relu(m_ij)``, so no
optimiser step (gradient or ES) can flip a sign; a magnitude that crosses zero switches its
synapse off (the DEEP R convention). Rows that are not Dale rows (e.g. external inputs) are
free. With plasticity the fast part moves the magnitude, ``W_ij = s_i relu(m_ij + f_ij)``.

Initialisation (target: a low but non-zero initial firing rate, 0.2-5% of neuron-steps, i.e.
2-50 Hz at dt = 1 ms, for unit-variance inputs held over many steps, as observations are; tested).
Rows come in blocks (e.g. external inputs, then recurrent neurons); each block is drawn
``N(0, gain² / k)`` with ``k`` the expected number of present synapses per neuron from that
block, so each block alone drives a current of standard deviation ``gain`` from unit-variance,
uncorrelated presynaptic signals. Dale
magnitudes are ``|N(0, gain²/k)|``, with inhibitory magnitudes scaled by ``n_E / n_I`` so the
expected excitatory and inhibitory drive balance (mean input 0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from plasticagents.plasticity import as_stored

__all__ = ["Synapses", "dale_signs", "random_mask"]


def dale_signs(n: int, excitatory_fraction: float = 0.8) -> Tensor:
    """Signs ``[n]``: the first ``round(n * excitatory_fraction)`` are +1, the rest -1.

    Any E:I ratio from 0:100 to 100:0 is allowed.
    """
    if not (isinstance(excitatory_fraction, (int, float)) and 0.0 <= excitatory_fraction <= 1.0):
        raise ValueError(
            f"excitatory_fraction must be a number in [0, 1] (0.8 is the 80:20 E:I ratio), "
            f"got {excitatory_fraction!r}"
        )
    n_exc = round(n * excitatory_fraction)
    return torch.cat([torch.ones(n_exc), -torch.ones(n - n_exc)])


def random_mask(n_pre: int, n_post: int, density: float, generator=None) -> Tensor:
    """Boolean ``[n_pre, n_post]`` mask with exactly ``round(density * n_pre * n_post)`` ones."""
    if not 0.0 < density <= 1.0:
        raise ValueError(f"connection density must be in (0, 1], got {density!r}")
    total = n_pre * n_post
    count = max(1, round(density * total))
    mask = torch.zeros(total, dtype=torch.bool)
    mask[torch.randperm(total, generator=generator)[:count]] = True
    return mask.view(n_pre, n_post)


class Synapses(nn.Module):
    """A trained ``[I, N]`` synapse matrix; dense or sparse, with optional Dale rows.

    Args:
        n_pre, n_post: matrix shape.
        density: fraction of synapses present (1.0 = dense); the mask keeps the count fixed.
        dale_rows: how many *trailing* rows obey Dale's law (e.g. the recurrent rows of a layer
            whose first rows are external inputs); 0 disables Dale's law.
        excitatory_fraction: E fraction of the Dale rows (0.8 = 80:20).
        gain: input-current standard deviation per row block at initialisation.
        row_blocks: sizes of the row blocks normalised separately (default: one block).

    Example:
        >>> syn = Synapses(4, 3, dale_rows=4)
        >>> bool(((syn.weight() >= 0) == (syn.sign[:, None] > 0)).all())
        True
    """

    def __init__(
        self,
        n_pre: int,
        n_post: int,
        density: float = 1.0,
        dale_rows: int = 0,
        excitatory_fraction: float = 0.8,
        gain: float = 1.0,
        row_blocks: tuple[int, ...] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if n_pre < 1 or n_post < 1:
            raise ValueError(f"synapse matrix shape must be positive, got [{n_pre}, {n_post}]")
        if not 0 <= dale_rows <= n_pre:
            raise ValueError(f"dale_rows must be in [0, {n_pre}], got {dale_rows!r}")
        self.n_pre, self.n_post, self.dale_rows = n_pre, n_post, dale_rows
        mask = random_mask(n_pre, n_post, density, generator) if density < 1.0 else None
        self.register_buffer("mask", mask)
        row_blocks = tuple(row_blocks) if row_blocks else (n_pre,)
        if sum(row_blocks) != n_pre or min(row_blocks) < 1:
            raise ValueError(
                f"row_blocks {list(row_blocks)} must be positive and sum to n_pre={n_pre}"
            )
        w = torch.randn(n_pre, n_post, generator=generator)
        start = 0
        for size in row_blocks:
            w[start : start + size] *= gain / math.sqrt(max(1.0, density * size))
            start += size
        sign = torch.zeros(n_pre)
        if dale_rows:
            signs = dale_signs(dale_rows, excitatory_fraction)
            sign[n_pre - dale_rows :] = signs
            n_exc, n_inh = int((signs > 0).sum()), int((signs < 0).sum())
            w[n_pre - dale_rows :] = w[n_pre - dale_rows :].abs()
            if n_exc and n_inh:
                w[sign < 0] *= n_exc / n_inh
        self.register_buffer("sign", sign)
        self.raw = nn.Parameter(w)
        # RigL regrowth needs dL/dW at absent synapses too: the gradient of the masked matrix
        # itself is dense (only the part flowing back to ``raw`` is masked). When
        # ``track_dense_grad`` is on, ``weight()`` adds it up in ``dense_grad``.
        self.track_dense_grad = False
        self.dense_grad: Tensor | None = None

    def _add_dense_grad(self, grad: Tensor) -> None:
        grad = grad.detach()
        self.dense_grad = grad.clone() if self.dense_grad is None else self.dense_grad + grad

    def _apply_dale(self, magnitude: Tensor, free: Tensor, rows: slice = slice(None)) -> Tensor:
        if not self.dale_rows:
            return free
        sign = self.sign[rows].unsqueeze(-1)
        return torch.where(sign == 0, free, sign * torch.relu(magnitude))

    def _masked(self, w: Tensor, rows: slice = slice(None)) -> Tensor:
        return w if self.mask is None else w * self.mask[rows]

    def weight(self) -> Tensor:
        """The effective matrix ``W: [I, N]`` (signs applied, absent synapses zero)."""
        w = self._masked(self._apply_dale(self.raw, self.raw))
        if self.track_dense_grad and w.requires_grad:
            w.register_hook(self._add_dense_grad)
        return w

    def connection_count(self) -> int:
        """Number of present synapses (the mask's ones; every synapse when dense)."""
        return self.n_pre * self.n_post if self.mask is None else int(self.mask.sum())

    def current(
        self,
        pre: Tensor,
        alpha: Tensor | None = None,
        hebb: Tensor | None = None,
        storage: torch.dtype | None = None,
        rows: tuple[int, int] | None = None,
    ) -> Tensor:
        """Postsynaptic current ``[..., N]`` from ``pre: [..., I]``.

        With plasticity, ``alpha: [I, N]`` and ``hebb: [..., I, N]`` add the fast part
        ``alpha ⊙ hebb`` to the slow weight (to the magnitude on Dale rows), masked like it.
        The effective matrix is formed in one fused ``addcmul`` (this is the hot path of ES).
        ``rows``: only the run ``(start, stop)`` of rows is plastic, ``alpha: [k, N]`` and
        ``hebb: [..., k, N]`` over those rows; the other rows act through the slow matrix
        alone, one shared product for the whole batch.
        ``storage`` (the plasticity's, e.g. ``torch.float16``): the slow weight and ``alpha``
        are used as that dtype holds them (:func:`~plasticagents.plasticity.as_stored`), and
        ``hebb`` (held in it) is read as the slow weight's dtype.
        """
        if pre.shape[-1] != self.n_pre:
            raise ValueError(
                f"expected presynaptic input [..., {self.n_pre}], got {list(pre.shape)}"
            )
        if hebb is None:
            return pre @ self.weight()
        raw = self.raw
        if storage is not None and storage != raw.dtype:
            alpha, hebb = as_stored(alpha, storage), hebb.to(raw.dtype)
            raw = as_stored(raw, storage)
        if rows is None:
            w = torch.addcmul(raw, alpha, hebb)
            w = self._masked(self._apply_dale(w, w))
            return (pre.unsqueeze(-2) @ w).squeeze(-2)
        start, stop = rows
        fast = slice(start, stop)
        w = torch.addcmul(raw[fast], alpha, hebb)
        w = self._masked(self._apply_dale(w, w, fast), fast)
        out = (pre[..., fast].unsqueeze(-2) @ w).squeeze(-2)
        for slow in (slice(0, start), slice(stop, self.n_pre)):
            if slow.stop > slow.start:
                w = self._masked(self._apply_dale(raw[slow], raw[slow], slow), slow)
                out = out + pre[..., slow] @ w
        return out
