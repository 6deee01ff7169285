"""The agent protocol every trainer, evaluator and viewer uses.

An agent exposes stable-baselines3's ``PolicyPredictor`` signature::

    action, state = agent.predict(obs, state=None, episode_start=None, deterministic=False)

plus ``initial_state(batch)``. ``obs`` is a NumPy array ``[B, obs_dim]`` (or ``[obs_dim]`` for
one environment, or ``[P, B, obs_dim]`` when the agent wraps a :class:`Population`); actions
come back as NumPy, rescaled from the network's ``[-1, 1]`` to the action bounds. The state is
the network's recurrent state (neurons, traces, fast weights); rows flagged in
``episode_start`` are reset before the step, so a vectorised rollout needs no other bookkeeping.
A rollout may also call ``observe_active(mask)`` before a step to name the slots whose actions
it will read (a population's native step then holds the rest: the episodes that have ended),
and ``donate_state()`` to give up the state it passes next (a population's native step then
updates its fast weights in place).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from torch import nn

from plasticagents.population import Population
from plasticagents.state import reset_where, resolve_device

__all__ = ["Agent"]


def _not_finite(x: torch.Tensor) -> None:
    bad = torch.nonzero(~torch.isfinite(x)).tolist()[:5]
    raise ValueError(f"observation contains NaN or inf at indices {bad} (first 5 shown)")


class Agent:
    """Wraps a policy network (or a population of them) in the predict protocol.

    Args:
        policy: a module with ``forward(x, state) -> (action in [-1, 1], state)`` and
            ``initial_state(batch)`` (e.g. :class:`~plasticagents.PlasticSNN`,
            :class:`~plasticagents.MLPPolicy`), or a :class:`Population` of one.
        action_low, action_high: finite action bounds (scalars or ``[act_dim]``).
        noise_std: std of Gaussian exploration noise (in ``[-1, 1]`` units) added when
            ``deterministic=False``; the networks themselves are deterministic.
        seed: seeds the exploration noise.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.

    Example:
        >>> from plasticagents import PlasticSNN
        >>> agent = Agent(PlasticSNN(3, 2, hidden=8), action_low=-2.0, action_high=2.0)
        >>> action, state = agent.predict(np.zeros((4, 3), dtype=np.float32))
        >>> action.shape
        (4, 2)
    """

    def __init__(
        self,
        policy: nn.Module | Population,
        action_low: float | np.ndarray = -1.0,
        action_high: float | np.ndarray = 1.0,
        noise_std: float = 0.0,
        seed: int | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.policy = policy
        self.module = policy.module if isinstance(policy, Population) else policy
        self.device = resolve_device(device)
        low = np.array(action_low, dtype=np.float32)  # a copy: bounds may be read-only views
        high = np.array(action_high, dtype=np.float32)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
            raise ValueError(
                f"action bounds must be finite with high > low, got low={low}, high={high}"
            )
        self._low = torch.as_tensor(low, device=self.device)
        self._half_range = torch.as_tensor((high - low) / 2, device=self.device)
        # on the CPU the action is scaled in NumPy, on the bounds' own memory (the same float
        # operations as torch's, with less dispatch per call)
        cpu = self.device.type == "cpu"
        self._bounds_np = (self._low.numpy(), self._half_range.numpy()) if cpu else None
        if noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std!r}")
        self.noise_std = noise_std
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed if seed is not None else torch.seed())
        self.obs_dim = self.module.n_in
        self.population = isinstance(policy, Population)
        self._active: np.ndarray | None = None  # observe_active's slots, for the next predict
        self._donated = False  # donate_state: for the next predict

    def observe_active(self, active: np.ndarray) -> None:
        """The slots (``[P, B]`` bool) whose actions the next :meth:`predict` call's caller
        will read; a population's native step holds the others instead of running them (a
        rollout's ended episodes). Applies to that one call."""
        self._active = np.asarray(active, dtype=bool)

    def donate_state(self) -> None:
        """The caller gives up the state it passes to the next :meth:`predict` call: neither
        that state nor any view of its tensors is read after the call (a rollout's loop, which
        keeps only the state each step returns). A population's native step may then write
        the new state over the old one instead of into new memory: the same values, 17-25%
        less time in the network's C step on the ES hot path (``results/benchmarks/donate/``).
        Applies to that one call."""
        self._donated = True

    def initial_state(self, batch: int) -> Any:
        """Fresh recurrent state for ``batch`` environments (per individual for a population)."""
        return (
            self.policy.initial_state(batch)
            if self.population
            else self.module.initial_state(batch)
        )

    def _check_obs(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        if (
            self._bounds_np is not None  # on the CPU
            and type(obs) is np.ndarray
            and obs.dtype == np.float32
            and obs.ndim == (3 if self.population else 2)
            and obs.shape[-1] == self.obs_dim
            and obs.flags.c_contiguous
            and obs.flags.writeable
        ):
            # the ES hot path (a normaliser's float32 rows): checked in NumPy and shared with
            # torch as it is, a few calls where torch.as_tensor and the checks below take more
            x = torch.from_numpy(obs)
            if not np.isfinite(obs).all():
                _not_finite(x)
            return x
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        valid_dims = (3,) if self.population else (1, 2)
        if x.shape[-1:] != (self.obs_dim,) or x.dim() not in valid_dims:
            layout = "[P, B, obs_dim]" if self.population else "[B, obs_dim] or [obs_dim]"
            raise ValueError(
                f"observation must be {layout} with obs_dim={self.obs_dim}, got {list(x.shape)}"
            )
        # of the float32 values the network gets (a finite float64 may overflow to inf); NumPy's
        # check on a CPU tensor's own memory, cheaper than torch's reduction on the ES hot path
        cpu = x.device.type == "cpu"
        finite = np.isfinite(x.detach().numpy()).all() if cpu else torch.isfinite(x).all()
        if not bool(finite):
            _not_finite(x)
        return x

    def predict(
        self,
        obs: np.ndarray | torch.Tensor,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """One action per environment (and individual); see the module docstring."""
        active, self._active = self._active, None  # for this call only, even if it raises
        donated, self._donated = self._donated, False
        x = self._check_obs(obs)
        single = not self.population and x.dim() == 1
        if single:
            x = x.unsqueeze(0)
        batch = x.shape[1] if self.population else x.shape[0]
        if state is None:
            state = self.initial_state(batch)
        elif episode_start is not None and np.any(episode_start):
            # Build a fresh state (it holds the [.., I, N] fast weights) only when a row restarts.
            mask = torch.as_tensor(np.asarray(episode_start), device=self.device).bool()
            state = reset_where(state, mask.reshape(x.shape[:-1]), self.initial_state(batch))
        # a population's native C step builds no autograd graph: no no_grad context to enter
        native = self.population and self.policy.native
        with contextlib.nullcontext() if native else torch.no_grad():
            if self.population:
                a, state = self.policy(x, state, active=active, donate=donated)
            else:
                a, state = self.policy(x, state)
            if not deterministic and self.noise_std > 0:
                noise = torch.randn(a.shape, generator=self.generator, device=a.device)
                a = (a + self.noise_std * noise).clamp(-1.0, 1.0)
        if self._bounds_np is not None and a.dtype == torch.float32 and a.device.type == "cpu":
            low, half = self._bounds_np
            action = low + (a.detach().numpy() + np.float32(1.0)) * half
        else:
            with torch.no_grad():
                action = (self._low + (a + 1.0) * self._half_range).cpu().numpy()
        return (action[0] if single else action), state
