"""Time-series prediction: the series and their time-ordered splits, NRMSE, the ESN and linear
AR baselines, spiking predictors end to end through ``train``, and config errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from plasticagents.training.api import train
from plasticagents.training.cli import main
from plasticagents.training.config import ConfigError, from_dict
from plasticagents.training.prediction import SERIES, SeriesWindows, load_series, nrmse

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke"
SERIES_DATA = {"source": "series", "series": "mackey_glass", "length": 400, "washout": 20}


@pytest.mark.parametrize("name", SERIES)
def test_a_series_splits_in_time_order_without_leakage(name):
    horizon = 3
    s = load_series(name, length=500, horizon=horizon, washout=20, hold=2, window=10)
    channels = {"lorenz": 3}.get(name, 1)
    assert s.inputs.shape == (497, channels) and s.targets.shape == (497, channels)
    train, val, test = (s.splits[k] for k in ("train", "validation", "test"))
    assert train[0] == 20 and np.all(np.diff(np.concatenate([train, val, test])) > 0)
    # every target of an earlier split lies before every input of a later one
    assert val[0] > train[-1] + horizon and test[0] > val[-1] + horizon
    assert test[-1] + horizon == 499  # the last value is the last test target
    # z-scored with the training segment's statistics only
    assert abs(s.inputs[: train[-1] + horizon + 1].mean(0)).max() < 1e-9
    if name != "narma10":  # autonomous: the target is the input `horizon` steps later
        np.testing.assert_allclose(s.targets[:-horizon], s.inputs[horizon:], atol=1e-9)
    windows = SeriesWindows(s)
    x, y = windows.batch([0, len(windows) - 1])
    assert x.shape == (20, 2, channels) and y.shape == (10, 2, channels)
    last = windows.starts[-1] + s.window - 1
    assert last + horizon < val[0]  # training windows never read a validation target
    np.testing.assert_allclose(x[1::2, 1], s.inputs[windows.starts[-1] : last + 1], atol=1e-6)


def test_nrmse_is_zero_for_a_perfect_and_one_for_the_mean_predictor():
    y = np.random.default_rng(0).normal(size=(200, 2)) * [1.0, 5.0] + 3
    assert nrmse(y, y) == 0.0
    assert nrmse(y, np.broadcast_to(y.mean(0), y.shape)) == pytest.approx(1.0)
    assert nrmse(y, y + 0.1 * y.std(0)) == pytest.approx(0.1)


@pytest.mark.parametrize("kind", ["esn", "linear_ar"])
def test_the_baselines_beat_the_mean_predictor_on_mackey_glass_one_step(kind, tmp_path):
    result = train(SMOKE / f"{kind}.yaml", runs_dir=tmp_path, log=lambda m: None).details
    assert result["nrmse"] < 0.2 and result["val_nrmse"] < 0.2 and result["horizon"] == 1
    if kind == "esn":
        assert 1 < result["memory_capacity"] <= 20


def test_spiking_predictors_train_end_to_end_and_write_nrmse(tmp_path):
    cfg = {
        "data": {**SERIES_DATA, "hold": 3, "window": 20},
        "model": {"hidden": [30], "sparsity": 0.8, "tau_distribution": "gamma", "tau_spread": 0.8},
        "trainer": {"kind": "stdp", "stdp_spread": 0.5, "gain_in": 3.0, "bias": 0.3},
    }
    res = train(cfg, ["trainer.mc_steps=200"], runs_dir=tmp_path, log=lambda m: None)
    written = json.loads((res.run / "result.json").read_text())
    assert written["dataset"] == "mackey_glass" and 0 < written["nrmse"] < 1
    assert written["spikes_per_step"] > 0 and written["memory_capacity"] > 0
    assert written["E"] == pytest.approx(written["activity"] / written["memory_capacity"])
    bptt = {
        "data": {**SERIES_DATA, "hold": 2, "window": 20},
        "model": {"hidden": [16], "tau_mem": 5e-3, "readout_tau_mem": 5e-3, "gain": 3.0},
        "trainer": {"kind": "classify", "epochs": 1, "batch_size": 8, "lr": 1e-2},
    }
    res = train(bptt, runs_dir=tmp_path, log=lambda m: None)
    written = json.loads((res.run / "result.json").read_text())
    assert np.isfinite(written["nrmse"]) and written["spikes_per_step"] >= 0
    rows = (res.run / "metrics.csv").read_text().splitlines()
    assert rows[0].split(",")[:3] == ["epoch", "wall_time", "epoch_time"] and len(rows) == 2


BAD = [
    ("data.series=sunspots", "data.series: invalid value 'sunspots'; valid choices"),
    ("data.horizon=0", "data.horizon: must be > 0"),
    ("data.hold=0", "data.hold: must be > 0"),
    ("data.window=1", "data.window: must be >= 2"),
    ("data.washout=-1", "data.washout: must be >= 0"),
    ("data.length=50", "data.length: the train split keeps"),
    ("data.validation_fraction=0.8", "data.validation_fraction: must be in (0, 1)"),
    ("trainer.leak_rate=0", "trainer.leak_rate: must be in (0.0, 1.0]"),
    ("trainer.spectral_radius=-1", "trainer.spectral_radius: must be > 0"),
    ("trainer.mc_steps=0", "trainer.mc_steps: must be > 0"),
]


@pytest.mark.parametrize(("override", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_prediction_value_is_named(override, message):
    with pytest.raises(ConfigError) as err:
        from_dict({"data": SERIES_DATA, "trainer": {"kind": "esn"}}, [override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bad_keys_of_the_other_kinds_fail_before_a_run_directory_exists(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"trainer.orders: lags must be >= 1"):
        from_dict({"data": SERIES_DATA, "trainer": {"kind": "linear_ar", "orders": [0]}})
    with pytest.raises(ConfigError, match=r"data.length: santafe_laser has 10093 values"):
        data = {**SERIES_DATA, "series": "santafe_laser", "length": 20000}
        from_dict({"data": data, "trainer": {"kind": "esn"}})
    runs = tmp_path / "runs"
    for argv in (
        ["--set", "data.source=digits"],  # a baseline needs a series
        ["--set", "data.horizon=-2"],
    ):
        assert main(["train", str(SMOKE / "esn.yaml"), *argv, "--runs-dir", str(runs)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and ("data.source" in err or "data.horizon" in err)
    assert not runs.exists()
