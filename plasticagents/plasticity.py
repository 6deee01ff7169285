"""Synaptic plasticity rules, all differentiable through time.

A plastic synapse matrix has a slow part ``W`` (a trained parameter) and a fast part ``hebb``
(state, reset every episode); the effective weight is ``W_eff = W + alpha ⊙ hebb``. Shapes:
presynaptic signal ``pre: [..., I]``, postsynaptic ``post: [..., N]``, ``hebb: [..., I, N]``
(``x @ W`` convention: rows are presynaptic; a layer whose spec makes only some rows plastic
keeps fast weights for those ``k`` rows alone, ``[..., k, N]``). Each rule defines a *term*
``T_ij``:

=========  ======================================================  ============================
rule       term ``T_ij``                                           source
=========  ======================================================  ============================
hebbian    ``pre_i post_j``                                        Miconi et al. 2018
oja        ``post_j (pre_i - post_j hebb_ij)``                     Oja 1982
bcm        ``pre_i post_j (post_j - theta_j)``                     Bienenstock, Cooper, Munro 1982
abcd       ``A pre_i post_j + B pre_i + C post_j + D``             Najarro & Risi 2020
stdp       ``a_plus x_pre_i s_post_j - a_minus s_pre_i y_post_j``  pair-based STDP (standard form)
=========  ======================================================  ============================

and the fast weight follows one of four update modes (``c`` = ``clip``)::

    plain        hebb <- clip(hebb + eta T, -c, c)     (hebbian: eta (T - hebb), Miconi's decay)
    modulated    hebb <- clip(hebb + M_j eta T, -c, c)            (Backpropamine)
    retroactive  E <- (1 - eta) E + eta T;  hebb <- clip(hebb + M_j E, -c, c)
    gated        hebb <- clip(hebb + G_j eta (T - hebb), -c, c)

where ``M: [..., N]`` is a neuromodulatory signal per postsynaptic neuron that the network
computes itself (:class:`Neuromodulator`). In ``gated`` mode the signal is a gate ``G`` (a
sigmoid with a learned bias, ``spec.gate_bias`` at the start: mostly closed) on Miconi's decay
rule: while the gate is shut the fast weight keeps its value, however active the synapse (a
nearly shut gate leaks: it decays towards the term with a time constant of about
``1 / (G eta)`` steps, 550 steps for ``sigmoid(-4)`` and ``eta = 0.1``, until training shuts it
further); when it opens, the fast weight moves towards the term (a write that replaces the
old content, where ``modulated`` only adds). A neuromodulated memory slot: the network
decides when to write it. BCM's threshold slides towards the mean squared
postsynaptic activity, ``theta <- theta + (dt / tau_theta) (post² - theta)``. For STDP, ``pre``
and ``post`` are spikes; the traces decay as ``x_pre <- exp(-dt/tau_plus) x_pre + s_pre`` and
``y_post <- exp(-dt/tau_minus) y_post + s_post`` *before* the weight change, so a pre spike Δ
steps before a post spike gives ``+a_plus exp(-Δ dt/tau_plus)`` and the reverse order
``-a_minus exp(-Δ dt/tau_minus)``. STDP amplitudes and time constants may be per synapse
(heterogeneous STDP); its traces then carry a synapse axis.

Coefficients (``eta``, ``A..D``, ``a_plus``, ``a_minus``) are scalars, ``[N]`` or ``[I, N]``.
The fast weight stays in ``[floor, clip]`` (``floor = -clip`` unless set), and only the synapses
of the ``plastic`` mask (``[I, N]`` or broadcastable, e.g. ``[I, 1]`` for excitatory rows) move.

A *shared* fast weight ``hebb: [I, N]`` serves a whole batch ``pre: [B, I]``, ``post: [B, N]``
(plain mode; the STDP traces and BCM's inputs keep the batch axis) and moves by the batch mean
of the term, ``hebb <- clip(hebb + eta (1/B) Σ_b T_b)``: online unsupervised learning on
batches of sequences, as in :class:`~plasticagents.reservoir.STDPReservoir`.

*Memory layout.* The ``[..., I, N]`` tensors may be stored post-major (:func:`post_major`: the
``I`` inputs of each postsynaptic neuron contiguous, ``stride(-2) == 1``), which is how
:class:`~plasticagents.Population` keeps them for its compiled step: the fused kernel then
reduces ``pre @ W_eff`` along contiguous memory and updates ``hebb`` in the same order
(``benchmarks/bench_population.py`` times both layouts: ``post_major_speedup_compiled``).
Shapes and values are the same either way; :func:`plasticity_step` returns ``hebb`` and
``elig`` in the layout it was given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from plasticagents.neurons import TimeConstants, decay

__all__ = [
    "GRANULARITIES",
    "MODES",
    "ROWS",
    "RULES",
    "STORAGES",
    "Neuromodulator",
    "PlasticState",
    "Plasticity",
    "PlasticityParams",
    "PlasticitySpec",
    "as_stored",
    "is_post_major",
    "plasticity_step",
    "post_major",
    "post_major_state",
    "rule_term",
    "storage_dtype",
]

RULES = ("hebbian", "oja", "bcm", "abcd", "stdp")
MODULATOR_INPUTS = ("activity", "input")
MODES = ("plain", "modulated", "retroactive", "gated")
GRANULARITIES = ("scalar", "post", "synapse")
STORAGES = ("float32", "float16")
ROWS = ("all", "input", "recurrent", "constant")
_FLOAT16_MAX = 65504.0


def storage_dtype(storage: str) -> torch.dtype | None:
    """The dtype a plastic synapse matrix with storage ``storage`` (one of :data:`STORAGES`)
    holds its fast weights in: ``torch.float16``, or ``None`` for ``float32``, which keeps the
    network's own dtype (a float64 network stays float64)."""
    if storage not in STORAGES:
        raise ValueError(f"unknown plasticity storage {storage!r}; valid choices: {list(STORAGES)}")
    return torch.float16 if storage == "float16" else None


