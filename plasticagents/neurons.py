"""Spiking neuron models: pure kernels plus thin ``nn.Module`` owners.

Every kernel is ``step(x, state, params) -> (out, new_state)`` over NamedTuples and never
writes into its inputs. Shapes: input current ``x: [..., N]``; every state field ``[..., N]``;
per-neuron parameters are scalars or ``[N]`` and broadcast against the leading batch axes.
Time is in seconds; one call advances the neuron by ``dt``.

The ODEs (currents in units of voltage, i.e. membrane resistance 1) are integrated exactly
over a step with the input held constant, so a neuron's steady state does not depend on its
time constant (heterogeneous neurons differ in *speed*, not in gain)::

    tau_syn di/dt = -(i - x)
    tau_mem dv/dt = -(v - v_leak) + i
    spike when v > v_th, then reset

Discretised with ``a_m = exp(-dt/tau_mem)``, ``a_s = exp(-dt/tau_syn)`` (``tau_syn = 0``
gives ``a_s = 0``: no synaptic filter)::

    i_t = a_s i_{t-1} + (1 - a_s) x_t
    v_t = v_leak + a_m (v_{t-1} - v_leak) + (1 - a_m) i_t
    z_t = H(v_t - theta_t)
    v_t <- v_t - z_t (theta_t - v_reset)       reset="subtract"
    v_t <- v_t (1 - z_t) + z_t v_reset          reset="zero"

For LIF ``theta_t = v_th``; the adaptive LIF (Bellec et al. 2018) raises it after each spike,
``theta_t = v_th + beta b_{t-1}``, ``b_t = a_b b_{t-1} + (1 - a_b) z_t`` with
``a_b = exp(-dt/tau_adapt)``. The leaky integrator (LI) is the same membrane without spikes,
used as a readout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents.surrogate import surrogate

__all__ = [
    "ALIF",
    "LI",
    "LIF",
    "TAU_DISTRIBUTIONS",
    "ALIFParams",
    "ALIFState",
    "LIFParams",
    "LIFState",
    "LIParams",
    "LIState",
    "TimeConstants",
    "alif_step",
    "decay",
    "li_step",
    "lif_step",
]

RESETS = ("subtract", "zero")
TAU_DISTRIBUTIONS = ("constant", "gamma", "lognormal", "uniform")
_DEFAULT_SPIKE = surrogate("fast_sigmoid", 10.0)


def decay(tau: Tensor | float, dt: float) -> Tensor | float:
    """``exp(-dt / tau)``, a tensor for tensor ``tau``; ``tau = 0`` gives 0 (no memory)."""
    if isinstance(tau, Tensor):
        return torch.exp(-dt / tau)
    return math.exp(-dt / tau) if tau > 0 else 0.0


class LIFState(NamedTuple):
    """LIF state. ``v``: membrane potential ``[..., N]``; ``i``: synaptic current ``[..., N]``."""

    v: Tensor
    i: Tensor


class LIFParams(NamedTuple):
    """LIF parameters. Time constants in seconds, scalars or ``[N]``."""

    tau_mem: Tensor | float = 20e-3
    tau_syn: Tensor | float = 5e-3
    v_th: Tensor | float = 1.0
    v_leak: float = 0.0
    v_reset: float = 0.0
    dt: float = 1e-3
    reset: str = "subtract"
    spike_fn: Callable[[Tensor], Tensor] = _DEFAULT_SPIKE


def _integrate(
    x: Tensor, v: Tensor, i: Tensor, tau_mem, tau_syn, v_leak, dt
) -> tuple[Tensor, Tensor]:
    a_s = decay(tau_syn, dt)
    i_new = x if (isinstance(a_s, float) and a_s == 0.0) else torch.lerp(x, i, a_s)
    # v_leak + a_m (v - v_leak) + (1 - a_m) i  ==  lerp(i + v_leak, v, a_m), in one fused op.
    drive = i_new + v_leak if v_leak else i_new
    return torch.lerp(drive, v, decay(tau_mem, dt)), i_new


def _fire(v: Tensor, threshold, v_reset, reset: str, spike_fn) -> tuple[Tensor, Tensor]:
    z = spike_fn(v - threshold)
    if reset == "subtract":
        jump = threshold - v_reset
        v = torch.sub(v, z, alpha=jump) if isinstance(jump, float) else v - z * jump
    else:
        v = v * (1.0 - z) + z * v_reset
    return z, v


def lif_step(x: Tensor, state: LIFState, p: LIFParams) -> tuple[Tensor, LIFState]:
    """Advance LIF neurons by one step ``dt``; returns spikes ``z: [..., N]`` and the new state."""
    v, i = _integrate(x, state.v, state.i, p.tau_mem, p.tau_syn, p.v_leak, p.dt)
    z, v = _fire(v, p.v_th, p.v_reset, p.reset, p.spike_fn)
    return z, LIFState(v, i)


class ALIFState(NamedTuple):
    """Adaptive LIF state: ``v``, ``i`` and threshold adaptation ``b``, each ``[..., N]``."""

    v: Tensor
    i: Tensor
    b: Tensor


class ALIFParams(NamedTuple):
    """Adaptive LIF parameters: LIF's plus ``tau_adapt`` (s) and ``beta`` (threshold jump)."""

    tau_mem: Tensor | float = 20e-3
    tau_syn: Tensor | float = 5e-3
    tau_adapt: Tensor | float = 200e-3
    beta: Tensor | float = 1.8
    v_th: Tensor | float = 1.0
    v_leak: float = 0.0
    v_reset: float = 0.0
    dt: float = 1e-3
    reset: str = "subtract"
    spike_fn: Callable[[Tensor], Tensor] = _DEFAULT_SPIKE


