"""The linear autoregressive baseline for prediction (``trainer.kind: linear_ar``).

The features at step ``t`` are the last ``p`` inputs of every channel
(:func:`~plasticagents.training.prediction.ar_features`); the shared ridge readout is fitted
for every ``p`` in ``trainer.orders`` and the ``p`` and penalty with the lowest validation
NRMSE are kept. ``result.json``: ``nrmse`` (test), ``val_nrmse``, ``train_nrmse``,
``readout_alpha``, ``order``.
"""

from __future__ import annotations

from typing import Any

from plasticagents.training.prediction import ClosedFormTrainer, ar_features, ridge_readout

__all__ = ["Trainer", "load_model"]


class Trainer(ClosedFormTrainer):
    """Fits the AR readout of every order in one loop step (see the module docstring)."""

    name = "linear_ar"

    def fit(self) -> dict[str, Any]:
        fits = [
            {**ridge_readout(ar_features(self.series, p), self.series), "order": p}
            for p in self.t.orders
        ]
        return min(fits, key=lambda f: f["val_nrmse"])


def load_model(cfg: Any, policy: dict[str, Any]) -> tuple[Any, None]:
    """Not supported: a prediction run is scored when it trains (its ``result.json``).

    Raises:
        ValueError: always.
    """
    raise ValueError("a linear_ar run is scored when it trains: read its result.json")