def as_stored(t: Tensor, dtype: torch.dtype) -> Tensor:
    """``t`` rounded to ``dtype`` (to nearest even) and back to its own dtype: the value a
    synapse stored in ``dtype`` holds; the identity for ``t``'s own dtype. Gradients pass
    through unchanged, in ``t``'s dtype (the straight-through estimate; a cast's own backward
    would round them to ``dtype`` too)."""
    if dtype == t.dtype:
        return t
    rounded = t.to(dtype).to(t.dtype)
    # t + (rounded - t) is rounded exactly (the difference of two close floats is exact)
    return t + (rounded - t).detach() if t.requires_grad else rounded


class PlasticState(NamedTuple):
    """Fast synaptic state; fields a rule does not use are ``None``.

    ``hebb``: ``[..., I, N]`` (``I``: the plastic rows, see :class:`Plasticity`); ``elig``:
    eligibility trace ``[..., I, N]`` (retroactive mode);
    ``theta``: BCM threshold ``[..., N]``; ``x_pre``/``y_post``: STDP traces ``[..., I, 1|N]`` and
    ``[..., 1|I, N]``.
    """

    hebb: Tensor
    elig: Tensor | None = None
    theta: Tensor | None = None
    x_pre: Tensor | None = None
    y_post: Tensor | None = None


class PlasticityParams(NamedTuple):
    """Rule coefficients; see the module docstring. Time constants in seconds.

    ``clip`` and ``floor`` bound the fast weight to ``[floor, clip]`` (``floor=None``:
    ``-clip``); ``plastic`` is a boolean mask ``[I, N]`` (or broadcastable) of the synapses
    that learn, the others keep their value (``None``: all learn).
    """

    eta: Tensor | float = 0.1
    A: Tensor | float = 1.0
    B: Tensor | float = 0.0
    C: Tensor | float = 0.0
    D: Tensor | float = 0.0
    a_plus: Tensor | float = 1.0
    a_minus: Tensor | float = 1.0
    tau_plus: Tensor | float = 20e-3
    tau_minus: Tensor | float = 20e-3
    tau_theta: float = 1.0
    clip: float = 1.0
    dt: float = 1e-3
    floor: float | None = None
    plastic: Tensor | None = None


