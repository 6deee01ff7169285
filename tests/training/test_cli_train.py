import json
import re
from pathlib import Path

import numpy as np
import pytest

from plasticagents.training.cli import main

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "smoke" / "es.yaml"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    assert (
        main(["train", str(SMOKE), "--runs-dir", str(root), "--set", "trainer.generations=2"]) == 0
    )
    (run,) = root.iterdir()
    return run


def test_train_then_evaluate(smoke_run, capsys):
    assert sorted(p.name for p in (smoke_run / "checkpoints").iterdir()) == [
        "best.safetensors",
        "latest.safetensors",
    ]
    assert main(["evaluate", str(smoke_run), "--episodes", "3", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"return -?\d+\.\d ± \d+\.\d \(mean ± std over 3 seeded episodes", out)
    speed = re.search(r"forward velocity (-?\d+\.\d+) ± \d+\.\d+ m/s", out)
    assert speed, out
    record = json.loads((smoke_run / "evaluations.jsonl").read_text().splitlines()[-1])
    velocity = record["outputs"]["forward_velocity"]
    assert len(velocity) == 3 and float(speed.group(1)) == pytest.approx(
        np.mean(velocity), abs=1e-3
    )
    lengths = record["outputs"]["lengths"]
    assert len(lengths) == 3 and all(1 <= n <= 1000 for n in lengths)


def test_forward_velocity_averages_each_episodes_own_steps():
    from plasticagents.training.analysis.evaluate import _forward_velocity

    steps = [
        [{"x_velocity": 1.0}, {"x_velocity": -2.0}],
        [{"x_velocity": 3.0}, None],  # the second episode ended after one step
    ]
    assert _forward_velocity(steps, 2).tolist() == [2.0, -2.0]
    nan = float("nan")
    # episode 1 diverged at its first step, episode 2 at its reset (no steps): no speed, NaN
    diverged = [[{"x_velocity": 1.0}, {"x_velocity": nan}, None], [{"x_velocity": 3.0}, None, None]]
    speed = _forward_velocity(diverged, 3)
    assert speed[0] == 2.0 and np.isnan(speed[1:]).all()
    assert _forward_velocity([[{"reward": 1.0}, None]], 2) is None  # no x_velocity: no speed


def test_train_with_evaluate_flag_prints_the_score(tmp_path, capsys):
    argv = ["train", str(SMOKE), "--runs-dir", str(tmp_path), "--set", "trainer.generations=1"]
    assert main([*argv, "--evaluate", "2", "--name", "named"]) == 0
    out = capsys.readouterr().out
    assert "run directory:" in out and "over 2 seeded episodes" in out
    assert next(tmp_path.iterdir()).name.startswith("named-")


def test_resume_extends_a_run_and_records_its_command(smoke_run, capsys, monkeypatch):
    import json
    import sys

    first = json.loads((smoke_run / "meta.json").read_text())
    argv = ["train", "--resume", str(smoke_run), "--set", "trainer.generations=3"]
    monkeypatch.setattr(sys, "argv", ["plasticagents", *argv])
    assert main(argv) == 0
    rows = (smoke_run / "metrics.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]
    meta = json.loads((smoke_run / "meta.json").read_text())
    assert meta["command"] == first["command"]  # the first part keeps its record
    (resumed,) = meta["resumed"]
    assert resumed["command"]["argv"] == ["plasticagents", *argv]
    assert resumed["overrides"] == ["trainer.generations=3"]
    assert {"git_revision", "started", "machine", "versions"} <= set(resumed)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", str(SMOKE), "--set", "trainer.popsiz=4"], "unknown key 'popsiz'"),
        (["train", "missing.yaml"], "config file 'missing.yaml' does not exist"),
        (["train"], "train needs a CONFIG file"),
        (["evaluate", "."], "is not a run directory"),
    ],
)
def test_bad_input_is_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resume_refuses_to_change_the_experiment(smoke_run, capsys):
    assert main(["train", "--resume", str(smoke_run), "--set", "trainer.popsize=4"]) == 2
    err = capsys.readouterr().err
    assert "--set trainer.popsize on --resume would change a running experiment" in err
    assert "only trainer.generations may be changed" in err


