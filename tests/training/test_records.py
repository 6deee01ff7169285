"""Provenance records: a sweep, an evaluation and a training run each say what made them."""

import json

import pytest

from plasticagents.training import evaluate, train
from plasticagents.training.analysis.sweep import run_sweep


@pytest.fixture(scope="module")
def bptt_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return train("configs/smoke/bptt.yaml", ["trainer.iterations=2"], runs_dir=root, log=None)


def test_sweep_record_names_every_override_and_the_rows(tmp_path):
    out = tmp_path / "sweep"
    rows = run_sweep(
        "configs/smoke/bptt.yaml",
        ["trainer.lr=0.01,0.02"],
        seeds=[0],
        out=out,
        overrides=["trainer.iterations=2", "agent.hidden=8"],
        log=lambda msg: None,
        eval_episodes=2,
    )
    record = json.loads((out / "record.json").read_text())
    argv = record["command"]["argv"]
    assert argv[:3] == ["plasticagents", "sweep", "configs/smoke/bptt.yaml"]
    assert ["--over", "trainer.lr=0.01,0.02"] == argv[3:5]
    assert argv[5:9] == ["--set", "trainer.iterations=2", "--set", "agent.hidden=8"]
    assert record["outputs"]["rows"] == json.loads(json.dumps(rows))
    assert record["machine"]["cpus"] >= 1 and record["versions"]["torch"]
    assert record["wall_time_s"] > 0 and record["git_revision"]
    # The report names the overrides too, so two sweeps of one config differ on their face.
    report = (out / "report.md").read_text()
    assert "`--set trainer.iterations=2` `--set agent.hidden=8`" in report


def test_every_evaluation_appends_its_command_and_returns_to_the_run(bptt_run):
    first = evaluate(bptt_run.run, episodes=3, seed=5)
    evaluate(bptt_run.run, episodes=2, seed=6, max_episode_steps=20)
    lines = (bptt_run.run / "evaluations.jsonl").read_text().splitlines()
    assert len(lines) == 2
    one, two = (json.loads(line) for line in lines)
    assert one["outputs"]["returns"] == pytest.approx(first.tolist())
    assert one["outputs"]["mean"] == pytest.approx(first.mean())
    assert "--seed 5" in one["command"]["line"] and "--episodes 3" in one["command"]["line"]
    assert "--max-episode-steps 20" in two["command"]["line"]
    assert len(two["outputs"]["returns"]) == 2


def test_the_recorded_evaluate_command_reproduces_the_recorded_returns(bptt_run, capsys):
    from plasticagents.training.cli import main

    evaluate(bptt_run.run, episodes=3, seed=11)
    record = json.loads((bptt_run.run / "evaluations.jsonl").read_text().splitlines()[-1])
    assert main(record["command"]["argv"][1:]) == 0
    again = json.loads((bptt_run.run / "evaluations.jsonl").read_text().splitlines()[-1])
    assert again["outputs"]["returns"] == pytest.approx(record["outputs"]["returns"])


def test_records_name_the_environment_variables_that_change_what_runs(monkeypatch, tmp_path):
    """``PLASTICAGENTS_NATIVE_PHYSICS=0`` (the Python physics path) and the thread settings are
    in every record and run's meta.json; unrelated variables and unset ones are not."""
    from plasticagents.training.record import Recorder
    from plasticagents.training.run import RunDir

    monkeypatch.setenv("PLASTICAGENTS_NATIVE_PHYSICS", "0")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("GOMP_SPINCOUNT", "20000")  # how long the C steps' threads spin
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setenv("SOME_OTHER_VARIABLE", "x")
    rec = json.loads(Recorder(["x"]).write(tmp_path / "r.json").read_text())
    env = rec["environment"]
    assert env["PLASTICAGENTS_NATIVE_PHYSICS"] == "0" and env["OMP_NUM_THREADS"] == "1"
    assert env["GOMP_SPINCOUNT"] == "20000"
    assert "MKL_NUM_THREADS" not in env and "SOME_OTHER_VARIABLE" not in env
    (tmp_path / "run").mkdir()
    RunDir._initialise(tmp_path / "run", {"name": "x"})
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["environment"] == env


def test_the_machine_names_the_cpu_model_and_torchs_kernel_set(monkeypatch, tmp_path):
    """Float results depend on the CPU (the kernels torch and its BLAS pick), so a record
    names it: the model from /proc/cpuinfo, torch's instruction set."""
    import torch

    from plasticagents import native
    from plasticagents.training import record

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU 9000 @ 3GHz\n")
    monkeypatch.setattr(native, "CPUINFO", cpuinfo)
    got = record.machine()
    assert got["cpu_model"] == "Test CPU 9000 @ 3GHz"
    assert got["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    cpuinfo.unlink()  # no /proc/cpuinfo (not Linux): unknown, not an error
    assert record.machine()["cpu_model"] is None


def test_a_record_names_a_tree_dirty_where_git_cannot_say_it_is_clean(monkeypatch):
    """The revision carries ``-dirty`` when tracked files changed and when ``git status``
    fails (a lock held by another git command): only a status that ran and listed nothing
    vouches for the commit being the code that ran."""
    import subprocess
    from types import SimpleNamespace

    from plasticagents.training import run

    status = {"returncode": 0, "stdout": ""}

    def fake(cmd, **kwargs):
        if cmd[1] == "rev-parse":
            return SimpleNamespace(returncode=0, stdout="abc123\n")
        return SimpleNamespace(**status)

    monkeypatch.setattr(subprocess, "run", fake)
    assert run._git_revision() == "abc123"
    status.update(stdout=" M training/run.py\n")
    assert run._git_revision() == "abc123-dirty"
    status.update(returncode=128, stdout="")
    assert run._git_revision() == "abc123-dirty"
