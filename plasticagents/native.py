"""A hand-written C step for a population of plastic spiking networks (the ES hot path).

:class:`~plasticagents.Population` with ``compile=True`` runs :class:`~plasticagents.PlasticSNN`
through ``torch.compile``, which fuses the step into one kernel whose loops each sweep the whole
population: the ``[P, B, I, N]`` fast weights, the slow weights and ``alpha`` are read from the
last-level cache about nine times per env step (``benchmarks/bench_es.py`` measured the network
at about as long as the physics). ``native_snn.c`` runs each (individual, episode) through all
of its simulation steps at once, while its synapses stay in the core's L2 cache; OpenMP spreads
the individuals over ``torch.get_num_threads()`` threads (or the step's ``threads``), and the
call releases the GIL.

It covers the networks the ES configs use: a direct-current encoder (with or without
``constant_input``), one recurrent or feed-forward LIF layer (per-neuron time constants,
``subtract`` or ``zero`` reset) with Hebbian plasticity in ``plain``, ``modulated`` or
``gated`` mode, or the ``abcd`` rule in ``plain`` or ``modulated`` mode, on traces (any
granularity, the neuromodulator reading the layer's activity or its inputs, on any
``PlasticitySpec.rows``: only the plastic rows hold fast weights, ``alpha`` and per-synapse
coefficients, as in the torch step) or static (no plasticity: the static SNN arms), no Dale's
law or sparsity mask, and a leaky-integrator readout; float32 on the CPU, the plastic synapses
stored as float32 or (``PlasticitySpec.storage``) as float16, which halves the bytes each
env step streams. With AVX-512 the synapse loops run as hand-written 16-lane blocks.
:func:`unsupported` names what else a network uses, and the population then keeps the
compiled torch step. The results equal the torch step's up to float rounding (the sums run in
another order, and on x86 the C step flushes subnormal floats, below 1.2e-38, to zero: a silent
neuron's fast weights decaying through that range slowed the step 2.3x), which
``tests/core/test_native.py`` checks step by step on every covered mode, granularity and run
of plastic rows, on static layers, in both storages, and on the options the C step reads
(resets, thresholds, per-neuron time constants, modulators, simulation steps per input,
constant inputs, outputs).

The C file is compiled on first use with the system C compiler (``$CC``, default ``cc``;
``-O3 -march=native -fopenmp``) into ``$PLASTICAGENTS_CACHE`` (default
``~/.cache/plasticagents``), keyed by the source, compiler and flags. Without a compiler,
:func:`library` returns ``None`` with the reason in :func:`build_error`.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "NativeSNNStep",
    "build_error",
    "build_shared",
    "library",
    "load_error",
    "load_once",
    "unsupported",
]

_SOURCE = Path(__file__).with_name("native_snn.c")
_INCLUDE = Path(__file__).with_name("native_snn_step.inc")  # the step's body, included twice
# -ffp-contract=off: no fused multiply-adds the source does not write (GCC's default under
# -std=c11, not Clang's), so the AVX-512 blocks and the portable loops round alike
_FLAGS = ["-O3", "-march=native", "-fopenmp", "-ffp-contract=off", "-shared", "-fPIC", "-std=c11"]
_lock = threading.Lock()
_state: dict[str, Any] = {}  # name -> the loaded library (None: it could not be built)
_errors: dict[str, str | None] = {}


class _Dims(ctypes.Structure):
    _fields_ = [
        *[
            (n, ctypes.c_int64)
            for n in ("P", "B", "D", "N", "O", "K", "I", "E", "steps", "C", "r0", "R")
        ],
        *[
            (n, ctypes.c_int)
            for n in ("recurrent", "modulated", "reset_zero", "tanh_out", "mod_input", "gated")
        ],
        ("n_threads", ctypes.c_int),
        ("abcd", ctypes.c_int),
        *[(n, ctypes.c_float) for n in ("v_th", "v_reset", "trace_a", "clip_lo", "clip_hi")],
        ("order", ctypes.c_void_p),  # NULL: every slot runs; else the slots run, then held
        ("n_run", ctypes.c_int64),
    ]


def _cache_dir() -> Path:
    root = os.environ.get("PLASTICAGENTS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "plasticagents"


CPUINFO = Path("/proc/cpuinfo")


def cpuinfo_field(*names: str) -> str | None:
    """The value of the first line of Linux's ``/proc/cpuinfo`` that starts with one of
    ``names``, ``None`` where there is none (or no such file)."""
    try:
        for line in CPUINFO.read_text().splitlines():
            if line.startswith(names):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_flags() -> str:
    """The instruction-set flags of this CPU (Linux), empty where unknown."""
    return cpuinfo_field("flags", "Features") or ""


def build_shared(source: Path, flags: list[str], libs: list[str], key: str = "") -> Path:
    """Compile the C file ``source`` into a shared library in the cache directory (once: the
    file name is keyed by the source, the compiler, ``flags``, ``libs``, ``key`` and this CPU)
    and return its path. Raises ``RuntimeError`` without a compiler or when it fails."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise RuntimeError(f"no C compiler {cc!r} on PATH (set CC)")
    text = source.read_bytes()
    # -march=native: a library built on another CPU (a shared home directory) may not run here
    host = " ".join([platform.machine(), platform.processor(), _cpu_flags()])
    digest = hashlib.sha256(text + " ".join([cc, *flags, *libs, key, host]).encode())
    target = _cache_dir() / f"{source.stem}-{digest.hexdigest()[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            built = Path(tmp) / target.name
            done = subprocess.run(
                [cc, *flags, str(source), "-o", str(built), *libs],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise RuntimeError(f"{cc} failed: {done.stderr.strip()[:500]}")
            os.replace(built, target)  # atomic: concurrent builders agree
    return target


def _build(flags: list[str] | None = None) -> ctypes.CDLL:
    # the included body is part of the key: editing it rebuilds
    key = hashlib.sha256(_INCLUDE.read_bytes()).hexdigest()
    lib = ctypes.CDLL(str(build_shared(_SOURCE, flags or _FLAGS, ["-lm"], key=key)))
    lib.snn_step_packed.restype = ctypes.c_int
    lib.snn_step_packed.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.snn_simd.restype = ctypes.c_int
    lib.snn_team_csr.restype = ctypes.c_int
    lib.snn_team_csr.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
    return lib


def load_once(
    name: str, build: Callable[[], ctypes.CDLL], on_error: Callable[[str], None] | None = None
) -> ctypes.CDLL | None:
    """The library ``build`` makes, built once per process under ``name`` (then cached on
    disk by :func:`build_shared`); ``None`` when it raised ``OSError`` or ``RuntimeError``
    (the reason: :func:`load_error`, also passed to ``on_error`` the one time it happens)."""
    with _lock:
        if name not in _state:
            try:
                _state[name], _errors[name] = build(), None
            except (OSError, RuntimeError) as err:
                _state[name], _errors[name] = None, str(err)
                if on_error is not None:
                    on_error(str(err))
        return _state[name]


def load_error(name: str) -> str | None:
    """Why :func:`load_once` returned ``None`` for ``name`` (``None``: it built or was not
    tried)."""
    return _errors.get(name)


def library() -> ctypes.CDLL | None:
    """The compiled step (built once per process, then cached on disk); ``None`` when it
    cannot be built (see :func:`build_error`)."""
    return load_once("snn", _build)


def build_error() -> str | None:
    """Why :func:`library` returned ``None`` (``None`` when it built or was not tried)."""
    return load_error("snn")


def unsupported(module: torch.nn.Module) -> str | None:
    """``None`` when :class:`NativeSNNStep` computes ``module``'s step, else what it lacks
    (every parameter may vary per individual; learnable time constants are not covered)."""
    from plasticagents.networks import DirectCurrentEncoder, PlasticSNN
    from plasticagents.neurons import ALIF, LIF

    if type(module) is not PlasticSNN:
        return f"module is {type(module).__name__}, not PlasticSNN"
    layer = module.layer
    spec = layer.plasticity.spec if layer.plasticity is not None else None
    checks = [
        (type(module.encoder) is DirectCurrentEncoder, "encoder is not direct"),
        (type(layer.neurons) is LIF and not isinstance(layer.neurons, ALIF), "neuron is not lif"),
        (layer.neurons.reset in ("subtract", "zero"), f"reset {layer.neurons.reset!r}"),
        (
            spec is None or spec.rule in ("hebbian", "abcd"),
            f"rule {getattr(spec, 'rule', None)!r}",
        ),
        (
            spec is None or spec.rule != "abcd" or spec.mode != "gated",
            "rule 'abcd' in gated mode",
        ),
        (
            spec is None or spec.mode in ("plain", "modulated", "gated"),
            f"mode {getattr(spec, 'mode', 0)!r}",
        ),
        (spec is None or layer.signal == "traces", f"plasticity signal {layer.signal!r}"),
        (not layer.synapses.dale_rows, "Dale's law"),
        (layer.synapses.mask is None, "a sparsity mask"),
        (module.output in ("tanh", "linear"), f"output {module.output!r}"),
        (
            not isinstance(layer.neurons.v_th, Tensor) or layer.neurons.v_th.numel() == 1,
            "a per-neuron threshold",
        ),
    ]
    for ok, why in checks:
        if not ok:
            return why
    learnable = [n for n, _ in module.named_parameters() if "log_tau" in n]
    if learnable:
        return f"learnable time constants {learnable}"
    if spec is not None and spec.storage == "float16":
        lib = library()
        if lib is not None and not hasattr(lib, "snn_step_f16"):
            return "storage 'float16' (the C compiler has no _Float16: GCC >= 12 or Clang >= 15)"
    params = list(module.parameters())
    if any(p.dtype != torch.float32 or p.device.type != "cpu" for p in params):
        return "not float32 on the CPU"
    return None


def _per_neuron(decay: Tensor | float, n: int) -> Tensor:
    t = torch.as_tensor(decay, dtype=torch.float32)
    return t.expand(n).contiguous() if t.dim() == 0 else t.reshape(n).contiguous()


def _post_major_rows(t: Tensor) -> Tensor:
    """``t: [..., I, N]`` as a contiguous ``[..., N, I]`` (no copy when stored post-major)."""
    return t.mT.contiguous()


class NativeSNNStep:
    """The C step of one :class:`~plasticagents.PlasticSNN` template for a population of
    ``size``; built once per population. Its constants (time-constant decays, sizes) are
    computed here and the C layouts of the individuals' parameters once per parameter set
    (they change when a new generation is loaded), so a call costs the C step and little
    else. Raises ``ValueError`` naming what :func:`unsupported` found, ``RuntimeError`` when
    the C step cannot be built."""

    def __init__(self, module: torch.nn.Module, size: int, threads: int | None = None) -> None:
        why = unsupported(module)
        if why is not None:
            raise ValueError(f"the native SNN step does not cover this network: {why}")
        self.lib = library()
        if self.lib is None:
            raise RuntimeError(f"the native SNN step is not available: {build_error()}")
        self.module, self.size = module, size
        # OpenMP threads per call; None: torch.get_num_threads() at each call. A lane of
        # trainer.lanes sets its share, so that concurrent lanes do not oversubscribe the cores
        self.threads = threads
        layer = module.layer
        self.N, self.n_out, self.n_pre = layer.n_hidden, module.n_out, layer.n_pre
        # the plastic rows' run [r0, r0 + R) of the n_pre presynaptic rows (alpha and the fast
        # weights hold those R rows only); a static layer: no plastic row (R = 0)
        plasticity = layer.plasticity
        self.static = plasticity is None
        rows = (0, 0) if self.static else plasticity.rows or (0, self.n_pre)
        self.r0, self.R = rows[0], rows[1] - rows[0]
        # what the C step is given where a static layer has nothing (never read: R = 0)
        self._nothing = torch.zeros(1)
        spec = None if self.static else plasticity.spec
        # raw, alpha and the fast weights (float32 networks only, see unsupported)
        self.storage = (None if self.static else plasticity.storage_dtype) or torch.float32
        self._half = int(self.storage == torch.float16)
        self._step = self.lib.snn_step_packed
        # a neuromodulator: its signals scale the Hebbian term (modulated) or gate the decay
        # rule's step (gated)
        self.modulated = spec is not None and spec.mode in ("modulated", "gated")
        self.gated = spec is not None and spec.mode == "gated"
        self.K = spec.n_modulators if self.modulated else 1
        # the abcd rule (A pre post + B pre + C post + D) instead of the Hebbian term
        self.abcd = spec is not None and spec.rule == "abcd"
        lif = layer.neurons.params()
        clip = 0.0 if self.static else float(plasticity.params().clip)
        self.dims = dict(
            N=self.N,
            O=self.n_out,
            K=self.K,
            I=self.n_pre,
            steps=module.steps_per_input,
            C=int(module.constant_input),
            r0=self.r0,
            R=self.R,
            recurrent=int(layer.recurrent),
            modulated=int(self.modulated),
            reset_zero=int(lif.reset == "zero"),
            tanh_out=int(module.output == "tanh"),
            mod_input=int(layer.modulator_reads_input),
            gated=int(self.gated),
            abcd=int(self.abcd),
            v_th=float(lif.v_th),
            v_reset=float(lif.v_reset),
            trace_a=float(layer.trace_decay),
            clip_lo=-clip,
            clip_hi=clip,
        )
        # what the C layouts are built from besides the population's own parameters: the
        # template's parameters (those not varied per individual) and its buffers (time
        # constants); an in-place edit of any of them bumps its version and rebuilds the layout
        self._named = dict(module.named_parameters())
        self._buffers = list(module.buffers())
        self._key: tuple | None = None
        self._params: list[Tensor] = []
        # per call, little but the C step: the pointers packed once (the parameters' when
        # their layout changes), the dims per input shape, the scratch kept, and the state
        # this step returned last (checked when made) taken as it is
        self._args = (ctypes.c_void_p * 37)()
        self._args_params: list[Tensor] | None = None
        self._dims: dict[tuple[int, int], _Dims] = {}
        self._views: dict[int, tuple[int, list]] = {}  # per B: the small outputs' layout
        self._scratch = torch.empty(0, dtype=torch.float32)
        self._last: tuple[Any, list[Tensor], int, list[int], int] | None = None
        self._lock = threading.Lock()

    def _layout(self, params: dict[str, Tensor]) -> list[Tensor]:
        """The individuals' parameters in the C layouts and the time constants' decays,
        cached until a tensor they come from changes: a new generation's parameters, a
        shared (template) parameter or a time constant edited in place."""
        named = self._named
        sources = [*params.values(), *(t for n, t in named.items() if n not in params)]
        key = tuple((id(t), t._version) for t in (*sources, *self._buffers))
        if key == self._key:
            return self._params
        self._params = self._rebuild(params)
        self._key = key
        return self._params

    @torch.no_grad()  # (the caller may not hold a no_grad context: see Agent.predict)
    def _rebuild(self, params: dict[str, Tensor]) -> list[Tensor]:
        """:meth:`_layout`'s arrays, built again."""
        from plasticagents.neurons import decay

        named = self._named
        P = self.size
        lif, ro = self.module.layer.neurons.params(), self.module.readout.params()

        def get(name: str) -> Tensor:
            if name in params:
                return params[name]
            value = named[name].detach()
            return value.unsqueeze(0).expand(P, *value.shape)

        def like_eta(t: Tensor) -> Tensor:  # [P, E]: per synapse post-major
            return _post_major_rows(t) if t.dim() == 3 else t.reshape(P, -1).contiguous()

        dummy = torch.zeros(P, self.N * self.K)
        if self.static:  # no rule: a learning rate never read, no alpha (R = 0)
            eta, alpha = torch.zeros(P, 1), self._nothing
        else:
            eta = like_eta(get("layer.plasticity.eta"))
            alpha = _post_major_rows(get("layer.plasticity.alpha")).to(self.storage)
        # the abcd rule's coefficients, laid out as eta (never read by the hebbian rule)
        coefficients = [
            like_eta(get(f"layer.plasticity.{c}")) if self.abcd else self._nothing for c in "ABCD"
        ]
        mod = (
            [get(f"layer.modulator.{n}").contiguous() for n in ("w_mod", "fanout")]
            if self.modulated
            else [dummy, dummy]
        )
        mod.append(
            get("layer.modulator.b_mod").contiguous() if self.gated else torch.zeros(P, self.K)
        )
        return [
            get("encoder.scale").contiguous(),
            get("encoder.bias").contiguous(),
            _post_major_rows(get("layer.synapses.raw")).to(self.storage),
            alpha,
            eta,
            *mod,
            get("readout_weight").contiguous(),
            _per_neuron(decay(lif.tau_syn, lif.dt), self.N),
            _per_neuron(decay(lif.tau_mem, lif.dt), self.N),
            _per_neuron(decay(ro.tau_syn, ro.dt), self.n_out),
            _per_neuron(decay(ro.tau_mem, ro.dt), self.n_out),
            *coefficients,
        ]

    def _inputs(self, state: Any, x: Tensor) -> list[Tensor]:
        """The state's arrays in the C layouts, checked against the input ``x``."""
        P, N, n_out, n_pre, B = self.size, self.N, self.n_out, self.n_pre, x.shape[1]
        ls, rs = state.layer, state.readout
        if self.static != (ls.plastic is None):
            held = "holds no" if ls.plastic is None else "holds"
            kind = "static" if self.static else "plastic"
            raise ValueError(f"state {held} fast weights, but this network's layer is {kind}")
        fast = {} if self.static else {"fast weights": (ls.plastic.hebb, (P, B, self.R, N))}
        expected = {
            **fast,
            "membranes": (ls.neuron.v, (P, B, N)),
            "synaptic currents": (ls.neuron.i, (P, B, N)),
            "spikes": (ls.z, (P, B, N)),
            "presynaptic traces": (ls.pre_trace, (P, B, n_pre)),
            "postsynaptic traces": (ls.post_trace, (P, B, N)),
            "readout membranes": (rs.v, (P, B, n_out)),
            "readout currents": (rs.i, (P, B, n_out)),
        }
        for what, (t, shape) in expected.items():
            dtype = self.storage if what == "fast weights" else torch.float32
            if tuple(t.shape) != shape or t.dtype != dtype or t.device.type != "cpu":
                raise ValueError(
                    f"state does not match the input [{P}, {B}, {x.shape[2]}]: {what} "
                    f"{list(t.shape)} {t.dtype} on {t.device} (expected {list(shape)} "
                    f"{dtype} on cpu)"
                )
        return [
            self._nothing if self.static else _post_major_rows(ls.plastic.hebb),
            *(t.contiguous() for t in (ls.neuron.v, ls.neuron.i, ls.z, ls.pre_trace)),
            *(t.contiguous() for t in (ls.post_trace, rs.v, rs.i)),
        ]

    def __call__(
        self,
        params: dict[str, Tensor],
        x: Tensor,
        state: Any,
        active: Any = None,
        donate: bool = False,
    ) -> tuple[Tensor, Any]:
        """Every individual's step: ``params`` as a :class:`~plasticagents.Population` holds
        them (``[P, ...]`` for the varying names; the others come from the template),
        ``x: [P, B, D]``, ``state`` the population's ``SNNState`` (leaves ``[P, B, ...]``).
        Returns the outputs ``[P, B, O]`` and the new state, fast weights stored post-major;
        the inputs are not written, unless donated.

        ``active`` (``[P, B]`` bool, optional): only these slots run the step; the others are
        held: their state comes back as it went in, with no spike and an output of 0 (a
        rollout's slots whose episodes have ended, whose actions nobody reads).

        ``donate``: the caller gives ``state`` up (neither it nor a view of its tensors is
        read after this call). When it is the state this step returned last, the new state is
        then written over it (and the same object returned): the step streams one copy of the
        fast weights instead of two, 17-25% of the network's time on the ES hot path
        (``results/benchmarks/donate/``). The values are the same either way."""
        P = self.size
        if x.dim() != 3 or x.shape[0] != P or x.shape[2] != self.module.n_in:
            raise ValueError(f"expected input [{P}, B, {self.module.n_in}], got {list(x.shape)}")
        B = x.shape[1]
        if x.dtype != torch.float32 or x.device.type != "cpu":
            raise ValueError(f"expected a float32 CPU input, got {x.dtype} on {x.device}")
        order = None
        if active is not None:
            mask = np.asarray(active, dtype=bool)
            if mask.shape != (P, B):
                raise ValueError(f"expected active slots [{P}, {B}], got {list(mask.shape)}")
            if not mask.all():
                flat = mask.reshape(-1)
                run = np.flatnonzero(flat)
                order = (np.concatenate([run, np.flatnonzero(~flat)]).astype(np.int64), len(run))
        with self._lock:  # the packed pointers and the scratch serve one call at a time
            return self._call(params, x, state, B, order, donate)

    def _call(
        self,
        params: dict[str, Tensor],
        x: Tensor,
        state: Any,
        B: int,
        order: Any = None,
        donate: bool = False,
    ) -> tuple:
        from plasticagents.networks import LayerState, SNNState
        from plasticagents.neurons import LIFState, LIState
        from plasticagents.plasticity import PlasticState

        P, N, n_out, n_pre = self.size, self.N, self.n_out, self.n_pre
        last = self._last
        cached = last is not None and state is last[0] and B == last[2]
        if cached:
            # the previous call's outputs: shapes, layouts and addresses known
            inputs, in_ptrs = last[1], last[3]
        else:
            with torch.no_grad():  # (a state's reorder to the C layout records no graph)
                inputs = self._inputs(state, x)
            in_ptrs = [t.data_ptr() for t in inputs]
        weights = self._layout(params)
        args = self._args
        if self._args_params is not weights:
            # the 13 parameter arrays after x, the abcd coefficients after scratch
            for k, t in zip((*range(1, 14), *range(33, 37)), weights, strict=True):
                args[k] = t.data_ptr()
            self._args_params = weights
        # donated: the state this step returned last, given up by the caller, is updated in
        # place, every array of it (the C step reads each value before it writes it), and
        # comes back as the same object; only the outputs are new memory. Otherwise a new
        # state: the fast weights and a block holding the small arrays and the outputs
        in_place = donate and cached
        if in_place:
            out = torch.empty(P, B, n_out, dtype=torch.float32)
            out_ptrs = [*in_ptrs, last[4], out.data_ptr()]
        else:
            hebb = (
                self._nothing if self.static else torch.empty(P, B, N, self.R, dtype=self.storage)
            )
            layout = self._views.get(B)
            if layout is None:  # each small output's [P, B, n] place in one block
                views, offset = [], 0
                for n in (N, N, N, n_pre, N, n_out, n_out, N, n_out):
                    views.append(((P, B, n), (B * n, n, 1), offset))  # size, stride, offset
                    offset += P * B * n
                layout = self._views[B] = (offset, views)
            total, views = layout
            block = torch.empty(total, dtype=torch.float32)  # the small outputs
            outs = [hebb, *(block.as_strided(*view) for view in views)]  # one call each
            base = block.data_ptr()
            out_ptrs = [hebb.data_ptr(), *(base + 4 * view[2] for view in views)]  # float32
        width = 2 * n_pre + 5 * N + n_out + self.K
        if self._scratch.numel() < P * B * width:
            self._scratch = torch.empty(P * B * width, dtype=torch.float32)
        dims = self._dims.get((B, x.shape[2]))
        if dims is None:
            eta = weights[4]
            dims = self._dims[(B, x.shape[2])] = _Dims(
                P=P,
                B=B,
                D=x.shape[2],
                E=eta.shape[1] if eta.dim() == 2 else N * self.R,
                **self.dims,
            )
        dims.n_threads = max(1, self.threads or torch.get_num_threads())
        x = x.contiguous()
        args[0] = x.data_ptr()
        args[14:32] = [*in_ptrs, *out_ptrs]
        args[32] = self._scratch.data_ptr()
        if order is None:
            dims.order, dims.n_run = None, P * B
        else:  # the slots run first, then the held ones (``order`` lives through the call)
            dims.order, dims.n_run = order[0].ctypes.data, order[1]
        if self._step(ctypes.byref(dims), args, self._half) != 0:
            raise RuntimeError("this build of the native step has no float16 storage")
        if in_place:
            return out, state
        hebb, v, i, z, pre_tr, post_tr, ro_v, ro_i, spikes, out = outs
        new = SNNState(
            LayerState(
                LIFState(v, i), z, pre_tr, post_tr, None if self.static else PlasticState(hebb.mT)
            ),
            LIState(ro_v, ro_i),
            spikes,
        )
        # (the spikes' address: a donated call writes them in place too)
        self._last = (new, outs[:8], B, out_ptrs[:8], out_ptrs[8])
        return out, new
