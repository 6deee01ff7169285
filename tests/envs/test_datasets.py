import h5py
import numpy as np
import pytest

from plasticagents.envs.datasets import (
    UCR_DATASETS,
    load_digits,
    load_shd,
    load_ucr,
    synthetic_shd,
    write_shd,
)


def _write_official_layout(path, times, units, labels):
    """The published files' layout, written with h5py directly (not with our writer)."""
    with h5py.File(path, "w") as fh:
        vt = h5py.vlen_dtype(np.dtype("float16"))
        vu = h5py.vlen_dtype(np.dtype("uint16"))
        t = fh.create_dataset("spikes/times", (len(times),), dtype=vt)
        u = fh.create_dataset("spikes/units", (len(units),), dtype=vu)
        for i in range(len(times)):
            t[i] = np.asarray(times[i], np.float16)
            u[i] = np.asarray(units[i], np.uint16)
        fh.create_dataset("labels", data=np.asarray(labels, np.uint16))
        fh.create_dataset("extra/speaker", data=np.arange(len(labels), dtype=np.uint16))
        fh.create_dataset("extra/keys", data=np.array([b"zero", b"one", b"two"]))
        fh.create_dataset("extra/meta_info/gender", data=np.array([b"female"]))


def test_shd_loader_bins_the_official_layout_exactly(tmp_path):
    path = tmp_path / "shd_train.h5"
    times = [[0.0, 0.0125, 0.5, 0.999, 1.2], [0.25]]
    units = [[0, 699, 350, 10, 5], [699]]
    _write_official_layout(path, times, units, [2, 0])
    data = load_shd(path, dt=0.01, max_time=1.0, channels=700)
    assert len(data) == 2 and data.n_steps == 100 and data.n_classes == 3
    assert data.classes == ["zero", "one", "two"]
    x, y = data.batch([0, 1])
    assert x.shape == (100, 2, 700) and y.tolist() == [2, 0]
    assert x[:, 0].sum() == 4  # the spike at 1.2 s lies beyond max_time
    assert x[0, 0, 0] == 1 and x[1, 0, 699] == 1 and x[50, 0, 350] == 1 and x[99, 0, 10] == 1
    assert x[25, 1, 699] == 1 and x[:, 1].sum() == 1
    pooled = load_shd(path, dt=0.5, max_time=1.0, channels=7).batch([0])[0]
    assert pooled.shape == (2, 1, 7)
    assert pooled[0, 0].tolist() == [1, 0, 0, 0, 0, 0, 1] and pooled[1, 0, 3] == 1


def test_write_shd_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    times = [np.sort(rng.uniform(0, 0.9, 50)).astype(np.float16) for _ in range(5)]
    units = [rng.integers(0, 700, 50) for _ in range(5)]
    path = write_shd(tmp_path / "s.h5", times, units, [0, 1, 2, 3, 4])
    data = load_shd(path, dt=1e-3, max_time=1.0)
    for i in range(5):
        counts = data.bin(i)
        assert counts.sum() == 50
        expected = np.zeros((1000, 700))
        np.add.at(expected, (np.floor(times[i].astype(np.float64) / 1e-3).astype(int), units[i]), 1)
        np.testing.assert_array_equal(counts, expected)
    synthetic = load_shd(synthetic_shd(tmp_path / "syn.h5", samples=8, seed=1))
    assert len(synthetic) == 8 and synthetic.n_classes <= 20


def test_shd_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*no download"):
        load_shd(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        load_shd(tmp_path / "text.h5")
    with h5py.File(tmp_path / "nokeys.h5", "w") as fh:
        fh.create_dataset("labels", data=np.zeros(2))
    with pytest.raises(ValueError, match=r"missing \['spikes/times', 'spikes/units'\]"):
        load_shd(tmp_path / "nokeys.h5")
    _write_official_layout(tmp_path / "short.h5", [[0.1], [0.2]], [[1], [2]], [0])
    with pytest.raises(ValueError, match="labels 1; they must match"):
        load_shd(tmp_path / "short.h5")
    with pytest.raises(ValueError, match=r"channels must be an int in \[1, 700\]"):
        load_shd(tmp_path / "short.h5", channels=701)


def test_shd_rejects_out_of_range_units(tmp_path):
    with h5py.File(tmp_path / "bad.h5", "w") as fh:
        vt, vu = h5py.vlen_dtype(np.dtype("float32")), h5py.vlen_dtype(np.dtype("int32"))
        fh.create_dataset("spikes/times", (1,), dtype=vt)[0] = np.array([0.1], np.float32)
        fh.create_dataset("spikes/units", (1,), dtype=vu)[0] = np.array([700], np.int32)
        fh.create_dataset("labels", data=np.zeros(1, np.uint16))
    with pytest.raises(ValueError, match=r"units outside \[0, 700\)"):
        load_shd(tmp_path / "bad.h5")


def test_ucr_sets_shipped_with_aeon_load_z_normalised():
    train, test = load_ucr("GunPoint", "train"), load_ucr("GunPoint", "test")
    assert (len(train), len(test)) == (50, 150)
    assert train.kind == "series" and train.n_channels == 1 and train.n_classes == 2
    x, y = train.batch(np.arange(4))
    assert x.shape == (150, 4, 1) and set(y.tolist()) <= {0, 1}
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1, atol=1e-4)
    multi = load_ucr("BasicMotions", "test")
    assert multi.n_channels == 6 and multi.n_classes == 4


def test_unequal_length_ucr_sets_are_padded():
    data = load_ucr("JapaneseVowels", "train")
    assert data.x.ndim == 3 and data.n_channels == 12 and len(data) == 270


def test_unknown_ucr_set_lists_the_shipped_ones():
    with pytest.raises(ValueError, match="unknown UCR/UEA data set 'FordA'.*GunPoint"):
        load_ucr("FordA")
    assert "ArrowHead" in UCR_DATASETS


def test_digits_split_is_stratified_disjoint_and_in_unit_range():
    train, test = load_digits("train"), load_digits("test")
    assert len(train) + len(test) == 1797
    assert abs(len(test) / 1797 - 0.25) < 0.01
    assert train.x.min() >= 0 and train.x.max() <= 1 and train.kind == "static"
    assert set(np.unique(test.y)) == set(range(10))
    train_rows = {r.tobytes() for r in train.x}
    overlap = sum(r.tobytes() in train_rows for r in test.x)
    assert overlap < 5  # a few digits are exact duplicates in the source data
