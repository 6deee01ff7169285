"""The adaptation experiment: arms trained over several seeds, compared around a mid-episode
change (a hidden goal's switch or a perturbation's onset) against a privileged oracle, with
the plastic arms' plasticity ablated at the onset.

One call evaluates, for every seed index ``i``, the ``i``-th run of every arm on the same
held-out episode seeds (``seed`` -> :func:`~.robustness.episode_seed_list`; the default 1000
keeps them apart from the 0-based seeds training and the other commands use), with
:func:`~.robustness.evaluate_agent`:

- the oracle's ``i``-th run first, on the privileged env: its mean reward per step after each
  onset is the level the others' adaptation time is measured against;
- every arm's ``i``-th run, and for plastic arms each ablation of
  :data:`plasticagents.ablation.ABLATIONS` (``freeze-at-onset``, ``lesion``,
  ``reset-at-onset``) on the same episodes;
- for plastic arms, ``||alpha * hebb||`` per step on the same seeds with and without the
  change (for a goal switch: the same env with its switch schedule off, which gives the same
  episode up to the switch; for a mid-episode perturbation: the episode without it): the fast
  weights' response to the change.

Every arm and the oracle run the same task: the suite's env with the arms' own gym kwargs
(which must agree) updated with the suite's ``env_kwargs`` (a task changed for evaluation,
e.g. a switch schedule never trained on), the oracle on its privileged twin with those kwargs
(less what only sets the arms' view of the goal, ``cue_steps``).

Statistics are over seeds (the unit that was trained): each number is first averaged over the
episodes of one seed, then given as mean ± 95% Student-t half-width over the seeds. Paired
figures (oracle shortfall, ablation cost, arm differences, weight-change response) are
computed per seed against the same seed's partner, then summarised the same way.

Definitions (``rest``: the mean reward per step from the onset to the end of the episode)

- shortfall vs the oracle, % = ``100 (rest_oracle - rest) / |rest_oracle|`` (0: as good as the
  oracle; the "reaches 80% of the oracle" goal is a shortfall <= 20, the same convention as
  :func:`~.robustness.time_to_level` for negative rewards);
- return kept, % (a perturbation's onset only) = ``100 return / return_nominal``, each intact
  arm's mean return under the perturbation against its mean return on the same episode seeds
  without it (for a negative nominal return ``100 (1 + (return - return_nominal) /
  |return_nominal|)``, so that a loss reads below 100 either way); per seed, then summarised
  over seeds; beside it the same share of the seed means (``return_kept_of_means_pct``: the
  arm's mean return over seeds under the change against its mean over seeds without it), a
  point estimate that stays finite when one seed's nominal return is near 0 (a run that never
  learned the task divides its per-seed share by about 0);
- ablation cost, percentage points of the post-onset return = ``100 (rest_intact -
  rest_ablated) / |rest_intact|`` (positive: the ablation hurts);
- weight-change response, % = ``100 (W_changed / W_unchanged - 1)`` with ``W`` the mean
  ``||alpha * hebb||`` over the steps from the onset to the end of the episode.

Outputs in ``out``: ``episodes.csv`` (every episode's row, as ``robustness.csv`` plus
``arm``, ``seed_index``), ``summary.json`` (every figure above and the goals), ``report.md``,
``reward_around_onset.png`` (mean reward per step around the onset, one line per arm and
ablation, the average of the seeds' episode means; the fast weights' norm below, pooled over
episodes), ``weight_change.csv`` (each episode's mean ``||alpha * hebb||`` after the onset,
with and without the change), ``record.json`` (the command and provenance).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from plasticagents.training.analysis.robustness import (
    COLUMNS,
    NOMINAL,
    VIEW_ONLY,
    around_onset,
    conditions_of,
    episode_seed_list,
    evaluate_agent,
    format_ci,
    mean_ci,
    with_suite_kwargs,
    write_csv,
)

__all__ = [
    "EVAL_SEED",
    "format_stat",
    "goals",
    "run_adaptation",
    "seed_summary",
    "table_rows",
    "without_switch",
]

EVAL_SEED = 1000  # held-out episode seeds: training and the other commands start at 0
_METRICS = ("return", "reward_before", "reward_after", "reward_rest", "adaptation_steps")


def _plain(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _stat(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "half", "n", "per_seed"}`` over the finite per-seed values."""
    mean, half, n = mean_ci(values)
    return {
        "mean": _plain(mean),
        "half": _plain(half),
        "n": n,
        "per_seed": [_plain(v) for v in values],
    }


