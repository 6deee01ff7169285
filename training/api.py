"""The Python API behind every command: load a config, train, evaluate, stress-test, view.

The command line (:mod:`~plasticagents.training.cli`) is one client of these functions; a
training script of your own is another::

    from plasticagents.training import evaluate, load_config, robustness, train, view

    cfg = load_config("configs/experiments/quickstart.yaml", ["trainer.generations=5", "seed=1"])
    result = train(cfg)                               # a fresh run directory under runs/
    returns = evaluate(result.run, episodes=10)       # best checkpoint, seeded episodes
    view(result.run, "cheetah.mp4", perturbations=[{"type": "cripple_leg", "leg": "bthigh"}])
    robustness([result.run], "configs/robustness/halfcheetah.yaml", "robustness/")
    train(resume=result.run, overrides=["trainer.generations=10"])   # train longer

Every invalid config value is a :class:`~plasticagents.training.config.ConfigError` raised
before a run directory exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plasticagents.training.config import ConfigError, from_dict, load_config, to_dict
from plasticagents.training.loop import default_log, run_loop
from plasticagents.training.registry import adapter, lookup
from plasticagents.training.run import RunDir

EVALUATIONS = "evaluations.jsonl"  # one provenance record per evaluate() of a run

__all__ = ["TrainResult", "evaluate", "load_config", "robustness", "train", "view"]


@dataclass
class TrainResult:
    """What :func:`train` did: the run directory and its summary numbers."""

    run: Path
    config: Any
    best: float  # best selection score (nan: never scored)
    step: int  # last finished generation / iteration / epoch
    env_steps: int = 0
    wall_time: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)  # the trainer's own result


def _resolve(config: Any, overrides: Sequence[str]) -> Any:
    if isinstance(config, str | Path):
        return load_config(config, overrides)
    if isinstance(config, dict):
        return from_dict(config, overrides)
    if config is None:
        raise ConfigError("train needs a config (a YAML path, a dict or a config object)")
    return from_dict(to_dict(config), overrides) if overrides else config


def _resumed_config(run: RunDir, overrides: Sequence[str]) -> Any:
    data = run.config_dict()
    kind = (data.get("trainer") or {}).get("kind", "es")
    longer = f"trainer.{lookup(kind).longer}"
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key != longer:
            raise ConfigError(
                f"--set {key} on --resume would change a running experiment; only {longer} "
                "may be changed (to train longer)"
            )
    cfg = from_dict(data, overrides)
    if overrides:
        (run.path / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return cfg


def train(
    config: Any = None,
    overrides: Sequence[str] = (),
    *,
    resume: str | Path | None = None,
    runs_dir: str | Path = "runs",
    name: str | None = None,
    run_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    tensorboard: bool = True,
) -> TrainResult:
    """Train the experiment ``config`` (a YAML path, a plain dict or a loaded config, with
    ``--set``-style ``overrides``) into a fresh run directory ``runs_dir/<name>-<time>``.

    ``resume=RUN`` continues that run from its ``latest`` checkpoint (``overrides`` may only
    raise the trainer's length key, e.g. ``trainer.generations=400``). ``run_dir=PATH`` trains
    at exactly ``PATH``, resuming what is there if it holds a run of the same config (sweeps).
    """
    log = log or default_log
    if resume is not None:
        run = RunDir.open(resume)
        cfg = _resumed_config(run, overrides)
    else:
        cfg = _resolve(config, overrides)
        if name:
            cfg.name = name
        run = None
    trainer = adapter(cfg.trainer.kind).Trainer(cfg, log)  # builds and checks everything
    try:
        if run is None:
            if run_dir is not None:
                run = RunDir.at(run_dir, to_dict(cfg))
            else:
                run = RunDir.create(runs_dir, cfg.name, to_dict(cfg))
        latest = run.load("latest") if run.has_checkpoint("latest") or _old(run) else None
        if latest is None and run.has_checkpoint("best"):
            raise ValueError(
                f"{run.path} has a best checkpoint but no latest one, so it cannot be resumed "
                "(evaluate it, or train a new run)"
            )
        if latest is None and run.read_metrics():
            # killed before its first checkpoint: nothing to continue from; start clean
            log(f"[train] {run.path} has no checkpoint yet; starting it from the beginning")
            run.truncate_metrics(trainer.unit, -1)
    except BaseException:
        trainer.close()
        raise
    if resume is not None or latest is not None:  # a continuation: its command on record
        run.note_resume(overrides)
    summary = run_loop(trainer, cfg, run, latest, log, tensorboard)
    return TrainResult(
        run.path,
        cfg,
        float(summary.pop("best")),
        int(summary.pop("step")),
        int(summary.pop("env_steps", 0) or 0),
        float(summary.pop("wall_time", 0.0) or 0.0),
        summary,
    )


def _old(run: RunDir) -> bool:
    """A run with a checkpoint in the old format: loading it raises the conversion message."""
    return run.checkpoint_path("latest").with_suffix(".pt").is_file()


def evaluate(
    run: str | Path,
    episodes: int = 10,
    seed: int = 0,
    which: str = "best",
    env_id: str | None = None,
    perturbations: list[dict[str, Any]] | None = None,
    max_episode_steps: int | None = None,
    threads: int = 2,
    ablation: str | None = None,
    record: bool = True,
    details: bool = False,
) -> Any:
    """A trained run on held-out data: for a policy, the returns ``[episodes]`` of seeded
    episodes (on its training env, or ``env_id`` / ``perturbations`` / ``max_episode_steps``;
    ``ablation`` as in :mod:`plasticagents.ablation`); for a classifier, its test-set result
    dict (accuracy, spikes and SynOps per sample). With ``details``, a policy's result is an
    :class:`~plasticagents.training.analysis.evaluate.Episodes` (returns, lengths and the
    mean forward velocity of each episode) instead of the returns alone.

    With ``record`` (the default) the result is appended to ``<run>/evaluations.jsonl`` as
    one provenance record (:mod:`~plasticagents.training.record`): the equivalent
    ``plasticagents evaluate`` command, commit, versions, machine, date, wall time and every
    episode's return, so a quoted evaluation can be traced to its command."""
    from plasticagents.training.analysis.evaluate import evaluate_classifier_run, evaluate_run
    from plasticagents.training.record import Recorder, append_record

    opened = RunDir.open(run)
    kind = (opened.config_dict().get("trainer") or {}).get("kind", "es")
    argv = ["plasticagents", "evaluate", str(run), "--checkpoint", which, "--seed", str(seed)]
    if lookup(kind).family == "classifier":
        recorder = Recorder(argv)
        result = evaluate_classifier_run(opened, which, seed)
        if record:
            append_record(opened.path / EVALUATIONS, recorder.record(dict(result)))
        return result
    argv += ["--episodes", str(episodes)]
    if env_id:
        argv += ["--env", env_id]
    for spec in perturbations or []:
        argv += ["--perturb", json.dumps(spec)]
    if max_episode_steps:
        argv += ["--max-episode-steps", str(max_episode_steps)]
    if ablation:
        argv += ["--ablation", ablation]
    recorder = Recorder(argv)
    result = evaluate_run(
        run,
        episodes,
        seed,
        which,
        env_id,
        perturbations,
        max_episode_steps,
        threads,
        ablation,
        details=True,
    )
    returns, velocity = result.returns, result.forward_velocity
    if record:
        outputs = {
            "returns": [float(r) for r in returns],
            "mean": float(returns.mean()),
            "std": float(returns.std()),
            "episodes": len(returns),
            "lengths": [int(n) for n in result.lengths],
        }
        if velocity is not None:
            outputs["forward_velocity"] = [float(v) for v in velocity]
            outputs["forward_velocity_mean"] = float(velocity.mean())
        append_record(opened.path / EVALUATIONS, recorder.record(outputs))
    return result if details else returns


def robustness(runs: Sequence[str | Path], suite: str | Path, out: str | Path, **kwargs: Any):
    """Every run over a perturbation suite (CSV, ``report.md``, plots in ``out``); keyword
    arguments as :func:`~plasticagents.training.analysis.robustness.run_robustness`.
    Returns the rows."""
    from plasticagents.training.analysis.robustness import run_robustness

    return run_robustness(runs, suite, out, **kwargs)


def adaptation(
    arms: dict[str, Sequence[str | Path]], suite: str | Path, out: str | Path, **kwargs: Any
):
    """Compare arms (``{name: [run per training seed]}``) around a suite condition's onset (a
    hidden goal's switch by default) on held-out episodes, with the oracle (``oracle=[runs]``)
    and the plastic arms' ablations; statistics over seeds. Keyword arguments as
    :func:`~plasticagents.training.analysis.adaptation.run_adaptation`. Returns the summary."""
    from plasticagents.training.analysis.adaptation import run_adaptation

    return run_adaptation(arms, suite, out, **kwargs)


def view(run: str | Path, out: str | Path, **kwargs: Any):
    """Render one seeded episode of a run's policy to ``out`` (``.mp4`` / ``.gif``) with its
    spike raster, modulation and weight change, and save the trajectory beside it; keyword
    arguments as :func:`~plasticagents.training.analysis.viewer.view`. Returns
    ``(video, npz, rec)``."""
    from plasticagents.training.analysis.viewer import view as _view

    return _view(run, out, **kwargs)