def test_evaluate_on_an_incompatible_env(smoke_run, capsys):
    assert main(["evaluate", str(smoke_run), "--env", "Hopper-v5", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "was trained on HalfCheetah-v5 (observation 17, action 6); Hopper-v5 has" in err


def test_evaluate_with_a_perturbation(smoke_run, capsys):
    spec = "{type: scale_body_mass, scale: 1.5}"
    argv = ["evaluate", str(smoke_run), "--episodes", "1", "--perturb", spec]
    assert main(argv) == 0
    assert main(["evaluate", str(smoke_run), "--perturb", "{type: melt}"]) == 2
    assert "unknown perturbation type 'melt'" in capsys.readouterr().err


def test_a_run_without_checkpoints(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("name: x\n")
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "has no best checkpoint (found: none)" in capsys.readouterr().err


def test_plot_writes_a_png(smoke_run, tmp_path, capsys):
    out = tmp_path / "curves.png"
    assert main(["plot", str(smoke_run), str(smoke_run), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (smoke_run / "learning_curve.png").is_file()  # written by every training run


def test_a_resume_evaluates_as_the_interrupted_command_asked(tmp_path, capsys, monkeypatch):
    import sys

    argv = ["train", str(SMOKE), "--runs-dir", str(tmp_path), "--set", "trainer.generations=1"]
    monkeypatch.setattr(sys, "argv", ["plasticagents", *argv, "--evaluate", "2"])
    assert main(argv) == 0  # the process "died" before its evaluation: argv asked for one
    (run,) = tmp_path.iterdir()
    assert not (run / "evaluations.jsonl").exists()
    capsys.readouterr()
    resume = ["train", "--resume", str(run), "--set", "trainer.generations=2"]
    monkeypatch.setattr(sys, "argv", ["plasticagents", *resume])
    assert main(resume) == 0
    assert "over 2 seeded episodes" in capsys.readouterr().out
    (line,) = (run / "evaluations.jsonl").read_text().splitlines()
    assert json.loads(line)["outputs"]["episodes"] == 2
    # the resume's own --evaluate wins, 0 included
    assert main(["train", "--resume", str(run), "--evaluate", "0"]) == 0
    assert main(["train", "--resume", str(run), "--evaluate", "1"]) == 0
    lines = (run / "evaluations.jsonl").read_text().splitlines()
    assert [json.loads(x)["outputs"]["episodes"] for x in lines] == [2, 1]
    # a record in the later {"argv", "line"} form is read; a malformed one is not fatal
    meta = json.loads((run / "meta.json").read_text())
    first = meta["command"]
    meta["command"] = {"argv": first, "line": " ".join(first)}
    (run / "meta.json").write_text(json.dumps(meta))
    assert main(["train", "--resume", str(run)]) == 0
    assert len((run / "evaluations.jsonl").read_text().splitlines()) == 3
    meta["command"] = ["plasticagents", "train", "--no-such-flag"]
    (run / "meta.json").write_text(json.dumps(meta))
    assert main(["train", "--resume", str(run)]) == 0
    assert len((run / "evaluations.jsonl").read_text().splitlines()) == 3


def test_resuming_a_finished_run_says_so(tmp_path, capsys):
    argv = ["train", str(SMOKE), "--runs-dir", str(tmp_path), "--set", "trainer.generations=1"]
    assert main(argv) == 0
    (run,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    assert "already finished generation 0 of 1" in capsys.readouterr().err


def test_train_with_video_flag_renders_the_best_checkpoint(tmp_path, capsys):
    argv = [
        "train",
        str(SMOKE),
        "--runs-dir",
        str(tmp_path / "runs"),
        "--set",
        "trainer.generations=1",
    ]
    assert main([*argv, "--video", str(tmp_path / "clip.avi")]) == 2  # refused before training
    assert "unknown video format; valid choices" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert main([*argv, "--video", str(tmp_path / "clip.gif")]) == 0
    assert "video of the best checkpoint" in capsys.readouterr().out
    assert (tmp_path / "clip.gif").stat().st_size > 0 and (tmp_path / "clip.npz").exists()
