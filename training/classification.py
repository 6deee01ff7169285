"""Classification with spiking networks, the library half: data sets, spike encoding, the
classifier a config describes, and testing it. The ``classify`` and ``stdp`` trainers, the
``evaluate`` command, sweeps and ``tune`` all use these; none of it trains.

Example:
    >>> from plasticagents.training.config import from_dict
    >>> cfg = from_dict({"data": {"source": "digits", "steps": 5}, "trainer": {"kind": "classify"}})
    >>> train, test = load_data(cfg.data)
    >>> encoder = Encoder(cfg.data, train)
    >>> x, y = train.batch(np.arange(4))
    >>> tuple(encoder(x, torch.Generator().manual_seed(0)).shape)  # [T, B, I]
    (5, 4, 64)
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents.classifier import SpikingClassifier, sequence_loss, sequence_predict
from plasticagents.encoding import encode
from plasticagents.metrics import spikes_per_sample, synaptic_operations, van_rossum_distance
from plasticagents.neurons import TimeConstants
from plasticagents.rewiring import Rewiring
from plasticagents.training.builders import membrane_time_constants
from plasticagents.training.config import ClassificationConfig, DataConfig, from_dict
from plasticagents.training.run import RunDir

__all__ = [
    "Encoder",
    "batches",
    "build_classifier",
    "classifier_from_policy",
    "evaluate_classifier",
    "load_classifier",
    "load_data",
    "membrane_time_constants",
    "recalibrate_batch_norm",
    "with_weight_noise",
]


def load_data(data: DataConfig, seed: int = 0) -> tuple[Any, Any]:
    """``(train, test)`` datasets from :mod:`plasticagents.envs.datasets`.

    ``digits``: scikit-learn's 8x8 digits (static ``[B, 64]`` in [0, 1]), a stratified split
    of ``data.test_fraction``; ``ucr``: the UCR/UEA archive's own train / test split of
    ``data.dataset`` (series); ``shd``: the Heidelberg Digits files at ``data.train_path`` /
    ``data.test_path``, binned at ``data.dt`` seconds up to ``data.max_time`` over the first
    ``data.channels`` channels (spikes); ``series``: the prediction task ``data.series`` (see
    :mod:`~plasticagents.training.prediction`) as training and test windows
    (:class:`~plasticagents.training.prediction.SeriesWindows`, the whole task at ``.series``).
    ``seed`` is not used: every source's split is fixed (the digits split with seed 0, the
    series drawn with seed 0), so runs of different seeds test on the same samples.
    """
    from plasticagents.envs import datasets

    if data.source == "series":
        from plasticagents.training.prediction import SeriesWindows, load_series

        series = load_series(
            data.series,
            data.length,
            data.horizon,
            data.validation_fraction,
            data.test_fraction,
            data.washout,
            data.hold,
            data.window,
        )
        return SeriesWindows(series, "train"), SeriesWindows(series, "test")

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

    ``data.encoder: auto`` picks by the data's kind: ``rate`` for static features
    (Bernoulli spikes over ``data.steps`` steps), ``current`` for series (the values as input
    current), none for spike data (the bins are the input). ``n_in`` is what the network
    receives per step: the channel count, times 2 for ``delta`` (on / off spikes), times
    ``data.fields`` for ``population``, and the image's row width for ``scan`` (one row per
    step).
    """

    def __init__(self, data: DataConfig, dataset: Any) -> None:
        """Fix the encoder for ``dataset`` (its ``kind`` and ``n_channels``) from the ``data``
        section; no data is read."""
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
        """``x`` as ``dataset.batch`` returns it (``[B, F]`` static, ``[T, B, C]`` series or spikes)
        -> input ``[T, B, n_in]`` float32. ``generator`` draws the noise and the rate encoder's
        spikes, so a seeded generator gives the same input twice."""
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


