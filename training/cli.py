"""The ``plasticagents`` command line: a thin client of the Python API.

Every command parses its flags, calls one function and prints what it returned; the work
(and every check on a config value) happens in the function, so a script gets exactly what the
command line does::

    plasticagents train CONFIG [--set K=V]...   -> api.train(load_config(CONFIG, sets), ...)
    plasticagents train --resume RUN [--set K=V] -> api.train(resume=RUN, overrides=sets)
    plasticagents evaluate RUN                   -> api.evaluate(RUN, ...)  (returns or accuracy)
    plasticagents robustness RUN... --suite S    -> api.robustness(RUNS, S, OUT, ...)
    plasticagents view RUN --out FILE.mp4        -> analysis.viewer.view(RUN, FILE, ...)
    plasticagents plot RUN...                    -> analysis.plots.plot_learning_curves(...)
    plasticagents sweep CONFIG --over K=V1,V2    -> analysis.sweep.run_sweep(...)
    plasticagents compare SWEEP...               -> analysis.sweep.compare_sweeps(...)
    plasticagents report [--check]               -> analysis.report.run_report(...)
    plasticagents tune CONFIG                    -> analysis.bayesopt.tune(...)
    plasticagents convert RUN...                 -> convert.convert_run(RUN) per run
    plasticagents export RUN --out MODEL.nir     -> export.export_run(RUN, MODEL.nir, ...)
    plasticagents make-shd OUT                   -> envs.datasets.synthetic_shd(...)
    plasticagents info | list-envs               (versions, device; registered env ids)

Heavy modules (torch, Gymnasium, SB3, evotorch, matplotlib) are imported inside each
command, so ``plasticagents --help`` and argument errors return at once.

:func:`main` returns the exit status instead of calling :func:`sys.exit`: ``0`` on success,
``2`` for a usage problem the message explains (any :class:`ValueError`, which includes
:class:`~plasticagents.training.config.ConfigError`, or :class:`OSError`: a missing file,
not a run directory, no GL context for rendering), ``130`` when interrupted (Ctrl-C; a
training run then resumes with ``--resume``). Set ``PLASTICAGENTS_DEBUG=1`` to get the
traceback instead of the one-line message.

Example:
    >>> args = build_parser().parse_args(["train", "configs/smoke/es.yaml", "--set", "seed=3"])
    >>> args.func.__name__, args.config, args.set, args.runs_dir
    ('_cmd_train', 'configs/smoke/es.yaml', ['seed=3'], 'runs')
    >>> main(["evaluate", "no/such/run"])  # one line on stderr says why
    2
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main"]


def _cmd_info(args: argparse.Namespace) -> int:
    """Print the package, Python and torch versions and what ``device: auto`` resolves to here
    (``cuda`` when torch sees a GPU, else ``cpu``): the first thing to paste into a bug
    report.
    """
    import platform

    import torch

    import plasticagents

    print(f"plasticagents {plasticagents.__version__}")
    print(f"python {platform.python_version()}, torch {torch.__version__}")
    print(f"device 'auto' resolves to: {plasticagents.resolve_device('auto')}")
    return 0


def _cmd_list_envs(args: argparse.Namespace) -> int:
    """Print every Gymnasium id registered under the ``plasticagents/`` namespace with the base
    env it wraps; ``--verbose`` adds its perturbation list (or, for an env without one, its
    registration kwargs). Importing :mod:`plasticagents.envs` is what registers them.
    """
    import gymnasium as gym

    from plasticagents.envs import NAMESPACE

    for env_id in sorted(i for i in gym.registry if i.startswith(f"{NAMESPACE}/")):
        kwargs = gym.registry[env_id].kwargs
        detail = kwargs.get("perturbations", {k: v for k, v in kwargs.items()})
        print(f"{env_id:55s} {kwargs.get('base_id', '')} {detail if args.verbose else ''}".rstrip())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    """``train CONFIG`` / ``train --resume RUN``: :func:`~plasticagents.training.api.train`, then
    print the run directory and what to run next.

    The config is loaded (and every ``--set`` checked) before anything is built; ``--set``
    with ``--resume`` may only raise the trainer's length key (the API enforces it). Checks
    that would otherwise fail after hours of training run first: a ``--video`` suffix the
    viewer cannot write, ``--video`` on a classifier. After training, a policy run is
    evaluated on ``--evaluate N`` seeded episodes of its best checkpoint (``seed=0``) and
    rendered to ``--video`` (a resume does what the command that started the run asked, unless
    it gives its own ``--evaluate``/``--video``); a classifier run has already written its test
    results (``result.json``) and only the path is printed.

    Raises:
        ConfigError: ``CONFIG`` and ``--resume`` together, or neither; an invalid value.
        ValueError: an unknown ``--video`` format.
    """
    from plasticagents.training import api
    from plasticagents.training.config import ConfigError
    from plasticagents.training.registry import lookup

    if args.video:
        from pathlib import Path

        from plasticagents.training.analysis.viewer import VIDEO_FORMATS

        if Path(args.video).suffix.lower() not in VIDEO_FORMATS:  # fail before training, not after
            raise ValueError(
                f"--video {args.video!r}: unknown video format; valid choices: "
                f"{list(VIDEO_FORMATS)}"
            )
    if args.resume:
        if args.config is not None:
            raise ConfigError("train takes a CONFIG file or --resume RUN_DIR, not both")
        cfg = None
        from plasticagents.training.run import RunDir

        kind = (RunDir.open(args.resume).config_dict().get("trainer") or {}).get("kind", "es")
        first = _first_train_command(args.resume)
        if first is not None:  # finish what the interrupted command asked for after training
            args.evaluate = first.evaluate if args.evaluate is None else args.evaluate
            args.video = args.video or first.video
    else:
        if args.config is None:
            raise ConfigError("train needs a CONFIG file (or --resume RUN_DIR)")
        cfg = api.load_config(args.config, args.set)
        kind = cfg.trainer.kind
    classifier = lookup(kind).family == "classifier"
    if classifier and args.video:
        raise ConfigError(f"--video renders a policy; trainer.kind {kind!r} trains a classifier")
    result = api.train(
        cfg,
        args.set if args.resume else (),
        resume=args.resume,
        runs_dir=args.runs_dir,
        name=args.name,
    )
    print(f"run directory: {result.run}")
    if classifier:
        again = f"plasticagents evaluate {result.run}"
        print(f"test results: {result.run / 'result.json'} (again: {again})")
        return 0
    if args.evaluate:
        _report_evaluation(result.run, args.evaluate, seed=0, which="best")
    else:
        print(f"evaluate it with: plasticagents evaluate {result.run}")
    if args.video:
        video, npz, rec = api.view(result.run, args.video)
        print(f"video of the best checkpoint: {video} ({len(rec.frames)} frames), trajectory {npz}")
    return 0


def _first_train_command(run) -> argparse.Namespace | None:
    """The ``plasticagents train`` command that started ``run`` (from its ``meta.json``),
    parsed, or ``None`` when it was started another way (the Python API, a sweep): a resume
    then takes that command's ``--evaluate`` and ``--video`` unless it gives its own."""
    import contextlib
    import io
    import json
    from pathlib import Path

    meta = Path(run) / "meta.json"
    try:  # a missing or malformed record, or another CLI version's command line: not worth
        # failing the resume over, it then evaluates only as asked
        argv = json.loads(meta.read_text()).get("command") if meta.is_file() else None
        if isinstance(argv, dict):  # the {"argv", "line"} form of later records
            argv = argv.get("argv")
        if not isinstance(argv, list) or argv[1:2] != ["train"]:
            return None
        with contextlib.redirect_stderr(io.StringIO()):
            return build_parser().parse_args([str(a) for a in argv[1:]])
    except (SystemExit, ValueError, AttributeError):
        return None