def alif_step(x: Tensor, state: ALIFState, p: ALIFParams) -> tuple[Tensor, ALIFState]:
    """Advance adaptive-threshold LIF neurons by one step; returns spikes and the new state."""
    v, i = _integrate(x, state.v, state.i, p.tau_mem, p.tau_syn, p.v_leak, p.dt)
    threshold = p.v_th + p.beta * state.b
    z, v = _fire(v, threshold, p.v_reset, p.reset, p.spike_fn)
    a_b = decay(p.tau_adapt, p.dt)
    b = a_b * state.b + (1.0 - a_b) * z
    return z, ALIFState(v, i, b)


class LIState(NamedTuple):
    """Leaky-integrator state: ``v`` and ``i``, each ``[..., N]``."""

    v: Tensor
    i: Tensor


class LIParams(NamedTuple):
    """Leaky-integrator parameters (seconds)."""

    tau_mem: Tensor | float = 20e-3
    tau_syn: Tensor | float = 5e-3
    v_leak: float = 0.0
    dt: float = 1e-3


def li_step(x: Tensor, state: LIState, p: LIParams) -> tuple[Tensor, LIState]:
    """Advance a non-spiking leaky integrator by one step; the output is the membrane ``v``."""
    v, i = _integrate(x, state.v, state.i, p.tau_mem, p.tau_syn, p.v_leak, p.dt)
    return v, LIState(v, i)


