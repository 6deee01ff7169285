import csv
import dataclasses
import json
from pathlib import Path

import pytest

from plasticagents.training.analysis.sweep import compare_sweeps, run_sweep
from plasticagents.training.api import train
from plasticagents.training.config import (
    ClassificationConfig,
    ConfigError,
    ExperimentConfig,
    from_dict,
)
from plasticagents.training.loop import TrainerBase
from plasticagents.training.registry import TRAINERS, adapter, kinds

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke" / "bptt.yaml"


def _rows(path):
    return list(csv.DictReader(path.read_text().splitlines()))


def test_every_trainer_kind_has_an_adapter_and_a_schema():
    assert set(kinds("policy")) | set(kinds("classifier")) == set(TRAINERS)
    assert not set(kinds("policy")) & set(kinds("classifier"))
    experiment = {"policy": ExperimentConfig, "classifier": ClassificationConfig}
    for kind, entry in TRAINERS.items():
        assert entry.kind == kind and entry.family in experiment
        module = adapter(kind)
        assert issubclass(module.Trainer, TrainerBase) and callable(module.load_model)
        fields = {f.name: f for f in dataclasses.fields(entry.config)}
        assert fields["kind"].default == kind
        assert entry.longer in fields  # the key --resume may raise
        cfg = from_dict({"trainer": {"kind": kind}})  # the loader picks the schema by kind
        assert type(cfg) is experiment[entry.family] and type(cfg.trainer) is entry.config


def test_rl_sweep_scores_runs_on_held_out_episodes_and_parallel_equals_serial(tmp_path):
    args = dict(
        over=["agent.plasticity.mode=plain,modulated"],
        seeds=[0],
        overrides=["trainer.iterations=2", "trainer.eval_every=2", "trainer.eval_episodes=4"],
        log=lambda m: None,
        eval_episodes=12,
    )
    serial = run_sweep(SMOKE, out=tmp_path / "serial", jobs=1, **args)
    parallel = run_sweep(SMOKE, out=tmp_path / "parallel", jobs=2, **args)
    assert [r["eval_return"] for r in serial] == [r["eval_return"] for r in parallel]
    result = json.loads((tmp_path / "serial/runs/mode=plain-s0/result.json").read_text())
    assert result["eval_episodes"] == 12
    # a mean of 12 whole-number returns in [-6, 6] (6 trials of -1, 0 or +1): 12x it is whole
    assert -6 <= result["eval_return"] <= 6
    assert 12 * result["eval_return"] == pytest.approx(round(12 * result["eval_return"]))
    # the score is a direct re-evaluation of the best checkpoint on the sweep's seeds
    from plasticagents.training.analysis.evaluate import evaluate_run
    from plasticagents.training.analysis.sweep import EVAL_SEED

    again = evaluate_run(tmp_path / "serial/runs/mode=plain-s0", episodes=12, seed=EVAL_SEED)
    assert float(again.mean()) == pytest.approx(result["eval_return"])
    rows = _rows(tmp_path / "serial" / "sweep.csv")
    assert [r["agent.plasticity.mode"] for r in rows] == ["plain", "modulated"]
    assert "| agent.plasticity.mode | eval_return |" in (tmp_path / "serial/report.md").read_text()
    assert (tmp_path / "serial" / "sweep.png").stat().st_size > 0


def test_sweep_and_train_reject_bad_values(tmp_path):
    with pytest.raises(ConfigError, match="--jobs >= 1.*got 0"):
        run_sweep(SMOKE, [], [0], tmp_path, jobs=0)

    class Cfg:
        class trainer:
            kind = "annealing"

    runs = tmp_path / "runs"
    choices = r"trainer.kind: invalid value 'annealing'; valid choices: \['es', 'bptt'"
    with pytest.raises(ConfigError, match=choices):
        train(Cfg(), runs_dir=runs)  # a config object of the caller's own making
    with pytest.raises(ConfigError, match=choices):
        train({"trainer": {"kind": "annealing"}}, runs_dir=runs)
    with pytest.raises(ConfigError, match="train needs a config"):
        train(runs_dir=runs)
    assert not runs.exists()


def _write_sweep(path, key, rows):
    path.mkdir(parents=True)
    lines = [f"{key},seed,run,eval_return"] + [f"{x},{s},r,{v}" for x, s, v in rows]
    (path / "sweep.csv").write_text("\n".join(lines) + "\n")


def test_compare_puts_sweeps_side_by_side(tmp_path, capsys):
    from plasticagents.training.cli import main

    _write_sweep(tmp_path / "plastic", "noise", [(1.0, 0, 4), (0, 0, 8), (0, 1, 6), (1.0, 1, 2)])
    _write_sweep(tmp_path / "static", "noise", [(0, 0, 0.5), (1.0, 0, -0.5)])
    assert (
        main(
            [
                "compare",
                str(tmp_path / "plastic"),
                str(tmp_path / "static"),
                "--out",
                str(tmp_path / "cmp"),
            ]
        )
        == 0
    )
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| sweep | noise=0 | noise=1.0 |" in table  # numeric x values ascending
    assert "| plastic | 7 ± " in table and "| static | 0.5 | -0.5 |" in table
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 0
    _write_sweep(tmp_path / "other", "gain", [(1, 0, 1)])
    with pytest.raises(ConfigError, match=r"first swept keys differ: \['gain', 'noise'\]"):
        compare_sweeps([tmp_path / "plastic", tmp_path / "other"], tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="holds no sweep.csv"):
        compare_sweeps([tmp_path / "nothing"], tmp_path / "x")
    with pytest.raises(ConfigError, match="no 'accuracy' column"):
        compare_sweeps([tmp_path / "plastic"], tmp_path / "x", metric="accuracy")


def test_a_sweep_point_never_reuses_the_result_of_another_config(tmp_path):
    """Re-running a sweep into the same --out with another --set must not return the old
    result.json silently."""
    import json

    from plasticagents.training.analysis.sweep import _result
    from plasticagents.training.config import from_dict, to_dict
    from plasticagents.training.run import RunDir

    first = from_dict({"trainer": {"kind": "classify", "epochs": 1}})
    point = tmp_path / "seed=0"
    RunDir.at(point, to_dict(first))
    (point / "result.json").write_text(json.dumps({"test_accuracy": 0.5}))
    assert _result(first, point, 1, print) == {"test_accuracy": 0.5}  # same config: reused
    other = from_dict({"trainer": {"kind": "classify", "epochs": 2}})
    with pytest.raises(ValueError, match="holds a run of a different config"):
        _result(other, point, 1, print)