def without_switch(cfg: Any) -> Any:
    """A hidden-goal env config with its switch schedule off: the same episodes (same seeds,
    same first goal) up to where the switch would have come, then the first goal throughout."""
    still = {"switch_at": None, "switch_range": None, "switch_every": None}
    return dataclasses.replace(cfg, kwargs={**cfg.kwargs, **still})


def _is_plastic(loaded: Any, cfg: Any) -> bool:
    from plasticagents.ablation import plastic_state

    agent = loaded.agent(cfg)
    try:
        return plastic_state(agent.initial_state(1)) is not None
    except (AttributeError, TypeError):  # SB3 predictors have no initial_state
        return False


def _weight_traces(
    loaded: Any, cfg: Any, specs: list, seeds: Sequence[int], threads: int, cond: Any = None
) -> tuple[np.ndarray, list[int | None]]:
    """``||alpha * hebb||`` per step ``[n, T]`` (NaN after an episode ended) and each
    episode's onset on ``seeds``: ``cond``'s mid-episode perturbation, else the first goal
    switch (``None`` where there is none)."""
    from plasticagents.training.analysis.robustness import _onset
    from plasticagents.training.builders import env_maker
    from plasticagents.training.rollout import EnvPool, policy_probe, rollout

    pool = EnvPool([env_maker(cfg, specs) for _ in seeds], threads=threads, fast_physics=True)
    try:
        result = rollout(
            loaded.agent(cfg),
            pool,
            list(seeds),
            record=("active", "weight_change"),
            probe=policy_probe(loaded.policy),
        )
    finally:
        pool.close()
    w = np.stack(result.trajectory["weight_change"], axis=1).astype(np.float64)
    active = np.stack(result.trajectory["active"], axis=1)
    w[~active] = np.nan
    onsets: list[int | None] = []
    for k, o in enumerate(result.onsets):
        mid = cond is not None and cond.mid_episode
        onsets.append(_onset(result, k, cond) if mid else o.get("task"))
    return w, onsets


def seed_summary(
    rows: Sequence[dict[str, Any]], condition: str = NOMINAL.name, oracle: bool = True
) -> dict[str, list[dict[str, float]]]:
    """Per agent, per seed index (in order), the episode means of :data:`_METRICS` (the
    adaptation time over the episodes that reached the level, ``reached`` the fraction that
    did; NaN without an ``oracle`` to reach) on ``condition``."""
    out: dict[str, dict[int, dict[str, float]]] = {}
    for agent in dict.fromkeys(r["agent"] for r in rows):
        mine = [r for r in rows if r["agent"] == agent and r["condition"] == condition]
        for i in sorted({r["seed_index"] for r in mine}):
            ep = [r for r in mine if r["seed_index"] == i]
            means = {}
            for key in _METRICS:
                vals = np.array([r[key] for r in ep], dtype=np.float64)
                finite = vals[np.isfinite(vals)]
                means[key] = float(finite.mean()) if len(finite) else math.nan
            steps = np.array([r["adaptation_steps"] for r in ep], dtype=np.float64)
            measured = oracle and any(math.isfinite(r["reward_rest"]) for r in ep)
            means["reached"] = float(np.isfinite(steps).mean()) if measured else math.nan
            out.setdefault(agent, {})[i] = means
    return {a: [per[i] for i in sorted(per)] for a, per in out.items()}


def _shortfall(rest: float, oracle: float) -> float:
    return 100.0 * (oracle - rest) / abs(oracle) if oracle else math.nan


def _kept(changed: float, nominal: float) -> float:
    """% of the nominal return kept under a change: ``100 changed / nominal`` for a positive
    nominal return; in general ``100 (1 + (changed - nominal) / |nominal|)``, so a loss reads
    below 100 for negative returns too (the convention of the shortfall and the cost)."""
    return 100.0 * (1.0 + (changed - nominal) / abs(nominal)) if nominal else math.nan