@dataclass(frozen=True)
class TimeConstants:
    """A per-neuron time-constant distribution (seconds).

    ``spread`` is the coefficient of variation (std / mean) for ``gamma`` and ``lognormal`` and
    the half-width as a fraction of the mean for ``uniform``; ``constant`` ignores it. Samples
    are clipped below at ``minimum``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> tau = TimeConstants(20e-3, "gamma", spread=0.5).sample(1000, g)
        >>> abs(float(tau.mean()) - 20e-3) < 2e-3
        True
    """

    mean: float
    distribution: str = "constant"
    spread: float = 0.0
    minimum: float = 1e-4

    def __post_init__(self) -> None:
        if self.distribution not in TAU_DISTRIBUTIONS:
            raise ValueError(
                f"unknown time-constant distribution {self.distribution!r}; "
                f"valid choices: {list(TAU_DISTRIBUTIONS)}"
            )
        if not (math.isfinite(self.mean) and self.mean >= 0):
            raise ValueError(
                f"time constant mean must be finite and >= 0 seconds, got {self.mean!r}"
            )
        if not (math.isfinite(self.spread) and self.spread >= 0):
            raise ValueError(f"time constant spread must be finite and >= 0, got {self.spread!r}")
        if self.distribution == "uniform" and self.spread > 1:
            raise ValueError(
                f"uniform spread is a fraction of the mean in [0, 1], got {self.spread!r}"
            )

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` time constants (float32 tensor ``[n]``); same generator state, same draw."""
        if self.distribution == "constant" or self.spread == 0 or self.mean == 0:
            return torch.full((n,), float(self.mean))
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        m, s = self.mean, self.spread
        if self.distribution == "gamma":
            k = 1.0 / s**2
            draw = rng.gamma(k, m / k, size=n)
        elif self.distribution == "lognormal":
            sigma2 = math.log1p(s**2)
            draw = rng.lognormal(math.log(m) - sigma2 / 2, math.sqrt(sigma2), size=n)
        else:
            draw = rng.uniform(m * (1 - s), m * (1 + s), size=n)
        return torch.as_tensor(np.maximum(draw, self.minimum), dtype=torch.float32)


def _as_time_constants(value: float | TimeConstants, name: str) -> TimeConstants:
    if isinstance(value, TimeConstants):
        return value
    if isinstance(value, (int, float)):
        return TimeConstants(float(value))
    raise TypeError(
        f"{name} must be a float (seconds) or TimeConstants, got {type(value).__name__}"
    )


class _TimeConstantMixin(nn.Module):
    """Registers per-neuron time constants, learnable in log space when asked."""

    def _register_tau(
        self, name: str, value: float | TimeConstants, n: int, learn: bool, generator
    ) -> None:
        tau = _as_time_constants(value, name).sample(n, generator)
        if learn:
            if bool((tau <= 0).any()):
                raise ValueError(f"learnable {name} must be > 0 (it is learned as log({name}))")
            setattr(self, f"log_{name}", nn.Parameter(tau.log()))
        else:
            self.register_buffer(name, tau)

    def _tau(self, name: str) -> Tensor:
        log = getattr(self, f"log_{name}", None)
        return log.exp() if log is not None else getattr(self, name)


def _check_common(n: int, dt: float, reset: str | None = None) -> None:
    if not (isinstance(n, int) and n > 0):
        raise ValueError(f"number of neurons must be a positive int, got {n!r}")
    if not dt > 0:
        raise ValueError(f"dt must be > 0 seconds, got {dt!r}")
    if reset is not None and reset not in RESETS:
        raise ValueError(f"unknown reset {reset!r}; valid choices: {list(RESETS)}")


class LIF(_TimeConstantMixin):
    """A layer of ``n`` LIF neurons owning its parameters; ``forward(x, state) -> (z, state)``.

    Args:
        n: number of neurons.
        tau_mem, tau_syn: seconds, a float (homogeneous) or a :class:`TimeConstants`
            distribution sampled once per neuron (heterogeneous).
        learn_tau: learn the time constants (as ``log tau``) by gradient or ES.
        surrogate_name, alpha: the surrogate gradient, see :mod:`plasticagents.surrogate`.

    Example:
        >>> lif = LIF(3, tau_mem=10e-3)
        >>> z, state = lif(torch.full((2, 3), 5.0))
        >>> z.shape, state.v.shape
        (torch.Size([2, 3]), torch.Size([2, 3]))
    """

    _kernel = staticmethod(lif_step)

    def __init__(
        self,
        n: int,
        tau_mem: float | TimeConstants = 20e-3,
        tau_syn: float | TimeConstants = 5e-3,
        v_th: float = 1.0,
        v_reset: float = 0.0,
        dt: float = 1e-3,
        reset: str = "subtract",
        surrogate_name: str = "fast_sigmoid",
        alpha: float = 10.0,
        learn_tau: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        _check_common(n, dt, reset)
        self.n, self.v_th, self.v_reset, self.dt, self.reset = n, v_th, v_reset, dt, reset
        self.spike_fn = surrogate(surrogate_name, alpha)
        self._register_tau("tau_mem", tau_mem, n, learn_tau, generator)
        self._register_tau("tau_syn", tau_syn, n, learn_tau, generator)

    def params(self) -> LIFParams:
        return LIFParams(
            self._tau("tau_mem"),
            self._tau("tau_syn"),
            self.v_th,
            0.0,
            self.v_reset,
            self.dt,
            self.reset,
            self.spike_fn,
        )

    def initial_state(self, batch: tuple[int, ...], like: Tensor | None = None) -> LIFState:
        zeros = _zeros(batch, self.n, like, self._tau("tau_mem"))
        return LIFState(zeros, zeros.clone())

    def forward(self, x: Tensor, state: LIFState | None = None) -> tuple[Tensor, LIFState]:
        if state is None:
            state = self.initial_state(tuple(x.shape[:-1]), x)
        return self._kernel(x, state, self.params())


class ALIF(LIF):
    """Adaptive-threshold LIF layer (Bellec et al. 2018); see :func:`alif_step`."""

    _kernel = staticmethod(alif_step)

    def __init__(
        self,
        n: int,
        tau_adapt: float | TimeConstants = 200e-3,
        beta: float = 1.8,
        learn_tau: bool = False,
        generator: torch.Generator | None = None,
        **lif_kwargs,
    ) -> None:
        super().__init__(n, learn_tau=learn_tau, generator=generator, **lif_kwargs)
        self.beta = beta
        self._register_tau("tau_adapt", tau_adapt, n, learn_tau, generator)

    def params(self) -> ALIFParams:  # type: ignore[override]
        return ALIFParams(
            self._tau("tau_mem"),
            self._tau("tau_syn"),
            self._tau("tau_adapt"),
            self.beta,
            self.v_th,
            0.0,
            self.v_reset,
            self.dt,
            self.reset,
            self.spike_fn,
        )

    def initial_state(self, batch: tuple[int, ...], like: Tensor | None = None) -> ALIFState:  # type: ignore[override]
        zeros = _zeros(batch, self.n, like, self._tau("tau_mem"))
        return ALIFState(zeros, zeros.clone(), zeros.clone())


class LI(_TimeConstantMixin):
    """A layer of ``n`` leaky integrators (non-spiking readout); ``forward -> (v, state)``."""

    def __init__(
        self,
        n: int,
        tau_mem: float | TimeConstants = 20e-3,
        tau_syn: float | TimeConstants = 5e-3,
        dt: float = 1e-3,
        learn_tau: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        _check_common(n, dt)
        self.n, self.dt = n, dt
        self._register_tau("tau_mem", tau_mem, n, learn_tau, generator)
        self._register_tau("tau_syn", tau_syn, n, learn_tau, generator)

    def params(self) -> LIParams:
        return LIParams(self._tau("tau_mem"), self._tau("tau_syn"), 0.0, self.dt)

    def initial_state(self, batch: tuple[int, ...], like: Tensor | None = None) -> LIState:
        zeros = _zeros(batch, self.n, like, self._tau("tau_mem"))
        return LIState(zeros, zeros.clone())

    def forward(self, x: Tensor, state: LIState | None = None) -> tuple[Tensor, LIState]:
        if state is None:
            state = self.initial_state(tuple(x.shape[:-1]), x)
        return li_step(x, state, self.params())


def _zeros(batch: tuple[int, ...], n: int, like: Tensor | None, fallback: Tensor) -> Tensor:
    ref = like if like is not None else fallback
    return torch.zeros((*batch, n), dtype=ref.dtype, device=ref.device)
