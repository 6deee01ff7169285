"""Classification with spiking networks: data loading and encoding, BPTT training, testing.

``trainer.kind: classify`` trains :class:`~plasticagents.classifier.SpikingClassifier` by BPTT
with surrogate gradients (Adam; learned delay positions at ``delay_lr_scale`` times the
weight learning rate with the DCLS width schedule; DEEP R + RigL after every step when
``model.rewiring``). Every epoch appends a metrics row and writes ``checkpoints/latest.pt``
atomically, so a killed run resumes (``--resume RUN``) from its last finished epoch. ``best``
is the epoch with the highest validation accuracy (``trainer.validation_fraction > 0``), else
the last epoch: the test set never selects a checkpoint.

At the end the best checkpoint is tested clean and under each noise level, and the run
writes ``result.json`` (accuracy, spikes and synaptic operations per sample, epoch time, peak
memory) and ``noise.csv``.

Example::

    plasticagents train configs/classification/digits.yaml
"""

from __future__ import annotations

import copy
import json
import math
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents.classifier import SpikingClassifier, sequence_loss, sequence_predict
from plasticagents.delays import dcls_sigma
from plasticagents.encoding import encode
from plasticagents.metrics import spikes_per_sample, synaptic_operations, van_rossum_distance
from plasticagents.neurons import TimeConstants
from plasticagents.rewiring import Rewiring
from plasticagents.training.config import (
    ClassificationConfig,
    ClassifyConfig,
    DataConfig,
    ModelConfig,
    to_dict,
)
from plasticagents.training.run import RunDir, summary_writer

__all__ = [
    "METRIC_COLUMNS",
    "Encoder",
    "build_classifier",
    "evaluate_classifier",
    "load_classifier",
    "load_data",
    "train_classify",
]

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


def load_data(data: DataConfig, seed: int = 0) -> tuple[Any, Any]:
    """``(train, test)`` datasets from :mod:`plasticagents.envs.datasets`."""
    from plasticagents.envs import datasets

    if data.source == "digits":
        return (
            datasets.load_digits("train", data.test_fraction),
            datasets.load_digits("test", data.test_fraction),
        )
    if data.source == "ucr":
        return datasets.load_ucr(data.dataset, "train"), datasets.load_ucr(data.dataset, "test")
    kwargs = dict(dt=data.dt, max_time=data.max_time, channels=data.channels)
    return datasets.load_shd(data.train_path, **kwargs), datasets.load_shd(data.test_path, **kwargs)


class Encoder:
    """Turns a dataset batch into network input ``[T, B, I]``, with optional input noise.

    Noise (std ``noise``) is Gaussian on the features before encoding (pixels in [0, 1] are
    clipped back; series are z-scored); on spike data it adds Bernoulli(``noise``) spikes
    per bin and channel.
    """

    def __init__(self, data: DataConfig, dataset: Any) -> None:
        self.kind = dataset.kind
        auto = {"static": "rate", "series": "current", "spikes": None}[dataset.kind]
        self.encoder = auto if data.encoder == "auto" else data.encoder
        self.steps, self.threshold, self.fields = data.steps, data.threshold, data.fields
        channels = dataset.n_channels
        widths = {"delta": 2, "population": data.fields}
        self.n_in = widths.get(self.encoder, 1) * channels
        if self.encoder == "scan":  # square images, one row per input step
            self.n_in = round(channels**0.5)

    def __call__(
        self, x: np.ndarray, generator: torch.Generator | None = None, noise: float = 0.0
    ) -> Tensor:
        x = torch.as_tensor(x, dtype=torch.float32)
        if noise > 0:
            if self.kind == "spikes":
                x = x + torch.bernoulli(torch.full_like(x, min(noise, 1.0)), generator=generator)
            else:
                x = x + noise * torch.randn(x.shape, generator=generator)
                if self.kind == "static":
                    x = x.clamp(0, 1)
        if self.encoder is None:
            return x
        return encode(self.encoder, x, self.steps, self.threshold, generator, self.fields)


def membrane_time_constants(m: ModelConfig) -> float | TimeConstants:
    """``model.tau_mem`` as the neurons take it: a float when homogeneous, else a distribution."""
    if m.tau_distribution == "constant" or m.tau_spread == 0:
        return m.tau_mem
    return TimeConstants(m.tau_mem, m.tau_distribution, m.tau_spread)