def _report_evaluation(run, episodes: int, seed: int, which: str, **kwargs) -> int:
    """Evaluate a policy run (:func:`~plasticagents.training.api.evaluate`, ``kwargs`` passed
    on: ``env_id``, ``perturbations``, ``threads``) and print mean ± std, min and max of the
    ``episodes`` returns of the ``which`` checkpoint, and their forward velocity when the env
    reports one. Returns exit status 0.
    """
    from plasticagents.training.api import evaluate

    result = evaluate(run, episodes=episodes, seed=seed, which=which, details=True, **kwargs)
    returns, velocity = result.returns, result.forward_velocity
    print(
        f"{which} checkpoint of {run}: return {returns.mean():.1f} ± {returns.std():.1f} "
        f"(mean ± std over {episodes} seeded episodes; min {returns.min():.1f}, "
        f"max {returns.max():.1f})"
    )
    if velocity is not None:
        print(
            f"forward velocity {velocity.mean():.3f} ± {velocity.std():.3f} m/s "
            f"(mean over each episode, mean ± std over episodes; "
            f"episode lengths {result.lengths.min()}-{result.lengths.max()} steps)"
        )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """``evaluate RUN``: test a trained run on held-out data.

    A policy run (``es``, ``bptt``, ``ppo``, ``recurrent_ppo``, ``lstm_ppo``) plays
    ``--episodes`` seeded episodes (``--seed`` seeds the resets; ``--env`` / ``--perturb``
    swap the env or add perturbations, which must keep the observation and action sizes). A
    classifier run (``classify``, ``stdp``) is tested on its data set's test split and prints
    accuracy, plus spikes and synaptic operations per sample where the model reports them (an
    STDP reservoir's ridge readout reports accuracy only). Which family a run belongs to comes
    from its config's ``trainer.kind`` through the registry. ``--ablation`` (policies only)
    evaluates the plastic policy with its plasticity ablated.
    """
    from plasticagents.training.api import evaluate
    from plasticagents.training.registry import lookup
    from plasticagents.training.run import RunDir

    run = RunDir.open(args.run)
    kind = (run.config_dict().get("trainer") or {}).get("kind", "es")
    if lookup(kind).family == "classifier":
        if args.ablation:
            raise ValueError(
                f"--ablation changes a policy's plasticity; {run.path} is a classifier "
                f"(trainer.kind {kind!r})"
            )
        res = evaluate(run.path, which=args.checkpoint, seed=args.seed)
        extra = ""
        if "spikes_per_sample" in res:
            extra = (
                f", spikes/sample {res['spikes_per_sample']:.1f}, SynOps/sample "
                f"{res['synops_per_sample']:.0f}"
            )
        print(
            f"{args.checkpoint} checkpoint of {run.path}: test accuracy {res['accuracy']:.4f} "
            f"over {res['samples']} samples{extra}"
        )
        return 0
    return _report_evaluation(
        args.run,
        args.episodes,
        seed=args.seed,
        which=args.checkpoint,
        env_id=args.env,
        perturbations=_perturb_specs(args.perturb),
        max_episode_steps=args.max_episode_steps,
        threads=args.threads,
        ablation=args.ablation,
    )


