"""The echo state network baseline for prediction (``trainer.kind: esn``).

reservoirpy's ``Reservoir`` (``model.hidden[0]`` leaky tanh units; the leak rate, spectral
radius, input scaling and connectivities of the ``trainer`` section, by default the values of
reservoirpy's Mackey-Glass tutorial) runs over the whole z-scored input series; the shared
prediction readout (:func:`~plasticagents.training.prediction.ridge_readout`: ridge penalty
chosen on the validation split, the same grid as the spiking reservoirs') is fitted on its
states, and its linear memory capacity is measured on an i.i.d. drive
(:func:`~plasticagents.training.prediction.esn_memory`). ``result.json``: ``nrmse`` (test),
``val_nrmse``, ``train_nrmse``, ``readout_alpha``, ``memory_capacity``; no spikes, so no E.
"""

from __future__ import annotations

from typing import Any

from plasticagents.training.prediction import (
    ClosedFormTrainer,
    esn_memory,
    esn_states,
    ridge_readout,
)

__all__ = ["Trainer", "load_model"]


class Trainer(ClosedFormTrainer):
    """Fits the ESN's readout in one loop step (see the module docstring)."""

    name = "esn"

    def fit(self) -> dict[str, Any]:
        units = self.cfg.model.hidden[0]
        return ridge_readout(esn_states(self.series, units, self.t, self.cfg.seed), self.series)

    def report(self) -> dict[str, Any]:
        units, n_in = self.cfg.model.hidden[0], self.series.n_channels
        return {"memory_capacity": esn_memory(units, n_in, self.t, self.cfg.seed)}


def load_model(cfg: Any, policy: dict[str, Any]) -> tuple[Any, None]:
    """Not supported: a prediction run is scored when it trains (its ``result.json``).

    Raises:
        ValueError: always.
    """
    raise ValueError("an esn run is scored when it trains: read its result.json")
