"""Training, evaluation and analysis of plastic spiking agents: the Python API.

The functions users' scripts call (the ``plasticagents`` command line is one client of them)::

    from plasticagents.training import evaluate, load_config, robustness, train, view

    cfg = load_config("configs/smoke/es.yaml", ["trainer.generations=2", "seed=3"])
    result = train(cfg, runs_dir="runs")          # -> TrainResult(run=Path(...), best=..., ...)
    returns = evaluate(result.run, episodes=5)    # numpy array of episode returns

- :func:`load_config` (path + ``--set``-style overrides) -> a validated config object;
- :func:`train` (a config, or ``resume=RUN``) -> :class:`TrainResult`;
- :func:`evaluate`, :func:`robustness`, :func:`view` on a run directory;
- :func:`adaptation`: arms x seeds around a mid-episode change (the adaptation experiment).

Modules: ``config`` (schema), ``registry`` (trainer kinds), ``loop`` (the trainer loop),
``checkpoint`` (the safe format), ``rollout`` (the environment-stepping engine), ``trainers/``
(es, bptt, ppo, recurrent_ppo, lstm_ppo, classify, stdp adapters), ``classification``
(data, encoders, testing), ``analysis/`` (``evaluate``, ``robustness``, ``viewer``, ``sweep``,
``bayesopt``, ``plots``) and ``cli``. Heavy dependencies load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plasticagents.training.api import (
        TrainResult,
        adaptation,
        evaluate,
        robustness,
        train,
        view,
    )
    from plasticagents.training.checkpoint import Checkpoint, CheckpointError
    from plasticagents.training.config import ConfigError, load_config

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ConfigError",
    "TrainResult",
    "adaptation",
    "evaluate",
    "load_config",
    "robustness",
    "train",
    "view",
]

_HOMES = {
    "TrainResult": "api",
    "adaptation": "api",
    "evaluate": "api",
    "robustness": "api",
    "train": "api",
    "view": "api",
    "Checkpoint": "checkpoint",
    "CheckpointError": "checkpoint",
    "ConfigError": "config",
    "load_config": "config",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"plasticagents.training.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'plasticagents.training' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