def _cmd_convert(args: argparse.Namespace) -> int:
    """``convert RUN...``: rewrite each run's old pickle checkpoints in the safe format
    (:func:`~plasticagents.training.convert.convert_run`), printing one line per checkpoint.
    A run whose old file the restricted loader refuses stops the command with exit status 2
    (:class:`~plasticagents.training.checkpoint.CheckpointError` is a ``ValueError``).
    """
    from plasticagents.training.convert import convert_run

    for run in args.runs:
        for line in convert_run(run):
            print(line)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    """``export RUN --out MODEL.nir``: write the run's spiking network as a NIR graph
    (:func:`~plasticagents.training.export.export_run`) and print what was left out or
    approximated. A plastic network needs ``--snapshot STEP``; neurons that reset by
    subtraction need ``--approximate-reset``; a part NIR cannot express is a one-line error.
    """
    from plasticagents.training.export import export_run

    result = export_run(
        args.run,
        args.out,
        which=args.checkpoint,
        dt=args.dt,
        snapshot_step=args.snapshot,
        snapshot_seed=args.snapshot_seed,
        approximate_reset=args.approximate_reset,
    )
    print(f"wrote {result.path} (NIR graph, {len(result.graph.nodes)} nodes, dt_nir {args.dt} s)")
    for note in result.notes:
        print(f"  note: {note}")
    return 0


def _perturb_specs(texts: list[str] | None) -> list[dict] | None:
    """The ``--perturb`` flags as perturbation specs: each text is parsed as YAML and must be a
    mapping, e.g. ``'{type: cripple_leg, leg: bthigh, onset: 300}'``. ``None`` when no flag
    was given, which means "the run's own perturbations" downstream (an empty list would
    mean "none at all"). Whether the type and its parameters exist is checked later, when the
    env is built.

    Raises:
        ValueError: a text that is not YAML, or YAML that is not a mapping.
    """
    if not texts:
        return None
    import yaml

    specs = []
    for text in texts:
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(f"--perturb {text!r} is not valid YAML: {err}") from None
        if not isinstance(spec, dict):
            raise ValueError(
                f"--perturb {text!r} must be a mapping, e.g. '{{type: cripple_leg, leg: bthigh}}'"
            )
        specs.append(spec)
    return specs


