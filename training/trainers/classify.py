"""Classification with spiking networks: data loading and encoding, BPTT training, testing.

``trainer.kind: classify`` trains :class:`~plasticagents.classifier.SpikingClassifier` by BPTT
with surrogate gradients (Adam; learned delay positions at ``delay_lr_scale`` times the
weight learning rate with the DCLS width schedule; DEEP R + RigL after every step when
``model.rewiring``). Every epoch appends a metrics row and writes the ``latest`` checkpoint
atomically, so a killed run resumes (``--resume RUN``) from its last finished epoch. ``best``
is the epoch with the highest validation accuracy (``trainer.validation_fraction > 0``), else
the last epoch: the test set never selects a checkpoint.

At the end the best checkpoint is tested clean and under each noise level, and the run
writes ``result.json`` (accuracy, spikes and synaptic operations per sample, epoch time, peak
memory) and ``noise.csv``.

``metrics.csv`` columns, one row per epoch:

``epoch``              index of the epoch (0-based)
``wall_time``          seconds since the run started (summed over resumed sessions)
``epoch_time``         seconds of this epoch's training pass (and batch-norm recalibration);
                       evaluation excluded
``train_loss``         mean loss over the epoch's training samples, as the weights changed
``train_accuracy``     accuracy on those batches during training (dropout on)
``val_accuracy``       accuracy on the validation split (held out of the training set with
                       ``trainer.validation_fraction``); empty without one
``test_accuracy``      accuracy on the test set, for watching only: it never selects
``spikes_per_sample``  hidden spikes per training sample, summed over layers
``rewired``            connections DEEP R / RigL moved this epoch (0 without rewiring)
``sigma``              width of the learned delays' DCLS kernel at the epoch's last batch
                       (in steps); empty without learned delays

Checkpoints. ``policy``: ``model`` (the classifier's whole state dict: weights, delay
positions, batch-norm statistics, the rewiring's connection-sign buffers), ``n_in`` (encoded
input channels) and ``n_classes``. ``trainer_state``: ``model`` and ``optimizer`` (Adam's
moments). The batch order, the encoder's noise and the validation split derive from the
seed (and the epoch), so a resumed run ends where an uninterrupted one does; the exception
is ``model.dropout > 0``, whose masks come from torch's global generator, reseeded from
``seed`` (not restored) when a session starts.

Example::

    plasticagents train configs/classification/digits.yaml
"""

from __future__ import annotations

import csv
import json
import math
import resource
import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from plasticagents.classifier import sequence_loss, sequence_predict
from plasticagents.delays import dcls_sigma
from plasticagents.metrics import spikes_per_sample
from plasticagents.rewiring import Rewiring
from plasticagents.training.classification import (
    Encoder,
    batches,
    build_classifier,
    classifier_from_policy,
    evaluate_classifier,
    load_data,
    recalibrate_batch_norm,
    with_weight_noise,
)
from plasticagents.training.config import ClassificationConfig
from plasticagents.training.loop import Candidate, TrainerBase
from plasticagents.training.run import RunDir

__all__ = ["METRIC_COLUMNS", "Trainer", "load_model"]

METRIC_COLUMNS = [
    "epoch",
    "wall_time",
    "epoch_time",
    "train_loss",
    "train_accuracy",
    "val_accuracy",
    "test_accuracy",
    "spikes_per_sample",
    "rewired",
    "sigma",
]


# data.source: series (prediction): one row per epoch, BPTT regression and NRMSE per split
PREDICTION_COLUMNS = [
    "epoch",
    "wall_time",
    "epoch_time",
    "train_loss",
    "train_nrmse",
    "val_nrmse",
    "nrmse",
    "spikes_per_step",
]
PREDICTION_LOG_KEYS = {
    "train_loss": "loss",
    "val_nrmse": "val NRMSE",
    "nrmse": "test NRMSE",
    "spikes_per_step": "spikes/step",
    "epoch_time": "epoch s",
}