def _cost(intact: float, ablated: float) -> float:
    return 100.0 * (intact - ablated) / abs(intact) if intact else math.nan


def _difference(summary: dict[str, Any], a: str, b: str, key: str) -> dict[str, Any] | None:
    """The paired figure ``a − b`` of ``key`` whichever order the arms were given in."""
    diffs = summary["differences"]
    if f"{a} − {b}" in diffs:
        return diffs[f"{a} − {b}"].get(key)
    stat = diffs.get(f"{b} − {a}", {}).get(key)
    if stat is None:
        return None
    flip = lambda v: None if v is None else -v  # noqa: E731
    return {**stat, "mean": flip(stat["mean"]), "per_seed": [flip(v) for v in stat["per_seed"]]}


def goals(summary: dict[str, Any], plastic: str, static: str | None) -> list[dict[str, Any]]:
    """The issue's goals for this task, measured: each ``{"goal", "measured", "met"}``; a goal
    the summary has no figure for (no oracle, no ablation, no static arm) is left out."""
    agents = summary["agents"]
    out = []
    mine = agents.get(plastic, {})
    short = mine.get("oracle_shortfall_pct", {}).get("mean")
    adapt = mine.get("adaptation_steps", {}).get("mean")
    reached = mine.get("reached", {}).get("mean")
    if short is not None:
        # the adaptation time counts only the episodes that got there: most must have
        met = (
            short <= 20.0
            and adapt is not None
            and adapt <= 100.0
            and reached is not None
            and reached >= 0.5
        )
        out.append(
            {
                "goal": f"{plastic}: >= 80% of the oracle's post-onset reward per step "
                "(shortfall <= 20%) and adaptation time <= 100 steps (in at least half of "
                "the episodes)",
                "measured": f"shortfall {short:.1f}%, adaptation time "
                + (
                    f"{adapt:.0f} steps in the {100 * (reached or 0):.0f}% of episodes that "
                    "reached 80% of the oracle"
                    if adapt is not None
                    else "never reached"
                ),
                "met": bool(met),
            }
        )
    freeze = summary["ablation_cost_pp"].get(f"{plastic} [freeze-at-onset]")
    if freeze is not None and freeze["mean"] is not None:
        out.append(
            {
                "goal": "freezing plasticity at the onset costs >= 10 points of the post-onset "
                "return (the 95% CI over seeds excluding 0)",
                "measured": f"{format_ci(freeze['mean'], freeze['half'] or math.nan, 1)} points",
                # a mean alone is not enough: near-zero post-onset rewards inflate the cost
                "met": freeze["mean"] >= 10.0
                and freeze["half"] is not None
                and freeze["mean"] - freeze["half"] > 0,
            }
        )
    wc = summary["weight_response_pct"].get(plastic)
    if wc is not None and wc["mean"] is not None:
        half = wc["half"] if wc["half"] is not None else math.nan
        differs = math.isfinite(half) and abs(wc["mean"]) > half
        out.append(
            {
                "goal": "‖alpha * hebb‖ after the onset differs from the unchanged episode's",
                "measured": f"{format_ci(wc['mean'], half, 1)}% (95% CI over seeds "
                + ("excludes" if differs else "includes")
                + " 0)",
                "met": differs,
            }
        )
    kept = mine.get("return_kept_pct")
    if kept is not None:  # a perturbation's onset
        cell = f"{format_stat(kept, 1)}% of the nominal return"
        gap = None
        if static is not None:
            gap = _difference(summary, plastic, static, "return_kept_pct")
            cell += f", {format_stat(gap, 1)} points over {static}"
        out.append(
            {
                "goal": f"{plastic} keeps >= 85% of its nominal return under the change"
                + (f" and beats {static} by >= 10 points" if static is not None else ""),
                "measured": cell,
                "met": kept["mean"] is not None
                and kept["mean"] >= 85.0
                and (static is None or (gap["mean"] is not None and gap["mean"] >= 10.0)),
            }
        )
    if static is not None:
        d = _difference(summary, plastic, static, "reward_rest")
        if d is not None and d["mean"] is not None:
            cell = format_ci(d["mean"], d["half"] or math.nan, 3)
            out.append(
                {
                    "goal": f"{plastic} beats {static} after the onset",
                    "measured": f"post-onset reward per step {cell}",
                    "met": d["mean"] > 0 and d["half"] is not None and d["mean"] > d["half"],
                }
            )
    return out