def build_classifier(cfg: ClassificationConfig, n_in: int, n_classes: int) -> SpikingClassifier:
    """The :class:`~plasticagents.classifier.SpikingClassifier` the ``model`` section describes,
    from ``cfg.seed`` (the same initial network for the same config): ``n_in`` input channels
    per step, ``n_classes`` readout neurons, ``density = 1 - model.sparsity``, membrane time
    constants drawn per neuron when ``tau_distribution`` / ``tau_spread`` ask for it, and with
    ``inhibitory_tau_spread`` a separate gamma spread for the inhibitory neurons (same mean)."""
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
        reset=m.reset,
    )


def batches(n: int, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index arrays of ``size`` (the last may be smaller) covering ``0 .. n - 1``: shuffled by
    ``rng``, in order for ``rng=None`` (evaluation)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i : i + size] for i in range(0, n, size)]


@torch.no_grad()
def recalibrate_batch_norm(
    model: SpikingClassifier,
    dataset: Any,
    indices: np.ndarray,
    encoder: Encoder,
    batch_size: int,
    seed: int,
    n_batches: int = 8,
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
    for k, batch in enumerate(batches(len(indices), batch_size, rng)[:n_batches]):
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
    both see the same encoder randomness.

    The model is put in eval mode (rounded delays, no dropout, batch-norm running statistics)
    and left there. Batches run in order; batch ``k``'s encoder draws come from a generator
    seeded ``seed * 100_003 + k``, so the same call gives the same numbers.

    Returns:
        ``accuracy`` (fraction correct), ``loss`` (mean cross-entropy of the readout as
        ``model.readout_mode`` reads it), ``spikes_per_sample`` (hidden spikes, all layers),
        ``synops_per_sample`` (each spike counted once per outgoing connection), and
        ``van_rossum`` (with ``input_noise > 0`` and ``vr_tau``: per sample, the RMS over
        hidden neurons of their distances, layers weighted equally; mean over samples).
    """
    model.eval()
    mode = model.readout_mode
    idx = np.arange(len(dataset)) if indices is None else np.asarray(indices)
    fan_out = model.fan_out()
    correct, loss, spikes, synops, vr, n = 0, 0.0, 0.0, 0.0, 0.0, 0
    for k, batch in enumerate(batches(len(idx), batch_size, None)):
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


def with_weight_noise(model: SpikingClassifier, std: float, seed: int) -> SpikingClassifier:
    """A copy whose every trained matrix is scaled by ``1 + std N(0, 1)`` per synapse (Dale
    magnitudes keep their sign)."""
    noisy = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for syn in noisy.synapse_modules():
            syn.raw.mul_(1 + std * torch.randn(syn.raw.shape, generator=generator))
    return noisy


def load_classifier(run: str | RunDir, which: str = "best") -> tuple[Any, SpikingClassifier]:
    """``(config, model)`` of a ``classify`` run's ``which`` checkpoint (``best`` or
    ``latest``), the model in eval mode.

    Raises:
        FileNotFoundError: ``run`` is not a run directory or has no such checkpoint.
        ValueError: the run was trained by another trainer kind (an ``stdp`` reservoir has
            no :class:`SpikingClassifier`; load it through its adapter's ``load_model``).
    """
    run = run if isinstance(run, RunDir) else RunDir.open(run)
    ckpt = run.load(which)
    if ckpt.trainer != "classify":
        raise ValueError(
            f"{run.path} is not a trainer.kind 'classify' run (its checkpoint is {ckpt.trainer!r})"
        )
    cfg = from_dict(ckpt.config)
    return cfg, classifier_from_policy(cfg, ckpt.policy)


def classifier_from_policy(cfg: ClassificationConfig, policy: dict[str, Any]) -> SpikingClassifier:
    """A :class:`SpikingClassifier` built from ``cfg`` with a checkpoint's ``policy`` state
    (``model``: the full state dict; ``n_in``, ``n_classes``), in eval mode."""
    model = build_classifier(cfg, policy["n_in"], policy["n_classes"])
    if cfg.model.rewiring:
        Rewiring(model.synapse_modules())  # registers the connection-sign buffers
    model.load_state_dict(policy["model"])
    return model.eval()