def is_post_major(x: Tensor | None) -> bool:
    """Whether ``x: [..., I, N]`` is stored post-major (``I`` contiguous per neuron; I, N > 1)."""
    return (
        x is not None and x.dim() >= 2 and x.shape[-2] > 1 and x.shape[-1] > 1 and x.stride(-2) == 1
    )


def post_major(x: Tensor) -> Tensor:
    """``x: [..., I, N]`` with the same shape and values, stored post-major (a copy unless it
    already is; matrices with a size-1 axis are returned as they are).

    Example:
        >>> w = post_major(torch.arange(6.0).view(2, 3))
        >>> w.shape, w.stride(), is_post_major(w), bool((w == torch.arange(6.0).view(2, 3)).all())
        (torch.Size([2, 3]), (1, 2), True, True)
    """
    if x.dim() < 2 or x.shape[-2] == 1 or x.shape[-1] == 1 or is_post_major(x):
        return x
    return x.mT.contiguous().mT


def post_major_state(state):
    """``state`` (any nest of tuples) with every :class:`PlasticState`'s ``hebb`` and ``elig``
    stored post-major; other leaves are returned as they are."""
    if isinstance(state, PlasticState):
        return state._replace(
            hebb=post_major(state.hebb),
            elig=None if state.elig is None else post_major(state.elig),
        )
    if isinstance(state, tuple):
        mapped = [post_major_state(s) for s in state]
        return type(state)(*mapped) if hasattr(state, "_fields") else type(state)(mapped)
    return state


def _outer(pre: Tensor, post: Tensor) -> Tensor:
    return pre.unsqueeze(-1) * post.unsqueeze(-2)


def _product(coef: Tensor | float | None, a: Tensor, b: Tensor, shared: bool) -> Tensor:
    """``coef a b`` for ``a: [..., I, 1|N]``, ``b: [..., 1|I, N]`` -> ``[..., I, N]``.

    ``shared``: the batch mean ``coef (Σ_b a_b b_b) / B`` over all leading axes, ``[I, N]``;
    a batch of outer products (``a: [..., I, 1]``, ``b: [..., 1, N]``) is one matrix product.
    """
    if not shared:
        return a * b if coef is None else coef * a * b
    a, b = a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:])
    if a.shape[-1] == 1 and b.shape[-2] == 1:
        total = a.squeeze(-1).mT @ b.squeeze(-2)
    else:
        total = (a * b).sum(0)
    return (total if coef is None else coef * total) / a.shape[0]


def _batch_mean(x: Tensor, shared: bool, keep: int) -> Tensor:
    """``x`` averaged over all but its last ``keep`` axes when ``shared``, else ``x``."""
    return x.flatten(0, x.dim() - keep - 1).mean(0) if shared and x.dim() > keep else x


def rule_term(
    rule: str,
    pre: Tensor,
    post: Tensor,
    state: PlasticState,
    p: PlasticityParams,
    shared: bool = False,
) -> Tensor:
    """The rule's term ``T: [..., I, N]`` (for ``stdp``, ``state`` must hold updated traces);
    with ``shared``, its batch mean ``[I, N]`` (see the module docstring)."""
    pre_, post_ = pre.unsqueeze(-1), post.unsqueeze(-2)
    if rule == "hebbian":
        return _product(None, pre_, post_, shared)
    if rule == "oja":
        return _product(None, post_, pre_ - post_ * state.hebb, shared)
    if rule == "bcm":
        return _product(None, pre_, (post * (post - state.theta)).unsqueeze(-2), shared)
    if rule == "abcd":
        return (
            p.A * _product(None, pre_, post_, shared)
            + p.B * _batch_mean(pre_, shared, 2)
            + p.C * _batch_mean(post_, shared, 2)
            + p.D
        )
    if rule == "stdp":
        return _product(p.a_plus, state.x_pre, post_, shared) - _product(
            p.a_minus, pre_, state.y_post, shared
        )
    raise ValueError(f"unknown plasticity rule {rule!r}; valid choices: {list(RULES)}")


