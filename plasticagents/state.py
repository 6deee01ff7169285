"""Helpers for recurrent state: episode-start resets and device selection.

A state is any nest of NamedTuples / tuples whose leaves are tensors ``[*batch, ...]`` or
``None``; ``batch`` is ``(B,)`` for B environments or ``(P, B)`` for a population.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor

__all__ = ["map_state", "reset_where", "resolve_device"]

S = TypeVar("S")


def map_state(fn: Callable[..., Tensor], state: S, *others: Any) -> S:
    """Apply ``fn(leaf, *other_leaves)`` over matching tensor leaves; ``None`` stays ``None``."""
    if state is None:
        return None  # type: ignore[return-value]
    if isinstance(state, Tensor):
        return fn(state, *others)
    if isinstance(state, tuple):
        mapped = [map_state(fn, s, *(o[k] for o in others)) for k, s in enumerate(state)]
        return type(state)(*mapped) if hasattr(state, "_fields") else type(state)(mapped)
    raise TypeError(f"state leaves must be tensors, tuples or None, got {type(state).__name__}")


def reset_where(state: S, episode_start: Tensor, initial: S | None = None) -> S:
    """Reset the rows of ``state`` whose ``episode_start`` flag is set; other rows are untouched.

    Args:
        state: the recurrent state, leaves ``[*batch, ...]``.
        episode_start: bool (or 0/1) ``[*batch]``.
        initial: the state to reset to (same structure); zeros when ``None``.

    Returns a new state (inputs are not modified).
    """
    mask = torch.as_tensor(episode_start).bool()

    def reset(leaf: Tensor, *init: Tensor) -> Tensor:
        if leaf.shape[: mask.dim()] != mask.shape:
            raise ValueError(
                f"episode_start has shape {list(mask.shape)} but the state's batch shape is "
                f"{list(leaf.shape[: mask.dim()])}"
            )
        m = mask.to(leaf.device).view(*mask.shape, *([1] * (leaf.dim() - mask.dim())))
        fresh = init[0] if init else torch.zeros((), dtype=leaf.dtype, device=leaf.device)
        return torch.where(m, fresh, leaf)

    if initial is None:
        return map_state(reset, state)
    return map_state(reset, state, initial)


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cpu``, ``cuda``, ``cuda:N`` are explicit."""
    if isinstance(spec, torch.device):
        return spec
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu" or spec == "cuda" or (spec.startswith("cuda:") and spec[5:].isdigit()):
        if spec.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"device {spec!r} requested but CUDA is not available; use 'cpu' or 'auto'"
            )
        return torch.device(spec)
    raise ValueError(f"unknown device {spec!r}; valid choices: 'auto', 'cpu', 'cuda', 'cuda:N'")
