"""Robustness runs: trained policies over a suite of perturbations x strengths x onsets x seeds.

Every agent meets every condition (plus the unperturbed ``nominal`` one) on the same seeded
episodes, so agents and conditions are compared pairwise on identical starts. All episodes of
one agent run batched through the shared :func:`~plasticagents.training.rollout.rollout` loop
(one policy call per env step for all of them, physics over ``threads`` threads). Observation
normalisation stays frozen at its training statistics: any adaptation is the agent's own.

Per episode (one row of ``robustness.csv``): return, return relative to the same agent's mean
nominal return, length, spikes per step, the plastic weight change ``||alpha * hebb||`` at the
episode's end, and for mid-episode onsets the mean per-step reward over ``window`` steps before
and after the onset and the recovery time (:func:`recovery_time`).

Example::

    plasticagents robustness runs/hc-plastic-* runs/hc-static-* runs/hc-mlp-* \\
        --suite configs/robustness/halfcheetah.yaml --out results/hc-robustness
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plasticagents.training.analysis.evaluate import LoadedPolicy, load_policy
from plasticagents.training.builders import env_maker
from plasticagents.training.config import EnvConfig
from plasticagents.training.rollout import EnvPool, RolloutResult, policy_probe, rollout

__all__ = [
    "COLUMNS",
    "Condition",
    "agent_pairs",
    "conditions_of",
    "difference_summary",
    "episode_seed_list",
    "format_ci",
    "format_interval",
    "mean_ci",
    "onset_metrics",
    "paired_difference",
    "paired_ratio",
    "ratio_summary",
    "read_csv",
    "recovery_time",
    "run_robustness",
    "summary",
    "time_to_level",
    "write_report",
]

COLUMNS = [
    "agent",
    "run",
    "env",
    "condition",
    "perturbation",
    "type",
    "param",
    "value",
    "onset",
    "event",
    "episode",
    "seed",
    "return",
    "nominal_return",
    "return_ratio",
    "length",
    "spikes_per_step",
    "weight_change",
    "reward_before",
    "reward_after",
    "reward_rest",
    "recovery_steps",
    "adaptation_steps",
    "diverged",
]


@dataclass(frozen=True)
class Condition:
    """One cell of the suite grid: a perturbation at one strength and onset (or none)."""

    name: str  # unique: "nominal", "<entry>", "<entry>[scale=1.5]", "<entry>@300", ...
    perturbation: str  # the suite entry's name ("nominal" for none)
    type: str  # perturbation type ("" for nominal)
    param: str  # the swept parameter ("" when not swept)
    value: Any  # its value (None when not swept)
    onset: int | None  # onset step (0: from the start; None: random onset)
    spec: dict[str, Any] | None  # the perturbation passed to make_env (None for nominal)

    @property
    def mid_episode(self) -> bool:
        return self.spec is not None and (self.onset is None or self.onset > 0)


NOMINAL = Condition("nominal", "nominal", "", "", None, 0, None)

N_BOOT = 10000  # bootstrap resamples behind every interval of a ratio or paired difference


def conditions_of(suite: dict[str, Any]) -> list[Condition]:
    """The nominal condition followed by every entry's ``sweep`` x ``onsets`` expansion."""
    from plasticagents.envs import expand_entry

    out = [NOMINAL]
    for name, entry in suite["perturbations"].items():
        variants = expand_entry(entry, name)
        for v in variants:
            label = name
            if v["_param"] is not None:
                label += f"[{v['_param']}={v['_value']}]"
            if entry.get("onsets") is not None:
                label += f"@{v['_onset']}"
            spec = {k: val for k, val in v.items() if not k.startswith("_")}
            out.append(
                Condition(
                    label,
                    name,
                    spec["type"],
                    v["_param"] or "",
                    v["_value"],
                    v["_onset"],
                    spec,
                )
            )
    return out


def episode_seed_list(seed: int, episodes: int) -> list[int]:
    """Reset seeds of the ``episodes`` episodes every condition runs (as ``evaluate`` uses)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes)]


def recovery_time(
    rewards: np.ndarray, onset: int, window: int = 50, fraction: float = 0.8
) -> float:
    """Steps after ``onset`` until the reward's moving average regains ``fraction`` of its
    pre-onset level.

    The pre-onset level ``pre`` is the mean reward of the ``window`` steps before ``onset``
    (``rewards[t]`` is the reward of step ``t``; the perturbation acts from step ``onset``);
    the recovery time is :func:`time_to_level` of ``pre``. ``nan`` when the episode is too
    short to measure (fewer than ``window`` steps on either side) or it never recovers.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    _check_window(window, fraction)
    if onset < window or len(rewards) < onset + window:
        return math.nan
    return time_to_level(rewards, onset, rewards[onset - window : onset].mean(), window, fraction)