def build_classifier(cfg: ClassificationConfig, n_in: int, n_classes: int) -> SpikingClassifier:
    m = cfg.model
    generator = torch.Generator().manual_seed(cfg.seed)
    tau_mem = membrane_time_constants(m)
    inhibitory = (
        TimeConstants(m.tau_mem, "gamma", m.inhibitory_tau_spread)
        if m.inhibitory_tau_spread
        else None
    )
    return SpikingClassifier(
        n_in,
        n_classes,
        hidden=m.hidden,
        recurrent=m.recurrent,
        delay_mode=m.delays,
        max_delay=m.max_delay,
        density=1.0 - m.sparsity,
        dale=m.dale,
        excitatory_fraction=m.excitatory_fraction,
        tau_mem=tau_mem,
        tau_syn=m.tau_syn,
        inhibitory_tau_mem=inhibitory,
        readout_tau_mem=m.readout_tau_mem,
        dt=m.dt,
        gain=m.gain,
        readout_gain=m.readout_gain,
        batchnorm=m.batchnorm,
        dropout=m.dropout,
        surrogate_name=m.surrogate,
        alpha=m.surrogate_alpha,
        learn_tau=m.learn_tau,
        readout_mode=m.readout,
        generator=generator,
    )


def _batches(n: int, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i : i + size] for i in range(0, n, size)]


@torch.no_grad()
def _recalibrate_batch_norm(
    model: SpikingClassifier,
    dataset: Any,
    indices: np.ndarray,
    encoder: Encoder,
    batch_size: int,
    seed: int,
    batches: int = 8,
) -> None:
    """Batch-norm statistics for evaluation, measured on training batches with the final
    weights of the epoch and the evaluation-time network (rounded delays, no dropout).

    The running averages gathered during training mix the drive of every weight update (and
    start from a variance of 1), which can silence a layer whose drive has variance ~0.01.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    if not norms:
        return
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.train()
    rng = np.random.default_rng([seed, 7])
    for k, batch in enumerate(_batches(len(indices), batch_size, rng)[:batches]):
        x_np, _ = dataset.batch(indices[batch])
        model(encoder(x_np, torch.Generator().manual_seed(seed * 31 + k)))
    model.eval()


@torch.no_grad()
def evaluate_classifier(
    model: SpikingClassifier,
    dataset: Any,
    encoder: Encoder,
    batch_size: int = 256,
    indices: np.ndarray | None = None,
    seed: int = 0,
    input_noise: float = 0.0,
    vr_tau: float | None = None,
) -> dict[str, float]:
    """Accuracy, loss, spikes and synaptic operations per sample over ``dataset`` (or its
    ``indices``). With ``input_noise`` and ``vr_tau``, also the Van Rossum distance between the
    hidden spike trains of the clean and the noisy input (RMS over neurons, mean over samples);
    both see the same encoder randomness."""
    model.eval()
    mode = model.readout_mode
    idx = np.arange(len(dataset)) if indices is None else np.asarray(indices)
    fan_out = model.fan_out()
    correct, loss, spikes, synops, vr, n = 0, 0.0, 0.0, 0.0, 0.0, 0
    for k, batch in enumerate(_batches(len(idx), batch_size, None)):
        x_np, y_np = dataset.batch(idx[batch])
        y = torch.as_tensor(y_np)
        x = encoder(x_np, torch.Generator().manual_seed(seed * 100_003 + k), input_noise)
        out = model(x)
        b = len(y)
        correct += int((sequence_predict(out.readout, mode) == y).sum())
        loss += float(sequence_loss(out.readout, y, mode)) * b
        spikes += sum(spikes_per_sample(s) for s in out.spikes) * b
        synops += (
            sum(synaptic_operations(s, f) for s, f in zip(out.spikes, fan_out, strict=True)) * b
        )
        if input_noise > 0 and vr_tau is not None:
            clean = model(encoder(x_np, torch.Generator().manual_seed(seed * 100_003 + k)))
            d2 = sum(
                van_rossum_distance(a, c, vr_tau, model.dt).pow(2).mean(-1)
                for a, c in zip(out.spikes, clean.spikes, strict=True)
            ) / len(out.spikes)
            vr += float(d2.sqrt().sum())
        n += b
    result = {
        "accuracy": correct / n,
        "loss": loss / n,
        "spikes_per_sample": spikes / n,
        "synops_per_sample": synops / n,
    }
    if input_noise > 0 and vr_tau is not None:
        result["van_rossum"] = vr / n
    return result


def _with_weight_noise(model: SpikingClassifier, std: float, seed: int) -> SpikingClassifier:
    """A copy whose every trained matrix is scaled by ``1 + std N(0, 1)`` per synapse (Dale
    magnitudes keep their sign)."""
    noisy = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for syn in noisy.synapse_modules():
            syn.raw.mul_(1 + std * torch.randn(syn.raw.shape, generator=generator))
    return noisy


def _checkpoint(cfg, model, epoch: int, score: float | None, n_in: int, n_classes: int) -> dict:
    return {
        "kind": "classifier",
        "trainer": cfg.trainer.kind,
        "epoch": epoch,
        "score": score,
        "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "config": to_dict(cfg),
        "n_in": n_in,
        "n_classes": n_classes,
    }


def load_classifier(run: str | RunDir, which: str = "best") -> tuple[Any, SpikingClassifier]:
    """``(config, model)`` of a classification run's checkpoint, in eval mode."""
    from plasticagents.training.config import from_dict

    run = run if isinstance(run, RunDir) else RunDir.open(run)
    ckpt = run.load(which)
    if ckpt.get("kind") != "classifier" or ckpt.get("trainer") != "classify":
        raise ValueError(
            f"{run.path} is not a trainer.kind 'classify' run (its checkpoint is "
            f"{ckpt.get('trainer', ckpt.get('kind'))!r})"
        )
    cfg = from_dict(ckpt["config"])
    model = build_classifier(cfg, ckpt["n_in"], ckpt["n_classes"])
    if cfg.model.rewiring:
        Rewiring(model.synapse_modules())  # registers the connection-sign buffers
    model.load_state_dict(ckpt["model"])
    return cfg, model.eval()


