"""1-NN DTW and 1-NN Euclidean accuracy on the UCR/UEA sets aeon ships: the reference the
spiking classifiers are compared with, measured here next to the archive's published value.

Published: test accuracy of 1-NN DTW with a full warping window, from the UCR archive 2018
table (univariate) and Bagnall et al. 2018's UEA archive paper (multivariate, DTW_D).
Measured: aeon's ``KNeighborsTimeSeriesClassifier(distance="dtw")`` (full window, multivariate
DTW_D) on the same train/test split, on our z-normalised series.

The record (command, git revision, versions, machine, dates, wall time; ``outputs``: every data
set's measured 1-NN ED and 1-NN DTW test accuracy, the published value, train/test sizes and
seconds) goes to ``results/ucr_dtw/record.json`` (``--out`` to write it elsewhere).

    python benchmarks/ucr_dtw.py                 # all shipped sets with a published value
    python benchmarks/ucr_dtw.py GunPoint ArrowHead --out /tmp/ucr_dtw.json
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _record import REPO, add_out_argument

from plasticagents.envs.datasets import UCR_DATASETS, load_ucr
from plasticagents.training.record import Recorder

PUBLISHED_DTW = {
    "ArrowHead": 0.703,
    "BasicMotions": 0.975,
    "GunPoint": 0.907,
    "ItalyPowerDemand": 0.950,
    "JapaneseVowels": 0.949,
    "OSULeaf": 0.591,
}
DEFAULT_OUT = REPO / "results" / "ucr_dtw" / "record.json"


def one_nn(name: str, distance: str) -> tuple[float, int, int]:
    """Test accuracy of 1-NN with ``distance``, and the train and test sizes."""
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    train, test = load_ucr(name, "train"), load_ucr(name, "test")
    clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance=distance)
    clf.fit(train.x.transpose(0, 2, 1).astype(np.float64), train.y)
    pred = clf.predict(test.x.transpose(0, 2, 1).astype(np.float64))
    return float((pred == test.y).mean()), len(train.y), len(test.y)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", help=f"data sets (default: {', '.join(sorted(PUBLISHED_DTW))})"
    )
    add_out_argument(parser, "ucr_dtw", default="results/ucr_dtw/record.json")
    args = parser.parse_args(argv)
    rec = Recorder(None if argv is None else [Path(__file__).name, *argv])
    warnings.filterwarnings("ignore", message=".*unsafe cast")  # numba, inside aeon's distances
    names = args.names or [n for n in UCR_DATASETS if n in PUBLISHED_DTW]
    unknown = [n for n in names if n not in UCR_DATASETS]
    if unknown:
        parser.error(f"unknown data sets {unknown}; valid choices: {list(UCR_DATASETS)}")
    print("| data set | 1-NN ED (measured) | 1-NN DTW (measured) | 1-NN DTW (published) |")
    print("| --- | --- | --- | --- |")
    rows = []
    for name in names:
        t0 = time.perf_counter()
        ed, n_train, n_test = one_nn(name, "euclidean")
        dtw, _, _ = one_nn(name, "dtw")
        seconds = time.perf_counter() - t0
        pub = PUBLISHED_DTW.get(name)
        rows.append(
            {
                "dataset": name,
                "train_size": n_train,
                "test_size": n_test,
                "ed_accuracy": ed,
                "dtw_accuracy": dtw,
                "dtw_published": pub,
                "seconds": round(seconds, 2),
            }
        )
        print(
            f"| {name} | {ed:.3f} | {dtw:.3f} | {pub if pub is not None else '–'} |"
            f"  <!-- {seconds:.0f} s -->",
            flush=True,
        )
    path = rec.write(
        args.out or DEFAULT_OUT,
        outputs={
            "settings": {
                "datasets": names,
                "classifier": "aeon KNeighborsTimeSeriesClassifier(n_neighbors=1)",
                "distances": ["euclidean", "dtw (full window; DTW_D when multivariate)"],
                "normalisation": "z-normalised per channel (plasticagents load_ucr)",
            },
            "datasets": rows,
        },
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