def time_to_level(
    rewards: np.ndarray, onset: int, level: float, window: int = 50, fraction: float = 0.8
) -> float:
    """Steps after ``onset`` until the forward ``window``-step mean reward reaches ``fraction``
    of ``level``: the smallest ``k >= 0`` with ``mean(rewards[onset + k : onset + k + window])
    >= level - (1 - fraction) |level|`` (``fraction * level`` for a positive level). With the
    agent's own pre-onset level it is the recovery time; with the privileged oracle's level
    after the onset it is the adaptation time. ``nan`` if it never gets there within the
    episode or fewer than ``window`` steps follow the onset.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    _check_window(window, fraction)
    if not math.isfinite(level) or len(rewards) < onset + window:
        return math.nan
    target = level - (1.0 - fraction) * abs(level)
    after = rewards[onset:]
    csum = np.concatenate([[0.0], np.cumsum(after)])
    means = (csum[window:] - csum[:-window]) / window  # means[k] = mean(after[k : k + window])
    hits = np.flatnonzero(means >= target - 1e-12 * max(1.0, abs(target)))
    return float(hits[0]) if len(hits) else math.nan


def around_onset(values: np.ndarray, onset: int, window: int) -> np.ndarray:
    """``values`` at steps ``onset - 2 window .. onset + 4 window`` (``6 window`` entries),
    NaN where the episode does not cover a step (an episode that ended 2 windows before its
    onset adds nothing)."""
    before, after = 2 * window, 4 * window
    seg = np.full(before + after, np.nan)
    lo, hi = max(0, onset - before), min(len(values), onset + after)
    if hi > lo:
        seg[lo - (onset - before) : hi - (onset - before)] = values[lo:hi]
    return seg


def _check_window(window: int, fraction: float) -> None:
    if not (window >= 1 and 0.0 < fraction <= 1.0):
        raise ValueError(f"need window >= 1 and 0 < fraction <= 1, got {window!r}, {fraction!r}")


def onset_metrics(
    rewards: np.ndarray, onset: int, window: int = 50, fraction: float = 0.8
) -> dict[str, float]:
    """Mean reward of the ``window`` steps before / after ``onset``, over the rest of the
    episode from ``onset`` (``reward_rest``: the level an agent sustains after the change),
    and the recovery time."""
    rewards = np.asarray(rewards, dtype=np.float64)
    before = rewards[max(0, onset - window) : onset]
    after = rewards[onset : onset + window]
    rest = rewards[onset:]
    return {
        "reward_before": float(before.mean()) if len(before) else math.nan,
        "reward_after": float(after.mean()) if len(after) else math.nan,
        "reward_rest": float(rest.mean()) if len(rest) else math.nan,
        "recovery_steps": recovery_time(rewards, onset, window, fraction),
    }


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, int]:
    """``(mean, half-width of the two-sided Student-t confidence interval, n)`` over the finite
    values (half-width ``nan`` for fewer than two)."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, 0
    if n == 1:
        return float(x[0]), math.nan, 1
    from scipy import stats

    half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n)
    return float(x.mean()), float(half), n


def _paired(*arrays: Sequence[float]) -> list[np.ndarray]:
    """The arrays as float64, with every index where any of them is non-finite dropped (the
    pairs stay aligned); they must all have the same length."""
    xs = [np.asarray(a, dtype=np.float64).ravel() for a in arrays]
    if len({len(x) for x in xs}) > 1:
        raise ValueError(f"paired samples need equal lengths, got {[len(x) for x in xs]}")
    keep = np.logical_and.reduce([np.isfinite(x) for x in xs])
    return [x[keep] for x in xs]


