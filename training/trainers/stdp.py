"""Unsupervised STDP reservoir + linear readout: the HRSNN setting (``trainer.kind: stdp``).

1. Build :class:`~plasticagents.reservoir.STDPReservoir` from ``model`` (size, recurrent
   sparsity, membrane time-constant distribution, E:I ratio) and ``trainer`` (STDP amplitudes,
   time constants and their heterogeneity ``stdp_spread``).
2. Run the training inputs through it for ``trainer.epochs`` passes with STDP on (no labels);
   the ``latest`` checkpoint after every pass, so ``--resume`` loses at most one pass.
3. Freeze it; fit a ridge-regression readout (scikit-learn ``RidgeClassifierCV``) on the
   standardised spike counts of ``trainer.bins`` time windows per neuron; test it.
4. Measure the linear memory capacity and ``E = activity / MC``
   (:meth:`~plasticagents.reservoir.STDPReservoir.memory_capacity`).

Writes ``result.json`` (test accuracy, spikes per sample, MC, activity, E) and the ``best``
checkpoint: the reservoir with its readout (``evaluate`` re-tests it from there).

Why the readout is fitted once, after the passes: STDP keeps changing the reservoir's
weights, so a readout fitted to the spike code of an earlier pass would read a code that no
longer exists; and the passes never see labels, so the labels enter only here, once the
reservoir is frozen. A ridge fit with its regularisation chosen by cross-validation
(``alphas`` ``1e-2 .. 1e4``) is closed-form and cheap next to the passes.

``metrics.csv`` columns, one row per STDP pass:

``epoch``              index of the pass (0-based)
``wall_time``          seconds since the run started (summed over resumed sessions)
``spikes_per_sample``  reservoir spikes per training sample during the pass (STDP on)
``mean_weight``        mean ``|w|`` over the existing recurrent connections after the pass

Checkpoints. ``latest`` (every ``checkpoint_every`` passes) holds ``policy`` = ``model``
(the reservoir's state dict) and ``n_in``, and ``trainer_state`` = ``model``: the readout is
not part of it, a resumed run fits it again after its last pass. ``best`` is written by
:meth:`Trainer.finish`: ``model``, ``n_in``, ``readout`` (``coef [C, F]``, or ``[1, F]`` for
two classes, ``intercept``, ``classes``), ``scaler`` (``mean``, ``scale [F]``), with
``F = bins x neurons`` and the test accuracy as its score (recorded, never used to select:
there is nothing to select between).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from plasticagents.metrics import energy_ratio
from plasticagents.reservoir import STDPReservoir, STDPSpec, spike_features
from plasticagents.training.builders import membrane_time_constants
from plasticagents.training.checkpoint import Checkpoint
from plasticagents.training.classification import Encoder, load_data
from plasticagents.training.config import ClassificationConfig, StdpConfig, to_dict
from plasticagents.training.loop import TrainerBase
from plasticagents.training.run import RunDir

__all__ = [
    "ReservoirClassifier",
    "Trainer",
    "build_reservoir",
    "load_model",
    "reservoir_features",
    "reservoir_memory",
    "stdp_pass",
]

METRIC_COLUMNS = ["epoch", "wall_time", "spikes_per_sample", "mean_weight"]


def build_reservoir(cfg: ClassificationConfig, n_in: int) -> STDPReservoir:
    """The reservoir the config describes, from ``cfg.seed``: ``model.hidden[0]`` LIF neurons
    (membrane time constants from ``model.tau_mem`` / ``tau_distribution`` / ``tau_spread``),
    input density ``trainer.density_in`` and gain ``gain_in``, recurrent density
    ``1 - model.sparsity`` and gain ``model.gain``, ``model.excitatory_fraction`` excitatory,
    and the STDP rule of the ``trainer`` section (amplitudes, time constants in seconds, the
    per-synapse heterogeneity ``stdp_spread``, weight bound ``w_max``).
    """
    m, t = cfg.model, cfg.trainer
    tau_mem = membrane_time_constants(m)
    stdp = STDPSpec(
        lr=t.lr,
        a_plus=t.a_plus,
        a_minus=t.a_minus,
        tau_plus=t.tau_plus,
        tau_minus=t.tau_minus,
        spread=t.stdp_spread,
        w_max=t.w_max,
    )
    return STDPReservoir(
        n_in,
        m.hidden[0],
        tau_mem=tau_mem,
        tau_syn=m.tau_syn,
        density_in=t.density_in,
        density_rec=1.0 - m.sparsity,
        excitatory_fraction=m.excitatory_fraction,
        gain_in=t.gain_in,
        gain_rec=m.gain,
        bias=t.bias,
        stdp=stdp,
        dt=m.dt,
        generator=torch.Generator().manual_seed(cfg.seed),
        reset=m.reset,
    )


def reservoir_features(
    res: STDPReservoir, dataset: Any, encoder: Encoder, bins: int, seed: int, batch: int = 256
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(features [n, bins N], labels [n], spikes per sample)`` with STDP off."""
    feats, labels, spikes = [], [], 0.0
    for k, start in enumerate(range(0, len(dataset), batch)):
        idx = np.arange(start, min(start + batch, len(dataset)))
        x_np, y = dataset.batch(idx)
        s = res.run(encoder(x_np, torch.Generator().manual_seed(seed * 1000 + k)))
        feats.append(spike_features(s, bins).numpy())
        labels.append(y)
        spikes += float(s.sum())
    return np.concatenate(feats), np.concatenate(labels), spikes / len(dataset)