def _test_report(cfg, model, test, encoder, log) -> dict[str, Any]:
    t = cfg.trainer
    clean = evaluate_classifier(model, test, encoder, seed=cfg.seed)
    rows = [{"noise": "none", "level": 0.0, **clean}]
    for level in t.input_noise:
        res = evaluate_classifier(
            model, test, encoder, seed=cfg.seed, input_noise=level, vr_tau=t.vr_tau
        )
        rows.append({"noise": "input", "level": level, **res})
    for level in t.weight_noise:
        res = evaluate_classifier(
            _with_weight_noise(model, level, cfg.seed), test, encoder, seed=cfg.seed
        )
        rows.append({"noise": "weight", "level": level, **res})
    for row in rows[1:]:
        log(
            f"[classify] {row['noise']} noise {row['level']:g}: accuracy {row['accuracy']:.4f}"
            + (f", Van Rossum {row['van_rossum']:.4f}" if "van_rossum" in row else "")
        )
    return {"clean": clean, "noise": rows}


def _write_rows(path, rows: list[dict]) -> None:
    import csv

    columns = sorted({k for r in rows for k in r}, key=lambda c: (c not in ("noise", "level"), c))
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def train_classify(
    cfg: ClassificationConfig,
    run: RunDir,
    resume: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    tensorboard: bool = True,
) -> dict[str, Any]:
    """Train and test; returns the run's result dict (also written to ``result.json``)."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t = cfg.trainer
    if not isinstance(t, ClassifyConfig):
        raise ValueError(f"train_classify needs trainer.kind 'classify', got {t.kind!r}")
    torch.manual_seed(cfg.seed)
    train, test = load_data(cfg.data, cfg.seed)
    encoder = Encoder(cfg.data, train)
    model = build_classifier(cfg, encoder.n_in, train.n_classes)
    rewiring = Rewiring(model.synapse_modules()) if cfg.model.rewiring else None
    positions = [p for n, p in model.named_parameters() if n.endswith("position")]
    others = [p for n, p in model.named_parameters() if not n.endswith("position")]
    groups = [{"params": others}]
    if positions:
        groups.append({"params": positions, "lr": t.lr * t.delay_lr_scale})
    optimizer = torch.optim.Adam(groups, lr=t.lr, weight_decay=t.weight_decay)
    rng = np.random.default_rng(cfg.seed)
    split = rng.permutation(len(train))
    n_val = round(len(train) * t.validation_fraction)
    val_idx, train_idx = split[:n_val], split[n_val:]
    start, wall0, best = 0, 0.0, -1.0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        start, wall0, best = resume["epoch"] + 1, resume["wall_time"], resume["best"]
        run.truncate_metrics("epoch", resume["epoch"])
    n_params = sum(p.numel() for p in model.parameters())
    log(
        f"[classify] {cfg.name}: {train.name} ({len(train_idx)} train, {n_val} validation, "
        f"{len(test)} test, {train.n_classes} classes), input {encoder.n_in} channels, "
        f"hidden {cfg.model.hidden}, delays {cfg.model.delays}, sparsity {cfg.model.sparsity}"
        f"{' + rewiring' if rewiring else ''}, {n_params} parameters, epochs "
        f"{start}..{t.epochs - 1} -> {run.path}"
    )
    writer = summary_writer(run, start) if tensorboard else None
    batches_per_epoch = -(-len(train_idx) // t.batch_size)
    epoch_times: list[float] = []
    clock = time.perf_counter()
    try:
        for epoch in range(start, t.epochs):
            model.train()
            tick = time.perf_counter()
            epoch_rng = np.random.default_rng([cfg.seed, epoch])
            generator = torch.Generator().manual_seed(cfg.seed * 7919 + epoch)
            loss_sum, correct, seen, spikes, rewired = 0.0, 0, 0, 0.0, 0
            sigma = None
            for b, batch in enumerate(_batches(len(train_idx), t.batch_size, epoch_rng)):
                progress = (epoch * batches_per_epoch + b) / (t.epochs * batches_per_epoch)
                for layer in model.delay_modules():
                    if layer.mode == "learned":
                        layer.sigma = sigma = dcls_sigma(progress, layer.max_delay)
                x_np, y_np = train.batch(train_idx[batch])
                y = torch.as_tensor(y_np)
                out = model(encoder(x_np, generator))
                loss = sequence_loss(out.readout, y, cfg.model.readout)
                loss_value = float(loss.detach())
                if not math.isfinite(loss_value):
                    raise ValueError(
                        f"epoch {epoch}: the loss is {loss_value}; lower trainer.lr (now {t.lr})"
                    )
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
                optimizer.step()
                for layer in model.delay_modules():
                    layer.clamp_positions()
                if rewiring is not None:
                    rewired += rewiring.step()
                loss_sum += loss_value * len(y)
                predicted = sequence_predict(out.readout.detach(), cfg.model.readout)
                correct += int((predicted == y).sum())
                spikes += sum(spikes_per_sample(s.detach()) for s in out.spikes) * len(y)
                seen += len(y)
            _recalibrate_batch_norm(model, train, train_idx, encoder, t.batch_size, cfg.seed)
            epoch_times.append(time.perf_counter() - tick)
            val = (
                evaluate_classifier(model, train, encoder, indices=val_idx, seed=cfg.seed + 1)
                if n_val
                else None
            )
            tested = evaluate_classifier(model, test, encoder, seed=cfg.seed)
            row = {
                "epoch": epoch,
                "wall_time": wall0 + time.perf_counter() - clock,
                "epoch_time": epoch_times[-1],
                "train_loss": loss_sum / seen,
                "train_accuracy": correct / seen,
                "val_accuracy": val["accuracy"] if val else None,
                "test_accuracy": tested["accuracy"],
                "spikes_per_sample": spikes / seen,
                "rewired": rewired,
                "sigma": sigma,
            }
            run.append_metrics(row, METRIC_COLUMNS)
            if writer is not None:
                for key, value in row.items():
                    if key != "epoch" and value is not None:
                        writer.add_scalar(f"classify/{key}", value, epoch)
            log(
                f"[classify] epoch {epoch:3d}  loss {row['train_loss']:.4f}  train "
                f"{row['train_accuracy']:.3f}  "
                + (f"val {row['val_accuracy']:.3f}  " if val else "")
                + f"test {row['test_accuracy']:.3f}  spikes/sample {row['spikes_per_sample']:8.1f}"
                + (f"  rewired {rewired}" if rewiring else "")
                + f"  {row['epoch_time']:.1f}s"
            )
            score = val["accuracy"] if val else None
            if score is None or score > best:
                best = score if score is not None else best
                run.save_checkpoint(
                    "best", _checkpoint(cfg, model, epoch, score, encoder.n_in, train.n_classes)
                )
            if (epoch + 1 - start) % t.checkpoint_every == 0 or epoch == t.epochs - 1:
                state = _checkpoint(cfg, model, epoch, score, encoder.n_in, train.n_classes)
                state.update(
                    optimizer=optimizer.state_dict(), wall_time=row["wall_time"], best=best
                )
                run.save_checkpoint("latest", state)
    finally:
        if writer is not None:
            writer.close()
    if start >= t.epochs:
        log(
            f"[classify] {run.path} already finished {t.epochs} epochs; testing its best checkpoint"
        )
    _, best_model = load_classifier(run, "best")
    report = _test_report(cfg, best_model, test, encoder, log)
    _write_rows(run.path / "noise.csv", report["noise"])
    result = {
        "name": cfg.name,
        "seed": cfg.seed,
        "dataset": train.name,
        "test_accuracy": report["clean"]["accuracy"],
        "test_loss": report["clean"]["loss"],
        "spikes_per_sample": report["clean"]["spikes_per_sample"],
        "synops_per_sample": report["clean"]["synops_per_sample"],
        "connections": sum(s.connection_count() for s in best_model.synapse_modules()),
        "parameters": n_params,
        "epochs": t.epochs,
        "median_epoch_time": float(np.median(epoch_times)) if epoch_times else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "noise": report["noise"],
    }
    (run.path / "result.json").write_text(json.dumps(result, indent=2))
    log(
        f"[classify] test accuracy {result['test_accuracy']:.4f}, spikes/sample "
        f"{result['spikes_per_sample']:.1f}, SynOps/sample {result['synops_per_sample']:.0f}"
    )
    return result
