"""Dynamic rewiring at a fixed connection count: DEEP R removal + RigL regrowth.

Every present synapse has a fixed sign ``s`` and a trained magnitude (DEEP R, Bellec et al.
2018): for Dale rows the sign is the presynaptic neuron's, for free rows it is the sign the
weight had when the synapse (re)appeared. After each optimiser step:

1. *remove* (DEEP R): every present synapse whose signed parameter crossed zero
   (``s · raw <= 0``) leaves the mask;
2. *regrow* (RigL, Evci et al. 2020): the same number of synapses that were absent before this
   step appear, those with the largest ``|dL/dW|`` (the dense gradient of the effective matrix,
   which :class:`~plasticagents.Synapses` collects when ``track_dense_grad`` is on); each starts
   at magnitude ``init`` with the sign that descends the loss (the presynaptic sign on Dale
   rows).

So the number of connections never changes and only absent synapses are regrown
(Mészáros, Knight & Nowotny 2024 use this pair at sparsities ``1 - 2^-k``). DEEP R's
random-walk noise and L1 term are not applied: regrowth is RigL's, not random.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from plasticagents.synapses import Synapses

__all__ = ["Rewiring"]


class Rewiring:
    """DEEP R + RigL over the sparse :class:`Synapses` of a model.

    Args:
        synapses: the matrices to rewire; dense ones (no mask) are skipped.
        init: magnitude of a regrown synapse.

    Usage::

        rewiring = Rewiring(s for s in model.modules() if isinstance(s, Synapses))
        loss.backward(); optimizer.step(); rewiring.step()
    """

    def __init__(self, synapses: Iterable[Synapses], init: float = 1e-3) -> None:
        self.synapses = [s for s in synapses if s.mask is not None]
        if not init > 0:
            raise ValueError(f"regrowth magnitude init must be > 0, got {init!r}")
        self.init = init
        self.rewired = 0
        for syn in self.synapses:
            syn.track_dense_grad = True
            if not hasattr(syn, "conn_sign"):
                free = torch.where(syn.raw.detach() >= 0, 1.0, -1.0)
                sign = torch.where(syn.sign.unsqueeze(-1) == 0, free, syn.sign.unsqueeze(-1))
                syn.register_buffer("conn_sign", sign)

    @staticmethod
    def _signed(syn: Synapses) -> Tensor:
        # The parameter whose zero crossing removes a synapse: Dale magnitudes are raw itself
        # (W = s relu(raw)), free weights are raw with their connection's sign.
        dale = (syn.sign != 0).unsqueeze(-1)
        return torch.where(dale, syn.raw.detach(), syn.conn_sign * syn.raw.detach())

    @torch.no_grad()
    def step(self) -> int:
        """Remove and regrow; returns how many synapses moved (over all matrices)."""
        moved = 0
        for syn in self.synapses:
            grad, syn.dense_grad = syn.dense_grad, None
            mask = syn.mask
            removed = mask & (self._signed(syn) <= 0)
            count = int(removed.sum())
            if count == 0:
                continue
            if grad is None:
                raise RuntimeError(
                    "Rewiring.step() needs the dense gradient: call it after loss.backward() "
                    "on a forward pass that used synapses.weight()"
                )
            score = torch.where(mask, torch.full_like(grad, -1.0), grad.abs()).flatten()
            absent = int((~mask).sum())
            grow = torch.topk(score, min(count, absent)).indices
            if grow.numel() < count:  # nearly dense: keep some of the removed ones
                keep = removed.flatten().nonzero().squeeze(-1)[: count - grow.numel()]
                grow = torch.cat([grow, keep])
            flat_mask = mask.flatten().clone()
            flat_mask[removed.flatten()] = False
            flat_mask[grow] = True
            mask.copy_(flat_mask.view_as(mask))
            dale = (syn.sign != 0).unsqueeze(-1).expand_as(mask).flatten()
            descend = torch.where(grad.flatten()[grow] > 0, -1.0, 1.0)
            new_sign = syn.conn_sign.flatten().clone()
            new_sign[grow] = torch.where(dale[grow], new_sign[grow], descend)
            syn.conn_sign.copy_(new_sign.view_as(mask))
            raw = syn.raw.data.flatten()
            raw[grow] = torch.where(dale[grow], self.init, descend * self.init)
            syn.raw.data.copy_(raw.view_as(mask))
            moved += count
        self.rewired += moved
        return moved