def stdp_pass(
    res: STDPReservoir, dataset: Any, encoder: Encoder, batch_size: int, seed: int, epoch: int
) -> float:
    """One unsupervised STDP pass over ``dataset`` in a seeded order; returns spikes/sample."""
    order = np.random.default_rng([seed, epoch]).permutation(len(dataset))
    spikes = 0.0
    for k in range(0, len(order), batch_size):
        x_np, _ = dataset.batch(order[k : k + batch_size])
        gen = torch.Generator().manual_seed(seed * 7919 + epoch * 1009 + k)
        spikes += float(res.run(encoder(x_np, gen), learn=True).sum())
    return spikes / len(order)


def reservoir_memory(res: STDPReservoir, t: StdpConfig, seed: int) -> dict[str, float]:
    """``{memory_capacity, activity, E}`` of the (frozen) reservoir on a seeded i.i.d. drive
    ``u ~ U(-1, 1)``: ``trainer.mc_steps`` values, each held ``mc_hold`` simulation steps,
    recalled at delays up to ``mc_max_delay`` values, input gain ``mc_gain``; ``activity`` is
    spikes per neuron per held value and ``E = activity / memory_capacity`` (``None`` when
    the capacity is not positive). The drive's seed is ``seed + 12345``, apart from the data's
    encoder seeds."""
    mc, activity, _ = res.memory_capacity(
        steps=t.mc_steps,
        hold=t.mc_hold,
        max_delay=t.mc_max_delay,
        gain=t.mc_gain,
        generator=torch.Generator().manual_seed(seed + 12345),
    )
    return {"memory_capacity": mc, "activity": activity, "E": energy_ratio(activity, mc)}