def plasticity_step(
    pre: Tensor,
    post: Tensor,
    state: PlasticState,
    p: PlasticityParams,
    rule: str = "hebbian",
    modulation: Tensor | None = None,
    shared: bool = False,
    gated: bool = False,
) -> PlasticState:
    """One update of the fast weights; never writes into its inputs.

    Args:
        pre: presynaptic signal ``[..., I]`` (spikes for STDP, else spikes, traces or rates).
        post: postsynaptic signal ``[..., N]``.
        state: current :class:`PlasticState`; ``state.elig is not None`` selects retroactive mode.
        p: coefficients.
        rule: one of :data:`RULES`.
        modulation: ``M: [..., N]`` or ``None`` (plain mode).
        shared: ``state.hebb: [I, N]`` (and BCM's ``theta: [N]``) is one fast weight shared by
            the batch of ``pre``/``post``, moved by the batch mean of the term (plain mode).
        gated: ``modulation`` is a gate ``G`` on the decay rule (``gated`` mode):
            ``hebb <- hebb + G_j eta (T - hebb)``.

    Example (a pre spike one step before a post spike potentiates by ``a_plus e^{-dt/tau+}``):
        >>> p = PlasticityParams(eta=1.0, a_minus=0.5)
        >>> s = PlasticState(torch.zeros(1, 1), x_pre=torch.zeros(1, 1), y_post=torch.zeros(1, 1))
        >>> s = plasticity_step(torch.ones(1), torch.zeros(1), s, p, "stdp")
        >>> s = plasticity_step(torch.zeros(1), torch.ones(1), s, p, "stdp")
        >>> round(float(s.hebb), 4)  # exp(-1 ms / 20 ms)
        0.9512
    """
    if gated and (modulation is None or state.elig is not None):
        raise ValueError("gated mode needs the gate (modulation) and no eligibility trace")
    if shared and (modulation is not None or state.elig is not None):
        raise ValueError(
            "a shared fast weight takes the plain update only (no modulation, no eligibility "
            "trace): modulation is per sample"
        )
    if rule == "stdp":
        state = state._replace(
            x_pre=decay(p.tau_plus, p.dt) * state.x_pre + pre.unsqueeze(-1),
            y_post=decay(p.tau_minus, p.dt) * state.y_post + post.unsqueeze(-2),
        )
    stored = state.hebb.dtype  # float16 storage: computed in float32 (or wider), then rounded
    hebb, elig = state.hebb, state.elig
    if stored == torch.float16:
        hebb = hebb.to(torch.promote_types(torch.float32, pre.dtype))
    eta = torch.as_tensor(p.eta, dtype=hebb.dtype, device=hebb.device)
    # Fused updates, one pass over the [..., I, N] fast weights each: the hot path of ES.
    if gated:
        # the gate scales the decay rule's step: hebb + (G eta) (T - hebb), a lerp per synapse
        term = rule_term(rule, pre, post, state, p, shared)
        hebb = torch.lerp(hebb, term, modulation.unsqueeze(-2) * eta)
    elif modulation is not None and elig is None and rule == "hebbian":
        # M_j pre_i post_j = pre_i (M_j post_j): fold M into post instead of a full-size product.
        hebb = torch.addcmul(hebb, eta, _outer(pre, post * modulation))
    else:
        term = rule_term(rule, pre, post, state, p, shared)
        if modulation is None and rule == "hebbian":
            hebb = torch.lerp(hebb, term, eta)
        elif modulation is None and shared:
            # one [I, N] matrix, so fusing buys little; unfused (eta T rounded, then added) keeps
            # the STDP reservoir's numbers those of its original loop (pinned smoke results)
            hebb = hebb + eta * term
        elif modulation is None:
            hebb = torch.addcmul(hebb, eta, term)
        elif elig is None:
            hebb = torch.addcmul(hebb, modulation.unsqueeze(-2), eta * term)
        else:
            elig = torch.lerp(elig, term, eta)
            hebb = torch.addcmul(hebb, modulation.unsqueeze(-2), elig)
    hebb = hebb.clamp(-p.clip if p.floor is None else p.floor, p.clip)
    hebb = hebb.to(stored)
    if p.plastic is not None:
        hebb = torch.where(p.plastic, hebb, state.hebb)
    theta = state.theta
    if rule == "bcm":
        theta = theta + (p.dt / p.tau_theta) * (_batch_mean(post * post, shared, 1) - theta)
    if is_post_major(state.hebb):
        # Keep the layout: a compiled graph picks its own output layout unless a
        # ``contiguous`` pins it, and eager can lose it too (``torch.where`` with a row-major
        # ``p.plastic`` first). A no-op in eager when the layout held; the fused kernel's
        # store order when compiled.
        hebb = hebb.mT.contiguous().mT
        elig = None if elig is None else elig.mT.contiguous().mT
    return PlasticState(hebb, elig, theta, state.x_pre, state.y_post)


