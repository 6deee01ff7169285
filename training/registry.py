"""The one list of trainer kinds: ``trainer.kind`` -> its config schema, adapter and family.

Everything that depends on the kind (the config loader picking a schema, ``train`` picking an
adapter, ``load_policy`` rebuilding a checkpoint's model, ``--resume`` knowing which key may
grow, the CLI telling policies from classifiers) reads this table; nothing else branches on
the kind. Adapters are imported lazily (SB3, optuna and scikit-learn load slowly).

To add a trainer: write its config dataclass in :mod:`~plasticagents.training.config`, an
adapter module in ``trainers/`` with a ``Trainer`` class (see :mod:`~plasticagents.training.loop`)
and a ``load_model(cfg, policy)`` function, and add one :class:`TrainerKind` here.

Example:
    >>> TRAINERS["es"].family, TRAINERS["es"].longer
    ('policy', 'generations')
    >>> sorted(kinds("classifier"))
    ['classify', 'esn', 'linear_ar', 'stdp']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from plasticagents.training import config as _config

__all__ = ["TRAINERS", "TrainerKind", "adapter", "kinds", "lookup"]


@dataclass(frozen=True)
class TrainerKind:
    """One trainer: ``config`` is its ``trainer`` section's schema, ``family`` what it trains
    (``policy``: an agent acting in an env; ``classifier``: a model of a data set), ``module``
    its adapter, ``longer`` the ``trainer.<key>`` that ``--resume`` may raise to train longer."""

    kind: str
    config: type
    family: str
    module: str
    longer: str


TRAINERS: dict[str, TrainerKind] = {
    t.kind: t
    for t in (
        TrainerKind("es", _config.ESConfig, "policy", "es", "generations"),
        TrainerKind("bptt", _config.BPTTConfig, "policy", "bptt", "iterations"),
        TrainerKind("ppo", _config.PPOConfig, "policy", "ppo", "total_timesteps"),
        TrainerKind(
            "recurrent_ppo",
            _config.RecurrentPPOConfig,
            "policy",
            "recurrent_ppo",
            "total_timesteps",
        ),
        TrainerKind("lstm_ppo", _config.LSTMPPOConfig, "policy", "lstm_ppo", "total_timesteps"),
        TrainerKind("classify", _config.ClassifyConfig, "classifier", "classify", "epochs"),
        TrainerKind("stdp", _config.StdpConfig, "classifier", "stdp", "epochs"),
        # closed-form prediction baselines: nothing trains longer, and a --resume may only
        # change how often they checkpoint
        TrainerKind("esn", _config.EsnConfig, "classifier", "esn", "checkpoint_every"),
        TrainerKind(
            "linear_ar", _config.LinearArConfig, "classifier", "linear_ar", "checkpoint_every"
        ),
    )
}


def lookup(kind: str) -> TrainerKind:
    """The entry of ``kind``; a :class:`~plasticagents.training.config.ConfigError` naming the
    valid kinds otherwise."""
    if kind not in TRAINERS:
        raise _config.ConfigError(
            f"trainer.kind: invalid value {kind!r}; valid choices: {list(TRAINERS)}"
        )
    return TRAINERS[kind]


def kinds(family: str) -> dict[str, type]:
    """``{kind: config class}`` of the trainers of one family."""
    return {k: t.config for k, t in TRAINERS.items() if t.family == family}


def adapter(kind: str) -> ModuleType:
    """The adapter module of ``kind`` (imported on first use)."""
    return importlib.import_module(f"plasticagents.training.trainers.{lookup(kind).module}")
