"""Metrics of spiking networks: activity, synaptic operations, memory capacity, Van Rossum.

Sequences are time-first: spikes ``s: [T, ..., N]``.

Linear memory capacity (Jaeger 2001). Drive the network with an i.i.d. scalar input ``u(t)``
and record its state ``x(t): [D]``; for each delay ``k = 1..K`` fit a linear readout
``y_k(t) = w_k · [x(t), 1]`` to ``u(t - k)`` on the first part of the record (ridge regression)
and score it on the rest by the squared correlation ``r_k² = corr(u(t-k), y_k(t))²``::

    MC = Σ_k r_k²,    0 <= MC <= K

An ideal delay line holding ``u(t-1..t-K)`` has ``MC = K``; a memoryless map of ``u(t)`` has
``MC ≈ 0``. The HRSNN figure of merit is ``E = activity / MC`` (lower is better): the spiking
activity a network pays per unit of memory.

Van Rossum distance (van Rossum 2001). Each spike train is convolved with a causal
exponential ``h(t) = exp(-t/tau) H(t)`` and ``D² = (1/tau) ∫ (f(t) - g(t))² dt``. For spikes at
times ``t_i`` (train a) and ``s_j`` (train b) the integral has the closed form::

    D² = ½ [ Σ_ij e^{-|t_i - t_j|/tau} + Σ_ij e^{-|s_i - s_j|/tau} - 2 Σ_ij e^{-|t_i - s_j|/tau} ]

so two single spikes ``Δ`` apart are ``D = sqrt(1 - exp(-|Δ|/tau))`` apart. Binned trains
(counts per step of ``dt``) are spikes at ``t dt``; the sums are computed exactly with one
causal exponential filter of the difference ``d = a - b`` (``D² = ½ Σ_t d_t (2 f_t - d_t)``,
``f_t = Σ_{t' <= t} d_t' e^{-(t - t') dt / tau}``), in ``O(T)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "energy_ratio",
    "memory_capacity",
    "spikes_per_sample",
    "synaptic_operations",
    "van_rossum_distance",
]


def spikes_per_sample(spikes: Tensor) -> float:
    """Mean number of spikes one sample emits: ``spikes: [T, B, N]`` summed over T and N."""
    if spikes.dim() < 2:
        raise ValueError(f"expected spikes [T, B, ...], got shape {list(spikes.shape)}")
    return float(spikes.sum() / spikes.shape[1])


def synaptic_operations(spikes: Tensor, fan_out: Tensor) -> float:
    """Synaptic operations per sample: each spike of neuron ``n`` costs ``fan_out[n]``
    accumulates (its number of present outgoing synapses). ``spikes: [T, B, N]``."""
    if spikes.shape[-1] != fan_out.shape[-1]:
        raise ValueError(
            f"spikes have {spikes.shape[-1]} neurons but fan_out has {fan_out.shape[-1]}"
        )
    per_neuron = spikes.sum(dim=tuple(range(spikes.dim() - 1)))
    return float((per_neuron * fan_out.to(per_neuron.dtype)).sum() / spikes.shape[1])


def memory_capacity(
    states: Tensor | np.ndarray,
    inputs: Tensor | np.ndarray,
    max_delay: int = 20,
    washout: int = 100,
    train_fraction: float = 0.7,
    ridge: float = 1e-4,
) -> tuple[float, np.ndarray]:
    """Linear memory capacity of a state record (see the module docstring).

    Args:
        states: network state ``[T, D]`` (e.g. filtered spikes) driven by ``inputs``.
        inputs: the scalar i.i.d. drive ``u: [T]``.
        max_delay: ``K``, the longest delay scored.
        washout: initial steps dropped (transient from the initial state).
        train_fraction: fraction of the remaining steps used to fit the readouts.
        ridge: L2 penalty relative to the mean state variance.

    Returns:
        ``(MC, r2)`` with ``r2: [K]`` the squared correlation for delays ``1..K``.
    """
    x = np.asarray(states.detach().cpu() if isinstance(states, Tensor) else states, np.float64)
    u = np.asarray(inputs.detach().cpu() if isinstance(inputs, Tensor) else inputs, np.float64)
    if x.ndim != 2 or u.ndim != 1 or x.shape[0] != u.shape[0]:
        raise ValueError(
            f"expected states [T, D] and inputs [T] with the same T, got {list(x.shape)} "
            f"and {list(u.shape)}"
        )
    if not (isinstance(max_delay, int) and max_delay >= 1):
        raise ValueError(f"max_delay must be an int >= 1, got {max_delay!r}")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    start = washout + max_delay
    usable = x.shape[0] - start
    n_train = int(usable * train_fraction)
    if n_train < 10 or usable - n_train < 10:
        raise ValueError(
            f"{x.shape[0]} steps are too few for washout={washout}, max_delay={max_delay} "
            "(need at least 20 steps after both)"
        )
    feats = np.concatenate([x[start:], np.ones((usable, 1))], axis=1)
    train, test = feats[:n_train], feats[n_train:]
    gram = train.T @ train
    scale = max(float(np.trace(gram)) / gram.shape[0], 1e-12)
    gram[np.diag_indices_from(gram)] += ridge * scale
    targets = np.stack([u[start - k : x.shape[0] - k] for k in range(1, max_delay + 1)], axis=1)
    weights = np.linalg.solve(gram, train.T @ targets[:n_train])
    pred, true = test @ weights, targets[n_train:]
    r2 = np.zeros(max_delay)
    for k in range(max_delay):
        if pred[:, k].std() > 1e-12 and true[:, k].std() > 1e-12:
            r2[k] = np.corrcoef(pred[:, k], true[:, k])[0, 1] ** 2
    return float(r2.sum()), r2


def energy_ratio(activity: float, capacity: float) -> float | None:
    """HRSNN's ``E = activity / MC``: spiking activity paid per unit of memory capacity.

    Returns ``None`` when ``MC`` is not positive (or NaN): a network that remembers nothing has
    no activity-per-memory ratio. ``None`` writes as ``null`` in JSON and as an empty CSV cell,
    and reports skip it; ``inf`` would write the non-standard ``Infinity`` token that strict
    JSON readers reject. An optimiser that needs a number maps ``None`` to ``inf`` itself.

    Example:
        >>> energy_ratio(2.0, 4.0), energy_ratio(2.0, 0.0)
        (0.5, None)
    """
    return activity / capacity if capacity > 0 else None


def van_rossum_distance(
    a: Tensor, b: Tensor, tau: float, dt: float = 1.0, time_dim: int = 0
) -> Tensor:
    """Van Rossum distance between binned spike trains, exact for spikes at bin times.

    Args:
        a, b: spike counts of the same shape, time along ``time_dim`` (default time-first
            ``[T, ...]``).
        tau: filter time constant, same unit as ``dt``.
        dt: bin width.

    Returns:
        One distance per train: the input shape without the time axis. The distance of a
        population is the root of the sum of its trains' squared distances.

    Example:
        >>> a = torch.zeros(50, 1); b = torch.zeros(50, 1); a[10] = 1; b[14] = 1
        >>> d = van_rossum_distance(a, b, tau=5.0)
        >>> round(float(d), 4) == round(math.sqrt(1 - math.exp(-4 / 5)), 4)
        True
    """
    if a.shape != b.shape:
        raise ValueError(f"spike trains differ in shape: {list(a.shape)} vs {list(b.shape)}")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau!r}")
    d = (a.to(torch.float64) - b.to(torch.float64)).movedim(time_dim, 0)
    decay = math.exp(-dt / tau)
    f = torch.zeros_like(d[0])
    total = torch.zeros_like(d[0])
    for t in range(d.shape[0]):
        f = decay * f + d[t]
        total = total + d[t] * (2 * f - d[t])
    return (0.5 * total).clamp_min(0).sqrt().to(a.dtype if a.is_floating_point() else torch.float32)
