"""The training engine's seams: one registry, every config error before a run directory,
the Python API that the CLI calls."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from plasticagents.training.cli import main
from plasticagents.training.registry import TRAINERS, adapter

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "configs" / "smoke"


@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_every_trainer_kind_has_an_adapter_and_a_smoke_config(kind):
    module = adapter(kind)
    for method in ("describe", "step", "policy", "state", "load_state"):
        assert callable(getattr(module.Trainer, method))
    assert callable(module.load_model)
    assert (SMOKE / f"{kind}.yaml").is_file()


BAD = {
    "es": ("trainer.popsize=0", "trainer.popsize: must be > 0"),
    "bptt": ("trainer.batch=0", "trainer.batch: must be > 0"),
    "ppo": ("trainer.n_envs=0", "trainer.n_envs: must be > 0"),
    "recurrent_ppo": ("trainer.minibatch_envs=9", "trainer.minibatch_envs: must be <="),
    "lstm_ppo": ("trainer.batch_size=1", "trainer.batch_size: must be in [2,"),
    "classify": ("trainer.epochs=0", "trainer.epochs: must be > 0"),
    "stdp": ("trainer.a_plus=-1", "trainer.a_plus: must be > 0"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_an_invalid_value_fails_in_one_line_before_a_run_directory_exists(kind, tmp_path, capsys):
    override, message = BAD[kind]
    runs = tmp_path / "runs"
    argv = ["train", str(SMOKE / f"{kind}.yaml"), "--set", override, "--runs-dir", str(runs)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not runs.exists()


def test_an_unknown_env_fails_before_a_run_directory_exists(tmp_path, capsys):
    runs = tmp_path / "runs"
    argv = [
        "train",
        str(SMOKE / "es.yaml"),
        "--set",
        "env.id=NoSuchEnv-v9",
        "--runs-dir",
        str(runs),
    ]
    assert main(argv) == 2
    assert "NoSuchEnv" in capsys.readouterr().err
    assert not runs.exists()


def test_the_plasticity_section_mirrors_the_core_spec():
    from plasticagents.plasticity import PlasticitySpec
    from plasticagents.training.config import PlasticityConfig

    assert [f.name for f in dataclasses.fields(PlasticityConfig)] == [
        f.name for f in dataclasses.fields(PlasticitySpec)
    ]


def test_the_api_trains_resumes_longer_and_evaluates(tmp_path):
    from plasticagents.training import evaluate, load_config, train

    cfg = load_config(SMOKE / "bptt.yaml", ["trainer.iterations=2", "trainer.eval_every=1"])
    first = train(cfg, runs_dir=tmp_path, log=lambda m: None, tensorboard=False)
    assert first.step == 1 and first.run.parent == tmp_path and first.env_steps > 0
    longer = train(
        resume=first.run, overrides=["trainer.iterations=3"], log=lambda m: None, tensorboard=False
    )
    assert longer.run == first.run and longer.step == 2
    assert [int(r["iteration"]) for r in _rows(first.run)] == [0, 1, 2]
    returns = evaluate(first.run, episodes=3)
    assert returns.shape == (3,)
    with pytest.raises(ValueError, match="only trainer.iterations may be changed"):
        train(resume=first.run, overrides=["trainer.lr=1.0"], log=lambda m: None)


def _rows(run: Path) -> list[dict]:
    import csv

    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_rl_agents_take_heterogeneous_time_constants():
    from plasticagents.training.builders import build_policy
    from plasticagents.training.config import from_dict

    def taus(**agent):
        cfg = from_dict({"agent": {"hidden": 64, **agent}})
        return build_policy(cfg.agent, 5, 2, seed=0).layer.neurons.tau_mem

    hetero = taus(tau_distribution="gamma", tau_spread=0.5)
    assert hetero.shape == (64,) and 0.3 < float(hetero.std() / hetero.mean()) < 0.7
    assert float(hetero.mean()) == pytest.approx(20e-3, rel=0.2)
    assert float(taus().std()) < 1e-6  # homogeneous (float32 rounding aside)


def test_a_run_without_a_latest_checkpoint_restarts_clean_or_is_refused(tmp_path):
    from plasticagents.training import train

    quiet = {"log": lambda m: None, "tensorboard": False}
    first = train(SMOKE / "bptt.yaml", ["trainer.iterations=2"], runs_dir=tmp_path, **quiet).run
    (first / "checkpoints" / "latest.safetensors").unlink()
    with pytest.raises(ValueError, match="has a best checkpoint but no latest one"):
        train(resume=first, **quiet)
    (first / "checkpoints" / "best.safetensors").unlink()  # killed before any checkpoint
    again = train(resume=first, **quiet)
    assert [r["iteration"] for r in _rows(again.run)] == ["0", "1"]  # no duplicated rows


def test_metrics_rows_follow_the_header_of_an_older_file(tmp_path):
    from plasticagents.training.run import RunDir

    run = RunDir.create(tmp_path, "old", {"name": "old"})
    run.metrics_path.write_text("generation,env_steps,wall_time\n0,100,1.5\n")
    run.append_metrics(
        {"generation": 1, "env_steps": 200, "wall_time": 3.0},
        ["generation", "wall_time", "env_steps"],
    )
    assert _rows(run.path)[1] == {"generation": "1", "env_steps": "200", "wall_time": "3.0"}
    with pytest.raises(ValueError, match="has columns"):
        run.append_metrics({"generation": 2}, ["generation", "loss"])


def test_evaluation_without_episodes_is_refused_at_load():
    from plasticagents.training.config import ConfigError, load_config

    for kind in ("es", "recurrent_ppo"):
        with pytest.raises(ConfigError, match="trainer.eval_episodes: must be >= 1 when"):
            load_config(SMOKE / f"{kind}.yaml", ["trainer.eval_episodes=0"])
        load_config(SMOKE / f"{kind}.yaml", ["trainer.eval_episodes=0", "trainer.eval_every=0"])


def test_resume_keeps_the_best_score_of_the_best_checkpoint(tmp_path):
    """The best checkpoint can be newer (and better) than the latest one's record of it."""
    from plasticagents.training import train
    from plasticagents.training.checkpoint import load_checkpoint, save_checkpoint

    quiet = {"log": lambda m: None, "tensorboard": False}
    over = ["trainer.generations=3", "trainer.eval_every=1"]
    run = train(SMOKE / "es.yaml", over, runs_dir=tmp_path, **quiet).run
    latest = load_checkpoint(run / "checkpoints" / "latest.safetensors")
    latest.progress["best"] = -1e9  # as if saved before the best was found
    save_checkpoint(latest, run / "checkpoints" / "latest.safetensors")
    train(resume=run, overrides=["trainer.generations=6"], **quiet)
    best = load_checkpoint(run / "checkpoints" / "best.safetensors").score
    assert best == max(float(r["eval_return"]) for r in _rows(run))
