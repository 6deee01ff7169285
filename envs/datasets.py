"""Classification datasets for spiking networks: Heidelberg Digits, UCR/UEA, scikit-learn digits.

Every dataset is numpy-only and exposes ``kind`` (what its samples are), ``n_channels``,
``n_classes``, ``classes``, ``__len__`` and ``batch(indices) -> (x, y)``:

==========  ===================================================================================
kind        ``x`` returned by ``batch``
==========  ===================================================================================
spikes      binned spike counts, time-first ``[T, B, C]`` (SHD)
series      z-normalised time series, time-first ``[T, B, C]`` (UCR/UEA; pad to the longest)
static      feature vectors in [0, 1], ``[B, F]`` (digits; spike-encode with
            :func:`plasticagents.encoding.encode`)
==========  ===================================================================================

Heidelberg Digits (Cramer et al. 2020) come as two HDF5 files, ``shd_train.h5`` and
``shd_test.h5``, with ragged ``spikes/times`` (seconds) and ``spikes/units`` (channel
0..699) per sample, ``labels`` (0..19) and ``extra/{speaker, keys, meta_info}``. They cannot
be downloaded here: pass the local path. :func:`write_shd` writes a file in the same format
(synthetic data for tests and benchmarks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

__all__ = [
    "SHD_CHANNELS",
    "UCR_DATASETS",
    "ArrayDataset",
    "SHDDataset",
    "load_digits",
    "load_shd",
    "load_ucr",
    "synthetic_shd",
    "write_shd",
]

SHD_CHANNELS = 700
SHD_KEYS = ("spikes/times", "spikes/units", "labels")
# Classification archives aeon ships inside its wheel (no download needed).
UCR_DATASETS = (
    "ACSF1",
    "ArrowHead",
    "BasicMotions",
    "GunPoint",
    "ItalyPowerDemand",
    "JapaneseVowels",
    "OSULeaf",
    "PickupGestureWiimoteZ",
)


@dataclass
class ArrayDataset:
    """An in-memory dataset; ``x`` is ``[n, T, C]`` for series, ``[n, F]`` for static."""

    name: str
    x: np.ndarray
    y: np.ndarray
    kind: Literal["series", "static", "spikes"]
    classes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"{self.name}: {len(self.x)} samples but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_channels(self) -> int:
        return int(self.x.shape[-1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_steps(self) -> int | None:
        return int(self.x.shape[1]) if self.kind != "static" else None

    def batch(self, indices: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
        x = self.x[np.asarray(indices)]
        if self.kind != "static":
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        return x.astype(np.float32), self.y[np.asarray(indices)].astype(np.int64)


# --------------------------------------------------------------------------- Heidelberg Digits
class SHDDataset:
    """One SHD file, binned lazily per batch into ``[T, B, channels]`` spike counts.

    Args:
        path: ``shd_train.h5`` or ``shd_test.h5`` (or a file in their format).
        dt: bin width in seconds.
        max_time: spikes at or after this time (seconds) are dropped; ``T = ceil(max_time/dt)``.
        channels: output channels; the 700 cochlea channels are pooled in equal groups
            (``channel = unit * channels // 700``).
    """

    kind = "spikes"

    def __init__(
        self, path: str | os.PathLike, dt: float = 10e-3, max_time: float = 1.0, channels: int = 700
    ) -> None:
        import h5py

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"SHD file {str(path)!r} does not exist; get shd_train.h5 / shd_test.h5 from "
                "https://zenkelab.org/datasets/ (no download is attempted) and pass its path"
            )
        if not dt > 0 or not max_time > 0:
            raise ValueError(f"dt and max_time must be > 0 seconds, got {dt!r}, {max_time!r}")
        if not (isinstance(channels, int) and 1 <= channels <= SHD_CHANNELS):
            raise ValueError(f"channels must be an int in [1, {SHD_CHANNELS}], got {channels!r}")
        try:
            fh = h5py.File(path, "r")
        except OSError as err:
            raise ValueError(f"{str(path)!r} is not a readable HDF5 file: {err}") from None
        with fh:
            missing = [k for k in SHD_KEYS if k not in fh]
            if missing:
                raise ValueError(
                    f"{str(path)!r} is not an SHD file: missing {missing}; an SHD file has "
                    f"{list(SHD_KEYS)} (and extra/speaker, extra/keys)"
                )
            times = [np.asarray(t, dtype=np.float64) for t in fh["spikes/times"]]
            units = [np.asarray(u, dtype=np.int64) for u in fh["spikes/units"]]
            labels = np.asarray(fh["labels"], dtype=np.int64)
            self.speakers = (
                np.asarray(fh["extra/speaker"], dtype=np.int64) if "extra/speaker" in fh else None
            )
            keys = fh["extra/keys"][()] if "extra/keys" in fh else None
        if not len(times) == len(units) == len(labels):
            raise ValueError(
                f"{str(path)!r}: spikes/times has {len(times)} samples, spikes/units "
                f"{len(units)}, labels {len(labels)}; they must match"
            )
        for i, (t, u) in enumerate(zip(times, units, strict=True)):
            if len(t) != len(u):
                raise ValueError(
                    f"{str(path)!r}: sample {i} has {len(t)} spike times but {len(u)} units"
                )
            if len(u) and (u.min() < 0 or u.max() >= SHD_CHANNELS):
                raise ValueError(
                    f"{str(path)!r}: sample {i} has units outside [0, {SHD_CHANNELS}): "
                    f"[{u.min()}, {u.max()}]"
                )
            if len(t) and not (np.isfinite(t).all() and t.min() >= 0):
                raise ValueError(f"{str(path)!r}: sample {i} has negative or non-finite times")
        if len(labels) and labels.min() < 0:
            raise ValueError(f"{str(path)!r}: labels must be >= 0, got {labels.min()}")
        self.name, self.path = path.stem, path
        self.times, self.units, self.y = times, units, labels
        self.dt, self.max_time, self.channels = dt, max_time, channels
        self.n_steps = int(np.ceil(max_time / dt - 1e-9))
        n_classes = int(labels.max()) + 1 if len(labels) else 0
        if keys is not None and len(keys) >= n_classes:
            self.classes = [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
        else:
            self.classes = [str(c) for c in range(n_classes)]

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_channels(self) -> int:
        return self.channels

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def bin(self, index: int) -> np.ndarray:
        """Spike counts of one sample ``[T, channels]``."""
        t, u = self.times[index], self.units[index]
        keep = t < self.max_time
        steps = np.floor(t[keep] / self.dt).astype(np.int64)
        chans = u[keep] * self.channels // SHD_CHANNELS
        out = np.zeros((self.n_steps, self.channels), dtype=np.float32)
        np.add.at(out, (steps, chans), 1.0)
        return out

    def batch(self, indices: np.ndarray | list[int]) -> tuple[np.ndarray, np.ndarray]:
        idx = np.asarray(indices)
        x = np.stack([self.bin(int(i)) for i in idx], axis=1)
        return x, self.y[idx]


def load_shd(
    path: str | os.PathLike, dt: float = 10e-3, max_time: float = 1.0, channels: int = 700
) -> SHDDataset:
    """Open one SHD file; see :class:`SHDDataset`."""
    return SHDDataset(path, dt=dt, max_time=max_time, channels=channels)


def write_shd(
    path: str | os.PathLike,
    times: list[np.ndarray],
    units: list[np.ndarray],
    labels: np.ndarray | list[int],
    speakers: np.ndarray | list[int] | None = None,
    keys: list[str] | None = None,
) -> Path:
    """Write spikes in the SHD file layout (float16 times, uint16 units, uint16 labels, as the
    published files)."""
    import h5py

    path = Path(path)
    labels = np.asarray(labels, dtype=np.uint16)
    if speakers is None:
        speakers = np.zeros(len(labels), dtype=np.uint16)
    keys = keys or [f"class-{c}" for c in range(int(labels.max()) + 1 if len(labels) else 0)]
    with h5py.File(path, "w") as fh:
        spikes = fh.create_group("spikes")
        t_type = h5py.vlen_dtype(np.dtype("float16"))
        u_type = h5py.vlen_dtype(np.dtype("uint16"))
        ds_t = spikes.create_dataset("times", (len(times),), dtype=t_type)
        ds_u = spikes.create_dataset("units", (len(units),), dtype=u_type)
        for i, (t, u) in enumerate(zip(times, units, strict=True)):
            ds_t[i] = np.asarray(t, dtype=np.float16)
            ds_u[i] = np.asarray(u, dtype=np.uint16)
        fh.create_dataset("labels", data=labels)
        extra = fh.create_group("extra")
        extra.create_dataset("speaker", data=np.asarray(speakers, dtype=np.uint16))
        extra.create_dataset("keys", data=np.array([k.encode() for k in keys]))
        meta = extra.create_group("meta_info")
        meta.create_dataset("gender", data=np.array([b"unknown"] * 1))
    return path


def synthetic_shd(
    path: str | os.PathLike,
    samples: int = 256,
    classes: int = 20,
    rate: float = 15.0,
    duration: float = 1.0,
    seed: int = 0,
) -> Path:
    """A synthetic file in SHD format: each class excites its own band of channels in a
    class-specific time window, over Poisson background (``rate`` Hz per channel)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, samples)
    times, units = [], []
    for label in labels:
        n_bg = rng.poisson(rate * duration * SHD_CHANNELS / 20)
        t = rng.uniform(0, duration, n_bg)
        u = rng.integers(0, SHD_CHANNELS, n_bg)
        lo = int(label) * SHD_CHANNELS // classes
        n_sig = 400
        t_sig = rng.uniform(0.1 + 0.03 * label, 0.3 + 0.03 * label, n_sig)
        u_sig = rng.integers(lo, lo + SHD_CHANNELS // classes, n_sig)
        order = np.argsort(np.concatenate([t, t_sig]))
        times.append(np.concatenate([t, t_sig])[order])
        units.append(np.concatenate([u, u_sig])[order])
    return write_shd(path, times, units, labels, speakers=rng.integers(0, 12, samples))


# --------------------------------------------------------------------------------- UCR / UEA
def _znorm(series: np.ndarray) -> np.ndarray:
    mean = series.mean(axis=-1, keepdims=True)
    std = series.std(axis=-1, keepdims=True)
    return (series - mean) / np.where(std > 1e-8, std, 1.0)


def load_ucr(name: str, split: Literal["train", "test"] = "train") -> ArrayDataset:
    """A UCR/UEA classification set shipped inside ``aeon`` (:data:`UCR_DATASETS`), each series
    z-normalised per channel; unequal lengths are zero-padded (the mean) at the end. Labels are
    indices into ``classes`` (sorted, the same for both splits)."""
    if name not in UCR_DATASETS:
        raise ValueError(
            f"unknown UCR/UEA data set {name!r}; shipped with aeon (no download here): "
            f"{list(UCR_DATASETS)}"
        )
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid choices: ['train', 'test']")
    from aeon.datasets import load_classification

    x, y = load_classification(name, split=split)
    _, y_train = load_classification(name, split="train")
    classes = sorted({str(v) for v in y_train})
    series = [_znorm(np.asarray(s, dtype=np.float64)) for s in x]  # each [C, L_i]
    length = max(s.shape[-1] for s in series)
    out = np.zeros((len(series), length, series[0].shape[0]), dtype=np.float32)
    for i, s in enumerate(series):
        out[i, : s.shape[-1]] = s.T
    labels = np.array([classes.index(str(v)) for v in y], dtype=np.int64)
    return ArrayDataset(f"{name}-{split}", out, labels, "series", classes)


# ---------------------------------------------------------------------------------- digits
def load_digits(
    split: Literal["train", "test"] = "train", test_fraction: float = 0.25, seed: int = 0
) -> ArrayDataset:
    """scikit-learn's 8x8 handwritten digits (1797 samples), pixels scaled to [0, 1]; a fixed
    stratified split by ``seed``."""
    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; valid choices: ['train', 'test']")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    from sklearn.datasets import load_digits as _sk_digits

    data = _sk_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        test[members[: round(len(members) * test_fraction)]] = True
    keep = test if split == "test" else ~test
    return ArrayDataset(f"digits-{split}", x[keep], y[keep], "static", [str(c) for c in range(10)])
