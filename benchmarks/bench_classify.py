"""Epoch time and peak memory of a delays + recurrent SNN classifier: ours vs snnTorch.

The model (Mészáros et al. 2024's shape, scaled to this machine): SHD-shaped input
(``--channels`` x ``--steps``, binned spikes from a synthetic SHD file written by
:func:`plasticagents.envs.datasets.synthetic_shd` and read back through our loader) ->
feed-forward synapses with per-synapse DCLS delays (``max_delay`` 25) -> ``--hidden``
recurrent LIF neurons -> 20 leaky-integrator readouts; loss = cross-entropy of the summed
readout; Adam. An "epoch" is ``--batches`` forward + backward + optimiser steps.

- ours: :class:`plasticagents.classifier.SpikingClassifier` (``delay_mode="learned"``).
- snnTorch: the same delay kernel (the same Gaussian conv1d: snnTorch has no delays) feeding
  ``snn.RLeaky`` (all-to-all recurrent, subtract reset, arctan surrogate) and an
  ``snn.Leaky`` readout without reset.

Every epoch runs in a fresh subprocess that reports its own wall time and peak resident
memory above its pre-training baseline; the two libraries alternate ``--repeats`` times and
the medians are compared. The last line prints ``epoch_time_ours_over_snntorch`` and
``peak_memory_ours_over_snntorch`` (goal <= 1 for both). The record (command, commit, versions,
machine, date, wall time; every repeat's seconds and peak memory per library, the medians, the
ratios and the settings) goes to ``results/benchmarks/bench_classify-<YYYYmmdd-HHMMSS>.json``
(``--out``).

    python benchmarks/bench_classify.py                     # 140 channels, 100 steps, batch 64
    python benchmarks/bench_classify.py --channels 700 --batch 256 --hidden 256
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _record import add_out_argument, default_out, timing


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _snntorch_model(n_in: int, hidden: int, classes: int, max_delay: int):
    import snntorch as snn
    import torch
    from snntorch import surrogate
    from torch import nn

    from plasticagents.delays import DelayedSynapses

    class Peer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # The delay kernel itself is plain torch in both; snnTorch has no delay layer.
            self.delays = DelayedSynapses(n_in, hidden, max_delay=max_delay, mode="learned")
            grad = surrogate.atan(alpha=5.0)
            self.lif = snn.RLeaky(beta=0.9, linear_features=hidden, spike_grad=grad)
            self.fc = nn.Linear(hidden, classes, bias=False)
            self.out = snn.Leaky(beta=0.9, spike_grad=grad, reset_mechanism="none")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            drive = self.delays(x)
            spk, mem = self.lif.init_rleaky()
            mem_out = self.out.init_leaky()
            outs = []
            for t in range(drive.shape[0]):
                spk, mem = self.lif(drive[t], spk, mem)
                _, mem_out = self.out(self.fc(spk), mem_out)
                outs.append(mem_out)
            return torch.stack(outs)

    return Peer()


def _one_epoch(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from plasticagents.classifier import SpikingClassifier
    from plasticagents.envs.datasets import load_shd

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    data = load_shd(args.file, dt=1.0 / args.steps, max_time=1.0, channels=args.channels)
    batches = [
        torch.as_tensor(data.batch(np.arange(i * args.batch, (i + 1) * args.batch) % len(data))[0])
        for i in range(args.batches)
    ]
    labels = torch.as_tensor(data.y[: args.batch] % 20)
    if args.lib == "ours":
        net = SpikingClassifier(
            args.channels,
            20,
            hidden=(args.hidden,),
            delay_mode="learned",
            max_delay=25,
            surrogate_name="arctan",
            alpha=5.0,
        )

        def forward(x):
            return net(x).readout
    else:
        net = _snntorch_model(args.channels, args.hidden, 20, 25)
        forward = net
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    base = _rss_mb()
    t0 = time.perf_counter()
    for x in batches:
        loss = F.cross_entropy(forward(x).sum(0), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "peak_mb": _rss_mb() - base}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=140)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lib", choices=["ours", "snntorch"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    add_out_argument(parser, "bench_classify")
    args = parser.parse_args(argv)
    if args.lib:
        _one_epoch(args)
        return
    from plasticagents.envs.datasets import synthetic_shd
    from plasticagents.training.record import Recorder

    rec = Recorder(None if argv is None else [Path(__file__).name, *argv])

    with tempfile.TemporaryDirectory() as tmp:
        path = synthetic_shd(Path(tmp) / "shd_synthetic.h5", samples=args.batch, seed=0)
        results: dict[str, list[dict]] = {"ours": [], "snntorch": []}
        for rep in range(args.repeats):
            for lib in ("ours", "snntorch"):
                cmd = [sys.executable, __file__, "--lib", lib, "--file", str(path)]
                for key in ("channels", "steps", "hidden", "batch", "batches", "threads"):
                    cmd += [f"--{key}", str(getattr(args, key))]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                res = json.loads(out.stdout.strip().splitlines()[-1])
                results[lib].append(res)
                print(
                    f"repeat {rep}  {lib:9s} epoch {res['seconds']:7.2f} s  peak +"
                    f"{res['peak_mb']:7.1f} MB",
                    flush=True,
                )
    med = {
        lib: (
            statistics.median(r["seconds"] for r in rs),
            statistics.median(r["peak_mb"] for r in rs),
        )
        for lib, rs in results.items()
    }
    print(
        f"model: {args.channels} channels x {args.steps} steps, batch {args.batch}, DCLS delays "
        f"(25) -> {args.hidden} recurrent LIF -> 20 LI; {args.batches} batches per epoch"
    )
    for lib, (sec, mb) in med.items():
        print(f"median {lib:9s} epoch {sec:7.2f} s   peak memory +{mb:7.1f} MB")
    ratios = {
        "epoch_time_ours_over_snntorch": med["ours"][0] / med["snntorch"][0],
        "peak_memory_ours_over_snntorch": med["ours"][1] / max(med["snntorch"][1], 1e-9),
    }
    print(
        f"epoch_time_ours_over_snntorch={ratios['epoch_time_ours_over_snntorch']:.2f} "
        f"peak_memory_ours_over_snntorch={ratios['peak_memory_ours_over_snntorch']:.2f}"
    )
    settings = {
        k: getattr(args, k)
        for k in ("channels", "steps", "hidden", "batch", "batches", "repeats", "threads")
    }
    path = rec.write(
        args.out or default_out("bench_classify"),
        outputs={
            "settings": {
                **settings,
                "model": "SHD-shaped synthetic input -> DCLS delays (max 25) -> recurrent LIF "
                "-> 20 leaky integrators; Adam",
                "order": "ours, snntorch alternating; each epoch in a fresh subprocess",
            },
            "epoch_seconds": {
                lib: timing([r["seconds"] for r in rs]) for lib, rs in results.items()
            },
            "peak_memory_mb": {
                lib: timing([r["peak_mb"] for r in rs]) for lib, rs in results.items()
            },
            "repeats": results,
            "ratios": ratios,
        },
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
