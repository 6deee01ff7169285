"""Unsupervised STDP reservoir + linear readout: the HRSNN setting (``trainer.kind: stdp``).

1. Build :class:`~plasticagents.reservoir.STDPReservoir` from ``model`` (size, recurrent
   sparsity, membrane time-constant distribution, E:I ratio) and ``trainer`` (STDP amplitudes,
   time constants and their heterogeneity ``stdp_spread``).
2. Run the training inputs through it for ``trainer.epochs`` passes with STDP on (no labels);
   ``checkpoints/latest.pt`` after every pass, so ``--resume`` loses at most one pass.
3. Freeze it; fit a ridge-regression readout (scikit-learn ``RidgeClassifierCV``) on the
   standardised spike counts of ``trainer.bins`` time windows per neuron; test it.
4. Measure the linear memory capacity and ``E = activity / MC``
   (:meth:`~plasticagents.reservoir.STDPReservoir.memory_capacity`).

Writes ``result.json`` (test accuracy, spikes per sample, MC, activity, E).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from plasticagents.reservoir import STDPReservoir, STDPSpec, spike_features
from plasticagents.training.classify import Encoder, load_data, membrane_time_constants
from plasticagents.training.config import ClassificationConfig, StdpConfig, to_dict
from plasticagents.training.run import RunDir

__all__ = [
    "build_reservoir",
    "reservoir_features",
    "reservoir_memory",
    "stdp_pass",
    "train_stdp",
]

METRIC_COLUMNS = ["epoch", "wall_time", "spikes_per_sample", "mean_weight"]


def build_reservoir(cfg: ClassificationConfig, n_in: int) -> STDPReservoir:
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
    mc, activity, _ = res.memory_capacity(
        steps=t.mc_steps,
        hold=t.mc_hold,
        max_delay=t.mc_max_delay,
        gain=t.mc_gain,
        generator=torch.Generator().manual_seed(seed + 12345),
    )
    return {"memory_capacity": mc, "activity": activity, "E": activity / mc if mc > 0 else None}


def train_stdp(
    cfg: ClassificationConfig,
    run: RunDir,
    resume: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.preprocessing import StandardScaler

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t = cfg.trainer
    if not isinstance(t, StdpConfig):
        raise ValueError(f"train_stdp needs trainer.kind 'stdp', got {t.kind!r}")
    train, test = load_data(cfg.data, cfg.seed)
    encoder = Encoder(cfg.data, train)
    res = build_reservoir(cfg, encoder.n_in)
    start, wall0 = 0, 0.0
    if resume is not None:
        res.load_state_dict(resume["model"])
        start, wall0 = resume["epoch"] + 1, resume["wall_time"]
        run.truncate_metrics("epoch", resume["epoch"])
    hetero = cfg.model.tau_spread > 0 and cfg.model.tau_distribution != "constant"
    log(
        f"[stdp] {cfg.name}: {train.name} ({len(train)} train, {len(test)} test), reservoir "
        f"{res.n} LIF ({'heterogeneous' if hetero else 'homogeneous'} tau, STDP spread "
        f"{t.stdp_spread}), STDP passes {start}..{t.epochs - 1} -> {run.path}"
    )
    clock = time.perf_counter()
    for epoch in range(start, t.epochs):
        spikes = stdp_pass(res, train, encoder, t.batch_size, cfg.seed, epoch)
        mean_w = float(res.rec.weight().abs().sum() / res.rec.connection_count())
        row = {
            "epoch": epoch,
            "wall_time": wall0 + time.perf_counter() - clock,
            "spikes_per_sample": spikes,
            "mean_weight": mean_w,
        }
        run.append_metrics(row, METRIC_COLUMNS)
        log(
            f"[stdp] pass {epoch}  spikes/sample {row['spikes_per_sample']:.1f}  mean |w| "
            f"{mean_w:.4f}  {row['wall_time']:.1f}s"
        )
        if (epoch + 1 - start) % t.checkpoint_every == 0 or epoch == t.epochs - 1:
            run.save_checkpoint(
                "latest",
                {
                    "kind": "reservoir",
                    "trainer": "stdp",
                    "epoch": epoch,
                    "wall_time": row["wall_time"],
                    "model": res.state_dict(),
                    "config": to_dict(cfg),
                },
            )
    x_train, y_train, _ = reservoir_features(res, train, encoder, t.bins, cfg.seed)
    x_test, y_test, spikes_test = reservoir_features(res, test, encoder, t.bins, cfg.seed + 1)
    scaler = StandardScaler().fit(x_train)
    readout = RidgeClassifierCV(alphas=np.logspace(-2, 4, 13)).fit(
        scaler.transform(x_train), y_train
    )
    accuracy = float(readout.score(scaler.transform(x_test), y_test))
    memory = reservoir_memory(res, t, cfg.seed)
    result = {
        "name": cfg.name,
        "seed": cfg.seed,
        "dataset": train.name,
        "test_accuracy": accuracy,
        "train_accuracy": float(readout.score(scaler.transform(x_train), y_train)),
        "spikes_per_sample": spikes_test,
        "readout_alpha": float(readout.alpha_),
        **memory,
    }
    run.save_checkpoint(
        "best",
        {
            "kind": "reservoir",
            "trainer": "stdp",
            "epoch": t.epochs - 1,
            "model": res.state_dict(),
            "readout": {"coef": readout.coef_, "intercept": readout.intercept_},
            "scaler": {"mean": scaler.mean_, "scale": scaler.scale_},
            "config": to_dict(cfg),
            "n_in": encoder.n_in,
        },
    )
    (run.path / "result.json").write_text(json.dumps(result, indent=2))
    e_text = f"{memory['E']:.4f}" if memory["E"] is not None else "inf"
    log(
        f"[stdp] test accuracy {accuracy:.4f}, spikes/sample {spikes_test:.1f}, memory capacity "
        f"{memory['memory_capacity']:.2f}, activity {memory['activity']:.4f}, E {e_text}"
    )
    return result