def run_adaptation(
    arms: Mapping[str, Sequence[str | Path]],
    suite_path: str | Path,
    out: str | Path,
    oracle: Sequence[str | Path] | None = None,
    episodes: int | None = None,
    seed: int = EVAL_SEED,
    condition: str = NOMINAL.name,
    which: str = "best",
    threads: int = 2,
    batch: int = 128,
    window: int = 50,
    fraction: float = 0.8,
    overwrite: bool = False,
    progress: bool = True,
    command: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Evaluate every arm's runs (one per training seed, the same count for every arm and the
    oracle) around the onset of ``condition`` of the suite (for a hidden-goal env's nominal
    condition: the goal switch) and write the files listed in the module docstring. Returns
    the summary (as ``summary.json``)."""
    from plasticagents.ablation import ABLATIONS
    from plasticagents.envs import load_suite
    from plasticagents.training.analysis.evaluate import check_compatible, load_policy
    from plasticagents.training.analysis.plots import plot_adaptation
    from plasticagents.training.analysis.robustness import _check_window, _privileged
    from plasticagents.training.builders import env_spaces
    from plasticagents.training.record import Recorder

    recorder = Recorder(command)  # default: sys.argv, the command line that called this
    if not arms:
        raise ValueError("adaptation needs at least one arm (name -> run directories)")
    for name in arms:
        if name == "oracle" or " [" in name or " − " in name or not name.strip():
            raise ValueError(
                f"arm name {name!r} is reserved or ambiguous: not 'oracle', not empty, and "
                "without ' [' (ablations) or ' − ' (differences)"
            )
    _check_window(window, fraction)
    counts = {name: len(runs) for name, runs in arms.items()}
    if oracle is not None:
        counts["oracle"] = len(oracle)
    if len(set(counts.values())) != 1 or 0 in counts.values():
        raise ValueError(
            f"every arm and the oracle need the same number of runs (one per seed), got {counts}"
        )
    n_seeds = next(iter(counts.values()))
    out = Path(out)
    if (out / "episodes.csv").exists() and not overwrite:
        raise FileExistsError(
            f"{str(out)!r} already holds an adaptation run; choose another --out or pass "
            "--overwrite"
        )
    suite = load_suite(suite_path)
    conds = [c for c in conditions_of(suite) if c.name == condition]
    if not conds:
        valid = [c.name for c in conditions_of(suite)]
        raise ValueError(f"unknown condition {condition!r}; the suite has {valid}")
    cond = conds[0]
    episodes = episodes or suite["episodes"] or 10
    if episodes < 2:
        raise ValueError(f"episodes must be >= 2 (per-seed means), got {episodes!r}")
    seeds = episode_seed_list(seed, episodes)
    env_id = suite["env"]
    if not env_id:
        raise ValueError(f"the suite {str(suite_path)!r} names no env: adaptation needs one task")
    max_steps = suite["max_episode_steps"]
    loaded = {name: [load_policy(r, which) for r in runs] for name, runs in arms.items()}
    # every incompatibility is named before anything runs; all runs meet the same task
    configs = {
        name: [
            with_suite_kwargs(lp.env_config(env_id, [], max_steps), suite, suite_path) for lp in lps
        ]
        for name, lps in loaded.items()
    }
    task = None
    for name, lps in loaded.items():
        for lp, cfg in zip(lps, configs[name], strict=True):
            check_compatible(lp, *env_spaces(cfg)[:2], cfg.id)
            mine = (cfg.kwargs, cfg.max_episode_steps)
            if task is None:
                task = (mine, str(lp.run.path))
            elif mine != task[0]:
                raise ValueError(
                    f"{str(lp.run.path)!r} runs {env_id} with gym kwargs and episode cap "
                    f"{mine}, {task[1]!r} with {task[0]}: every arm must meet the same task"
                )
    kwargs, cap = task[0]
    plastic = {}
    for name, lps in loaded.items():
        kinds = {_is_plastic(lp, cfg) for lp, cfg in zip(lps, configs[name], strict=True)}
        if len(kinds) > 1:
            raise ValueError(f"arm {name!r} mixes plastic and non-plastic runs")
        plastic[name] = kinds.pop()
    oracles, oracle_cfgs = None, []
    if oracle is not None:
        oracles = [load_policy(r, which) for r in oracle]
        for lp in oracles:
            cfg = dataclasses.replace(
                lp.env_config(_privileged(env_id), [], max_steps),
                # the same task; what the arms are shown of the goal is not the oracle's view
                kwargs={k: v for k, v in kwargs.items() if k not in VIEW_ONLY},
                max_episode_steps=cap,
            )
            check_compatible(lp, *env_spaces(cfg)[:2], cfg.id)
            oracle_cfgs.append(cfg)

    rows: list[dict[str, Any]] = []
    curves: dict[str, list[np.ndarray]] = {}
    weights: dict[str, dict[str, list[np.ndarray]]] = {}
    weight_rows: list[dict[str, Any]] = []
    for i in range(n_seeds):
        reference = None
        if oracles is not None:
            got, curve = evaluate_agent(
                oracles[i],
                "oracle",
                [cond],
                seeds,
                oracle_cfgs[i],
                threads,
                batch,
                window,
                fraction,
                progress,
            )
            reference = {(r["condition"], r["episode"]): r["reward_rest"] for r in got}
            rows += [{**r, "arm": "oracle", "seed_index": i} for r in got]
            curves.setdefault("oracle", []).append(curve.get(cond.name))
        for name, lps in loaded.items():
            lp, cfg = lps[i], configs[name][i]
            for ablation in (None, *(ABLATIONS if plastic[name] else ())):
                label = name if ablation is None else f"{name} [{ablation}]"
                if cond.mid_episode and ablation is None:
                    # a perturbation: the intact agent also runs the same episodes without it
                    # (a separate call: the perturbed episodes are batched as the ablations')
                    nominal_rows, _ = evaluate_agent(
                        lp, label, [NOMINAL], seeds, cfg, threads, batch, window, fraction, progress
                    )
                    rows += [{**r, "arm": name, "seed_index": i} for r in nominal_rows]
                got, curve = evaluate_agent(
                    lp,
                    label,
                    [cond],
                    seeds,
                    cfg,
                    threads,
                    batch,
                    window,
                    fraction,
                    progress,
                    ablation,
                    reference,
                )
                rows += [{**r, "arm": name, "seed_index": i} for r in got]
                curves.setdefault(label, []).append(curve.get(cond.name))
            if plastic[name]:
                specs = [cond.spec] if cond.spec else []
                w_on, onsets = _weight_traces(lp, cfg, specs, seeds, threads, cond)
                if cond.mid_episode:  # the same episode without the perturbation
                    w_off, _ = _weight_traces(lp, cfg, [], seeds, threads)
                else:  # the same episode without the goal switch
                    w_off, _ = _weight_traces(lp, without_switch(cfg), specs, seeds, threads)
                for k, t0 in enumerate(onsets):
                    if t0 is None:
                        continue
                    seg_on, seg_off = w_on[k, t0:], w_off[k, t0:]
                    both = np.isfinite(seg_on) & np.isfinite(seg_off)
                    if not both.any():  # an episode that ended at the onset: nothing to compare
                        continue
                    on, off = float(seg_on[both].mean()), float(seg_off[both].mean())
                    weight_rows.append(
                        {
                            "arm": name,
                            "seed_index": i,
                            "episode": k,
                            "onset": t0,
                            "changed": on,
                            "unchanged": off,
                        }
                    )
                    for key, w in (("changed", w_on), ("unchanged", w_off)):
                        seg = around_onset(w[k], t0, window)
                        weights.setdefault(name, {}).setdefault(key, []).append(seg)

    per_seed = seed_summary(rows, cond.name, oracle=oracle is not None)
    nominal = seed_summary(rows, NOMINAL.name, oracle=False) if cond.mid_episode else {}
    for agent, per in nominal.items():  # the share of the nominal return kept, per seed
        for s, n in zip(per_seed[agent], per, strict=True):
            s["return_kept_pct"] = _kept(s["return"], n["return"])
    summary: dict[str, Any] = {
        "condition": cond.name,
        "env": env_id,
        "env_kwargs": dict(kwargs),
        "suite_env_kwargs": dict(suite["env_kwargs"]),
        "episodes_per_seed": episodes,
        "seeds": n_seeds,
        "eval_seed": seed,
        "window": window,
        "fraction": fraction,
        "statistic": "mean ± 95% Student-t half-width over training seeds of per-seed "
        "episode means",
        "agents": {},
        "ablation_cost_pp": {},
        "differences": {},
        "weight_response_pct": {},
    }
    oracle_seeds = per_seed.get("oracle")
    for agent, seeds_stats in per_seed.items():
        keys = (*_METRICS, "reached", *(["return_kept_pct"] if agent in nominal else []))
        entry = {k: _stat([s[k] for s in seeds_stats]) for k in keys}
        if oracle_seeds is not None and agent != "oracle":
            entry["oracle_shortfall_pct"] = _stat(
                [
                    _shortfall(s["reward_rest"], o["reward_rest"])
                    for s, o in zip(seeds_stats, oracle_seeds, strict=True)
                ]
            )
        if agent in nominal:  # the same share of the seed means: one point estimate
            share = _kept(
                float(np.mean([s["return"] for s in seeds_stats])),
                float(np.mean([n["return"] for n in nominal[agent]])),
            )
            entry["return_kept_of_means_pct"] = share if math.isfinite(share) else None
        summary["agents"][agent] = entry
        m = re.fullmatch(r"(.*) \[(.*)\]", agent)
        if m:
            intact = per_seed[m.group(1)]
            summary["ablation_cost_pp"][agent] = _stat(
                [
                    _cost(a["reward_rest"], b["reward_rest"])
                    for a, b in zip(intact, seeds_stats, strict=True)
                ]
            )
    names = list(arms)
    for j, a in enumerate(names):
        for b in names[j + 1 :]:
            summary["differences"][f"{a} − {b}"] = {
                key: _stat([x[key] - y[key] for x, y in zip(per_seed[a], per_seed[b], strict=True)])
                for key in ("return", "reward_rest", *(["return_kept_pct"] if nominal else []))
            }
    for name in names:
        mine = [w for w in weight_rows if w["arm"] == name]
        if mine:
            response = []
            for i in range(n_seeds):
                on = [w["changed"] for w in mine if w["seed_index"] == i]
                off = [w["unchanged"] for w in mine if w["seed_index"] == i]
                off = off or [math.nan]
                # no fast weights at all (alpha = 0) or no onset in this seed's episodes: NaN
                ok = bool(on) and float(np.mean(off)) > 0
                response.append(100.0 * (np.mean(on) / np.mean(off) - 1.0) if ok else math.nan)
            summary["weight_response_pct"][name] = _stat(response)
    plastic_arms = [n for n in names if plastic[n]]
    static_arms = [n for n in names if not plastic[n]]
    if plastic_arms:
        summary["goals"] = goals(summary, plastic_arms[0], static_arms[0] if static_arms else None)
    summary["runs"] = {
        **{name: [str(r) for r in runs] for name, runs in arms.items()},
        **({"oracle": [str(r) for r in oracle]} if oracle is not None else {}),
    }

    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "episodes.csv", ["arm", "seed_index", *COLUMNS])
    if weight_rows:
        write_csv(weight_rows, out / "weight_change.csv", list(weight_rows[0]))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "report.md").write_text(report_markdown(summary))
    with warnings.catch_warnings():  # steps no episode covers stay NaN (not plotted)
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_curves, mean_weights = _mean_curves(curves, weights)
    plot_adaptation(mean_curves, mean_weights, window, out / "reward_around_onset.png")
    recorder.write(out / "record.json", outputs=summary)
    return summary


def _mean_curves(curves, weights):
    mean_curves = {
        label: np.nanmean(np.stack([c for c in cs if c is not None]), axis=0)
        for label, cs in curves.items()
        if any(c is not None for c in cs)
    }
    mean_weights = {
        f"{name} ({key})": np.nanmean(np.stack(segs), axis=0)
        for name, per in weights.items()
        for key, segs in per.items()
    }
    return mean_curves, mean_weights


def format_stat(stat: dict[str, Any] | None, digits: int) -> str:
    """A summary figure (``{"mean", "half", ...}``) as ``mean ± half`` (``–`` if missing)."""
    if stat is None or stat["mean"] is None:
        return "–"
    return format_ci(stat["mean"], stat["half"] if stat["half"] is not None else math.nan, digits)


def table_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The per-agent table (header, rows) of a summary: the report and the README share it."""
    header = [
        "agent",
        "return",
        "reward/step after the onset (rest of episode)",
        "shortfall vs oracle, %",
        "adaptation time, steps (episodes reaching 80% of the oracle)",
        "ablation cost, points",
    ]
    kept = any("return_kept_pct" in e for e in summary["agents"].values())
    if kept:  # a perturbation: each arm's return under it as a share of its nominal return
        header[2:2] = ["return kept, % of nominal", "return kept, % (ratio of seed means)"]
    body = []
    for agent, e in summary["agents"].items():
        reached = e["reached"]["mean"]
        adapt = (
            "(the reference)"
            if agent == "oracle"
            else (
                f"{format_stat(e['adaptation_steps'], 0)} ({100 * reached:.0f}%)"
                if reached is not None
                else "–"
            )
        )
        body.append(
            [
                agent,
                format_stat(e["return"], 1),
                *(
                    [
                        format_stat(e.get("return_kept_pct"), 1),
                        "–"
                        if e.get("return_kept_of_means_pct") is None
                        else f"{e['return_kept_of_means_pct']:.1f}",
                    ]
                    if kept
                    else []
                ),
                format_stat(e["reward_rest"], 3),
                "–" if agent == "oracle" else format_stat(e.get("oracle_shortfall_pct"), 1),
                adapt,
                format_stat(summary["ablation_cost_pp"].get(agent), 1)
                if agent in summary["ablation_cost_pp"]
                else "",
            ]
        )
    return header, body