@dataclass(frozen=True)
class PlasticitySpec:
    """What plasticity a synapse matrix has; plain data, validated eagerly.

    Args:
        rule: one of ``hebbian``, ``oja``, ``bcm``, ``abcd``, ``stdp``.
        mode: ``plain``, ``modulated`` (Backpropamine), ``retroactive`` (eligibility trace) or
            ``gated`` (a gate on the decay rule; not with ``stdp``).
        granularity: shape of the learned coefficients ``eta``, ``A..D``, STDP amplitudes:
            ``scalar``, ``post`` (one per postsynaptic neuron) or ``synapse``. ``alpha`` is
            always per synapse.
        eta, alpha_init, clip: initial learning rate, initial ``alpha`` scale and fast-weight clip.
        tau_plus, tau_minus: STDP trace time constants; a :class:`TimeConstants` distribution
            draws one per synapse (heterogeneous STDP).
        tau_theta: BCM threshold time constant (s).
        n_modulators: modulatory signals computed by the network (every mode but ``plain``).
        modulator_input: what the neuromodulator reads: ``activity`` (the layer's own
            postsynaptic traces, Backpropamine's choice) or ``input`` (the traces of the
            layer's input currents: a cue in the observation can gate plasticity directly).
        gate_bias: ``gated`` mode: the gate's initial bias (its logit with no input);
            ``sigmoid(-4) = 0.018``, so the fast weights start mostly held (ignored in the
            other modes).
        storage: ``float32``, or ``float16``: the fast weights are held as IEEE half
            (computed in float32, rounded to nearest when stored) and the synapses' slow
            weight and ``alpha`` are used rounded to half (their gradients pass straight
            through; under BPTT the fast weights' own gradient through time is half too).
            It halves the memory an ES population's C step streams per env step
            (:mod:`plasticagents.native`); it changes the numbers, so a network trained with
            it is evaluated with it (it is part of the network's config). ``clip`` must then
            fit in half (at most 65504).
        fixed: coefficients kept at their starting value, neither trained nor searched (their
            ``requires_grad`` is off, so an ES population shares them): any of ``alpha``,
            ``eta`` and the rule's own (``A``..``D``, ``a_plus``, ``a_minus``). With
            ``abcd_init=(0, rho, -1, 0)`` and ``fixed=("alpha", "eta", "A", "B", "C", "D")``
            the homeostasis is built in: training cannot turn it off or reverse it.
        abcd_init: ``(A, B, C, D)``, the ``abcd`` rule's coefficients at the start (default
            ``(1, 0, 0, 0)``, a Hebbian start). On a row whose presynaptic signal is always 1 (a
            constant input, ``rows="constant"``) the term is ``(A + C) post_j + (B + D)``, so
            ``(0, rho, -1, 0)`` in ``plain`` mode is intrinsic (homeostatic) plasticity: each
            neuron's bias integrates ``eta (rho_j - post_j)``, pulling its rate back to a target
            ``rho_j`` that training sets, whatever constant shift its inputs take.
        rows: which presynaptic rows of a layer's ``[I+N, N]`` matrix learn: ``all``,
            ``input`` (the input currents, constant units included), ``recurrent`` (the
            layer's own spikes) or ``constant`` (only the constant input units of a
            :class:`~plasticagents.PlasticSNN` with ``constant_input=True``: a plastic bias the
            network writes, read the same way whatever the observation). The other rows
            have no fast weights (their synapses keep the slow weight): no state, no
            ``alpha`` or per-synapse coefficients to search or train.
    """

    rule: str = "hebbian"
    mode: str = "plain"
    granularity: str = "synapse"
    eta: float = 0.1
    alpha_init: float = 0.01
    clip: float = 1.0
    tau_plus: float | TimeConstants = 20e-3
    tau_minus: float | TimeConstants = 20e-3
    tau_theta: float = 1.0
    n_modulators: int = 1
    modulator_input: str = "activity"
    gate_bias: float = -4.0
    storage: str = "float32"
    rows: str = "all"
    abcd_init: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    fixed: tuple[str, ...] = ()

    def coefficients(self) -> tuple[str, ...]:
        """The names of the trained coefficients this spec's rule has (what ``fixed`` may
        name)."""
        extra = {"abcd": ("A", "B", "C", "D"), "stdp": ("a_plus", "a_minus")}
        return ("alpha", "eta", *extra.get(self.rule, ()))

    def __post_init__(self) -> None:
        for field, value, choices in (
            ("rule", self.rule, RULES),
            ("mode", self.mode, MODES),
            ("granularity", self.granularity, GRANULARITIES),
            ("modulator_input", self.modulator_input, MODULATOR_INPUTS),
            ("storage", self.storage, STORAGES),
            ("rows", self.rows, ROWS),
        ):
            if value not in choices:
                raise ValueError(
                    f"unknown plasticity {field} {value!r}; valid choices: {list(choices)}"
                )
        if not self.clip > 0:
            raise ValueError(f"plasticity clip must be > 0, got {self.clip!r}")
        if self.storage == "float16" and not self.clip <= _FLOAT16_MAX:
            raise ValueError(
                f"plasticity clip {self.clip!r} does not fit in storage 'float16' (at most "
                f"{_FLOAT16_MAX:g}): lower the clip or use storage 'float32'"
            )
        if not self.tau_theta > 0:
            raise ValueError(f"plasticity tau_theta must be > 0 seconds, got {self.tau_theta!r}")
        if self.n_modulators < 1:
            raise ValueError(f"n_modulators must be >= 1, got {self.n_modulators!r}")
        if not math.isfinite(self.gate_bias):
            raise ValueError(f"plasticity gate_bias must be finite, got {self.gate_bias!r}")
        if self.mode == "gated" and self.rule == "stdp":
            raise ValueError(
                "mode 'gated' moves the fast weight towards a rate term; rule 'stdp' is a "
                "spike-timing term: use mode 'plain', 'modulated' or 'retroactive' with it"
            )
        try:
            abcd = tuple(float(v) for v in self.abcd_init)
        except (TypeError, ValueError):
            abcd = ()
        if len(abcd) != 4 or not all(math.isfinite(v) for v in abcd):
            raise ValueError(
                f"plasticity abcd_init must be 4 finite numbers (A, B, C, D), got "
                f"{self.abcd_init!r}"
            )
        object.__setattr__(self, "abcd_init", abcd)
        fixed = (self.fixed,) if isinstance(self.fixed, str) else tuple(self.fixed)
        bad = [name for name in fixed if name not in self.coefficients()]
        if bad:
            raise ValueError(
                f"plasticity fixed names {bad[0]!r}, not a coefficient of rule {self.rule!r}; "
                f"valid choices: {list(self.coefficients())}"
            )
        object.__setattr__(self, "fixed", fixed)
        if self.rule != "abcd" and abcd != (1.0, 0.0, 0.0, 0.0):
            raise ValueError(
                f"plasticity abcd_init {list(abcd)} sets the 'abcd' rule's coefficients, but "
                f"the rule is {self.rule!r}: use rule 'abcd' or drop abcd_init"
            )
        if self.modulator_input != "activity" and self.mode == "plain":
            raise ValueError(
                f"modulator_input {self.modulator_input!r} needs a neuromodulator: mode "
                "'modulated', 'retroactive' or 'gated', not 'plain'"
            )