def _cmd_robustness(args: argparse.Namespace) -> int:
    """``robustness RUN... --suite S --out DIR``:
    :func:`~plasticagents.training.api.robustness` over every run, then print the Markdown
    report it wrote and the paths of its CSV and plots. Unset ``--episodes`` / ``--env`` /
    ``--max-steps`` fall back to the suite's values, then to 10 episodes and each run's own
    env and episode cap. ``--ablations A,B`` adds each run's ablated variants as agents of
    their own, beside the intact one on the same seeds.
    """
    from pathlib import Path

    from plasticagents.training.api import robustness

    rows = robustness(
        args.runs,
        args.suite,
        args.out,
        episodes=args.episodes,
        seed=args.seed,
        env_id=args.env,
        max_episode_steps=args.max_steps,
        which=args.checkpoint,
        threads=args.threads,
        batch=args.batch,
        window=args.window,
        fraction=args.fraction,
        overwrite=args.overwrite,
        ablations=[a.strip() for a in (args.ablations or "").split(",") if a.strip()],
        oracle=args.oracle,
        oracle_env=args.oracle_env,
    )
    out = Path(args.out)
    print((out / "report.md").read_text())
    print(
        f"{len(rows)} episodes -> {out / 'robustness.csv'}, {out / 'report.md'}, PNG plots in {out}"
    )
    return 0


def _parse_arms(specs: list[str]) -> dict[str, list[str]]:
    arms: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, runs = spec.partition("=")
        paths = [r.strip() for r in runs.split(",") if r.strip()]
        if not sep or not name.strip() or not paths:
            raise ValueError(f"--arm {spec!r}: expected NAME=RUN[,RUN...]")
        if name.strip() in arms:
            raise ValueError(f"--arm {name.strip()!r} is given twice")
        arms[name.strip()] = paths
    return arms


def _cmd_adaptation(args: argparse.Namespace) -> int:
    """``adaptation --arm NAME=RUN,RUN,... [--oracle RUN,...] --suite S --out DIR``:
    :func:`~plasticagents.training.analysis.adaptation.run_adaptation`, then print the report."""
    from pathlib import Path

    from plasticagents.training.analysis.adaptation import run_adaptation

    oracle = [r.strip() for r in args.oracle.split(",") if r.strip()] if args.oracle else None
    run_adaptation(
        _parse_arms(args.arm),
        args.suite,
        args.out,
        oracle=oracle,
        episodes=args.episodes,
        seed=args.seed,
        condition=args.condition,
        which=args.checkpoint,
        threads=args.threads,
        window=args.window,
        overwrite=args.overwrite,
    )
    out = Path(args.out)
    print((out / "report.md").read_text())
    print(f"-> {out / 'episodes.csv'}, {out / 'summary.json'}, {out / 'reward_around_onset.png'}")
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    """``view RUN --out FILE``: render one seeded episode headless (``.mp4`` / ``.gif``, with the
    spike raster, neuromodulation and weight-change panels) and save its trajectory ``.npz``
    beside it, then print the episode's return, spikes per step and perturbation onsets.
    ``--live`` opens MuJoCo's interactive viewer instead (needs a display; nothing is saved);
    ``--ablation`` applies to both.

    Raises:
        ValueError: neither ``--out`` nor ``--live``.
    """
    from plasticagents.training.analysis import viewer

    perturbations = _perturb_specs(args.perturb)
    if args.live:
        viewer.live(
            args.run, args.env, perturbations, args.seed, args.checkpoint, ablation=args.ablation
        )
        return 0
    if not args.out:
        raise ValueError("view needs --out FILE.mp4|FILE.gif (or --live with a display)")
    video, npz, rec = viewer.view(
        args.run,
        args.out,
        env_id=args.env,
        perturbations=perturbations,
        seed=args.seed,
        which=args.checkpoint,
        max_steps=args.max_steps,
        every=args.every,
        width=args.width,
        height=args.height,
        fps=args.fps,
        ablation=args.ablation,
    )
    onsets = ", ".join(f"{k} at step {v}" for k, v in rec.onsets.items()) or "none"
    print(
        f"{video} ({len(rec.frames)} frames), trajectory {npz}: {rec.steps} steps, return "
        f"{rec.rewards.sum():.1f}, {rec.neuron_spikes.sum() / max(rec.steps, 1):.1f} spikes/step, "
        f"perturbation onsets: {onsets}"
    )
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    """``plot RUN... --out PNG``: learning curves of the runs
    (:func:`~plasticagents.training.analysis.plots.plot_learning_curves`); ``--group`` merges
    runs that differ only in seed and name into mean and min-max band. Prints the PNG path.
    """
    from plasticagents.training.analysis.plots import plot_learning_curves

    print(plot_learning_curves(args.runs, args.out, title=args.title or "", group=args.group))
    return 0