def report_markdown(summary: dict[str, Any]) -> str:
    header, body = table_rows(summary)
    kept = any("return_kept_pct" in d for d in summary["differences"].values())
    lines = [
        f"# Adaptation around the onset: {summary['env']}, condition `{summary['condition']}`",
        "",
        f"{summary['seeds']} training seeds per arm, {summary['episodes_per_seed']} held-out "
        f"episodes per seed (episode seeds from {summary['eval_seed']}); "
        f"{summary['statistic']}.",
        "",
        *(
            [
                "The task changed for this evaluation (never trained on): gym kwargs "
                f"{summary['suite_env_kwargs']} over the runs' own.",
                "",
            ]
            if summary.get("suite_env_kwargs")
            else []
        ),
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(r) + " |" for r in body),
        "",
        "## Paired differences over seeds (A − B)",
        "",
        "| pair | return | reward/step after the onset |"
        + (" return kept, points |" if kept else ""),
        "| --- | --- | --- |" + (" --- |" if kept else ""),
        *(
            f"| {pair} | {format_stat(d['return'], 1)} | {format_stat(d['reward_rest'], 3)} |"
            + (f" {format_stat(d.get('return_kept_pct'), 1)} |" if kept else "")
            for pair, d in summary["differences"].items()
        ),
        "",
    ]
    if summary["weight_response_pct"]:
        lines += [
            "## Fast weights' response to the onset",
            "",
            "Mean `||alpha * hebb||` from the onset to the end, with the change against the "
            "same episode without it, %:",
            "",
            *(f"- {a}: {format_stat(s, 1)}" for a, s in summary["weight_response_pct"].items()),
            "",
        ]
    if summary.get("goals"):
        lines += ["## Goals", "", "| goal | measured | met |", "| --- | --- | --- |"]
        lines += [
            f"| {g['goal']} | {g['measured']} | {'yes' if g['met'] else 'no'} |"
            for g in summary["goals"]
        ]
        lines.append("")
    return "\n".join(lines)
