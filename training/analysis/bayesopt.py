"""Bayesian optimisation of the HRSNN heterogeneity hyper-parameters (optuna, TPE sampler).

``plasticagents tune CONFIG --trials 30 --out DIR`` searches, for a ``trainer.kind: stdp``
config, the membrane time-constant distribution (``model.tau_mem`` mean, ``model.tau_spread``
of a gamma distribution) and the STDP heterogeneity (``trainer.stdp_spread``) that minimise
``E = activity / memory capacity`` (Chakraborty & Mukhopadhyay 2023). Each trial builds the
reservoir, runs the unsupervised STDP passes on the *training* inputs and measures MC and
activity on an i.i.d. drive: no labels and no test data enter the search.

Writes ``DIR/trials.csv`` (one row per trial), ``DIR/best.yaml`` (the config with the best
values, ready for ``plasticagents train``), ``DIR/search.png`` (E per trial, best so far) and a
resumable ``DIR/study.db`` (re-running the command adds trials to the same study).
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from plasticagents.training.config import ConfigError, StdpConfig, load_config, to_dict

__all__ = ["SEARCH_SPACE", "reservoir_energy", "tune"]

# name -> (low, high, log scale)
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "model.tau_mem": (5e-3, 60e-3, True),
    "model.tau_spread": (0.0, 1.5, False),
    "trainer.stdp_spread": (0.0, 1.5, False),
}


def reservoir_energy(cfg: Any) -> dict[str, float]:
    """Build, STDP-train on the training inputs, and measure ``{memory_capacity, activity, E}``."""
    from plasticagents.training.classification import Encoder, load_data
    from plasticagents.training.trainers.stdp import build_reservoir, reservoir_memory, stdp_pass

    train, _ = load_data(cfg.data, cfg.seed)
    encoder = Encoder(cfg.data, train)
    res = build_reservoir(cfg, encoder.n_in)
    for epoch in range(cfg.trainer.epochs):
        stdp_pass(res, train, encoder, cfg.trainer.batch_size, cfg.seed, epoch)
    return reservoir_memory(res, cfg.trainer, cfg.seed)


def _set(values: dict[str, float]) -> list[str]:
    """A trial's values as ``--set`` overrides (``repr`` keeps every digit); a positive
    ``model.tau_spread`` also selects ``model.tau_distribution=gamma``, since a spread means
    nothing for the ``constant`` distribution."""
    sets = [f"{k}={v!r}" for k, v in values.items()]
    if values.get("model.tau_spread", 0) > 0:
        sets.append("model.tau_distribution=gamma")
    return sets


def tune(
    config: str | Path,
    trials: int,
    out: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run ``trials`` more trials of the study in ``out``; returns the best trial's values.

    Args:
        config: a ``trainer.kind: stdp`` config YAML.
        trials: trials to add (a re-run adds to the trials already in ``out/study.db``).
        out: output directory (created).
        overrides: ``--set``-style overrides applied before each trial's values.
        seed: seeds the TPE sampler (offset by the number of trials already finished, so a
            re-run does not propose the same points again).
        log: progress sink, one line per trial (default: stderr).

    Returns:
        ``{"E": best E, "model.tau_mem": ..., "model.tau_spread": ...,
        "trainer.stdp_spread": ...}`` over all trials of the study.

    Raises:
        ConfigError: the config is not an ``stdp`` config, or ``trials < 1``.
    """
    import optuna

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    base = load_config(config, list(overrides))
    if not isinstance(base.trainer, StdpConfig):
        raise ConfigError(
            f"tune searches STDP reservoirs (trainer.kind 'stdp'); {config} has "
            f"{base.trainer.kind!r}"
        )
    if not (isinstance(trials, int) and trials >= 1):
        raise ConfigError(f"--trials must be >= 1, got {trials!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="hrsnn",
        storage=f"sqlite:///{out / 'study.db'}",
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=seed + len(_finished(out))),
    )

    def objective(trial: optuna.Trial) -> float:
        """One trial: sample the :data:`SEARCH_SPACE`, build the config, measure it
        (:func:`reservoir_energy`), keep MC, activity and E as the trial's user attributes, and
        return E (``inf`` for a reservoir without memory capacity, so TPE learns to avoid it)."""
        values = {
            name: trial.suggest_float(name, low, high, log=logscale)
            for name, (low, high, logscale) in SEARCH_SPACE.items()
        }
        cfg = load_config(config, [*overrides, *_set(values)])
        res = reservoir_energy(cfg)
        for key, value in res.items():
            trial.set_user_attr(key, value)
        energy = res["E"] if res["E"] is not None else float("inf")
        log(
            f"[tune] trial {trial.number:3d}  "
            + "  ".join(f"{k.split('.')[-1]} {v:.4g}" for k, v in values.items())
            + f"  MC {res['memory_capacity']:.2f}  activity {res['activity']:.4f}  E {energy:.4g}"
        )
        return energy

    study.optimize(objective, n_trials=trials)
    rows = _finished(out, study)
    with open(out / "trials.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    best = study.best_trial
    best_cfg = load_config(config, [*overrides, *_set(best.params)])
    best_cfg.name = f"{base.name}-tuned"
    (out / "best.yaml").write_text(yaml.safe_dump(to_dict(best_cfg), sort_keys=False))
    _plot(out, rows)
    log(
        f"[tune] best of {len(rows)} trials: E {best.value:.4g} with "
        + ", ".join(f"{k} = {v:.4g}" for k, v in best.params.items())
        + f"; config {out / 'best.yaml'}"
    )
    return {"E": best.value, **best.params}


def _finished(out: Path, study: Any = None) -> list[dict[str, Any]]:
    """The finished trials as ``trials.csv`` rows: ``trial``, the sampled values, MC, activity
    and ``E``. Without ``study``, the rows of an earlier ``trials.csv`` (strings; ``[]`` if
    none): :func:`tune` counts them to give each re-run a different sampler seed."""
    if study is None:
        if not (out / "trials.csv").is_file():
            return []
        with open(out / "trials.csv", newline="") as fh:
            return list(csv.DictReader(fh))
    rows = []
    for trial in study.trials:
        if trial.value is None:
            continue
        rows.append({"trial": trial.number, **trial.params, **trial.user_attrs, "E": trial.value})
    return rows


def _plot(out: Path, rows: list[dict[str, Any]]) -> None:
    """``search.png``: E per trial with the best so far (log scale), and the trials in the plane
    of membrane-tau spread x STDP spread coloured by ``log10 E``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    energy = np.array([float(r["E"]) for r in rows])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    axes[0].plot(energy, "o", alpha=0.6, label="trial")
    axes[0].plot(np.minimum.accumulate(energy), "-", label="best so far")
    axes[0].set_xlabel("trial")
    axes[0].set_ylabel("E = activity / MC")
    axes[0].set_yscale("log")
    axes[0].legend()
    sc = axes[1].scatter(
        [float(r["model.tau_spread"]) for r in rows],
        [float(r["trainer.stdp_spread"]) for r in rows],
        c=np.log10(energy),
        cmap="viridis_r",
    )
    axes[1].set_xlabel("membrane tau spread (CV)")
    axes[1].set_ylabel("STDP spread (CV)")
    fig.colorbar(sc, ax=axes[1], label="log10 E")
    fig.tight_layout()
    fig.savefig(out / "search.png", dpi=120)
    plt.close(fig)