class Trainer(TrainerBase):
    """Surrogate-gradient BPTT on a classification set, one epoch per loop step; the ``best``
    candidate is every epoch scored on the validation split (the last epoch without one)."""

    name, unit = "classify", "epoch"
    columns: ClassVar[list[str]] = METRIC_COLUMNS
    log_keys: ClassVar[dict[str, str]] = {
        "train_loss": "loss",
        "train_accuracy": "train",
        "val_accuracy": "val",
        "test_accuracy": "test",
        "spikes_per_sample": "spikes/sample",
        "epoch_time": "epoch s",
    }

    def __init__(self, cfg: ClassificationConfig, log: Callable[[str], None]) -> None:
        """Load the data, build the encoder and the classifier (from ``cfg.seed``), the rewiring
        (``model.rewiring``) and Adam with two parameter groups: weights at ``trainer.lr``, delay
        positions at ``lr * delay_lr_scale`` (positions are measured in time steps, so they
        need far larger steps than weights). The validation split is a seeded permutation of
        the training set.
        """
        self.cfg, self.t, self.log = cfg, cfg.trainer, log
        self.total, self.checkpoint_every = self.t.epochs, self.t.checkpoint_every
        torch.manual_seed(cfg.seed)
        self.train, self.test = load_data(cfg.data, cfg.seed)
        self.encoder = Encoder(cfg.data, self.train)
        self.regression = cfg.data.source == "series"
        if self.regression:  # a readout neuron per target channel (>= 2, the classifier's
            # minimum: a scalar series leaves the second unread); other metrics
            self.columns, self.log_keys = PREDICTION_COLUMNS, PREDICTION_LOG_KEYS
        n_out = max(self.train.n_outputs, 2) if self.regression else self.train.n_classes
        self.model = build_classifier(cfg, self.encoder.n_in, n_out)
        self.rewiring = Rewiring(self.model.synapse_modules()) if cfg.model.rewiring else None
        named = list(self.model.named_parameters())
        groups = [{"params": [p for n, p in named if not n.endswith("position")]}]
        positions = [p for n, p in named if n.endswith("position")]
        if positions:
            groups.append({"params": positions, "lr": self.t.lr * self.t.delay_lr_scale})
        self.optimizer = torch.optim.Adam(groups, lr=self.t.lr, weight_decay=self.t.weight_decay)
        split = np.random.default_rng(cfg.seed).permutation(len(self.train))
        n_val = round(len(self.train) * self.t.validation_fraction)
        self.val_idx, self.train_idx = split[:n_val], split[n_val:]
        self.epoch_times: list[float] = []

    def describe(self) -> str:
        """The header line: data set and split sizes, input channels, architecture, budget."""
        cfg, m = self.cfg, self.cfg.model
        n_params = sum(p.numel() for p in self.model.parameters())
        if self.regression:
            s = self.train.series
            return (
                f"{cfg.name}: {s.name} {s.horizon} step(s) ahead ({len(self.train)} training "
                f"windows of {s.window} values), input {self.encoder.n_in} channels, hidden "
                f"{m.hidden}, {n_params} parameters, {self.t.epochs} epochs"
            )
        return (
            f"{cfg.name}: {self.train.name} ({len(self.train_idx)} train, {len(self.val_idx)} "
            f"validation, {len(self.test)} test, {self.train.n_classes} classes), input "
            f"{self.encoder.n_in} channels, hidden {m.hidden}, delays {m.delays}, sparsity "
            f"{m.sparsity}{' + rewiring' if self.rewiring else ''}, {n_params} parameters, "
            f"{self.t.epochs} epochs"
        )

    def state(self) -> dict[str, Any]:
        """Resume state: the model's state dict and Adam's."""
        return {"model": dict(self.model.state_dict()), "optimizer": self.optimizer.state_dict()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state` onto the freshly built model and optimizer."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])

    def step(self, epoch: int) -> dict[str, Any]:
        """One epoch: shuffled minibatches (order from ``(seed, epoch)``), each encoded with seeded
        noise, surrogate-gradient BPTT through all ``T`` input steps, gradient clipping, an Adam
        step, delay positions clamped to their range and (with rewiring) one DEEP R / RigL step;
        learned delays follow the DCLS width schedule over the whole run's batches. Then the
        batch-norm statistics are re-measured
        (:func:`~plasticagents.training.classification.recalibrate_batch_norm`), and the model is
        tested on the validation split (if any) and the test set. Returns the metrics row.

        Raises:
            ValueError: a non-finite loss (the message suggests a lower ``trainer.lr``).
        """
        if self.regression:
            return self._prediction_step(epoch)
        cfg, t, model = self.cfg, self.t, self.model
        model.train()
        clock = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, epoch])
        generator = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)
        per_epoch = -(-len(self.train_idx) // t.batch_size)
        loss_sum, correct, seen, spikes, rewired, sigma = 0.0, 0, 0, 0.0, 0, None
        for b, batch in enumerate(batches(len(self.train_idx), t.batch_size, rng)):
            progress = (epoch * per_epoch + b) / (t.epochs * per_epoch)
            for layer in model.delay_modules():
                if layer.mode == "learned":
                    layer.sigma = sigma = dcls_sigma(progress, layer.max_delay)
            x_np, y_np = self.train.batch(self.train_idx[batch])
            y = torch.as_tensor(y_np)
            out = model(self.encoder(x_np, generator))
            loss = sequence_loss(out.readout, y, cfg.model.readout)
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise ValueError(
                    f"epoch {epoch}: the loss is {loss_value}; lower trainer.lr (now {t.lr})"
                )
            self.optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            self.optimizer.step()
            for layer in model.delay_modules():
                layer.clamp_positions()
            if self.rewiring is not None:
                rewired += self.rewiring.step()
            loss_sum += loss_value * len(y)
            predicted = sequence_predict(out.readout.detach(), cfg.model.readout)
            correct += int((predicted == y).sum())
            spikes += sum(spikes_per_sample(s.detach()) for s in out.spikes) * len(y)
            seen += len(y)
        recalibrate_batch_norm(
            model, self.train, self.train_idx, self.encoder, t.batch_size, cfg.seed
        )
        self.epoch_times.append(time.perf_counter() - clock)
        val = (
            evaluate_classifier(
                model, self.train, self.encoder, indices=self.val_idx, seed=cfg.seed + 1
            )
            if len(self.val_idx)
            else None
        )
        tested = evaluate_classifier(model, self.test, self.encoder, seed=cfg.seed)
        return {
            "epoch_time": self.epoch_times[-1],
            "train_loss": loss_sum / seen,
            "train_accuracy": correct / seen,
            "val_accuracy": val["accuracy"] if val else None,
            "test_accuracy": tested["accuracy"],
            "spikes_per_sample": spikes / seen,
            "rewired": rewired,
            "sigma": sigma,
        }

    def _prediction_step(self, epoch: int) -> dict[str, Any]:
        """:meth:`step` for ``data.source: series``: one BPTT regression epoch over the
        training windows (:func:`~plasticagents.training.prediction.bptt_epoch`), then the
        network's readout over the whole series scored on every split (test for watching
        only)."""
        from plasticagents.training.prediction import bptt_epoch, bptt_predict

        cfg, t = self.cfg, self.t
        clock = time.perf_counter()
        args = (self.train, self.encoder, t.batch_size, cfg.seed, epoch, t.grad_clip)
        row = bptt_epoch(self.model, self.optimizer, *args)
        self.epoch_times.append(time.perf_counter() - clock)
        scored = bptt_predict(self.model, self.train.series, self.encoder, cfg.seed + 1)
        return {"epoch_time": self.epoch_times[-1], **row, **scored}

    def select(self, epoch: int, row: dict[str, Any]) -> Candidate:
        """Every epoch is a candidate scored by ``val_accuracy``; without a validation split the
        score is ``None``, which always replaces the best, so ``best`` is the last epoch. The test
        accuracy never selects, so the final test report is not biased by selection. A series
        predictor is scored by minus its validation NRMSE.
        """
        if self.regression:
            return Candidate(-row["val_nrmse"], self.policy())
        return Candidate(row["val_accuracy"], self.policy())

    def policy(self) -> dict[str, Any]:
        """The policy payload: the model's state dict with the input and class counts."""
        return {
            "model": dict(self.model.state_dict()),
            "n_in": self.encoder.n_in,
            "n_classes": self.model.readout.n if self.regression else self.train.n_classes,
        }

    def finish(self, run: RunDir, best: float | None) -> dict[str, Any]:
        """Test the best checkpoint clean and under every noise level; write ``result.json``
        and ``noise.csv``; return the ``result.json`` dict.

        ``noise.csv``: one row per condition, ``noise`` (``none`` / ``input`` / ``weight``),
        ``level`` (input: std of the Gaussian added to the features, or the probability of
        an extra spike per bin for spike data; weight: relative std of the per-synapse
        scaling), then :func:`~plasticagents.training.classification.evaluate_classifier`'s
        ``accuracy``, ``loss``, spikes and SynOps per sample, and for input noise
        ``van_rossum`` (hidden spike trains clean vs noisy, ``trainer.vr_tau``).
        ``result.json``: name, seed, data set, the clean test accuracy, loss, spikes and
        SynOps per sample, connection and parameter counts, epochs, the median epoch time
        (of this session's epochs; ``None`` when resumed after the last one), the process's
        peak resident memory (MB) and the noise rows.
        """
        cfg, t = self.cfg, self.t
        model = classifier_from_policy(cfg, run.load("best").policy)
        if self.regression:
            return self._finish_prediction(run, model)
        clean = evaluate_classifier(model, self.test, self.encoder, seed=cfg.seed)
        rows = [{"noise": "none", "level": 0.0, **clean}]
        for level in t.input_noise:
            res = evaluate_classifier(
                model, self.test, self.encoder, seed=cfg.seed, input_noise=level, vr_tau=t.vr_tau
            )
            rows.append({"noise": "input", "level": level, **res})
        for level in t.weight_noise:
            noisy = with_weight_noise(model, level, cfg.seed)
            rows.append(
                {
                    "noise": "weight",
                    "level": level,
                    **evaluate_classifier(noisy, self.test, self.encoder, seed=cfg.seed),
                }
            )
        for row in rows[1:]:
            self.log(
                f"[classify] {row['noise']} noise {row['level']:g}: accuracy {row['accuracy']:.4f}"
                + (f", Van Rossum {row['van_rossum']:.4f}" if "van_rossum" in row else "")
            )
        columns = sorted(
            {k for r in rows for k in r}, key=lambda c: (c not in ("noise", "level"), c)
        )
        with open(run.path / "noise.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        result = {
            "name": cfg.name,
            "seed": cfg.seed,
            "dataset": self.train.name,
            "test_accuracy": clean["accuracy"],
            "test_loss": clean["loss"],
            "spikes_per_sample": clean["spikes_per_sample"],
            "synops_per_sample": clean["synops_per_sample"],
            "connections": sum(s.connection_count() for s in model.synapse_modules()),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "epochs": t.epochs,
            "median_epoch_time": float(np.median(self.epoch_times)) if self.epoch_times else None,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "noise": rows,
        }
        (run.path / "result.json").write_text(json.dumps(result, indent=2))
        self.log(
            f"[classify] test accuracy {result['test_accuracy']:.4f}, spikes/sample "
            f"{result['spikes_per_sample']:.1f}, SynOps/sample {result['synops_per_sample']:.0f}"
        )
        return result

    def _finish_prediction(self, run: RunDir, model: nn.Module) -> dict[str, Any]:
        """:meth:`finish` for ``data.source: series``: the best (lowest validation NRMSE)
        checkpoint's readout over the whole series; ``result.json``: ``nrmse`` (test),
        ``val_nrmse``, ``train_nrmse``, hidden ``spikes_per_step`` (test split), connections,
        parameters, epochs, median epoch time."""
        from plasticagents.training.prediction import bptt_predict, write_result

        cfg, series = self.cfg, self.train.series
        scored = bptt_predict(model, series, self.encoder, cfg.seed + 1)
        extra = {
            "connections": sum(s.connection_count() for s in model.synapse_modules()),
            "parameters": sum(p.numel() for p in model.parameters()),
            "epochs": self.t.epochs,
            "median_epoch_time": float(np.median(self.epoch_times)) if self.epoch_times else None,
        }
        result = write_result(run, cfg, series, {**scored, **extra})
        self.log(
            f"[classify] test NRMSE {result['nrmse']:.4f} (validation {result['val_nrmse']:.4f}),"
            f" spikes/step {result['spikes_per_step']:.1f}"
        )
        return result


def load_model(cfg: ClassificationConfig, policy: dict[str, Any]) -> tuple[nn.Module, None]:
    """The classifier of a ``classify`` checkpoint in eval mode (no predictor: callers test it
    with :func:`~plasticagents.training.classification.evaluate_classifier`).

    Raises:
        ValueError: a series predictor (``data.source: series``): it is scored when it trains.
    """
    if cfg.data.source == "series":
        raise ValueError(
            "this classify checkpoint predicts a series; prediction runs are scored when they "
            "train: read the run's result.json"
        )
    return classifier_from_policy(cfg, policy), None