class Neuromodulator(nn.Module):
    """``M = tanh(h @ w_mod) @ fanout``: K modulatory signals from activity ``h: [..., H]``,
    fanned out to every postsynaptic neuron, ``M: [..., N]`` (Miconi et al. 2019).

    With ``gate_bias`` (``gated`` mode) the signals are gates,
    ``G = sigmoid(h @ w_mod + b_mod) @ fanout`` with ``b_mod`` a trained bias starting at
    ``gate_bias`` and the fan-out starting at ``1/K`` (each ``G_j`` starts in [0, 1] whatever
    ``K``; a trained fan-out may take it outside: a negative ``G_j`` moves the fast weight
    away from the term, up to the clip)."""

    def __init__(
        self,
        n_in: int,
        n_post: int,
        n_modulators: int = 1,
        generator=None,
        gate_bias: float | None = None,
    ) -> None:
        super().__init__()
        self.w_mod = nn.Parameter(torch.randn(n_in, n_modulators, generator=generator) / n_in**0.5)
        self.gated = gate_bias is not None
        fan = 1.0 / n_modulators if self.gated else 1.0  # gates: an average of the K at first
        self.fanout = nn.Parameter(torch.full((n_modulators, n_post), fan))
        if self.gated:
            self.b_mod = nn.Parameter(torch.full((n_modulators,), float(gate_bias)))

    def signals(self, h: Tensor) -> Tensor:
        """The K signals before the fan-out, ``[..., K]``: ``tanh(h @ w_mod)``, or the gates
        ``sigmoid(h @ w_mod + b_mod)``."""
        if self.gated:
            return torch.sigmoid(h @ self.w_mod + self.b_mod)
        return torch.tanh(h @ self.w_mod)

    def forward(self, h: Tensor) -> Tensor:
        return self.signals(h) @ self.fanout


