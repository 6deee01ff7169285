"""Plasticity ablations: the instruments that say whether plasticity does the adapting.

An agent adapts through its fast weights when removing their change at the moment the world
changes costs it reward. Three ablations of a plastic agent, applied per environment slot:

``freeze-at-onset``  from the onset on, the fast weights (``hebb``, eligibility traces, BCM
                     thresholds) keep the values they had at the onset: the update rates are
                     zero, what was learnt before stays.
``lesion``           the fast weights never leave their initial values in the whole episode
                     (the network still runs its slow weights ``W`` and its traces).
``reset-at-onset``   at the onset every plastic variable (fast weights and STDP traces) goes
                     back to its initial value; plasticity then runs on from there.

"Onset" is the step at which the environment reports that a perturbation became active or
the goal switched (the rollout engine tells the agent through :meth:`AblatedAgent.
observe_onsets`); the ablation acts on the state the agent carries into the next step, so an
ablated run equals the intact one step for step up to and including the onset step.

Example:
    >>> import numpy as np
    >>> from plasticagents import Agent, PlasticitySpec, PlasticSNN
    >>> net = PlasticSNN(3, 2, hidden=8, plasticity=PlasticitySpec("hebbian"))
    >>> agent = AblatedAgent(Agent(net), "lesion")
    >>> _, state = agent.predict(np.ones((2, 3), np.float32))
    >>> _, state = agent.predict(np.ones((2, 3), np.float32), state)
    >>> float(plastic_state(state).hebb.abs().sum())  # never moved
    0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plasticagents.plasticity import PlasticState

__all__ = ["ABLATIONS", "AblatedAgent", "plastic_state", "with_plastic_state"]

ABLATIONS = ("freeze-at-onset", "lesion", "reset-at-onset")
_WEIGHTS = ("hebb", "elig", "theta")  # what "fast weights" means for freeze and lesion


def plastic_state(state: Any) -> PlasticState | None:
    """The :class:`~plasticagents.plasticity.PlasticState` inside an agent's state (a
    :class:`~plasticagents.networks.SNNState`), or ``None`` for a network without one."""
    layer = getattr(state, "layer", None)
    return getattr(layer, "plastic", None)


def with_plastic_state(state: Any, plastic: PlasticState) -> Any:
    """``state`` with its plastic part replaced (a new NamedTuple; nothing is modified)."""
    return state._replace(layer=state.layer._replace(plastic=plastic))


def _where(mask: torch.Tensor, new: torch.Tensor | None, old: torch.Tensor | None):
    if new is None or old is None:
        return old
    m = mask.reshape(mask.shape + (1,) * (old.dim() - mask.dim()))
    return torch.where(m, new, old)


class AblatedAgent:
    """An agent (predict protocol) whose plasticity is ablated as ``mode`` says.

    Args:
        agent: the plastic agent (e.g. :class:`~plasticagents.Agent` around a plastic
            :class:`~plasticagents.PlasticSNN`); its state must hold fast weights.
        mode: one of :data:`ABLATIONS`.

    Raises ``ValueError`` for an unknown mode or an agent without plasticity.
    """

    def __init__(self, agent: Any, mode: str) -> None:
        if mode not in ABLATIONS:
            raise ValueError(f"unknown ablation {mode!r}; valid choices: {list(ABLATIONS)}")
        if plastic_state(agent.initial_state(1)) is None:
            raise ValueError(
                f"ablation {mode!r} needs a plastic agent; this agent's network has no fast "
                "weights (a static SNN, an MLP, an SB3 policy, or an LSTM, whose memory is "
                "its activations)"
            )
        if getattr(agent, "population", False):
            raise ValueError("ablations act on one policy's episodes, not on an ES population")
        self.agent, self.mode = agent, mode
        self.policy = agent.policy
        self.population = False
        self._pending: np.ndarray | None = None  # onsets reported, not yet acted on
        self._frozen: PlasticState | None = None  # freeze-at-onset: the values kept
        self._is_frozen: torch.Tensor | None = None  # [B] bool

    def initial_state(self, batch: int) -> Any:
        return self.agent.initial_state(batch)

    def observe_onsets(self, onsets: np.ndarray) -> None:
        """Slots (``[B]`` bool) whose environment just reported an onset."""
        self._pending = np.asarray(onsets, dtype=bool)

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        if state is None:  # new episodes from scratch: nothing is frozen yet
            self._frozen = self._is_frozen = None
            pending = self._pending
            if self.mode == "freeze-at-onset" and pending is not None and pending.any():
                # an onset reported by the reset itself (active from step 0): hold the
                # initial values from the first step on
                rows = torch.as_tensor(pending.reshape(-1).copy())
                self._frozen = plastic_state(self.agent.initial_state(len(rows)))
                self._is_frozen = rows
        else:
            state = self._ablate(state, episode_start)
        self._pending = None
        action, state = self.agent.predict(obs, state, episode_start, deterministic)
        if self.mode == "lesion" or (self.mode == "freeze-at-onset" and self._frozen is not None):
            # the step's own update happened inside the network; undo it before anyone reads it
            state = self._ablate(state, None, after_step=True)
        return action, state

    def _ablate(self, state: Any, episode_start, after_step: bool = False) -> Any:
        plastic = plastic_state(state)
        batch = plastic.hebb.shape[0]
        initial = plastic_state(self.agent.initial_state(batch))
        if self.mode == "lesion":
            return with_plastic_state(state, _replace(plastic, initial, _WEIGHTS, None))
        onset = torch.zeros(batch, dtype=torch.bool)
        if self._pending is not None and not after_step:
            onset = torch.as_tensor(self._pending.reshape(-1)[:batch])
        if episode_start is not None and self._is_frozen is not None and not after_step:
            self._is_frozen &= ~torch.as_tensor(np.asarray(episode_start).reshape(-1))
        if self.mode == "reset-at-onset":
            if not bool(onset.any()):
                return state
            return with_plastic_state(state, _replace(plastic, initial, plastic._fields, onset))
        # freeze-at-onset: remember the values at the onset, then hold them
        if bool(onset.any()):
            if self._frozen is None:
                self._frozen, self._is_frozen = plastic, onset.clone()
            else:
                self._frozen = _replace(self._frozen, plastic, _WEIGHTS, onset)
                self._is_frozen |= onset
        if self._frozen is None or not bool(self._is_frozen.any()):
            return state
        return with_plastic_state(state, _replace(plastic, self._frozen, _WEIGHTS, self._is_frozen))


def _replace(
    plastic: PlasticState, source: PlasticState, fields, mask: torch.Tensor | None
) -> PlasticState:
    """``plastic`` with ``fields`` taken from ``source`` (for the ``mask`` rows, or all)."""
    out = {}
    for name in plastic._fields:
        mine, theirs = getattr(plastic, name), getattr(source, name)
        if name not in fields or mine is None or theirs is None:
            out[name] = mine
        elif mask is None:
            out[name] = theirs.expand_as(mine)
        else:
            out[name] = _where(mask, theirs, mine)
    return PlasticState(**out)
