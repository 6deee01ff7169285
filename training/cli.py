"""The ``plasticagents`` command line. Heavy modules are imported inside each command."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main"]


def _cmd_info(args: argparse.Namespace) -> int:
    import platform

    import torch

    import plasticagents

    print(f"plasticagents {plasticagents.__version__}")
    print(f"python {platform.python_version()}, torch {torch.__version__}")
    print(f"device 'auto' resolves to: {plasticagents.resolve_device('auto')}")
    return 0


def _cmd_list_envs(args: argparse.Namespace) -> int:
    import gymnasium as gym

    from plasticagents.envs import NAMESPACE

    for env_id in sorted(i for i in gym.registry if i.startswith(f"{NAMESPACE}/")):
        kwargs = gym.registry[env_id].kwargs
        detail = kwargs.get("perturbations", {k: v for k, v in kwargs.items()})
        print(f"{env_id:55s} {kwargs.get('base_id', '')} {detail if args.verbose else ''}".rstrip())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
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


def _report_evaluation(run, episodes: int, seed: int, which: str, **kwargs) -> int:
    from plasticagents.training.api import evaluate

    returns = evaluate(run, episodes=episodes, seed=seed, which=which, **kwargs)
    print(
        f"{which} checkpoint of {run}: return {returns.mean():.1f} ± {returns.std():.1f} "
        f"(mean ± std over {episodes} seeded episodes; min {returns.min():.1f}, "
        f"max {returns.max():.1f})"
    )
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from plasticagents.training.api import evaluate
    from plasticagents.training.registry import lookup
    from plasticagents.training.run import RunDir

    run = RunDir.open(args.run)
    kind = (run.config_dict().get("trainer") or {}).get("kind", "es")
    if lookup(kind).family == "classifier":
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
        threads=args.threads,
    )


def _cmd_convert(args: argparse.Namespace) -> int:
    from plasticagents.training.convert import convert_run

    for run in args.runs:
        for line in convert_run(run):
            print(line)
    return 0


def _perturb_specs(texts: list[str] | None) -> list[dict] | None:
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
    )
    out = Path(args.out)
    print((out / "report.md").read_text())
    print(
        f"{len(rows)} episodes -> {out / 'robustness.csv'}, {out / 'report.md'}, PNG plots in {out}"
    )
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    from plasticagents.training.analysis import viewer

    perturbations = _perturb_specs(args.perturb)
    if args.live:
        viewer.live(args.run, args.env, perturbations, args.seed, args.checkpoint)
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
    )
    onsets = ", ".join(f"{k} at step {v}" for k, v in rec.onsets.items()) or "none"
    print(
        f"{video} ({len(rec.frames)} frames), trajectory {npz}: {rec.steps} steps, return "
        f"{rec.rewards.sum():.1f}, {rec.neuron_spikes.sum() / max(rec.steps, 1):.1f} spikes/step, "
        f"perturbation onsets: {onsets}"
    )
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from plasticagents.training.analysis.plots import plot_learning_curves

    print(plot_learning_curves(args.runs, args.out, title=args.title or "", group=args.group))
    return 0


def _seed_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--seeds expects comma-separated integers, got {text!r}") from None


def _cmd_sweep(args: argparse.Namespace) -> int:
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


def _cmd_compare(args: argparse.Namespace) -> int:
    from plasticagents.training.analysis.sweep import compare_sweeps

    md, png = compare_sweeps(args.sweeps, args.out, args.metric)
    print(f"comparison: {md}, {png}")
    return 0


def _cmd_make_shd(args: argparse.Namespace) -> int:
    from plasticagents.envs.datasets import synthetic_shd

    if args.samples < 1 or not 2 <= args.classes <= 20:
        raise ValueError(
            f"--samples must be >= 1 and --classes in [2, 20], got {args.samples}, {args.classes}"
        )
    path = synthetic_shd(args.out, samples=args.samples, classes=args.classes, seed=args.seed)
    print(f"wrote {path}: {args.samples} synthetic samples in the SHD file format")
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from plasticagents.training.analysis.bayesopt import tune

    tune(args.config, args.trials, args.out, args.set, seed=args.seed)
    print(f"best config: {args.out}/best.yaml (train it with plasticagents train)")
    return 0


def _add_perturb(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--perturb",
        action="append",
        metavar="SPEC",
        help="perturbation as YAML, e.g. '{type: cripple_leg, leg: bthigh, onset: 300}' "
        "(repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
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
        "--resume", metavar="RUN_DIR", help="continue a run from its latest checkpoint"
    )
    train.add_argument(
        "--evaluate",
        type=int,
        default=0,
        metavar="N",
        help="after training, evaluate the best checkpoint on N seeded episodes",
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
    ev.add_argument("--threads", type=int, default=2, help="physics threads")
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
    rob.set_defaults(func=_cmd_robustness)

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
    view.add_argument("--seed", type=int, default=0)
    view.add_argument("--checkpoint", choices=["best", "latest"], default="best")
    view.add_argument("--max-steps", type=int, help="episode cap (default: the run's env)")
    view.add_argument("--every", type=int, default=1, help="render every k-th step")
    view.add_argument("--width", type=int, default=480)
    view.add_argument("--height", type=int, default=352)
    view.add_argument("--fps", type=float, help="default: real time")
    view.add_argument("--live", action="store_true", help="MuJoCo's interactive viewer")
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
    return parser


def main(argv: list[str] | None = None) -> int:
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
    except BrokenPipeError:  # `plasticagents list-envs | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