def _seed_list(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]`` (empty items are skipped, so ``"0,1,"`` is fine).

    Raises:
        ValueError: an item that is not an integer.
    """
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--seeds expects comma-separated integers, got {text!r}") from None


def _cmd_sweep(args: argparse.Namespace) -> int:
    """``sweep CONFIG --over K=V1,V2... --seeds 0,1,2 --out DIR``: train the grid of overrides x
    seeds (:func:`~plasticagents.training.analysis.sweep.run_sweep`, ``--jobs`` processes at
    once) and print where ``sweep.csv``, ``report.md`` and ``sweep.png`` are. RL runs are
    scored on ``--episodes`` held-out episodes of their best checkpoint. Re-running the same
    command resumes: finished grid points are read back, unfinished ones resume from their
    ``latest`` checkpoint.
    """
    from plasticagents.training.analysis.sweep import run_sweep

    run_sweep(
        args.config,
        args.over or [],
        _seed_list(args.seeds),
        args.out,
        args.set,
        jobs=args.jobs,
        eval_episodes=args.episodes,
    )
    print(f"sweep results: {args.out}/sweep.csv, {args.out}/report.md, {args.out}/sweep.png")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    """``report``: build every results table from ``--results`` and write ``--docs`` and the
    README's report blocks (:func:`~plasticagents.training.analysis.report.run_report`).
    ``--check`` writes nothing and exits 1 when either differs from what the files give.
    ``--measure cue-references`` first measures the cue task's reference players into
    ``RESULTS/cue_references/record.json``.
    """
    from pathlib import Path

    from plasticagents.training.analysis import report

    if args.measure == "cue-references":
        print(f"wrote {report.measure_cue_references(Path(args.results) / 'cue_references')}")
    changed = report.run_report(args.results, args.readme, args.docs, check=args.check)
    if args.check:
        if changed:
            print(
                "out of date with the files under "
                f"{args.results}: {', '.join(changed)} (run `plasticagents report`)"
            )
            return 1
        print(f"{args.readme} and {args.docs} match {args.results}/")
        return 0
    print(f"rewrote {', '.join(changed)}" if changed else "already up to date")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    """``compare SWEEP... --out DIR``: finished sweeps sharing their first swept key side by side
    (:func:`~plasticagents.training.analysis.sweep.compare_sweeps`); prints the Markdown table
    and PNG paths.
    """
    from plasticagents.training.analysis.sweep import compare_sweeps

    md, png = compare_sweeps(args.sweeps, args.out, args.metric)
    print(f"comparison: {md}, {png}")
    return 0


def _cmd_make_shd(args: argparse.Namespace) -> int:
    """``make-shd OUT``: write a synthetic data set in the Heidelberg Digits HDF5 layout
    (``--samples`` samples of ``--classes`` classes, seeded), for checking and timing the SHD
    pipeline without downloading the real files.

    Raises:
        ValueError: ``--samples < 1`` or ``--classes`` outside ``[2, 20]`` (SHD has 20 classes).
    """
    from plasticagents.envs.datasets import synthetic_shd

    if args.samples < 1 or not 2 <= args.classes <= 20:
        raise ValueError(
            f"--samples must be >= 1 and --classes in [2, 20], got {args.samples}, {args.classes}"
        )
    path = synthetic_shd(args.out, samples=args.samples, classes=args.classes, seed=args.seed)
    print(f"wrote {path}: {args.samples} synthetic samples in the SHD file format")
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    """``tune CONFIG --trials N --out DIR``: Bayesian optimisation of an STDP reservoir's
    heterogeneity (:func:`~plasticagents.training.analysis.bayesopt.tune`); ``N`` more trials
    are added to the study in ``DIR``, whose best config is written to ``DIR/best.yaml``.
    """
    from plasticagents.training.analysis.bayesopt import tune

    tune(args.config, args.trials, args.out, args.set, seed=args.seed)
    print(f"best config: {args.out}/best.yaml (train it with plasticagents train)")
    return 0


def _add_perturb(parser: argparse.ArgumentParser) -> None:
    """The repeatable ``--perturb SPEC`` flag that ``evaluate`` and ``view`` share (parsed by
    :func:`_perturb_specs`).
    """
    parser.add_argument(
        "--perturb",
        action="append",
        metavar="SPEC",
        help="perturbation as YAML, e.g. '{type: cripple_leg, leg: bthigh, onset: 300}' "
        "(repeatable)",
    )


def _add_ablation(parser: argparse.ArgumentParser) -> None:
    """The ``--ablation NAME`` flag that ``evaluate`` and ``view`` share: run the plastic
    policy with its fast weights frozen at the onset (of a perturbation or a goal switch),
    held at their initial values the whole episode, or reset at the onset
    (:mod:`plasticagents.ablation`), on the same seeds as the intact policy. A non-plastic
    policy is refused with a one-line error."""
    parser.add_argument(
        "--ablation",
        choices=["freeze-at-onset", "lesion", "reset-at-onset"],
        help="run the plastic policy with its plasticity frozen at the onset, lesioned for the "
        "whole episode, or reset at the onset",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; each subparser stores its handler as
    ``args.func`` (``func(args) -> exit status``). The command line's defaults are set here
    (the API functions declare their own)."""
    parser = argparse.ArgumentParser(
        prog="plasticagents",
        description="Plastic spiking-neural-network agents: train, watch and stress-test them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="print versions and the compute device")
    info.set_defaults(func=_cmd_info)
    envs = sub.add_parser("list-envs", help="print the registered plasticagents Gymnasium ids")
    envs.add_argument(
        "-v", "--verbose", action="store_true", help="also print each perturbation list"
    )
    envs.set_defaults(func=_cmd_list_envs)

    train = sub.add_parser(
        "train",
        help="train a policy from a YAML experiment config",
        description="Train a policy; writes a run directory (config, metrics, checkpoints).",
    )
    train.add_argument("config", nargs="?", help="experiment YAML (e.g. configs/smoke/es.yaml)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set trainer.popsize=32 (repeatable)",
    )
    train.add_argument("--runs-dir", default="runs", help="where run directories are created")
    train.add_argument("--name", help="run name (default: the config's name)")
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run from its latest checkpoint (then evaluate/render as its first "
        "command asked)",
    )
    train.add_argument(
        "--evaluate",
        type=int,
        default=None,
        metavar="N",
        help="after training, evaluate the best checkpoint on N seeded episodes (0: not even "
        "on a resume whose first command asked for it)",
    )
    train.add_argument(
        "--video",
        metavar="FILE",
        help="after training, render one episode of the best checkpoint (.mp4 or .gif)",
    )
    train.set_defaults(func=_cmd_train)

    ev = sub.add_parser("evaluate", help="run a trained policy on seeded episodes")
    ev.add_argument("run", help="run directory")
    ev.add_argument("--episodes", type=int, default=10)
    ev.add_argument("--seed", type=int, default=0, help="seeds the episodes' resets")
    ev.add_argument("--checkpoint", choices=["best", "latest"], default="best")
    ev.add_argument("--env", help="evaluate on another env id (same observation/action sizes)")
    _add_perturb(ev)
    ev.add_argument("--max-episode-steps", type=int, help="cap each episode at N steps")
    ev.add_argument("--threads", type=int, default=2, help="physics threads")
    _add_ablation(ev)
    ev.set_defaults(func=_cmd_evaluate)

    rob = sub.add_parser(
        "robustness",
        help="evaluate trained runs over a perturbation suite (CSV, report, plots)",
        description="Evaluate one or more runs over perturbations x strengths x onsets x seeds.",
    )
    rob.add_argument("runs", nargs="+", help="run directories (e.g. plastic, static, MLP)")
    rob.add_argument("--suite", required=True, help="suite YAML, e.g. configs/robustness/x.yaml")
    rob.add_argument("--out", required=True, help="output directory")
    rob.add_argument("--episodes", type=int, help="seeded episodes per condition (suite or 10)")
    rob.add_argument("--seed", type=int, default=0, help="seeds the episodes' resets")
    rob.add_argument("--env", help="env id (default: the suite's, else each run's own)")
    rob.add_argument("--max-steps", type=int, help="episode cap (default: suite / run config)")
    rob.add_argument("--checkpoint", choices=["best", "latest"], default="best")
    rob.add_argument("--threads", type=int, default=2, help="physics threads")
    rob.add_argument("--batch", type=int, default=128, help="episodes rolled out together")
    rob.add_argument("--window", type=int, default=50, help="steps around an onset")
    rob.add_argument(
        "--fraction", type=float, default=0.8, help="recovery: share of the pre-onset reward"
    )
    rob.add_argument("--overwrite", action="store_true", help="replace an earlier output")
    rob.add_argument(
        "--oracle",
        metavar="RUN",
        help="a run trained on the privileged (goal-observing) env: its reward after each onset "
        "is the level adaptation time is measured against",
    )
    rob.add_argument(
        "--oracle-env", help="the oracle's env id (default: the suite env's Privileged variant)"
    )
    rob.add_argument(
        "--ablations",
        metavar="A,B",
        help="also run each (plastic) agent ablated, beside it: "
        "freeze-at-onset, lesion, reset-at-onset (comma-separated)",
    )
    rob.set_defaults(func=_cmd_robustness)

    ada = sub.add_parser(
        "adaptation",
        help="compare arms (several seeds each) around a mid-episode change, with the oracle "
        "and the plastic arms' ablations",
        description="Evaluate every arm's runs (one per training seed) on held-out episodes "
        "around a goal switch or perturbation onset; writes episodes.csv, summary.json, "
        "report.md, reward_around_onset.png and record.json. Statistics are over seeds.",
    )
    ada.add_argument(
        "--arm",
        action="append",
        required=True,
        metavar="NAME=RUN[,RUN...]",
        help="an arm and its run directories, one per training seed (repeatable)",
    )
    ada.add_argument("--oracle", metavar="RUN[,RUN...]", help="privileged runs, one per seed")
    ada.add_argument("--suite", required=True, help="suite YAML (its env and conditions)")
    ada.add_argument("--out", required=True, help="output directory")
    ada.add_argument(
        "--condition", default="nominal", help="the suite condition whose onset is compared"
    )
    ada.add_argument("--episodes", type=int, help="held-out episodes per seed (suite or 10)")
    ada.add_argument("--seed", type=int, default=1000, help="seeds the held-out episodes")
    ada.add_argument("--checkpoint", choices=["best", "latest"], default="best")
    ada.add_argument("--threads", type=int, default=2, help="physics threads")
    ada.add_argument("--window", type=int, default=50, help="steps around an onset")
    ada.add_argument("--overwrite", action="store_true", help="replace an earlier output")
    ada.set_defaults(func=_cmd_adaptation)

    view = sub.add_parser(
        "view",
        help="render a rollout video with spike raster, neuromodulation and weight change",
        description="Render one seeded episode of a trained policy (headless) and save its "
        "trajectory as .npz beside the video.",
    )
    view.add_argument("run", help="run directory")
    view.add_argument("--out", help="FILE.mp4 or FILE.gif")
    view.add_argument("--env", help="another env id (same observation/action sizes)")
    _add_perturb(view)
    view.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the episode's reset seed, used as is (to replay an evaluated episode, pass the "
        "`seed` column of its episodes.csv / robustness.csv: evaluate's --seed is the base "
        "those are derived from)",
    )
    view.add_argument("--checkpoint", choices=["best", "latest"], default="best")
    view.add_argument("--max-steps", type=int, help="episode cap (default: the run's env)")
    view.add_argument("--every", type=int, default=1, help="render every k-th step")
    view.add_argument("--width", type=int, default=480)
    view.add_argument("--height", type=int, default=352)
    view.add_argument("--fps", type=float, help="default: real time")
    view.add_argument("--live", action="store_true", help="MuJoCo's interactive viewer")
    _add_ablation(view)
    view.set_defaults(func=_cmd_view)

    plot = sub.add_parser("plot", help="learning curves of one or more runs as a PNG")
    plot.add_argument("runs", nargs="+", help="run directories")
    plot.add_argument("--out", default="learning_curves.png", help="output PNG")
    plot.add_argument("--title")
    plot.add_argument(
        "--group",
        action="store_true",
        help="merge runs differing only in seed and name: mean eval return, min-max band",
    )
    plot.set_defaults(func=_cmd_plot)

    sw = sub.add_parser(
        "sweep",
        help="train a config over a grid of overrides x seeds (CSV, report, plots)",
    )
    sw.add_argument(
        "config",
        help="experiment or classification config YAML (any trainer.kind; RL runs are scored "
        "by their best checkpoint's return on held-out episodes)",
    )
    sw.add_argument(
        "--over",
        action="append",
        metavar="KEY=V1,V2",
        help="a swept key and its values, e.g. model.excitatory_fraction=1.0,0.8,0.5; repeat "
        "for a grid",
    )
    sw.add_argument(
        "--jobs", type=int, default=1, help="runs trained at once, one process each (default 1)"
    )
    sw.add_argument(
        "--episodes",
        type=int,
        default=200,
        help="held-out episodes evaluating each RL run's best checkpoint (default 200)",
    )
    sw.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    sw.add_argument("--out", required=True, help="output directory (re-run to resume)")
    sw.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    sw.set_defaults(func=_cmd_sweep)

    cmp = sub.add_parser(
        "compare",
        help="put finished sweeps that share their first swept key side by side (table, plot)",
    )
    cmp.add_argument("sweeps", nargs="+", help="sweep output directories (with sweep.csv)")
    cmp.add_argument("--out", required=True, help="output directory")
    cmp.add_argument("--metric", help="column to compare (default eval_return / test_accuracy)")
    cmp.set_defaults(func=_cmd_compare)

    rep = sub.add_parser(
        "report",
        help="build the README's result tables and docs/results.md from results/ (--check)",
    )
    rep.add_argument("--results", default="results", help="results directory (default results)")
    rep.add_argument("--readme", default="README.md", help="README with report blocks")
    rep.add_argument("--docs", default="docs/results.md", help="full results page to write")
    rep.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    rep.add_argument(
        "--measure",
        choices=["cue-references"],
        help="first measure the cue task's reference players (about 1 minute)",
    )
    rep.set_defaults(func=_cmd_report)

    tu = sub.add_parser(
        "tune",
        help="Bayesian optimisation (optuna) of an STDP reservoir's heterogeneity, minimising E",
    )
    tu.add_argument("config", help="config YAML with trainer.kind stdp")
    tu.add_argument("--trials", type=int, default=30)
    tu.add_argument("--out", required=True, help="output directory (re-run to add trials)")
    tu.add_argument("--seed", type=int, default=0, help="seeds the sampler")
    tu.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    tu.set_defaults(func=_cmd_tune)

    ms = sub.add_parser(
        "make-shd",
        help="write a synthetic file in the Heidelberg Digits HDF5 format (checks, timing)",
    )
    ms.add_argument("out", help="output .h5 path")
    ms.add_argument("--samples", type=int, default=1024)
    ms.add_argument("--classes", type=int, default=20)
    ms.add_argument("--seed", type=int, default=0)
    ms.set_defaults(func=_cmd_make_shd)

    cv = sub.add_parser(
        "convert",
        help="convert run directories' old pickle checkpoints (.pt) to the safe format",
        description="Rewrite each run's checkpoints/*.pt as .safetensors checkpoints. The old "
        "files are read with torch's restricted weights-only unpickler (plain data and a short "
        "list of known classes only), so a crafted file fails instead of running code.",
    )
    cv.add_argument("runs", nargs="+", help="run directories")
    cv.set_defaults(func=_cmd_convert)

    ex = sub.add_parser(
        "export",
        help="write a trained spiking network as a NIR graph (snnTorch, Norse, Lava, chips)",
        description="Export a run's network to the Neuromorphic Intermediate Representation. "
        "The file is exact for forward-Euler simulation at step --dt (snnTorch's convention).",
    )
    ex.add_argument("run", help="run directory")
    ex.add_argument("--out", required=True, help="output file, e.g. model.nir")
    ex.add_argument("--checkpoint", choices=["best", "latest"], default="best")
    ex.add_argument(
        "--dt",
        type=float,
        default=1e-4,
        help="simulation step (s) the file is written for (default 1e-4: snnTorch's importer)",
    )
    ex.add_argument(
        "--snapshot",
        type=int,
        metavar="STEP",
        help="plastic networks: fold the fast weights at env step STEP of one seeded episode "
        "into static weights (plasticity itself is dropped)",
    )
    ex.add_argument("--snapshot-seed", type=int, default=0, help="seeds the snapshot episode")
    ex.add_argument(
        "--approximate-reset",
        action="store_true",
        help="write subtractive-reset neurons with NIR's reset to 0 (spike trains then differ)",
    )
    ex.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``) and return its exit status (see
    the module docstring for the codes); prints the help and returns 0 without a command.

    Sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment already sets it, before torch is
    imported by any command.
    """
    # Physics threads and torch's OpenMP kernels alternate every env step; spinning OpenMP
    # workers would steal the cores MuJoCo needs (measured: ~25% slower ES generations).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `plasticagents list-envs | head`: an OSError, but not a failure
        sys.stderr.close()
        return 0
    except (ValueError, OSError) as err:
        # Config errors, bad run directories, incompatible envs, missing GL or files: the
        # message says what to fix.
        if os.environ.get("PLASTICAGENTS_DEBUG"):
            raise
        print(f"plasticagents {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"plasticagents {args.command}: interrupted; `--resume RUN_DIR` continues a training "
            "run from its latest checkpoint",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
