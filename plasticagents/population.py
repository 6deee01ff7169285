"""The population axis: P parameter sets of one module evaluated in one call.

:class:`Population` keeps, for each *varying* parameter of a template module, a tensor
``[P, *shape]``; every other parameter and buffer is shared and broadcast without copies.
A call runs the template's ``forward`` under ``torch.func.vmap`` over the population axis, so
P individuals cost one batched kernel launch per operation instead of a Python loop.
States and inputs carry the population axis first: ``x: [P, B, ...]``.

ES flattens each individual to one vector: ``to_vectors() -> [P, D]`` and
``load_vectors([P, D])`` (views, except the parameters a post-major population copies), with
the order of ``module.named_parameters()``.

Example:
    >>> from plasticagents.networks import MLPPolicy
    >>> pop = Population(MLPPolicy(3, 2, hidden=(8,)), size=5)
    >>> pop.load_vectors(torch.randn(5, pop.num_params))
    >>> y, _ = pop(torch.zeros(5, 4, 3), ())
    >>> y.shape
    torch.Size([5, 4, 2])
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from plasticagents.plasticity import post_major, post_major_state
from plasticagents.state import map_state

__all__ = ["Population", "parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(module: nn.Module, names: Iterable[str] | None = None) -> Tensor:
    """Concatenate the named (default: trainable) parameters of ``module`` into ``[D]``."""
    params = dict(module.named_parameters())
    names = list(names) if names is not None else [n for n, p in params.items() if p.requires_grad]
    return torch.cat([params[n].detach().reshape(-1) for n in names])


def vector_to_parameters(
    vector: Tensor, module: nn.Module, names: Iterable[str] | None = None
) -> None:
    """Copy ``vector: [D]`` into the named (default: trainable) parameters of ``module``."""
    params = dict(module.named_parameters())
    names = list(names) if names is not None else [n for n, p in params.items() if p.requires_grad]
    total = sum(params[n].numel() for n in names)
    if vector.shape != (total,):
        raise ValueError(
            f"expected a parameter vector of shape [{total}], got {list(vector.shape)}"
        )
    offset = 0
    with torch.no_grad():
        for n in names:
            p = params[n]
            p.copy_(vector[offset : offset + p.numel()].view_as(p))
            offset += p.numel()


class Population:
    """P individuals sharing one module's structure.

    Args:
        module: the template; its parameters are the initial value of every individual.
        size: number of individuals ``P``.
        names: which parameters vary per individual (default: all with ``requires_grad``);
            the rest stay shared.
        compile: run the vectorised step through ``torch.compile``, which fuses the
            elementwise passes over the ``[P, B, I, N]`` fast weights (about 9x faster for
            P=64, N=128 on 2 CPU cores, after ~20 s of compilation; see benchmarks/).
        post_major: store the plastic layers' fast weights (``hebb``, ``elig``) and the
            ``[I, N]`` parameters read with them (``raw``, ``alpha``; see
            ``post_major_parameters``) post-major, ``I`` contiguous per neuron
            (:func:`~plasticagents.plasticity.post_major`), which shortens the compiled
            step (1.1-1.5x on 2 CPU cores, more where the fast weights stay in cache). Same
            shapes and values; ``None`` (default): when ``compile`` or ``native``.
        native: run :class:`~plasticagents.PlasticSNN` steps through the hand-written C step
            of :mod:`plasticagents.native` (each individual's synapses kept in cache for all
            its simulation steps; 1.4x faster than the compiled step for P=64, N=128 on 2
            cores, median of 3 ``bench_population.py`` runs), where it covers the network;
            otherwise (or without a C compiler) the population warns once, names the reason
            and runs the torch step.
        threads: the C step's threads per call (default: ``torch.get_num_threads()`` at each
            call); a population stepped in one of several concurrent threads (ES lanes) sets
            its share of the cores.

    Calls run without an autograd graph (evaluation for ES); train a single module by gradient.
    """

    def __init__(
        self,
        module: nn.Module,
        size: int,
        names: Iterable[str] | None = None,
        compile: bool = False,
        post_major: bool | None = None,
        native: bool = False,
        threads: int | None = None,
    ) -> None:
        if not (isinstance(size, int) and size >= 1):
            raise ValueError(f"population size must be a positive int, got {size!r}")
        if threads is not None and not (isinstance(threads, int) and threads >= 1):
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        params = dict(module.named_parameters())
        self.names = (
            list(names) if names is not None else [n for n, p in params.items() if p.requires_grad]
        )
        unknown = [n for n in self.names if n not in params]
        if unknown:
            raise ValueError(f"unknown parameter names {unknown}; valid choices: {list(params)}")
        self.module, self.size, self.compile = module, size, compile
        self._batched: dict[Any, Any] = {}
        self.shapes = [params[n].shape for n in self.names]
        self.num_params = sum(params[n].numel() for n in self.names)
        self._native: Any = None
        if native:
            from plasticagents.native import NativeSNNStep

            try:
                self._native = NativeSNNStep(module, size, threads)
            except (ValueError, RuntimeError) as err:
                warnings.warn(
                    f"{err}; this population runs the "
                    f"{'compiled' if compile else 'eager'} torch step",
                    RuntimeWarning,
                    stacklevel=2,
                )
        self.native = self._native is not None
        self.post_major = (compile or self.native) if post_major is None else bool(post_major)
        self._post_major_names: set[str] = set()
        if self.post_major:
            for prefix, sub in module.named_modules():
                listed = getattr(sub, "post_major_parameters", None)
                if callable(listed):
                    full = (f"{prefix}.{n}" if prefix else n for n in listed())
                    self._post_major_names.update(n for n in full if n in self.names)
        self.params: dict[str, Tensor] = {
            n: self._layout(
                n, params[n].detach().unsqueeze(0).repeat(size, *([1] * params[n].dim()))
            )
            for n in self.names
        }

    def _layout(self, name: str, value: Tensor) -> Tensor:
        return post_major(value) if name in self._post_major_names else value

    def _single(self, params: dict[str, Tensor], x: Any, state: Any) -> Any:
        return functional_call(self.module, params, (x, state))

    def to_vectors(self) -> Tensor:
        """All individuals as ``[P, D]``."""
        return torch.cat([self.params[n].reshape(self.size, -1) for n in self.names], dim=1)

    def load_vectors(self, vectors: Tensor) -> None:
        """Set every individual from ``vectors: [P, D]`` (views into ``vectors``; the
        post-major parameters are copied)."""
        if vectors.dim() != 2 or vectors.shape != (self.size, self.num_params):
            raise ValueError(
                f"expected population vectors of shape [{self.size}, {self.num_params}], "
                f"got {list(vectors.shape)}"
            )
        # a plain tensor view: tensor subclasses (evotorch's read-only values) break the
        # compiled step's batched matmuls, which then fell back to eager
        vectors = vectors.as_subclass(Tensor)
        offset = 0
        for n, shape in zip(self.names, self.shapes, strict=True):
            k = shape.numel()
            self.params[n] = self._layout(
                n, vectors[:, offset : offset + k].reshape(self.size, *shape)
            )
            offset += k

    def individual(self, index: int) -> nn.Module:
        """A standalone copy of the template holding individual ``index``'s parameters."""
        if not -self.size <= index < self.size:
            raise IndexError(f"individual {index} out of range for a population of {self.size}")
        clone = copy.deepcopy(self.module)
        vector_to_parameters(self.to_vectors()[index], clone, self.names)
        return clone

    def initial_state(self, batch: int) -> Any:
        """The template's initial state with batch axes ``(P, batch)`` (fast weights
        post-major when ``post_major``)."""
        state = self.module.initial_state((self.size, batch))
        return post_major_state(state) if self._post_major_names else state

    def __call__(self, x: Tensor, state: Any, active: Any = None, donate: bool = False) -> Any:
        """Evaluate every individual: ``x: [P, ...]``, ``state`` leaves ``[P, ...]``.

        ``active`` (``[P, B]`` bool, optional) names the slots whose outputs will be read; the
        native step holds the others (state unchanged, output 0) instead of running them, the
        torch paths run every slot. Either way an active slot's output and state are the
        same.

        ``donate``: the caller will not read ``state`` again (nor any view of its tensors);
        the native step may then write the new fast weights over it (see
        :class:`~plasticagents.native.NativeSNNStep`). The torch paths never write a state."""
        if x.shape[0] != self.size:
            raise ValueError(
                f"population input must have leading axis {self.size}, got {list(x.shape)}"
            )
        if self._native is not None:
            return self._native(self.params, x, state, active, donate)
        # None leaves (unused state fields) are neither batched nor returned batched.
        state_dims = map_state(lambda _: 0, state)
        key = repr(state_dims)
        if key not in self._batched:
            fn = vmap(
                self._single,
                in_dims=(0, 0, state_dims),
                out_dims=(0, state_dims),
                randomness="error",
            )
            # emulate_precision_casts: Inductor otherwise keeps a fused kernel's values in
            # float32 across a cast to half and back, skipping the rounding that float16
            # storage (PlasticitySpec.storage) means; the eager step rounds
            compiled = (
                torch.compile(fn, dynamic=False, options={"emulate_precision_casts": True})
                if self.compile
                else None
            )
            self._batched[key] = (fn, compiled)
        eager, compiled = self._batched[key]
        with torch.no_grad():
            if compiled is None:
                return eager(self.params, x, state)
            try:
                return compiled(self.params, x, state)
            except Exception as err:  # no C++ compiler, unsupported platform, ...
                warnings.warn(
                    f"torch.compile failed ({type(err).__name__}: {str(err)[:200]}); "
                    "this population runs eagerly (correct, slower)",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self._batched[key] = (eager, None)
                return eager(self.params, x, state)
