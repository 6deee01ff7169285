"""Surrogate spike functions.

The forward pass of every spike function is the Heaviside step ``H(x) = 1[x > 0]`` applied
to ``x = v - v_th``; the backward pass replaces the Dirac delta ``H'(x)`` by the derivative of
a smooth *primitive* ``sigma(x)`` with a sharpness ``alpha``:

=============  ======================================  ===================================
name           primitive ``sigma(x)``                  surrogate ``sigma'(x)``
=============  ======================================  ===================================
fast_sigmoid   ``0.5 + 0.5 ax / (1 + |ax|)``          ``0.5 alpha / (1 + alpha |x|)**2``
arctan         ``0.5 + atan(pi/2 * alpha * x) / pi``   ``0.5 * alpha / (1 + (pi/2 alpha x)**2)``
triangle       ramp from 0 to 1 on ``|x| < 1/alpha``   ``alpha * max(0, 1 - alpha |x|)``
=============  ======================================  ===================================

Each surrogate integrates to 1 over the real line (the fast sigmoid's primitive rises from 0 to
1 as alpha·x goes from -inf to inf), so ``alpha`` changes the width, not the total gradient.

The functions are ``torch.autograd.Function`` subclasses with ``setup_context`` and
``generate_vmap_rule``, so they work under ``torch.func.vmap`` (the population axis) as well as
in ordinary autograd.

Example:
    >>> import torch
    >>> spike = surrogate("arctan", alpha=2.0)
    >>> x = torch.tensor([-0.5, 0.5], requires_grad=True)
    >>> spike(x)
    tensor([0., 1.], grad_fn=<ArctanSpikeBackward>)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "SURROGATES",
    "ArctanSpike",
    "FastSigmoidSpike",
    "TriangleSpike",
    "heaviside",
    "surrogate",
    "surrogate_primitive",
]


def heaviside(x: Tensor) -> Tensor:
    """``1.0`` where ``x > 0`` else ``0.0``, in ``x``'s dtype."""
    return (x > 0).to(x.dtype)


def _fast_sigmoid_grad(x: Tensor, alpha: float) -> Tensor:
    return 0.5 / (1.0 + alpha * x.abs()) ** 2 * alpha


def _arctan_grad(x: Tensor, alpha: float) -> Tensor:
    return 0.5 * alpha / (1.0 + (0.5 * math.pi * alpha * x) ** 2)


def _triangle_grad(x: Tensor, alpha: float) -> Tensor:
    return alpha * torch.clamp(1.0 - alpha * x.abs(), min=0.0)


class _SpikeFunction(torch.autograd.Function):
    """Heaviside forward, ``_grad(x, alpha)`` backward. Subclasses set ``_grad``."""

    generate_vmap_rule = True
    _grad: Callable[[Tensor, float], Tensor]

    @staticmethod
    def forward(x: Tensor, alpha: float) -> Tensor:  # type: ignore[override]
        return heaviside(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Tensor, float], output: Tensor) -> None:
        x, alpha = inputs
        ctx.save_for_backward(x)
        ctx.alpha = alpha

    @classmethod
    def backward(cls, ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_output * cls._grad(x, ctx.alpha), None


class FastSigmoidSpike(_SpikeFunction):
    """SuperSpike (Zenke & Ganguli 2018): ``sigma'(x) = alpha / (2 (1 + alpha |x|)^2)``."""

    _grad = staticmethod(_fast_sigmoid_grad)


class ArctanSpike(_SpikeFunction):
    """Arctan surrogate (Fang et al. 2021): ``sigma'(x) = alpha / (2 (1 + (pi alpha x / 2)^2))``."""

    _grad = staticmethod(_arctan_grad)


class TriangleSpike(_SpikeFunction):
    """Triangle surrogate (Bellec et al. 2018): ``sigma'(x) = alpha max(0, 1 - alpha |x|)``."""

    _grad = staticmethod(_triangle_grad)


SURROGATES: dict[str, type[_SpikeFunction]] = {
    "fast_sigmoid": FastSigmoidSpike,
    "arctan": ArctanSpike,
    "triangle": TriangleSpike,
}

_PRIMITIVES: dict[str, Callable[[Tensor, float], Tensor]] = {
    "fast_sigmoid": lambda x, a: 0.5 + 0.5 * (a * x) / (1.0 + (a * x).abs()),
    "arctan": lambda x, a: 0.5 + torch.atan(0.5 * math.pi * a * x) / math.pi,
    "triangle": lambda x, a: torch.where(
        x < 0,
        0.5 * torch.clamp(1 + a * x, min=0) ** 2,
        1 - 0.5 * torch.clamp(1 - a * x, min=0) ** 2,
    ),
}


def _check_name(name: str) -> None:
    if name not in SURROGATES:
        raise ValueError(f"unknown surrogate {name!r}; valid choices: {sorted(SURROGATES)}")


def surrogate(name: str = "fast_sigmoid", alpha: float = 10.0) -> Callable[[Tensor], Tensor]:
    """Return ``spike(x)``: Heaviside forward, the named surrogate derivative backward.

    Args:
        name: one of ``fast_sigmoid``, ``arctan``, ``triangle``.
        alpha: sharpness (> 0); larger is closer to the true step.
    """
    _check_name(name)
    if not alpha > 0:
        raise ValueError(f"surrogate alpha must be > 0, got {alpha!r}")
    fn = SURROGATES[name]
    alpha = float(alpha)

    def spike(x: Tensor) -> Tensor:
        return fn.apply(x, alpha)

    spike.__name__ = f"{name}_spike"
    return spike


def surrogate_primitive(name: str, alpha: float) -> Callable[[Tensor], Tensor]:
    """The smooth function whose derivative the named surrogate returns (for tests and plots)."""
    _check_name(name)
    prim = _PRIMITIVES[name]
    return lambda x: prim(x, float(alpha))