def _bootstrap_means(arrays: Sequence[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    """``[n_boot]`` means of each array over the same ``n_boot`` resamplings of the shared
    indices (with replacement): one draw of indices serves every array, so the pairing is kept."""
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}")
    n = len(arrays[0])
    rng = np.random.default_rng(seed)
    out = [np.empty(n_boot) for _ in arrays]
    chunk = max(1, 2_000_000 // max(n, 1))  # bounds the [chunk, n] index block's memory
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        for x, means in zip(arrays, out, strict=True):
            means[start:stop] = x[idx].mean(axis=1)
    return out


def _percentile_interval(
    estimate: float, replicates: np.ndarray, confidence: float
) -> tuple[float, float, float]:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if np.isnan(replicates).any():  # a resample whose denominator mean was exactly 0
        return estimate, math.nan, math.nan
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return estimate, float(low), float(high)


def paired_ratio(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    n_boot: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """``(ratio, low, high)``: the ratio of means ``mean(numerator) / mean(denominator)`` of
    paired samples with its percentile bootstrap interval.

    ``numerator[k]`` and ``denominator[k]`` belong together (e.g. the return of episode ``k``
    under a perturbation and of the same seeded episode unperturbed). Each of the ``n_boot``
    resamples draws episode indices with replacement once and takes both means over the same
    indices, so the interval carries the denominator's sampling uncertainty as well as the
    numerator's, and their correlation: a ratio over a noisy nominal return gets a wide
    interval, a perturbation that scales every episode alike a narrow one. Pairs with a
    non-finite member are dropped; fewer than two pairs leave the interval ``nan``, and so
    does a resample whose denominator mean is 0.

    >>> r, low, high = paired_ratio([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    >>> round(r, 9), round(low, 9), round(high, 9)  # every episode doubles: no spread
    (2.0, 2.0, 2.0)
    >>> r, low, high = paired_ratio([9.0, 11.0, 8.0, 12.0], [10.0, 12.0, 9.0, 13.0])
    >>> round(r, 3), low < r < high, high - low < 0.05
    (0.909, True, True)
    """
    num, den = _paired(numerator, denominator)
    if len(num) == 0 or den.mean() == 0:
        return math.nan, math.nan, math.nan
    ratio = float(num.mean() / den.mean())
    if len(num) < 2:
        return ratio, math.nan, math.nan
    nums, dens = _bootstrap_means([num, den], n_boot, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        replicates = nums / dens
    return _percentile_interval(ratio, replicates, confidence)


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    a_denominator: Sequence[float] | None = None,
    b_denominator: Sequence[float] | None = None,
    n_boot: int = 10000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """``(difference, low, high)``: ``mean(a) - mean(b)`` over paired samples (agent A and
    agent B on the same seeded episodes) with its percentile bootstrap interval; with
    denominators, the difference of the ratios of means
    ``mean(a) / mean(a_denominator) - mean(b) / mean(b_denominator)`` (e.g. two agents' returns
    under a perturbation, each relative to its own nominal return on the same episodes).

    All given arrays are indexed by the same episodes; each resample draws the indices once
    and uses them for every array (as :func:`paired_ratio`), so both agents' episode-to-episode
    correlation and every denominator's uncertainty are in the interval. Indices where any
    array is non-finite are dropped; fewer than two leave the interval ``nan``.

    >>> d, low, high = paired_difference([3.0, 5.0, 4.0], [1.0, 3.0, 2.0])
    >>> round(d, 9), round(low, 9), round(high, 9)  # A beats B by 2 in every episode
    (2.0, 2.0, 2.0)
    >>> d, low, high = paired_difference(
    ...     [8.0, 9.0], [9.0, 9.0], a_denominator=[10.0, 10.0], b_denominator=[10.0, 10.0]
    ... )
    >>> round(d, 3), round(low, 3), round(high, 3)
    (-0.05, -0.1, 0.0)
    """
    if (a_denominator is None) != (b_denominator is None):
        raise ValueError("give both denominators (a ratio difference) or neither")
    ratios = a_denominator is not None
    arrays = _paired(a, b, *((a_denominator, b_denominator) if ratios else ()))
    if len(arrays[0]) == 0:
        return math.nan, math.nan, math.nan

    def statistic(means: Sequence[Any]) -> Any:
        if ratios:
            return means[0] / means[2] - means[1] / means[3]
        return means[0] - means[1]

    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = float(statistic([x.mean() for x in arrays]))
        if len(arrays[0]) < 2 or not math.isfinite(estimate):
            return estimate, math.nan, math.nan
        replicates = statistic(_bootstrap_means(arrays, n_boot, seed))
    return _percentile_interval(estimate, replicates, confidence)


def _agent_label(loaded: LoadedPolicy, used: set[str]) -> str:
    label = str(loaded.config.name or loaded.run.path.name)
    if label in used:
        label = loaded.run.path.name
    used.add(label)
    return label


def _onset(result: RolloutResult, slot: int, cond: Condition) -> int | None:
    """The step from which ``cond``'s perturbation acted in ``slot``'s episode (0 for nominal):
    where the rollout saw it start, or, for an episode that ended first, the onset its wrapper
    reported as scheduled or drawn; ``None`` if no wrapper reported it."""
    if cond.spec is None:
        return 0
    label = cond.spec.get("label", cond.spec.get("name", ""))
    if label in result.onsets[slot]:
        return result.onsets[slot][label]
    report = result.reports[slot].get(label)
    return None if report is None else int(report["onset"])


def _progress_step(message: str, total: int, start: float, t: int, *_: Any) -> None:
    if (t + 1) % 25 == 0 or t + 1 == total:
        _progress(message, t + 1, total, start)


def _progress(message: str, done: int, total: int, start: float) -> None:
    rate = done / max(time.perf_counter() - start, 1e-9)
    sys.stderr.write(f"\r[robustness] {message}: step {done}/{total} ({rate:.0f} steps/s)   ")
    sys.stderr.flush()


def evaluate_agent(
    loaded: LoadedPolicy,
    label: str,
    conditions: Sequence[Condition],
    seeds: Sequence[int],
    env_cfg: EnvConfig,
    threads: int = 2,
    batch: int = 128,
    window: int = 50,
    fraction: float = 0.8,
    progress: bool = True,
    ablation: str | None = None,
    reference: dict[tuple[str, int], float] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One agent over every condition x seed: CSV rows and the mean per-step reward around
    each mid-episode onset (``{condition: [6 * window] array}``, steps ``-2 window .. 4 window``
    relative to the onset; NaN where no episode covers a step). ``ablation`` runs the agent
    with its plasticity ablated (:mod:`plasticagents.ablation`) on the same seeds.
    ``reference[(condition, episode)]`` (the oracle's ``reward_rest``) adds each onset row's
    adaptation time: :func:`time_to_level` of that level."""
    agent = loaded.agent(env_cfg, ablation=ablation)
    slots = [(c, k) for c in conditions for k in range(len(seeds))]
    rows: list[dict[str, Any]] = []
    around: dict[str, list[np.ndarray]] = {}
    probe = policy_probe(loaded.policy)
    for first in range(0, len(slots), batch):
        chunk = slots[first : first + batch]
        makers = [env_maker(env_cfg, [c.spec] if c.spec else []) for c, _ in chunk]
        pool = EnvPool(makers, threads=threads, fast_physics=True)  # equal to Gymnasium
        start = time.perf_counter()
        cap = env_cfg.max_episode_steps or pool.envs[0].spec.max_episode_steps
        message = f"{label} episodes {first + 1}-{first + len(chunk)}/{len(slots)}"
        try:
            result = rollout(
                agent,
                pool,
                [seeds[k] for _, k in chunk],
                record=("rewards",),
                probe=probe,
                on_step=functools.partial(_progress_step, message, cap, start)
                if progress
                else None,
            )
        finally:
            pool.close()
        if progress:
            sys.stderr.write("\n")
        rewards = np.stack(result.trajectory["rewards"], axis=1)  # [n, T]
        onsets = [_onset(result, i, cond) for i, (cond, _) in enumerate(chunk)]
        weight = result.final.get("weight_change", np.zeros(len(chunk)))
        for i, (cond, k) in enumerate(chunk):
            r = rewards[i, : result.lengths[i]]
            row = {
                "agent": label,
                "run": str(loaded.run.path),
                "env": env_cfg.id,
                "condition": cond.name,
                "perturbation": cond.perturbation,
                "type": cond.type,
                "param": cond.param,
                "value": "" if cond.value is None else cond.value,
                "onset": "" if onsets[i] is None else onsets[i],
                "episode": k,
                "seed": seeds[k],
                "return": float(result.returns[i]),
                "length": int(result.lengths[i]),
                "spikes_per_step": float(result.spikes_per_step[i]),
                "weight_change": float(weight[i]),
                "reward_before": math.nan,
                "reward_after": math.nan,
                "reward_rest": math.nan,
                "recovery_steps": math.nan,
                "adaptation_steps": math.nan,
                "diverged": bool(result.diverged[i]),
            }
            # the event the onset metrics align on: the condition's mid-episode perturbation,
            # else a hidden-goal task's first goal switch (info["task"]), else none
            switch = result.onsets[i].get("task")
            t0 = onsets[i] if cond.mid_episode else switch
            row["event"] = (
                "perturbation" if cond.mid_episode else "goal switch" if switch is not None else ""
            )
            if not cond.mid_episode and switch is not None:
                row["onset"] = switch
            if t0 is not None and row["event"]:
                row.update(onset_metrics(r, t0, window, fraction))
                level = (reference or {}).get((cond.name, k))
                if level is not None:  # the privileged oracle's level after the same onset
                    row["adaptation_steps"] = time_to_level(r, t0, level, window, fraction)
                around.setdefault(cond.name, []).append(around_onset(r, t0, window))
            rows.append(row)
    nominal = [r["return"] for r in rows if r["condition"] == NOMINAL.name]
    nominal_mean = float(np.mean(nominal)) if nominal else math.nan  # no nominal runs: NaN
    for row in rows:
        row["nominal_return"] = nominal_mean
        row["return_ratio"] = row["return"] / nominal_mean if nominal_mean != 0 else math.nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: no episode got there
        mean_curves = {name: np.nanmean(curves, axis=0) for name, curves in around.items()}
    return rows, mean_curves


def run_robustness(
    runs: Sequence[str | Path],
    suite_path: str | Path,
    out: str | Path,
    episodes: int | None = None,
    seed: int = 0,
    env_id: str | None = None,
    max_episode_steps: int | None = None,
    which: str = "best",
    threads: int = 2,
    batch: int = 128,
    window: int = 50,
    fraction: float = 0.8,
    overwrite: bool = False,
    progress: bool = True,
    ablations: Sequence[str] = (),
    oracle: str | Path | None = None,
    oracle_env: str | None = None,
    command: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Evaluate ``runs`` over the suite; write ``robustness.csv``, ``report.md``, PNG plots and
    the provenance record ``record.json`` (:mod:`~plasticagents.training.record`) into ``out``.
    Returns the CSV rows.

    Every run meets its training env (or ``env_id``) without its training perturbations, with
    the suite's ``env_kwargs`` over its own gym kwargs (:func:`with_suite_kwargs`).

    ``record.json`` holds the command (``command``, default: the ``plasticagents robustness``
    command line equivalent to these arguments), commit, versions, machine, dates and wall
    time, and as ``outputs`` the settings, the agents and the report's summary numbers: mean
    nominal return per agent, each agent's return ratio per condition and the paired
    agent-vs-agent differences, each with its 95% interval.

    ``ablations`` (names from :data:`plasticagents.ablation.ABLATIONS`) adds, for every run, one
    more agent per ablation, labelled ``"<agent> [<ablation>]"``, on the same episode seeds
    as the intact agent, beside it in the CSV, the report and the plots; every run must then
    be plastic (an ablation of a static or MLP policy is an error before anything runs).

    ``oracle`` is a run trained on the privileged variant of the suite's env (the goal in its
    observation; ``oracle_env``, default: the env id with ``Privileged`` before its version).
    It runs first, on the same seeds (so the same goals, switches and onsets), and its mean
    reward after each onset (``reward_rest``) is the level every other agent's adaptation time
    is measured against (``adaptation_steps``: steps until the agent's moving average reaches
    ``fraction`` of it). Its own rows sit in the CSV and report as ``<name> (oracle)``.
    """
    from plasticagents.ablation import ABLATIONS
    from plasticagents.envs import load_suite
    from plasticagents.training.analysis.evaluate import check_compatible
    from plasticagents.training.record import Recorder

    if command is None:
        command = _command_line(
            runs,
            suite_path,
            out,
            episodes,
            seed,
            env_id,
            max_episode_steps,
            which,
            threads,
            batch,
            window,
            fraction,
            overwrite,
            ablations,
            oracle,
            oracle_env,
        )
    recorder = Recorder(command)
    if not runs:
        raise ValueError("robustness needs at least one run directory")
    suite = load_suite(suite_path)
    episodes = episodes or suite["episodes"] or 10
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch!r}")
    out = Path(out)
    if (out / "robustness.csv").exists() and not overwrite:
        raise FileExistsError(
            f"{str(out)!r} already holds a robustness run; choose another --out or pass --overwrite"
        )
    unknown = [a for a in ablations if a not in ABLATIONS]
    if unknown:
        raise ValueError(f"unknown ablation {unknown[0]!r}; valid choices: {list(ABLATIONS)}")
    loaded_runs = [load_policy(r, which) for r in runs]
    env_id = env_id or suite["env"]
    max_steps = max_episode_steps or suite["max_episode_steps"]
    configs = [
        with_suite_kwargs(lp.env_config(env_id, [], max_steps), suite, suite_path)
        for lp in loaded_runs
    ]
    from plasticagents.training.builders import env_spaces

    for lp, cfg in zip(loaded_runs, configs, strict=True):
        obs_dim, act_dim, _, _ = env_spaces(cfg)
        check_compatible(lp, obs_dim, act_dim, cfg.id)
        for ablation in ablations:
            lp.agent(cfg, ablation=ablation)  # a non-plastic run fails here, before any episode
    conditions = conditions_of(suite)
    seeds = episode_seed_list(seed, episodes)
    rows: list[dict[str, Any]] = []
    curves: dict[str, dict[str, np.ndarray]] = {}
    used: set[str] = set()
    reference = None
    if oracle is not None:
        lp = load_policy(oracle, which)
        cfg = with_suite_kwargs(
            lp.env_config(oracle_env or _privileged(configs[0].id), [], max_steps),
            suite,
            suite_path,
            oracle=True,
        )
        obs_dim, act_dim, _, _ = env_spaces(cfg)
        check_compatible(lp, obs_dim, act_dim, cfg.id)
        name = f"{_agent_label(lp, used)} (oracle)"
        out.mkdir(parents=True, exist_ok=True)
        oracle_rows, curves[name] = evaluate_agent(
            lp, name, conditions, seeds, cfg, threads, batch, window, fraction, progress
        )
        rows += oracle_rows
        reference = {(r["condition"], r["episode"]): r["reward_rest"] for r in oracle_rows}
    out.mkdir(parents=True, exist_ok=True)
    for lp, cfg in zip(loaded_runs, configs, strict=True):
        label = _agent_label(lp, used)
        for ablation in (None, *ablations):
            name = label if ablation is None else f"{label} [{ablation}]"
            agent_rows, agent_curves = evaluate_agent(
                lp,
                name,
                conditions,
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
            rows += agent_rows
            curves[name] = agent_curves
    write_csv(rows, out / "robustness.csv")
    info = {
        "suite": str(suite_path),
        "episodes": episodes,
        "seed": seed,
        "checkpoint": which,
        "window": window,
        "fraction": fraction,
        "env": configs[0].id,
        "env_kwargs": dict(suite["env_kwargs"]),
        "max_episode_steps": configs[0].max_episode_steps,
        "ablations": list(ablations),
        "oracle": str(oracle) if oracle is not None else None,
    }
    write_report(rows, out / "report.md", info)
    from plasticagents.training.analysis.plots import plot_onset_curves, plot_return_ratios

    plot_return_ratios(rows, out)
    if any(curves.values()):
        plot_onset_curves(curves, window, out / "reward_around_onset.png")
    agents = {r["agent"]: r["run"] for r in rows}
    recorder.write(out / "record.json", outputs={**info, **summary(rows), "agents": agents})
    return rows


def _command_line(
    runs: Sequence[str | Path],
    suite: str | Path,
    out: str | Path,
    episodes: int | None,
    seed: int,
    env_id: str | None,
    max_episode_steps: int | None,
    which: str,
    threads: int,
    batch: int,
    window: int,
    fraction: float,
    overwrite: bool,
    ablations: Sequence[str],
    oracle: str | Path | None,
    oracle_env: str | None,
) -> list[str]:
    """The ``plasticagents robustness`` command line that runs :func:`run_robustness` with
    these arguments."""
    argv = ["plasticagents", "robustness", *map(str, runs), "--suite", str(suite)]
    argv += ["--out", str(out), "--seed", str(seed), "--checkpoint", which]
    for flag, value in [
        ("--episodes", episodes),
        ("--env", env_id),
        ("--max-steps", max_episode_steps),
        ("--oracle", oracle),
        ("--oracle-env", oracle_env),
    ]:
        if value is not None:
            argv += [flag, str(value)]
    argv += ["--threads", str(threads), "--batch", str(batch)]
    argv += ["--window", str(window), "--fraction", str(fraction)]
    if ablations:
        argv += ["--ablations", ",".join(ablations)]
    if overwrite:
        argv.append("--overwrite")
    return argv


def _plain_floats(values: Sequence[float]) -> list[float | None]:
    """Floats for JSON: ``None`` for NaN (which strict JSON lacks)."""
    return [None if math.isnan(v) else float(v) for v in values]


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report's headline numbers as plain data (``record.json``'s outputs): per agent its
    mean nominal return ``[mean, 95% half-width]`` and per condition its return ratio
    ``[ratio, low, high]``; per agent pair ``"A − B"`` and condition the paired return and
    return-ratio differences ``[difference, low, high]``."""
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    nominal: dict[str, list[float | None]] = {}
    for a in agents:
        mean, half, _ = mean_ci(
            [r["return"] for r in rows if (r["agent"], r["condition"]) == (a, NOMINAL.name)]
        )
        nominal[a] = _plain_floats((mean, half))
    ratios: dict[str, dict[str, list[float | None]]] = {a: {} for a in agents}
    for (cond, a), value in ratio_summary(rows).items():
        ratios[a][cond] = _plain_floats(value)
    pairs = agent_pairs(agents)
    differences: dict[str, dict[str, dict[str, list[float | None]]]] = {}
    for key, ratio in (("return", False), ("return_ratio", True)):
        for (cond, a, b), value in difference_summary(rows, pairs, ratio).items():
            pair = differences.setdefault(f"{a} − {b}", {})
            pair.setdefault(key, {})[cond] = _plain_floats(value)
    return {
        "nominal_return": nominal,
        "return_ratio": ratios,
        "paired_difference": differences,
        "interval": f"95% paired percentile bootstrap, {N_BOOT} resamples of the episodes",
    }


# hidden-goal gym kwargs that set only what the agent sees of the goal, not the task: the
# privileged oracle sees the goal always and takes none of them
VIEW_ONLY = ("cue_steps",)


def with_suite_kwargs(
    cfg: Any, suite: Mapping[str, Any], suite_path: str | Path, oracle: bool = False
) -> Any:
    """``cfg`` with the suite's ``env_kwargs`` over its own gym kwargs (the task changed for
    evaluation, e.g. a switch schedule never trained on; for the privileged ``oracle``, less
    :data:`VIEW_ONLY`); kwargs the env does not take are a clear error naming the suite, the
    run's own kwargs and the merged ones."""
    extra = dict(suite.get("env_kwargs") or {})
    if oracle:
        extra = {k: v for k, v in extra.items() if k not in VIEW_ONLY}
    if not extra:
        return cfg
    from plasticagents.training.builders import env_spaces

    merged = dataclasses.replace(cfg, kwargs={**cfg.kwargs, **extra})
    try:
        env_spaces(merged)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{str(suite_path)!r}: env_kwargs {extra} over the run's own {dict(cfg.kwargs)} "
            f"give {dict(merged.kwargs)}, which {cfg.id!r} does not take: {err} (set a run's "
            "kwarg to null in env_kwargs to drop it)"
        ) from None
    return merged


def _privileged(env_id: str) -> str:
    """The privileged (goal-observing) variant of a hidden-goal id: ``...Privileged-vN``."""
    import re

    import gymnasium as gym

    import plasticagents.envs  # noqa: F401 (registers the ids)

    name = re.sub(r"-v(\d+)$", r"Privileged-v\1", env_id)
    if "Privileged" in env_id or name not in gym.registry:
        raise ValueError(
            f"no privileged variant of {env_id!r} is registered ({name!r}); name the oracle's "
            "env with --oracle-env"
        )
    return name


def write_csv(rows: Sequence[dict[str, Any]], path: Path, columns: Sequence[str] = COLUMNS) -> None:
    """``rows`` as CSV with ``columns`` (NaN as an empty cell, floats exactly)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt_csv(row[k]) for k in columns})


def _fmt_csv(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value


# the measured columns: floats in the CSV (empty cells NaN)
_NUMERIC = tuple(
    c for c in COLUMNS[COLUMNS.index("return") : COLUMNS.index("diverged")] if c != "length"
)


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``robustness.csv`` with the measured columns as floats (empty cells NaN), as
    :func:`write_report` and the plots take them."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key in _NUMERIC:
            row[key] = float(row[key]) if row[key] != "" else math.nan
        row["diverged"] = row["diverged"] == "True"
    return rows


def format_ci(mean: float, half: float, digits: int) -> str:
    """``mean ± half`` with ``digits`` decimals (the mean alone without a finite half-width,
    ``–`` without a mean): a :func:`mean_ci` cell in a report table."""
    if math.isnan(mean):
        return "–"
    if not math.isfinite(half):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def summarise(
    rows: Sequence[dict[str, Any]], key: str
) -> tuple[list[str], list[str], dict[tuple[str, str], tuple[float, float, int]]]:
    """Agents, conditions (first-seen order), ``mean_ci`` of ``key`` per (condition, agent)."""
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        groups.setdefault((r["condition"], r["agent"]), []).append(float(r[key]))
    return agents, conditions, {k: mean_ci(v) for k, v in groups.items()}


def _table(
    rows: Sequence[dict[str, Any]], key: str, digits: int, higher_better: bool | None
) -> list[str]:
    agents, conditions, stats = summarise(rows, key)
    lines = [
        "| condition | " + " | ".join(agents) + " |",
        "| --- |" + " --- |" * len(agents),
    ]
    for cond in conditions:
        cells = [stats.get((cond, a), (math.nan, math.nan, 0)) for a in agents]
        means = [c[0] for c in cells]
        best = None
        nominal_ratio = key == "return_ratio" and cond == NOMINAL.name  # 1 by definition
        if (
            higher_better is not None
            and not nominal_ratio
            and len(agents) > 1
            and any(np.isfinite(means))
        ):
            pick = np.nanargmax if higher_better else np.nanargmin
            best = int(pick(np.where(np.isfinite(means), means, np.nan)))
        text = [format_ci(m, h, digits) for m, h, _ in cells]
        if best is not None:
            text[best] = f"**{text[best]}**"
        lines.append(f"| {cond} | " + " | ".join(text) + " |")
    return lines


def _by_episode(
    rows: Sequence[dict[str, Any]], key: str
) -> dict[tuple[str, str], dict[int, float]]:
    """``{(condition, agent): {episode: float(row[key])}}``."""
    out: dict[tuple[str, str], dict[int, float]] = {}
    for r in rows:
        out.setdefault((r["condition"], r["agent"]), {})[int(r["episode"])] = float(r[key])
    return out


def _aligned(*series: dict[int, float] | None) -> list[list[float]]:
    """The values of every ``{episode: value}`` series on the episodes they all have."""
    if any(s is None for s in series):
        return [[] for _ in series]
    common = sorted(set.intersection(*(set(s) for s in series)))  # type: ignore[arg-type]
    return [[s[k] for k in common] for s in series]  # type: ignore[index]


def ratio_summary(
    rows: Sequence[dict[str, Any]], n_boot: int = N_BOOT, seed: int = 0
) -> dict[tuple[str, str], tuple[float, float, float]]:
    """``{(condition, agent): (ratio, low, high)}``: each agent's mean return under the
    condition over its mean nominal return on the same episodes, with the paired bootstrap
    95% interval of :func:`paired_ratio` (the nominal return's uncertainty included)."""
    returns = _by_episode(rows, "return")
    out = {}
    for (cond, agent), series in returns.items():
        num, den = _aligned(series, returns.get((NOMINAL.name, agent)))
        out[(cond, agent)] = paired_ratio(num, den, n_boot=n_boot, seed=seed)
    return out


def agent_pairs(agents: Sequence[str]) -> list[tuple[str, str]]:
    """The agent pairs the report compares: every pair of intact agents in the order given
    (the first against each other one when there are more than four), then each agent against
    each of its ablated variants (``"<agent> [<ablation>]"``)."""
    ablated = {a for a in agents if a.endswith("]") and a.rsplit(" [", 1)[0] in agents}
    intact = [a for a in agents if a not in ablated]
    if len(intact) <= 4:
        pairs = [(a, b) for i, a in enumerate(intact) for b in intact[i + 1 :]]
    else:
        pairs = [(intact[0], b) for b in intact[1:]]
    pairs += [(a.rsplit(" [", 1)[0], a) for a in agents if a in ablated]
    return pairs


def difference_summary(
    rows: Sequence[dict[str, Any]],
    pairs: Sequence[tuple[str, str]],
    ratio: bool,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[tuple[str, str, str], tuple[float, float, float]]:
    """``{(condition, a, b): (difference, low, high)}``: :func:`paired_difference` of agent
    ``a``'s and agent ``b``'s returns on the condition's shared episodes, or with ``ratio``,
    of their returns relative to their own nominal returns (the nominal condition left out:
    its ratios are 1 by definition)."""
    returns = _by_episode(rows, "return")
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    out = {}
    for cond in conditions:
        if ratio and cond == NOMINAL.name:
            continue
        for a, b in pairs:
            if (cond, a) not in returns or (cond, b) not in returns:
                continue
            if ratio:
                xa, xb, da, db = _aligned(
                    returns[(cond, a)],
                    returns[(cond, b)],
                    returns.get((NOMINAL.name, a)),
                    returns.get((NOMINAL.name, b)),
                )
                out[(cond, a, b)] = paired_difference(
                    xa, xb, a_denominator=da, b_denominator=db, n_boot=n_boot, seed=seed
                )
            else:
                xa, xb = _aligned(returns[(cond, a)], returns[(cond, b)])
                out[(cond, a, b)] = paired_difference(xa, xb, n_boot=n_boot, seed=seed)
    return out


def format_interval(estimate: float, low: float, high: float, digits: int) -> str:
    """``estimate [low, high]`` with ``digits`` decimals (the estimate alone when the interval
    is not finite, ``–`` when the estimate is not): a bootstrap interval in a report table."""
    if not math.isfinite(estimate):
        return "–"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{estimate:.{digits}f}"
    return f"{estimate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _ratio_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Return ratio per condition x agent: ratio of means [paired bootstrap 95% interval];
    the best agent per (perturbed) condition in bold, among the agents whose nominal return
    is told apart from 0 (its 95% CI excludes 0): dividing by a return near 0 gives ratios
    that say nothing about robustness, so those agents' ratios are never bolded."""
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    stats = ratio_summary(rows)
    usable = []
    for a in agents:
        mean, half, _ = mean_ci(
            [r["return"] for r in rows if (r["agent"], r["condition"]) == (a, NOMINAL.name)]
        )
        usable.append(math.isfinite(mean) and (not math.isfinite(half) or abs(mean) > half))
    lines = ["| condition | " + " | ".join(agents) + " |", "| --- |" + " --- |" * len(agents)]
    for cond in conditions:
        cells = [stats.get((cond, a), (math.nan, math.nan, math.nan)) for a in agents]
        if cond == NOMINAL.name:
            text = ["1 (reference)" if math.isfinite(c[0]) else "–" for c in cells]
        else:
            text = [format_interval(*c, 3) for c in cells]
            means = np.array([c[0] if ok else np.nan for c, ok in zip(cells, usable, strict=True)])
            if len(agents) > 1 and np.isfinite(means).any():
                best = int(np.nanargmax(means))
                text[best] = f"**{text[best]}**"
        lines.append(f"| {cond} | " + " | ".join(text) + " |")
    return lines


def _difference_table(
    rows: Sequence[dict[str, Any]], pairs: Sequence[tuple[str, str]], ratio: bool
) -> list[str]:
    stats = difference_summary(rows, pairs, ratio)
    conditions = [c for c in dict.fromkeys(r["condition"] for r in rows)]
    conditions = [c for c in conditions if any((c, a, b) in stats for a, b in pairs)]
    if not conditions:
        return []
    lines = [
        "| condition | " + " | ".join(f"{a} − {b}" for a, b in pairs) + " |",
        "| --- |" + " --- |" * len(pairs),
    ]
    for cond in conditions:
        nan3 = (math.nan, math.nan, math.nan)
        cells = [
            format_interval(*stats.get((cond, a, b), nan3), 3 if ratio else 1) for a, b in pairs
        ]
        lines.append(f"| {cond} | " + " | ".join(cells) + " |")
    return lines


def _time_table(rows: Sequence[dict[str, Any]], key: str, reached: str) -> list[str]:
    """A per-condition x agent table of ``key`` (steps): mean ± 95% CI over the episodes that
    got a value, and how many of the onset episodes did."""
    agents, conds, stats = summarise(rows, key)
    totals: dict[tuple[str, str], int] = {}
    for r in rows:
        totals[(r["condition"], r["agent"])] = totals.get((r["condition"], r["agent"]), 0) + 1
    lines = ["| condition | " + " | ".join(agents) + " |", "| --- |" + " --- |" * len(agents)]
    for cond in conds:
        cells = []
        for a in agents:
            m, h, n = stats.get((cond, a), (math.nan, math.nan, 0))
            cells.append(f"{format_ci(m, h, 0)} ({n}/{totals.get((cond, a), 0)} {reached})")
        lines.append(f"| {cond} | " + " | ".join(cells) + " |")
    return lines


def write_report(rows: Sequence[dict[str, Any]], path: Path, info: dict[str, Any]) -> None:
    """``report.md``: mean ± 95% CI per agent x condition (the best agent per row in bold);
    return ratios (:func:`ratio_summary`), agent-vs-agent differences
    (:func:`difference_summary`) and the change across an onset with paired bootstrap
    intervals."""
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    lines = [
        "# Robustness report",
        "",
        f"Env `{info['env']}` (episode cap {info['max_episode_steps'] or 'the env default'}), "
        f"suite `{info['suite']}`, {info['episodes']} seeded episodes per condition (seed "
        f"{info['seed']}; the same episode seeds for every agent and condition), "
        f"`{info['checkpoint']}` checkpoints, observation normalisation frozen. "
        "Cells: mean ± 95% confidence half-width (Student t) over episodes; bold: best agent; "
        "ratios and differences: paired bootstrap intervals in brackets.",
        "",
        *(
            [
                "The task changed for this evaluation: the suite's gym kwargs "
                f"{info['env_kwargs']} over each run's own.",
                "",
            ]
            if info.get("env_kwargs")
            else []
        ),
        *(
            [
                "Ablated agents (`<agent> [<ablation>]`) are the same policy on the same seeds "
                "with its plasticity changed from the step after the env reports an onset: "
                "`freeze-at-onset` holds the fast weights at their onset values, `lesion` keeps "
                "them at their initial values all episode, `reset-at-onset` puts every plastic "
                "variable back to its initial value once.",
                "",
            ]
            if info.get("ablations")
            else []
        ),
        "| agent | run | nominal return |",
        "| --- | --- | --- |",
    ]
    for a in agents:
        mine = [r for r in rows if r["agent"] == a and r["condition"] == NOMINAL.name]
        m, h, _ = mean_ci([float(r["return"]) for r in mine])
        lines.append(f"| {a} | `{mine[0]['run']}` | {format_ci(m, h, 1)} |")
    lines += [
        "",
        "## Return relative to the agent's nominal return",
        "",
        "Ratio of means: the agent's mean return under the condition over its mean nominal "
        "return on the same seeded episodes. In brackets the 95% paired bootstrap interval "
        f"(percentile, {N_BOOT:,} resamples): each resample draws the episode indices once and "
        "takes both means over them, so the uncertainty of the nominal return divided by is in "
        "the interval. Bold: best agent.",
        "",
    ]
    lines += _ratio_table(rows)
    lines += ["", "## Return", ""]
    lines += _table(rows, "return", 1, True)
    pairs = agent_pairs(agents)
    if pairs:
        lines += [
            "",
            "## Paired differences between agents",
            "",
            "Agent A − agent B on the same seeded episodes: the difference of their mean "
            "returns, and of their return ratios (each over its own nominal return), with the "
            f"95% paired bootstrap interval ({N_BOOT:,} resamples of the episode indices, the "
            "same indices for both agents and both denominators). An interval that excludes 0 "
            "separates the two agents on these episodes.",
            "",
            "### Return difference",
            "",
        ]
        lines += _difference_table(rows, pairs, ratio=False)
        ratio_lines = _difference_table(rows, pairs, ratio=True)
        if ratio_lines:
            lines += ["", "### Return-ratio difference", "", *ratio_lines]
    onset_rows = [r for r in rows if r["reward_before"] == r["reward_before"]]  # not NaN
    if onset_rows:
        lines += [
            "",
            f"## Mid-episode onsets and goal switches (window {info['window']} steps)",
            "",
            "The onset is a mid-episode perturbation's, or, in a condition without one on a "
            "hidden-goal task, the episode's first goal switch. "
            f"Recovery time: steps after the onset until the {info['window']}-step moving "
            f"average of the reward regains {info['fraction']:.0%} of its pre-onset level "
            "(over the episodes that recovered; the count says how many did). Lower is better.",
            "",
        ]
        lines += [
            f"### Mean reward per step, {info['window']} steps before -> after the onset",
            "",
            "In brackets the change after − before, paired per episode, with its 95% bootstrap "
            "interval (over the episodes with both windows).",
            "",
        ]
        _, conds, before = summarise(onset_rows, "reward_before")
        _, _, after = summarise(onset_rows, "reward_after")
        before_ep = _by_episode(onset_rows, "reward_before")
        after_ep = _by_episode(onset_rows, "reward_after")
        lines += ["| condition | " + " | ".join(agents) + " |", "| --- |" + " --- |" * len(agents)]
        for cond in conds:
            cells = []
            for a in agents:
                if (cond, a) not in before_ep:
                    cells.append("–")
                    continue
                b_, a_ = _aligned(before_ep[(cond, a)], after_ep[(cond, a)])
                change = paired_difference(a_, b_, n_boot=N_BOOT)
                cells.append(
                    f"{before.get((cond, a), (math.nan,))[0]:.2f} -> "
                    f"{after.get((cond, a), (math.nan,))[0]:.2f} ({format_interval(*change, 2)})"
                )
            lines.append(f"| {cond} | " + " | ".join(cells) + " |")
        lines += ["", "### Recovery time (steps)", ""]
        lines += _time_table(onset_rows, "recovery_steps", "recovered")
        if info.get("oracle"):
            lines += [
                "",
                "### Adaptation time against the oracle (steps)",
                "",
                f"Steps after the onset until the {info['window']}-step moving average of the "
                f"reward reaches {info['fraction']:.0%} of the privileged oracle's mean reward "
                "after the same onset in the same episode (seed, goal and switch step shared).",
                "",
            ]
            others = [r for r in onset_rows if not r["agent"].endswith("(oracle)")]
            lines += _time_table(others, "adaptation_steps", "got there")
    lines += ["", "## Spikes per step (hidden layer, all simulation steps of an env step)", ""]
    lines += _table(rows, "spikes_per_step", 1, None)
    lines += ["", "## Plastic weight change at episode end, ||alpha * hebb|| (0: static)", ""]
    lines += _table(rows, "weight_change", 3, None)
    diverged = sum(bool(r["diverged"]) for r in rows)
    if diverged:
        lines += ["", f"**{diverged} episode(s) diverged** (non-finite state); see the CSV."]
    lines += [
        "",
        "Plots: `return_ratio.png` (return ratio per condition; vs strength for swept entries)"
        + (", `reward_around_onset.png`" if onset_rows else "")
        + ".",
        "",
    ]
    path.write_text("\n".join(lines))
