"""Spike encoders for static inputs and time series (time-first outputs ``[T, B, ...]``).

=========  =====================================================================================
encoder    what it emits
=========  =====================================================================================
rate       ``x in [0, 1]`` -> Bernoulli spikes with probability ``x`` in each of ``steps`` bins
latency    one spike per feature at step ``round((1 - x) (steps - 1))`` (stronger = earlier);
           features below ``threshold`` stay silent
delta      send-on-delta / threshold crossing of a series ``[T, B, C]``: an UP spike on channel
           ``c`` each time the signal rises ``threshold`` above its reference level, a DOWN
           spike on channel ``C + c`` each time it falls ``threshold`` below (the reference moves
           by ``threshold`` per spike); output ``[T, B, 2C]`` counts
current    the values themselves, fed as input currents (direct current encoding); static
           inputs are repeated over ``steps``
scan       an image ``[B, H W]`` row by row: row ``r`` is the input current during steps
           ``r hold .. (r+1) hold - 1``, output ``[H hold, B, W]`` (sequential digits: telling
           the rows apart needs memory or delays)
population each value -> ``fields`` Gaussian receptive fields with centres evenly spaced over
           ``[low, high]`` (width = spacing), ``[T, B, C fields]`` activations in [0, 1] fed as
           currents: a value becomes *which* input is active, not how strongly
=========  =====================================================================================

:data:`ENCODERS` is the one table of these names. The Gaussian receptive fields are one
function, :func:`receptive_fields`; :class:`~plasticagents.networks.PopulationEncoder` applies it
to observations at every network step.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "ENCODERS",
    "check_fields",
    "current_encode",
    "delta_encode",
    "encode",
    "latency_encode",
    "population_encode",
    "rate_encode",
    "receptive_fields",
    "scan_encode",
]

ENCODERS = ("rate", "latency", "delta", "current", "population", "scan")


def _check_unit(x: Tensor, name: str) -> None:
    if bool(torch.isnan(x).any()):
        raise ValueError(f"{name} input contains NaN")
    if float(x.min()) < 0 or float(x.max()) > 1:
        raise ValueError(
            f"{name} encoding expects values in [0, 1], got [{float(x.min()):.3g}, "
            f"{float(x.max()):.3g}] (scale the features first)"
        )


def rate_encode(x: Tensor, steps: int, generator: torch.Generator | None = None) -> Tensor:
    """Bernoulli rate code: ``x: [B, F]`` in [0, 1] -> spikes ``[steps, B, F]``."""
    _check_unit(x, "rate")
    probs = x.unsqueeze(0).expand(steps, *x.shape)
    return torch.bernoulli(probs, generator=generator)


def latency_encode(x: Tensor, steps: int, threshold: float = 0.0) -> Tensor:
    """Time-to-first-spike code: ``x: [B, F]`` in [0, 1] -> one spike per feature above
    ``threshold`` at step ``round((1 - x) (steps - 1))``; output ``[steps, B, F]``."""
    _check_unit(x, "latency")
    when = torch.round((1.0 - x) * (steps - 1)).long()
    out = torch.zeros(steps, *x.shape, dtype=x.dtype, device=x.device)
    out.scatter_(0, when.unsqueeze(0), (x > threshold).to(x.dtype).unsqueeze(0))
    return out


def delta_encode(x: Tensor, threshold: float) -> Tensor:
    """Send-on-delta code of a series ``x: [T, B, C]`` -> UP/DOWN spike counts ``[T, B, 2C]``.

    Example:
        >>> s = delta_encode(torch.tensor([0.0, 0.25, 1.0, 0.0]).view(4, 1, 1), 0.5)
        >>> s[:, 0].tolist()   # rises 1.0 in total (2 UP spikes), then falls 1.0 (2 DOWN)
        [[0.0, 0.0], [0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]
    """
    if x.dim() != 3:
        raise ValueError(f"delta encoding expects a series [T, B, C], got {list(x.shape)}")
    if not threshold > 0:
        raise ValueError(f"delta threshold must be > 0, got {threshold!r}")
    if bool(torch.isnan(x).any()):
        raise ValueError("delta input contains NaN")
    ref = x[0].clone()
    out = torch.zeros(x.shape[0], x.shape[1], 2 * x.shape[2], dtype=x.dtype, device=x.device)
    for t in range(1, x.shape[0]):
        diff = x[t] - ref
        up = torch.floor(diff.clamp_min(0) / threshold)
        down = torch.floor((-diff).clamp_min(0) / threshold)
        ref = ref + (up - down) * threshold
        out[t] = torch.cat([up, down], dim=-1)
    return out


def current_encode(x: Tensor, steps: int | None = None) -> Tensor:
    """Direct current: a series ``[T, B, C]`` passes through; a static ``[B, F]`` is held for
    ``steps`` bins."""
    if bool(torch.isnan(x).any()):
        raise ValueError("current input contains NaN")
    if x.dim() == 3:
        return x
    if steps is None:
        raise ValueError("current encoding of static inputs [B, F] needs steps")
    return x.unsqueeze(0).expand(steps, *x.shape)


def check_fields(fields: int, low: float, high: float, width: float = 1.0) -> None:
    """Validate the arguments of :func:`receptive_fields` eagerly, naming the bad one."""
    if not (isinstance(fields, int) and fields >= 2):
        raise ValueError(f"population encoding needs fields >= 2, got {fields!r}")
    if not high > low:
        raise ValueError(f"population encoding needs high > low, got [{low!r}, {high!r}]")
    if not width > 0:
        raise ValueError(f"population encoding needs width > 0, got {width!r}")


def receptive_fields(x: Tensor, fields: int, low: float, high: float, width: float = 1.0) -> Tensor:
    """Gaussian receptive fields, ``x: [..., C] -> [..., C fields]`` in [0, 1]::

        y_{c m} = exp(-(x_c - mu_m)² / (2 sigma²)),   mu_m = low + m (high - low) / (fields - 1),
        sigma = width (high - low) / (fields - 1)

    (``width = 1``: neighbouring fields cross at ``exp(-1/8) ≈ 0.88``). No validation and no
    data-dependent branch, so it runs inside compiled graphs; see :func:`check_fields`.
    """
    centres = torch.linspace(low, high, fields, dtype=x.dtype, device=x.device)
    sigma = width * (high - low) / (fields - 1)
    return torch.exp(-0.5 * ((x.unsqueeze(-1) - centres) / sigma) ** 2).flatten(-2)


def population_encode(x: Tensor, fields: int = 16, low: float = -2.5, high: float = 2.5) -> Tensor:
    """Population code of ``x: [..., C]`` -> ``[..., C fields]`` in [0, 1]: validated
    :func:`receptive_fields`.

    Example:
        >>> population_encode(torch.tensor([[0.0]]), fields=5, low=-1, high=1).round(decimals=2)
        tensor([[0.1400, 0.6100, 1.0000, 0.6100, 0.1400]])
    """
    check_fields(fields, low, high)
    if bool(torch.isnan(x).any()):
        raise ValueError("population input contains NaN")
    return receptive_fields(x, fields, low, high)


def scan_encode(x: Tensor, width: int, hold: int = 1) -> Tensor:
    """Row-by-row scan of images ``x: [B, H width]`` -> ``[H hold, B, width]``.

    Example:
        >>> scan_encode(torch.arange(4.0).view(1, 4), width=2, hold=2)[:, 0].tolist()
        [[0.0, 1.0], [0.0, 1.0], [2.0, 3.0], [2.0, 3.0]]
    """
    if x.dim() != 2 or x.shape[1] % width:
        raise ValueError(f"scan encoding takes images [B, H*{width}], got {list(x.shape)}")
    rows = x.view(x.shape[0], -1, width).transpose(0, 1)  # [H, B, W]
    return rows.repeat_interleave(hold, dim=0)


def encode(
    kind: str,
    x: Tensor,
    steps: int | None = None,
    threshold: float = 0.1,
    generator: torch.Generator | None = None,
    fields: int = 16,
) -> Tensor:
    """Dispatch to one of :data:`ENCODERS`; static inputs ``[B, F]``, series ``[T, B, C]``."""
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder {kind!r}; valid choices: {list(ENCODERS)}")
    if kind == "delta":
        return delta_encode(x, threshold)
    if kind == "population":
        return population_encode(current_encode(x, steps), fields)
    if kind == "scan":
        return scan_encode(x, width=round(x.shape[-1] ** 0.5), hold=steps or 1)
    if kind == "current":
        return current_encode(x, steps)
    if x.dim() != 2 or steps is None:
        raise ValueError(
            f"{kind} encoding takes static inputs [B, F] and steps, got {list(x.shape)}, "
            f"steps={steps!r}"
        )
    if kind == "rate":
        return rate_encode(x, steps, generator)
    return latency_encode(x, steps, threshold)
