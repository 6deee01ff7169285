"""The checkpoint format: round trips, and a crafted file never executes anything."""

from __future__ import annotations

import pathlib
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from plasticagents.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    restore_attributes,
    save_checkpoint,
    snapshot_attributes,
)
from plasticagents.training.cli import main
from plasticagents.training.config import load_config, to_dict

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke"


def test_nested_values_round_trip_exactly(tmp_path):
    state = {
        "optimizer": {"state": {0: {"step": torch.tensor(3.0)}}, "param_groups": [{"lr": 1e-3}]},
        "rng": torch.Generator().manual_seed(5).get_state(),
        "norm": {"mean": np.arange(3.0), "count": 7.0},
        "best": float("-inf"),
        "shape": (2, 3),
        "flags": [True, None, "x"],
        "__tricky": {"__tensor__": 0},
    }
    ckpt = Checkpoint("es", 4, {"name": "n"}, {"params": {}}, float("nan"), {}, state)
    save_checkpoint(ckpt, tmp_path / "c.safetensors")
    back = load_checkpoint(tmp_path / "c.safetensors")
    s = back.trainer_state
    assert s["optimizer"]["state"][0]["step"].item() == 3.0
    assert list(s["optimizer"]["state"]) == [0]  # integer keys stay integers
    assert torch.equal(s["rng"], state["rng"])
    assert isinstance(s["norm"]["mean"], np.ndarray) and s["norm"]["mean"].tolist() == [0, 1, 2]
    assert s["best"] == float("-inf") and np.isnan(back.score)
    assert s["shape"] == (2, 3) and s["flags"] == [True, None, "x"]
    assert s["__tricky"] == {"__tensor__": 0}  # data that looks like a marker stays data


def test_an_object_that_would_need_unpickling_is_refused_when_saving(tmp_path):
    class Thing:
        pass

    with pytest.raises(TypeError, match=r"checkpoint.trainer_state.thing: a .*Thing cannot go"):
        save_checkpoint(
            Checkpoint("es", 0, {}, {}, trainer_state={"thing": Thing()}), tmp_path / "c"
        )


def test_attribute_snapshots_restore_onto_a_fresh_object():
    class Optimizer:
        def __init__(self):
            self.velocity, self.kind, self.dtype = torch.zeros(2), "clipup", torch.float32

    class Searcher:
        def __init__(self):
            self.optimizer, self.steps, self.fn = Optimizer(), 0, print

    a = Searcher()
    a.optimizer.velocity += 1.5
    a.steps = 9
    snap = snapshot_attributes(a)
    assert "fn" not in snap and "dtype" not in snap["optimizer"]["__attributes__"]
    b = Searcher()
    restore_attributes(b, snap)
    assert b.steps == 9 and b.optimizer.velocity.tolist() == [1.5, 1.5]


class _Payload:
    """Pickles to a call that creates ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture
def poisoned_run(tmp_path):
    """A run directory whose checkpoints are pickles that create ``marker`` when unpickled."""
    run = tmp_path / "poisoned"
    (run / "checkpoints").mkdir(parents=True)
    cfg = to_dict(load_config(SMOKE / "es.yaml"))
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    marker = tmp_path / "payload-ran"
    for which in ("best", "latest"):
        torch.save({"vector": _Payload(marker)}, run / "checkpoints" / f"{which}.pt")
    return run, marker


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "{run}", "--episodes", "1"], "old pickle format"),
        (["view", "{run}", "--out", "{tmp}/v.gif", "--max-steps", "3"], "old pickle format"),
        (
            [
                "robustness",
                "{run}",
                "--suite",
                "configs/robustness/halfcheetah.yaml",
                "--out",
                "{tmp}/rob",
            ],
            "old pickle format",
        ),
        (["train", "--resume", "{run}"], "old pickle format"),
        (["convert", "{run}"], "restricted loader refused"),
    ],
    ids=["evaluate", "view", "robustness", "train-resume", "convert"],
)
def test_a_pickle_payload_is_refused_in_one_line_and_never_runs(
    poisoned_run, argv, message, capsys, monkeypatch
):
    run, marker = poisoned_run
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    argv = [a.format(run=run, tmp=run.parent) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not marker.exists(), "the checkpoint's payload was executed"


def test_a_pickle_renamed_to_safetensors_is_not_read(poisoned_run, capsys):
    run, marker = poisoned_run
    for which in ("best", "latest"):
        old = run / "checkpoints" / f"{which}.pt"
        old.rename(old.with_suffix(".safetensors"))
    assert main(["evaluate", str(run), "--episodes", "1"]) == 2
    assert "not a plasticagents checkpoint" in capsys.readouterr().err
    assert not marker.exists()


def test_conversion_reads_an_old_checkpoint_into_the_new_format(trained, tmp_path):
    """An old-format ES run (pickled dicts, NumPy statistics) converts with the restricted
    loader and evaluates to the same returns as the policy it holds."""
    import shutil

    from plasticagents.training.analysis.evaluate import evaluate_run, load_policy
    from plasticagents.training.convert import convert_run
    from plasticagents.training.trainers.es import Trainer  # noqa: F401 (registry import)

    run = tmp_path / "old-run"
    shutil.copytree(trained, run)
    new = load_policy(trained).checkpoint
    names = list(new.policy["params"])
    vector = torch.cat([new.policy["params"][n].reshape(-1) for n in names])
    old = {
        "kind": "policy",
        "trainer": "es",
        "vector": vector,
        "param_names": names,
        "obs_norm": new.policy["obs_norm"],
        "generation": new.step,
        "score": new.score,
        "config": new.config,
        "obs_dim": new.policy["obs_dim"],
        "act_dim": new.policy["act_dim"],
    }
    for which in ("best", "latest"):
        (run / "checkpoints" / f"{which}.safetensors").unlink()
    torch.save(old, run / "checkpoints" / "best.pt")
    with pytest.raises(CheckpointError, match="plasticagents convert"):
        load_policy(run)
    assert convert_run(run) == [f"{run}: best -> best.safetensors"]
    assert not (run / "checkpoints" / "best.pt").exists()
    np.testing.assert_allclose(
        evaluate_run(run, episodes=2, threads=1), evaluate_run(trained, episodes=2, threads=1)
    )