class Plasticity(nn.Module):
    """Owns the coefficients of one plastic ``[I, N]`` matrix and calls :func:`plasticity_step`.

    Trained parameters: ``alpha [I, N]`` (``[k, N]``, see ``rows``) and the rule's
    coefficients (shape set by ``spec.granularity``); the neuromodulator's weights live in the
    layer that computes ``M``.
    ``rows``: the run ``(start, stop)`` of presynaptic rows that learn (``None``: all; the
    layer derives it from ``spec.rows``). Only those ``k = stop - start`` rows have fast
    weights: ``alpha``, the per-synapse coefficients and the state's ``hebb`` are ``[k, N]``
    (``[..., k, N]``), so a frozen synapse costs no memory traffic, is no search dimension for
    ES and no parameter for an optimiser; the layer feeds the update those rows' presynaptic
    signals, and :meth:`spread` gives any of them back as the whole ``[..., I, N]`` matrix,
    zero on the frozen rows.
    """

    def __init__(
        self,
        n_pre: int,
        n_post: int,
        spec: PlasticitySpec,
        dt: float = 1e-3,
        generator: torch.Generator | None = None,
        rows: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.spec, self.n_pre, self.n_post, self.dt = spec, n_pre, n_post, dt
        if rows is not None:
            rows = (int(rows[0]), int(rows[1]))
            if not 0 <= rows[0] < rows[1] <= n_pre:
                raise ValueError(
                    f"plastic rows must be a run (start, stop) with 0 <= start < stop <= "
                    f"{n_pre}, got {rows}"
                )
            if rows == (0, n_pre):
                rows = None
        self.rows = rows
        self.n_rows = n_pre if rows is None else rows[1] - rows[0]
        k = self.n_rows
        shape = {"scalar": (), "post": (n_post,), "synapse": (k, n_post)}[spec.granularity]
        self.alpha = nn.Parameter(torch.full((k, n_post), spec.alpha_init))
        self.eta = nn.Parameter(torch.full(shape, spec.eta))
        if spec.rule == "abcd":
            # Najarro & Risi draw A..D at random; a Hebbian start (A=1, the default
            # spec.abcd_init) is a better ES init.
            for name, value in zip("ABCD", spec.abcd_init, strict=True):
                setattr(self, name, nn.Parameter(torch.full(shape, value)))
        if spec.rule == "stdp":
            self.a_plus = nn.Parameter(torch.ones(shape))
            self.a_minus = nn.Parameter(torch.ones(shape))
            for name in ("tau_plus", "tau_minus"):
                value = getattr(spec, name)
                if isinstance(value, TimeConstants):
                    # drawn for the whole matrix, then cut: the generator's stream (and every
                    # later draw from it) is the same whichever rows learn
                    tau = value.sample(n_pre * n_post, generator).view(n_pre, n_post)
                    tau = tau if rows is None else tau[rows[0] : rows[1]].clone()
                else:
                    tau = torch.tensor(float(value))
                self.register_buffer(name, tau)
        for name in spec.fixed:
            getattr(self, name).requires_grad_(False)

    def spread(self, x: Tensor) -> Tensor:
        """``x: [..., k, N]`` over the plastic rows as the whole matrix's ``[..., I, N]``, zero
        on the frozen rows (``x`` itself when every row learns)."""
        if self.rows is None:
            return x
        start, stop = self.rows
        lead, n = x.shape[:-2], x.shape[-1]
        before = x.new_zeros((*lead, start, n))
        after = x.new_zeros((*lead, self.n_pre - stop, n))
        return torch.cat([before, x, after], dim=-2)

    def checkpoint_value(self, name: str, value: Tensor) -> Tensor:
        """A checkpointed parameter or buffer ``name`` as this module holds it: a whole
        ``[I, N]`` matrix (saved before only the plastic rows were kept) is cut to the plastic
        rows."""
        own = getattr(self, name, None)
        if (
            self.rows is not None
            and isinstance(own, Tensor)
            and own.dim() == 2
            and tuple(value.shape) == (self.n_pre, self.n_post)
        ):
            return value[self.rows[0] : self.rows[1]]
        return value

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        names = [n for n, _ in self.named_parameters(recurse=False)]
        for name in [*names, *(n for n, _ in self.named_buffers(recurse=False))]:
            if prefix + name in state_dict:
                state_dict[prefix + name] = self.checkpoint_value(name, state_dict[prefix + name])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def params(self) -> PlasticityParams:
        get = lambda name, default: getattr(self, name, default)  # noqa: E731
        return PlasticityParams(
            self.eta,
            get("A", 1.0),
            get("B", 0.0),
            get("C", 0.0),
            get("D", 0.0),
            get("a_plus", 1.0),
            get("a_minus", 1.0),
            get("tau_plus", 20e-3),
            get("tau_minus", 20e-3),
            self.spec.tau_theta,
            self.spec.clip,
            self.dt,
        )

    @property
    def storage_dtype(self) -> torch.dtype | None:
        """The dtype the fast weights are held in (``spec.storage``; ``None``: the network's
        own)."""
        return storage_dtype(self.spec.storage)

    def initial_state(self, batch: tuple[int, ...], like: Tensor) -> PlasticState:
        """Zero fast weights (in ``spec.storage``'s dtype) and traces for a batch ``batch`` of
        independent episodes (over the plastic rows only, ``[*batch, k, N]``)."""

        def z(*shape: int, dtype: torch.dtype = like.dtype) -> Tensor:
            return torch.zeros((*batch, *shape), dtype=dtype, device=like.device)

        i, n, rule = self.n_rows, self.n_post, self.spec.rule
        per_synapse = rule == "stdp" and (self.tau_plus.dim() > 0 or self.tau_minus.dim() > 0)
        return PlasticState(
            hebb=z(i, n, dtype=self.storage_dtype or like.dtype),
            elig=z(i, n) if self.spec.mode == "retroactive" else None,
            theta=z(n) if rule == "bcm" else None,
            x_pre=(z(i, n) if per_synapse else z(i, 1)) if rule == "stdp" else None,
            y_post=(z(i, n) if per_synapse else z(1, n)) if rule == "stdp" else None,
        )

    def forward(
        self, pre: Tensor, post: Tensor, state: PlasticState, modulation: Tensor | None = None
    ) -> PlasticState:
        """One update from the whole presynaptic signal ``pre: [..., I]`` (the plastic rows'
        part is taken here) and ``post: [..., N]``."""
        if self.rows is not None:
            pre = pre[..., self.rows[0] : self.rows[1]]
        return plasticity_step(
            pre,
            post,
            state,
            self.params(),
            self.spec.rule,
            modulation,
            gated=self.spec.mode == "gated",
        )
