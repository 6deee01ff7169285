import csv
import json
from pathlib import Path

import pytest

from plasticagents.training.config import CLASSIFY_TRAINERS, TRAINERS, ConfigError
from plasticagents.training.dispatch import TRAIN_FUNCTIONS, train
from plasticagents.training.sweep import run_sweep

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke" / "bptt.yaml"


def _rows(path):
    return list(csv.DictReader(path.read_text().splitlines()))


def test_every_trainer_kind_has_a_train_function():
    assert set(TRAIN_FUNCTIONS) == set(TRAINERS) | set(CLASSIFY_TRAINERS)
    for module, name in TRAIN_FUNCTIONS.values():
        assert callable(getattr(__import__(module, fromlist=[name]), name))


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
    assert result["eval_episodes"] == 12 and -6 <= result["eval_return"] <= 6  # 6 trials
    # the score is a direct re-evaluation of the best checkpoint on the sweep's seeds
    from plasticagents.training.evaluate import evaluate_run
    from plasticagents.training.sweep import EVAL_SEED

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

    with pytest.raises(ConfigError, match="unknown trainer.kind 'annealing'; valid choices"):
        train(Cfg(), None)