class Trainer(TrainerBase):
    """Unsupervised STDP passes in the trainer loop (one pass per step); :meth:`finish` freezes
    the reservoir, fits and tests the ridge readout, measures memory capacity and E, and saves
    the reservoir with its readout as the ``best`` checkpoint."""

    name, unit = "stdp", "epoch"
    columns: ClassVar[list[str]] = METRIC_COLUMNS
    log_keys: ClassVar[dict[str, str]] = {
        "spikes_per_sample": "spikes/sample",
        "mean_weight": "mean |w|",
    }

    def __init__(self, cfg: ClassificationConfig, log: Callable[[str], None]) -> None:
        """Load the data, build the encoder and the reservoir (from ``cfg.seed``)."""
        self.cfg, self.t, self.log = cfg, cfg.trainer, log
        self.total, self.checkpoint_every = self.t.epochs, self.t.checkpoint_every
        self.train, self.test = load_data(cfg.data, cfg.seed)
        self.encoder = Encoder(cfg.data, self.train)
        self.res = build_reservoir(cfg, self.encoder.n_in)
        self.regression = cfg.data.source == "series"

    def describe(self) -> str:
        """The header line: data set sizes, reservoir size and heterogeneity, number of passes."""
        m = self.cfg.model
        hetero = m.tau_spread > 0 and m.tau_distribution != "constant"
        return (
            f"{self.cfg.name}: {self.train.name} ({len(self.train)} train, {len(self.test)} "
            f"test), reservoir {self.res.n} LIF ({'heterogeneous' if hetero else 'homogeneous'} "
            f"tau, STDP spread {self.t.stdp_spread}), {self.t.epochs} STDP passes"
        )

    def state(self) -> dict[str, Any]:
        """Resume state: the reservoir's state dict (all STDP has learned)."""
        return {"model": dict(self.res.state_dict())}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state` onto the freshly built reservoir."""
        self.res.load_state_dict(state["model"])

    def step(self, epoch: int) -> dict[str, Any]:
        """One unsupervised STDP pass over the training set (:func:`stdp_pass`); returns the
        metrics row.
        """
        t = self.t
        spikes = stdp_pass(self.res, self.train, self.encoder, t.batch_size, self.cfg.seed, epoch)
        mean_w = float(self.res.rec.weight().abs().sum() / self.res.rec.connection_count())
        return {"spikes_per_sample": spikes, "mean_weight": mean_w}

    def policy(self) -> dict[str, Any]:
        """The reservoir without a readout (the ``latest`` payload; see the module docstring)."""
        return {"model": dict(self.res.state_dict()), "n_in": self.encoder.n_in}

    def finish(self, run: RunDir, best: float | None) -> dict[str, Any]:
        """Freeze the reservoir and fit, test and save its readout (the module docstring says why
        only now).

        Features are the spike counts in ``trainer.bins`` windows per neuron
        (:func:`reservoir_features`, STDP off; encoder seeds from ``seed`` for the training set,
        ``seed + 1`` for the test set), standardised on the training set; the readout is
        scikit-learn's ``RidgeClassifierCV``. Writes the ``best`` checkpoint (overwriting the
        readout-less one the loop saved) and ``result.json``: name, seed, data set, test and train
        accuracy, test spikes per sample, the chosen ``readout_alpha``, ``memory_capacity``,
        ``activity`` and ``E``. Returns that dict.
        """
        if self.regression:
            return self._finish_prediction(run)
        from sklearn.linear_model import RidgeClassifierCV
        from sklearn.preprocessing import StandardScaler

        cfg, t, res = self.cfg, self.t, self.res
        x_train, y_train, _ = reservoir_features(res, self.train, self.encoder, t.bins, cfg.seed)
        x_test, y_test, spikes_test = reservoir_features(
            res, self.test, self.encoder, t.bins, cfg.seed + 1
        )
        scaler = StandardScaler().fit(x_train)
        readout = RidgeClassifierCV(alphas=np.logspace(-2, 4, 13)).fit(
            scaler.transform(x_train), y_train
        )
        accuracy = float(readout.score(scaler.transform(x_test), y_test))
        memory = reservoir_memory(res, t, cfg.seed)
        result = {
            "name": cfg.name,
            "seed": cfg.seed,
            "dataset": self.train.name,
            "test_accuracy": accuracy,
            "train_accuracy": float(readout.score(scaler.transform(x_train), y_train)),
            "spikes_per_sample": spikes_test,
            "readout_alpha": float(readout.alpha_),
            **memory,
        }
        policy = {
            **self.policy(),
            "readout": {
                "coef": readout.coef_,
                "intercept": np.atleast_1d(readout.intercept_),
                "classes": readout.classes_,
            },
            "scaler": {"mean": scaler.mean_, "scale": scaler.scale_},
        }
        run.save_checkpoint(
            "best", Checkpoint("stdp", t.epochs - 1, to_dict(cfg), policy, accuracy)
        )
        (run.path / "result.json").write_text(json.dumps(result, indent=2))
        e_text = f"{memory['E']:.4f}" if memory["E"] is not None else "inf"
        self.log(
            f"[stdp] test accuracy {accuracy:.4f}, spikes/sample {spikes_test:.1f}, memory "
            f"capacity {memory['memory_capacity']:.2f}, activity {memory['activity']:.4f}, "
            f"E {e_text}"
        )
        return result

    def _finish_prediction(self, run: RunDir) -> dict[str, Any]:
        """:meth:`finish` for ``data.source: series``: the frozen reservoir runs over the whole
        series (encoder seed ``seed + 1``), the ridge readout of its per-value states is chosen
        on validation and scored on test
        (:func:`~plasticagents.training.prediction.reservoir_prediction`), and MC, activity and
        E are measured as for classification. ``result.json``: ``nrmse`` (test),
        ``val_nrmse``, ``train_nrmse``, ``readout_alpha``, ``spikes_per_step``,
        ``memory_capacity``, ``activity``, ``E``; the ``best`` checkpoint holds the reservoir
        and its ``readout`` (``coef [N, D]``, ``intercept``, ``mean``, ``scale``)."""
        from plasticagents.training.prediction import reservoir_prediction, write_result

        cfg, t = self.cfg, self.t
        series = self.train.series
        fitted = reservoir_prediction(self.res, series, self.encoder, cfg.seed + 1)
        memory = reservoir_memory(self.res, t, cfg.seed)
        policy = {**self.policy(), "readout": fitted["weights"]}
        run.save_checkpoint(
            "best", Checkpoint("stdp", t.epochs - 1, to_dict(cfg), policy, -fitted["val_nrmse"])
        )
        result = write_result(run, cfg, series, {**fitted, **memory})
        e_text = f"{memory['E']:.4f}" if memory["E"] is not None else "inf"
        self.log(
            f"[stdp] test NRMSE {result['nrmse']:.4f} (validation {result['val_nrmse']:.4f}), "
            f"spikes/step {result['spikes_per_step']:.1f}, memory capacity "
            f"{memory['memory_capacity']:.2f}, activity {memory['activity']:.4f}, E {e_text}"
        )
        return result


class ReservoirClassifier:
    """A trained STDP reservoir with its ridge readout: ``predict(dataset, encoder, seed)``
    classifies every sample of a data set from its binned spike counts."""

    def __init__(self, res: STDPReservoir, policy: dict[str, Any], bins: int) -> None:
        """``policy``: a finished ``stdp`` checkpoint's payload (its ``readout`` and ``scaler``)."""
        self.res, self.bins = res, bins
        self.mean, self.scale = policy["scaler"]["mean"], policy["scaler"]["scale"]
        self.coef = np.atleast_2d(policy["readout"]["coef"])  # binary: one row
        self.intercept = policy["readout"]["intercept"]
        self.classes = policy["readout"]["classes"]

    def eval(self) -> ReservoirClassifier:
        """Itself: there is no training mode to leave (``nn.Module``'s ``eval``, so callers can
        treat it like a model)."""
        return self

    def predict(self, dataset: Any, encoder: Encoder, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``(predicted labels, true labels)``; same encoder seeds as training's test pass."""
        x, y, _ = reservoir_features(self.res, dataset, encoder, self.bins, seed)
        scores = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        if scores.shape[1] == 1:  # scikit-learn's binary ridge: one column, > 0 -> classes[1]
            return self.classes[(scores[:, 0] > 0).astype(int)], y
        return self.classes[scores.argmax(1)], y


def load_model(cfg: ClassificationConfig, policy: dict[str, Any]) -> tuple[Any, None]:
    """The reservoir of an ``stdp`` checkpoint with its readout, as a
    :class:`ReservoirClassifier` (no predictor: it classifies whole data sets, not env steps).

    Raises:
        ValueError: the checkpoint holds no readout (a ``latest`` checkpoint, or the ``best``
            of a run that has not finished).
    """
    res = build_reservoir(cfg, policy["n_in"])
    res.load_state_dict(policy["model"])
    if "readout" in policy and "classes" not in policy["readout"]:
        raise ValueError(
            "this stdp checkpoint predicts a series (data.source: series); prediction runs are "
            "scored when they train: read the run's result.json"
        )
    if "readout" not in policy:
        raise ValueError(
            "this stdp checkpoint holds no readout: only the best checkpoint of a finished run "
            "has one (use --checkpoint best)"
        )
    return ReservoirClassifier(res, policy, cfg.trainer.bins), None
