"""One entry point for every trainer: ``trainer.kind`` -> the function that trains it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from plasticagents.training.config import ConfigError
from plasticagents.training.run import RunDir

__all__ = ["TRAIN_FUNCTIONS", "train"]

# trainer.kind -> (module, function); imported lazily (SB3, optuna, sklearn load slowly)
TRAIN_FUNCTIONS: dict[str, tuple[str, str]] = {
    "es": ("plasticagents.training.es", "train_es"),
    "bptt": ("plasticagents.training.bptt", "train_bptt"),
    "ppo": ("plasticagents.training.ppo", "train_ppo"),
    "recurrent_ppo": ("plasticagents.training.recurrent_ppo", "train_recurrent_ppo"),
    "classify": ("plasticagents.training.classify", "train_classify"),
    "stdp": ("plasticagents.training.hrsnn", "train_stdp"),
}


def train(
    cfg: Any,
    run: RunDir,
    resume: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    tensorboard: bool = True,
) -> dict[str, Any]:
    """Train ``cfg`` into ``run`` with the trainer ``cfg.trainer.kind`` names (resuming from
    a ``latest`` checkpoint dict when given); returns what that trainer returns."""
    kind = cfg.trainer.kind
    if kind not in TRAIN_FUNCTIONS:
        raise ConfigError(f"unknown trainer.kind {kind!r}; valid choices: {list(TRAIN_FUNCTIONS)}")
    module, name = TRAIN_FUNCTIONS[kind]
    fn = getattr(importlib.import_module(module), name)
    kwargs: dict[str, Any] = {"resume": resume, "log": log}
    if kind != "stdp":
        kwargs["tensorboard"] = tensorboard
    return fn(cfg, run, **kwargs)
