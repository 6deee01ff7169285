"""1-NN DTW and 1-NN Euclidean accuracy on the UCR/UEA sets aeon ships: the reference the
spiking classifiers are compared with, measured here next to the archive's published value.

Published: test accuracy of 1-NN DTW with a full warping window, from the UCR archive 2018
table (univariate) and Bagnall et al. 2018's UEA archive paper (multivariate, DTW_D).
Measured: aeon's ``KNeighborsTimeSeriesClassifier(distance="dtw")`` (full window, multivariate
DTW_D) on the same train/test split, on our z-normalised series.

    python benchmarks/ucr_dtw.py                 # all shipped sets
    python benchmarks/ucr_dtw.py GunPoint ArrowHead
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from plasticagents.envs.datasets import UCR_DATASETS, load_ucr

PUBLISHED_DTW = {
    "ArrowHead": 0.703,
    "BasicMotions": 0.975,
    "GunPoint": 0.907,
    "ItalyPowerDemand": 0.950,
    "JapaneseVowels": 0.949,
    "OSULeaf": 0.591,
}


def one_nn(name: str, distance: str) -> float:
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    train, test = load_ucr(name, "train"), load_ucr(name, "test")
    clf = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance=distance)
    clf.fit(train.x.transpose(0, 2, 1).astype(np.float64), train.y)
    pred = clf.predict(test.x.transpose(0, 2, 1).astype(np.float64))
    return float((pred == test.y).mean())


def main() -> None:
    warnings.filterwarnings("ignore", message="unsafe cast")  # numba, inside aeon's distances
    names = sys.argv[1:] or [n for n in UCR_DATASETS if n in PUBLISHED_DTW]
    print("| data set | 1-NN ED (measured) | 1-NN DTW (measured) | 1-NN DTW (published) |")
    print("| --- | --- | --- | --- |")
    for name in names:
        t0 = time.perf_counter()
        ed, dtw = one_nn(name, "euclidean"), one_nn(name, "dtw")
        pub = PUBLISHED_DTW.get(name)
        print(
            f"| {name} | {ed:.3f} | {dtw:.3f} | {pub if pub is not None else '–'} |"
            f"  <!-- {time.perf_counter() - t0:.0f} s -->",
            flush=True,
        )


if __name__ == "__main__":
    main()
