"""The results report: every table the README and ``docs/results.md`` quote, built from the
files under ``results/``.

``plasticagents report`` reads ``results/`` (sweep CSVs, robustness CSVs, run directories'
metrics and ``evaluations.jsonl``, benchmark records), builds one Markdown table per
:class:`Section`, writes the full page ``docs/results.md`` (each table with the commands that
made it, taken from the records, and its source files) and rewrites the README's tables
between ``<!-- report:NAME -->`` and ``<!-- /report:NAME -->`` markers. ``--check`` changes
nothing and fails when the README or the page differs from what the files give: a number in
the README cannot drift from its evidence (a test runs the check).

Cells are ``mean ± half-width`` of the 95% Student-t interval over seeds or episodes, or, for
a ratio of one condition's return to another's on the same seeded episodes, ``ratio [low,
high]``, the percentile bootstrap interval that resamples the episodes jointly
(:func:`~plasticagents.training.analysis.robustness.paired_ratio`), so the denominator's
uncertainty is in it.

Example::

    from plasticagents.training.analysis.report import build, sync_readme

    tables = build("results")                  # {section name: markdown table}
    text = sync_readme(open("README.md").read(), tables)
"""

from __future__ import annotations

import csv
import json
import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SECTIONS", "ReportError", "Section", "build", "docs_page", "run_report", "sync_readme"]

BEGIN = "<!-- report:{} -->"
END = "<!-- /report:{} -->"
_BLOCK = re.compile(r"<!-- report:([\w-]+) -->\n(.*?)<!-- /report:\1 -->", re.S)


class ReportError(ValueError):
    """A results file the report needs is missing or malformed, or the README names a section
    that does not exist; the message names the file or section."""


@dataclass(frozen=True)
class Section:
    """One results table.

    Attributes:
        name: the README marker's name (``<!-- report:NAME -->``).
        title: the heading on ``docs/results.md``.
        sources: directories under ``results/`` it reads (their ``record.json`` and run
            ``meta.json`` files give the commands shown beside the table, resumes included).
        build: ``results root -> Markdown table`` (without trailing newline).
        about: what the table measures and how, in words (no numbers: those come from files).
        figures: images under ``results/`` shown below the table on the docs page.
        run_done: a file a run directory under a source's ``runs/`` must hold to count as
            finished (``None``: every run directory counts): a run still training is not
            listed among the commands beside the table (whose builder skips it by the same
            test).
        on_docs: whether ``docs/results.md`` shows it (``False``: a README-only short view).
    """

    name: str
    title: str
    sources: tuple[str, ...]
    build: Callable[[Path], str]
    about: str
    figures: tuple[str, ...] = field(default=())
    run_done: str | None = None
    on_docs: bool = True  # False: a README-only view of a table the page shows in full


# --------------------------------------------------------------------------- file helpers


def _need(path: Path) -> Path:
    if not path.exists():
        raise ReportError(f"the report needs {path}, which does not exist")
    return path


def _csv(path: Path) -> list[dict[str, str]]:
    with open(_need(path), newline="") as fh:
        return list(csv.DictReader(fh))


def _json(path: Path) -> Any:
    return json.loads(_need(path).read_text())


def _ci(values: Sequence[float], digits: int) -> str:
    """``mean ± half-width`` (95% Student t) of the finite values; the mean alone for one."""
    from plasticagents.training.analysis.robustness import format_ci, mean_ci

    mean, half, _ = mean_ci([float(v) for v in values])
    return format_ci(mean, half, digits)


def _interval(estimate: float, low: float, high: float, digits: int) -> str:
    from plasticagents.training.analysis.robustness import format_interval

    return format_interval(estimate, low, high, digits)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _select(rows: list[dict[str, str]], **match: str) -> list[dict[str, str]]:
    """Rows whose columns (``__`` in a keyword stands for ``.``) equal the given strings."""
    out = []
    for row in rows:
        if all(row[k.replace("__", ".")] == v for k, v in match.items()):
            out.append(row)
    return out


def _values(rows: list[dict[str, str]], column: str) -> list[float]:
    return [float(r[column]) for r in rows if r.get(column) not in (None, "")]


def _runs(directory: Path) -> list[Path]:
    runs = sorted(p for p in _need(directory).iterdir() if (p / "config.yaml").is_file())
    if not runs:
        raise ReportError(f"{directory} holds no run directories")
    return runs


def _evaluation(run: Path, episodes: int) -> dict[str, Any]:
    """The last ``evaluate`` record of ``run`` over ``episodes`` episodes of its best
    checkpoint, from ``evaluations.jsonl``."""
    path = _need(run / "evaluations.jsonl")
    found = None
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        argv = rec["command"]["argv"]
        if rec["outputs"].get("episodes") == episodes and "best" in argv and "--env" not in argv:
            if "--perturb" not in argv and "--ablation" not in argv:
                found = rec
    if found is None:
        raise ReportError(f"{path} has no evaluation of the best checkpoint over {episodes}")
    return found


def _agent_label(config: dict[str, Any]) -> str:
    agent = config.get("agent") or {}
    if agent.get("kind") == "mlp":
        return f"MLP {tuple(agent.get('mlp_hidden') or ())}"
    if agent.get("kind") == "lstm":
        return f"LSTM ({agent.get('hidden')} units)"
    plasticity = agent.get("plasticity")
    size = f"{agent.get('hidden')} LIF"
    if not plasticity:
        return f"static SNN ({size})"
    return f"plastic SNN ({size}, {plasticity.get('mode', 'plain')} {plasticity['rule']})"


# --------------------------------------------------------------------------- RL: ES


def _es_table(root: Path, directory: str, episodes: int = 10) -> str:
    rows = []
    for run in _runs(root / directory):
        config = yaml.safe_load((run / "config.yaml").read_text())
        metrics = _csv(run / "metrics.csv")
        last = metrics[-1]
        evals = [r for r in metrics if r.get("eval_return")]
        rec = _evaluation(run, episodes)
        out = rec["outputs"]
        rows.append(
            [
                _agent_label(config),
                f"`{config['env']['id']}`",
                int(last["generation"]) + 1,
                f"{int(last['env_steps']) / 1e6:.2f}M",
                f"{float(last['wall_time']) / 60:.1f} min",
                f"{float(evals[-1]['eval_return']):.0f}" if evals else "–",
                f"{out['mean']:.0f} ± {out['std']:.0f}",
            ]
        )
    header = [
        "agent",
        "env",
        "generations",
        "env steps",
        "training wall time",
        "centre evaluation, last",
        f"best checkpoint, {episodes} episodes (mean ± std)",
    ]
    return _table(header, rows)


_EVALUATED = "evaluations.jsonl"  # an ant-walk run is finished once it holds its evaluation


def _ant_walk(root: Path, episodes: int = 10) -> str:
    """Issue 21's walking goal: per training seed, the budget spent and the best checkpoint's
    return and forward velocity over ``episodes`` seeded episodes. A run without an
    ``evaluations.jsonl`` is still training (or was stopped before its evaluation): left out."""
    rows = []
    for run in _runs(root / "ant_walk/runs"):
        if not (run / _EVALUATED).is_file():
            continue
        config = yaml.safe_load((run / "config.yaml").read_text())
        metrics = _csv(run / "metrics.csv")
        last = metrics[-1]
        out = _evaluation(run, episodes)["outputs"]
        if "forward_velocity" not in out:
            raise ReportError(f"{run}/evaluations.jsonl: the evaluation has no forward velocity")
        velocity = [float(v) for v in out["forward_velocity"]]
        cap = config["env"].get("max_episode_steps") or 1000  # Ant-v5's own limit
        whole = sum(int(n) == cap for n in out["lengths"])
        mean_v = statistics.fmean(velocity)
        met = out["mean"] >= 2500 and mean_v >= 1.0 and int(last["env_steps"]) <= 20_000_000
        rows.append(
            [
                config["seed"],
                int(last["generation"]) + 1,
                f"{int(last['env_steps']) / 1e6:.2f}M",
                f"{float(last['wall_time']) / 60:.0f} min",
                f"{out['mean']:.0f} ± {out['std']:.0f}",
                f"{mean_v:.2f} ± {statistics.pstdev(velocity):.2f}",
                f"{whole} / {len(velocity)}",
                "yes" if met else "no",
            ]
        )
    header = [
        "seed",
        "generations",
        "env steps",
        "training wall time",
        f"best checkpoint: return, {episodes} episodes (mean ± std)",
        "forward velocity, m/s (mean ± std over episodes)",
        "episodes without a fall",
        "goal met (≥ 2500 and ≥ 1 m/s within 20M steps)",
    ]
    if not rows:
        raise ReportError(f"{root / 'ant_walk/runs'} holds no evaluated run")
    return _table(header, rows)


# --------------------------------------------------------------------------- RL: robustness


def _robustness_rows(path: Path) -> list[dict[str, Any]]:
    from plasticagents.training.analysis.robustness import read_csv

    return read_csv(_need(path))


def _by_episode(rows, agent: str, condition: str, key: str = "return") -> dict[int, float]:
    return {
        int(r["episode"]): float(r[key])
        for r in rows
        if r["agent"] == agent and r["condition"] == condition
    }


def _paired_ratio_cell(rows, agent: str, condition: str, nominal: str = "nominal") -> str:
    from plasticagents.training.analysis.robustness import paired_ratio

    num, den = _by_episode(rows, agent, condition), _by_episode(rows, agent, nominal)
    common = sorted(set(num) & set(den))
    ratio, low, high = paired_ratio([num[k] for k in common], [den[k] for k in common])
    return _interval(ratio, low, high, 2)


def _robustness_table(root: Path, csv_path: str, labels: dict[str, str] | None = None) -> str:
    """Per condition and agent: the return's mean ± 95% CI over episodes and its ratio to the
    agent's nominal return on the same episodes with the paired bootstrap interval."""
    rows = _robustness_rows(root / csv_path)
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    table = []
    for cond in conditions:
        cells = [cond]
        for agent in agents:
            returns = list(_by_episode(rows, agent, cond).values())
            cell = _ci(returns, 0)
            if cond != "nominal":
                cell += f"; × {_paired_ratio_cell(rows, agent, cond)}"
            cells.append(cell)
        table.append(cells)
    header = ["condition", *((labels or {}).get(a, a) for a in agents)]
    return _table(header, table)


def _ant_legs(root: Path) -> str:
    from plasticagents.training.analysis.robustness import paired_difference

    base = _robustness_table(root, "ant_legs/robustness.csv")
    rows = _robustness_rows(root / "ant_legs/robustness.csv")
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    plastic = next(a for a in agents if "plastic" in a)
    static = next(a for a in agents if "static" in a)
    held = "front_left_disabled"
    series = [
        _by_episode(rows, plastic, held),
        _by_episode(rows, static, held),
        _by_episode(rows, plastic, "nominal"),
        _by_episode(rows, static, "nominal"),
    ]
    common = sorted(set.intersection(*(set(s) for s in series)))
    a, b, da, db = ([s[k] for k in common] for s in series)
    diff = paired_difference(a, b, a_denominator=da, b_denominator=db)
    raw = paired_difference(a, b)
    return (
        base
        + "\n\n"
        + _table(
            ["held-out leg (front left disabled), plastic minus static", "paired bootstrap"],
            [
                ["return ratio to the agent's intact-body return", _interval(*diff, 2)],
                ["return", _interval(*raw, 0)],
            ],
        )
    )


def _vel_references(root: Path) -> str:
    rows = _robustness_rows(root / "vel_references/robustness.csv")
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    table = []
    for agent in agents:
        mine = [r for r in rows if r["agent"] == agent and r["condition"] == "nominal"]
        steps = [r["adaptation_steps"] for r in mine]
        reached = [s for s in steps if math.isfinite(s)]
        adapt = (
            "(the reference)"
            if "oracle" in agent
            else f"{_ci(reached, 0)} steps ({len(reached)}/{len(steps)} episodes)"
        )
        table.append(
            [
                agent,
                _ci([r["return"] for r in mine], 1),
                f"{_ci([r['reward_before'] for r in mine], 2)} -> "
                f"{_ci([r['reward_after'] for r in mine], 2)}",
                _ci([r["reward_rest"] for r in mine], 2),
                adapt,
            ]
        )
    header = [
        "agent",
        "return (mean ± 95% CI over episodes)",
        "reward/step, 50 steps before -> after the switch",
        "reward/step after the switch, rest of episode",
        "adaptation time to 80% of the oracle's level",
    ]
    return _table(header, table)


def _adaptation(root: Path, directory: str) -> str:
    from plasticagents.training.analysis.adaptation import table_rows

    summary = _json(root / directory / "summary.json")
    header, body = table_rows(summary)
    return _table(header, body)


def _adaptation_with_goals(root: Path, directory: str) -> str:
    """A side table: its arms, then its goals and paired differences."""
    return _adaptation(root, directory) + "\n\n" + _adaptation_goals(root, directory)


def _adaptation_with_tests(root: Path, directory: str) -> str:
    """A side table: its arms, the plastic arm's paired tests against each other arm
    (``paired_stats.json``), then its goals."""
    return "\n\n".join(
        [
            _adaptation(root, directory),
            _adaptation_pairs(root, directory),
            _adaptation_goals(root, directory, pairs=False),
        ]
    )


def _adaptation_goals(root: Path, directory: str, pairs: bool = True) -> str:
    """The goals of a table, then (``pairs``) every paired difference between its arms."""
    from plasticagents.training.analysis.adaptation import format_stat

    summary = _json(root / directory / "summary.json")
    goals = [
        [g["goal"], g["measured"], "yes" if g["met"] else "**no**"]
        for g in summary.get("goals", [])
    ]
    if not pairs:
        return _table(["goal", "measured", "met"], goals)
    kept = any("return_kept_pct" in d for d in summary["differences"].values())
    pairs = [
        [
            pair,
            format_stat(d["return"], 1),
            format_stat(d["reward_rest"], 3),
            *([format_stat(d["return_kept_pct"], 1)] if kept else []),
        ]
        for pair, d in summary["differences"].items()
    ]
    header = ["paired difference over seeds (A − B)", "return", "reward/step after the onset"]
    if kept:
        header.append("return kept, points of nominal")
    return _table(["goal", "measured", "met"], goals) + "\n\n" + _table(header, pairs)


# the direction task's analyses: feed-forward arms (the headline), recurrent arms
_DIR_FF = "adaptation/dir_cue_ff"
_DIR_REC = "adaptation/dir_cue_g100"
_DIR_LSTM = "adaptation/dir_cue_lstm"
_DIR_LSTM_ES = "adaptation/dir_cue_lstm_es"
_DIR_G600 = "adaptation/dir_cue_ff_g600"

_DIR_HELDOUT = (  # (output directory under adaptation/dir_heldout, label): changes never trained on
    ("gravity_1.5", "gravity x1.5 from step 300"),
    ("heavy", "body mass x1.5 from step 300"),
    ("weak_actuators", "every actuator at half strength from step 300"),
    ("front_leg_disabled", "front leg disabled from step 300"),
    ("schedule_every125", "reversed every 125 steps"),
    ("schedule_every400", "reversed every 400 steps"),
    ("schedule_once", "reversed once, at a step drawn from 150..850"),
)
_DIR_ARMS = ("plastic SNN", "static SNN", "LSTM (ES)")


def _adaptation_dir_heldout(
    root: Path,
    heldout: str = "adaptation/dir_heldout",
    trained_dir: str = _DIR_LSTM_ES,
    plastic: str = "plastic SNN",
) -> str:
    """One row per held-out change of the direction task: every arm's return under it (with
    the share of its return on the trained task: the ratio of the seed means, each seed's
    runs on the same held-out episodes in both), and the plastic arm's paired differences
    with the paired t-test's p (``paired_stats.json`` of ``dir_cue_ff_stats.py`` and
    ``dir_heldout_stats.py``)."""
    from plasticagents.training.analysis.adaptation import format_stat

    arms = (plastic, *_DIR_ARMS[1:])
    base = _json(root / trained_dir / "summary.json")
    trained = base["agents"]
    # the paired tests: on the trained task, then under each change
    tests = {
        None: _json(root / trained_dir / "paired_stats.json"),
        **_json(root / heldout / "paired_stats.json"),
    }

    def row(label: str, summary: dict, change: str | None) -> list[str]:
        cells = []
        for name in ("oracle", *arms):
            got, nominal = summary["agents"][name]["return"], trained[name]["return"]
            share = 100.0 * got["mean"] / nominal["mean"] if nominal["mean"] else math.nan
            cells.append(f"{format_stat(got, 0)} ({share:.0f}%)")
        for other in arms[1:]:
            p = tests[change]["plastic_minus"][other]["return"]["paired_t_test_p"]
            diff = summary["differences"][f"{plastic} − {other}"]["return"]
            cells.append(f"{format_stat(diff, 0)} (p {p:.3f})")
        return [label, *cells]

    rows = [row("none (the trained task)", base, None)]
    for directory, label in _DIR_HELDOUT:
        summary = _json(root / heldout / directory / "summary.json")
        rows.append(row(label, summary, directory))
    header = [
        "change (none of it seen in training)",
        "oracle",
        *arms,
        *(f"{plastic} − {other}" for other in arms[1:]),
    ]
    return _table(header, rows)


_DAMAGE = (  # (output directory under adaptation/damage_onset, label, seen in training)
    ("front_leg_disabled_at_300", "front leg (thigh, shin, foot) disabled", "no: held-out leg"),
    ("gravity_1.5_at_300", "gravity x1.5", "no: held-out kind"),
    ("weak_actuators_at_300", "every actuator at half strength", "no: held-out kind"),
    ("back_leg_disabled_at_300", "back leg disabled", "yes"),
)


_DAMAGE_6 = "adaptation/damage_onset_6seeds"
_DAMAGE_G300 = "adaptation/damage_onset_g300"


def _adaptation_damage(
    root: Path,
    base: str = "adaptation/damage_onset",
    changes: tuple[tuple[str, str, str], ...] = _DAMAGE,
    plastic_arm: str = "plastic SNN",
    static_arm: str = "static SNN",
    control: str | None = None,
) -> str:
    """One row per change (``changes``: output directory under ``base``, label, seen in
    training) of an onset task: each arm's return kept and post-onset reward, the paired gap,
    and the plastic arm's freeze-at-onset cost; with ``control`` (a ``freeze_control.json``
    of ``results/adaptation/freeze_control.py``), that cost minus its cost where nothing
    changed, with the paired t-test's p."""
    from plasticagents.training.analysis.adaptation import format_stat

    against = _json(root / control)["outputs"]["changes"] if control else None
    rows = []
    for directory, label, seen in changes:
        summary = _json(root / base / directory / "summary.json")
        agents, diffs = summary["agents"], summary["differences"]
        plastic, static = agents[plastic_arm], agents[static_arm]
        gap = diffs[f"{plastic_arm} − {static_arm}"]
        freeze = summary["ablation_cost_pp"].get(f"{plastic_arm} [freeze-at-onset]")
        rows.append(
            [
                f"{label} (step 300)",
                seen,
                format_stat(plastic["return_kept_pct"], 1),
                format_stat(static["return_kept_pct"], 1),
                format_stat(gap["return_kept_pct"], 1),
                format_stat(plastic["reward_rest"], 3),
                format_stat(static["reward_rest"], 3),
                format_stat(freeze, 1),
            ]
        )
        if against is not None:
            d = against[directory]["freeze-at-onset"]["cost_minus_control"]
            rows[-1].append(f"{format_stat(d, 1)} (p {d['paired_t_test_p']:.3f})")
    short = plastic_arm.split()[0]
    header = [
        "change",
        "seen in training",
        f"{plastic_arm}: return kept, %",
        f"{static_arm}: return kept, %",
        f"{short} − {static_arm.split()[0]}, points",
        f"{plastic_arm}: reward/step after",
        f"{static_arm}: reward/step after",
        f"freezing the {plastic_arm}'s plasticity at the onset costs, points",
    ]
    if against is not None:
        header.append("that cost minus the no-change control's, points (p)")
    return _table(header, rows)


_SENSOR = "adaptation/sensor_offset"
_SENSOR_CHANGES = (  # (output directory under adaptation/sensor_offset, label, seen in training)
    ("angle_offset_0.2_at_300", "angle sensors offset, N(0, 0.2²) rad", "yes (held-out episodes)"),
    ("angle_offset_0.4_at_300", "angle sensors offset, N(0, 0.4²) rad", "no: twice the scale"),
    ("velocity_offset_0.5_at_300", "velocity sensors offset, N(0, 0.5²)", "no: held-out sensors"),
)
_SENSOR_PHYSICAL = "adaptation/sensor_offset_physical"
_SENSOR_CONTROL = f"{_SENSOR_PHYSICAL}/freeze_control.json"
_SENSOR_PHYSICAL_CHANGES = (  # physical changes the sensor task never trained on
    ("stiff_joints_at_300", "joint damping x3", "no: held-out kind"),
    ("back_leg_half_at_300", "back leg at half strength", "no: held-out kind"),
    ("heavy_at_300", "body mass x1.5", "no: held-out kind"),
    ("slippery_at_300", "friction x0.3", "no: held-out kind"),
    ("low_gravity_at_300", "gravity x0.5", "no: held-out kind"),
    ("back_thigh_disabled_at_300", "back thigh disabled", "no: held-out kind"),
    ("front_thigh_disabled_at_300", "front thigh disabled", "no: held-out kind"),
)

_DAMAGE_HOMEO = "adaptation/damage_onset_homeostat_5seeds"
_VEL_HOMEO = "adaptation/vel_switch_homeostat"
_VEL_5 = "adaptation/vel_switch_g300_5seeds"
_VEL_FF = "adaptation/vel_switch_ff_5seeds"
_DAMAGE_HOMEO_CHANGES = (  # the damage task's changes and two of the sensor task's physical ones
    *_DAMAGE,
    _SENSOR_PHYSICAL_CHANGES[0],  # joint damping x3
    (*_SENSOR_PHYSICAL_CHANGES[1][:2], "half of a trained damage"),  # back leg at half strength
)

_DIR_GATED = "adaptation/dir_cue_gated"
_DIR_CONSTROW12 = "adaptation/dir_cue_constrow_12seeds"
_DIR_HELDOUT_GATED = "adaptation/dir_heldout_gated"
_VEL_LSTM_ES = "adaptation/vel_switch_lstm_es"
_VEL_G300 = "adaptation/vel_switch_g300"
_DAMAGE_LSTM_ES = "adaptation/damage_onset_lstm_es"
_LSTM_ES_ARMS = ("plastic SNN", "static SNN", "LSTM 88 (ES)", "LSTM 20 (ES)")


def _adaptation_pairs(root: Path, directory: str) -> str:
    """The plastic arm against each other arm of a table: paired differences over seeds with
    the paired t-test's p (``paired_stats.json`` of ``results/adaptation/arms_stats.py`` or
    ``dir_cue_ff_stats.py``)."""
    from plasticagents.training.analysis.adaptation import format_stat

    stats = _json(root / directory / "paired_stats.json")
    plastic = stats.get("plastic_arm", "plastic SNN")
    rows = []
    for other, t in stats["plastic_minus"].items():
        # arms_stats.py's key, or dir_cue_ff_stats.py's (the onset is the first reversal)
        after = t.get("reward_per_step_after_onset", t.get("reward_per_step_after_reversal"))
        rows.append(
            [
                f"{plastic} − {other}",
                f"{format_stat(t['return'], 1)} (p {t['return']['paired_t_test_p']:.3f})",
                f"{format_stat(after, 3)} (p {after['paired_t_test_p']:.3f})",
                f"{t['return']['plastic_ahead_on']} of {t['return']['seeds']}",
            ]
        )
    header = [
        "paired difference over seeds",
        "return (paired t-test p)",
        "reward/step after the onset (p)",
        f"seeds with the {plastic} ahead in return",
    ]
    return _table(header, rows)


def _adaptation_damage_lstm(root: Path) -> str:
    """One row per change of the damage-onset task with the LSTM arms: each arm's return (and
    its share of the same arm's nominal return, the ratio of seed means), the plastic SNN's
    paired return difference with each LSTM and its p."""
    from plasticagents.training.analysis.adaptation import format_stat

    rows = []
    for directory, label, seen in _DAMAGE:
        where = f"{_DAMAGE_LSTM_ES}/{directory}"
        agents = _json(root / where / "summary.json")["agents"]
        tests = _json(root / where / "paired_stats.json")["plastic_minus"]
        cells = []
        for arm in _LSTM_ES_ARMS:
            kept = agents[arm].get("return_kept_of_means_pct")
            share = "–" if kept is None else f"{kept:.0f}%"
            cells.append(f"{format_stat(agents[arm]['return'], 0)} ({share})")
        for arm in _LSTM_ES_ARMS[2:]:
            t = tests[arm]["return"]
            cells.append(f"{format_stat(t, 0)} (p {t['paired_t_test_p']:.3f})")
        rows.append([f"{label} (step 300)", seen, *cells])
    header = [
        "change",
        "seen in training",
        *_LSTM_ES_ARMS,
        *(f"plastic SNN − {arm}" for arm in _LSTM_ES_ARMS[2:]),
    ]
    return _table(header, rows)


# --------------------------------------------------------------------------- RL: cue task

_NOISE = ("0", "0.5", "1.0")


def _cue(root: Path) -> str:
    plastic = _csv(root / "cue_delay/sweep.csv")
    rows = []

    def row(label: str, sweep: list[dict[str, str]], **match: str) -> None:
        cells = [
            _ci(_values(_select(sweep, env__kwargs__noise=n, **match), "eval_return"), 2)
            for n in _NOISE
        ]
        rows.append([label, *cells])

    row("feed-forward, static (plasticity off)", _csv(root / "cue_delay_static/sweep.csv"))
    for mode, prefix in (("plain", ""), ("modulated", "neuromodulated ")):
        for rule, name in (("hebbian", "Hebbian"), ("oja", "Oja"), ("bcm", "BCM")):
            row(
                f"feed-forward, {prefix}{name}",
                plastic,
                agent__plasticity__rule=rule,
                agent__plasticity__mode=mode,
            )
    row("recurrent, static", _csv(root / "cue_delay_static_recurrent/sweep.csv"))
    row("recurrent, neuromodulated Hebbian", _csv(root / "cue_delay_recurrent/sweep.csv"))
    refs = _json(root / "cue_references/record.json")["outputs"]["returns"]
    for key, label in (("bayesian", "Bayesian learner"), ("oracle", "oracle")):
        rows.append([f"*reference: {label}*", *(f"*{refs[n][key]:.2f}*" for n in _NOISE)])
    header = ["SNN, 64 LIF, BPTT 600 iterations x 32 episodes", *(f"noise {n}" for n in _NOISE)]
    return _table(header, rows)


def _cue_long(root: Path) -> str:
    longer = _csv(root / "cue_noise1_long/sweep.csv")
    static = _csv(root / "cue_noise1_long_static_recurrent/sweep.csv")
    arms = [
        ("feed-forward, neuromodulated Hebbian", _select(longer, agent__recurrent="False")),
        ("recurrent, static", static),
        ("recurrent, neuromodulated Hebbian", _select(longer, agent__recurrent="True")),
    ]
    rows = []
    for label, runs in arms:
        by_seed = {r["seed"]: float(r["eval_return"]) for r in runs}
        rows.append(
            [label, *(f"{by_seed[s]:.2f}" for s in ("0", "1", "2")), _ci(by_seed.values(), 2)]
        )
    return _table(
        ["noise 1.0, 2000 iterations", "seed 0", "seed 1", "seed 2", "mean ± 95% CI"], rows
    )


# --------------------------------------------------------------------------- RL: PPO

_EVAL_LINE = re.compile(
    r"of runs/\w+/(?P<env>hopper|halfcheetah)-snn-(?P<variant>[\w-]+)-s(?P<seed>\d)-[\d-]+: "
    r"return (?P<mean>-?[\d.]+) ± (?P<std>[\d.]+)"
)


def _ppo(root: Path) -> str:
    found: dict[tuple[str, int], dict[str, str]] = {}
    for line in _need(root / "ppo_1m/evaluations.txt").read_text().splitlines():
        m = _EVAL_LINE.search(line)
        if m is None:
            raise ReportError(f"results/ppo_1m/evaluations.txt: cannot read {line!r}")
        steps = 4 if "steps4" in m["variant"] else 2
        found[(m["env"], steps)] = found.get((m["env"], steps), {})
        found[(m["env"], steps)][m["seed"]] = f"{float(m['mean']):.0f} ± {float(m['std']):.0f}"
    rows = []
    for (env, steps), seeds in sorted(found.items(), key=lambda kv: (kv[0][0] != "hopper", kv[0])):
        means = [float(seeds[s].split(" ± ")[0]) for s in sorted(seeds)]
        name = {"hopper": "Hopper-v5", "halfcheetah": "HalfCheetah-v5"}[env]
        rows.append(
            [
                f"{name}, spiking actor ({steps} sim steps), MLP critic",
                *(seeds.get(s, "–") for s in ("0", "1", "2")),
                f"{statistics.median(means):.0f}" if len(means) == 3 else "–",
            ]
        )
    header = ["SB3 PPO, 1M env steps", "seed 0", "seed 1", "seed 2", "median"]
    return _table(header, rows)


# --------------------------------------------------------------------------- classification

_UCR = ("GunPoint", "ArrowHead", "ItalyPowerDemand", "BasicMotions")


def _ucr_accuracy(root: Path) -> str:
    stdp = _csv(root / "ucr_hrsnn/sweep.csv")
    bptt = _csv(root / "ucr_bptt/sweep.csv")
    hetero = _csv(root / "ucr_bptt_hetero/sweep.csv")
    knn = {d["dataset"]: d for d in _json(root / "ucr_dtw/record.json")["outputs"]["datasets"]}

    def acc(rows_: list[dict[str, str]], ds: str, **match: str) -> str:
        return _ci(_values(_select(rows_, data__dataset=ds, **match), "test_accuracy"), 3)

    rows = []
    for ds in _UCR:
        rows.append(
            [
                ds,
                acc(stdp, ds, model__tau_spread="0", trainer__stdp_spread="0"),
                acc(stdp, ds, model__tau_spread="0.8", trainer__stdp_spread="0.8"),
                acc(bptt, ds),
                acc(hetero, ds),
                f"{knn[ds]['ed_accuracy']:.3f}",
                f"{knn[ds]['dtw_accuracy']:.3f}",
            ]
        )
    header = [
        "data set",
        "STDP reservoir, homogeneous",
        "STDP reservoir, heterogeneous",
        "BPTT SNN, homogeneous",
        "BPTT SNN, heterogeneous",
        "1-NN ED",
        "1-NN DTW",
    ]
    return _table(header, rows)


def _ucr_energy(root: Path) -> str:
    stdp = _csv(root / "ucr_hrsnn/sweep.csv")
    rows = []
    for ds in _UCR:
        cells = [ds]
        for spread in ("0", "0.8"):
            sel = _select(
                stdp, data__dataset=ds, model__tau_spread=spread, trainer__stdp_spread=spread
            )
            cells += [
                _ci(_values(sel, "spikes_per_sample"), 0),
                _ci(_values(sel, "memory_capacity"), 2),
                _ci(_values(sel, "E"), 3),
            ]
        rows.append(cells)
    header = ["data set"]
    for kind in ("homogeneous", "heterogeneous"):
        header += [f"{kind}: spikes / sample", "MC", "E"]
    return _table(header, rows)


def _ucr_tuned(root: Path) -> str:
    tuned = _csv(root / "ucr_hrsnn_tuned/sweep.csv")
    trials = _csv(root / "tune_gunpoint/trials.csv")
    best = min(trials, key=lambda r: float(r["E"]))
    rows = [
        [
            ds,
            _ci(_values(_select(tuned, data__dataset=ds), "test_accuracy"), 3),
            _ci(_values(_select(tuned, data__dataset=ds), "memory_capacity"), 2),
            _ci(_values(_select(tuned, data__dataset=ds), "E"), 3),
        ]
        for ds in _UCR
    ]
    rows.append(
        [
            f"*best of {len(trials)} trials on GunPoint (trial {best['trial']})*",
            f"tau {float(best['model.tau_mem']) * 1e3:.0f} ms, "
            f"tau CV {float(best['model.tau_spread']):.2f}, "
            f"STDP CV {float(best['trainer.stdp_spread']):.2f}",
            f"{float(best['memory_capacity']):.2f}",
            f"{float(best['E']):.3f}",
        ]
    )
    return _table(["data set (tuned reservoir)", "test accuracy", "MC", "E"], rows)


def _storage_float16(root: Path) -> str:
    """The quickstart trained with float32 and with float16 synapse storage, seed by seed:
    the sweep's held-out return of each best checkpoint, the last generation's population
    mean and the training wall time (the run's ``metrics.csv``); then the paired differences
    (float16 minus float32, same seed)."""
    rows = _csv(root / "storage_float16/sweep.csv")
    key = "agent.plasticity.storage"
    by = {s: {r["seed"]: r for r in rows if r[key] == s} for s in ("float32", "float16")}
    seeds = sorted(set(by["float32"]) & set(by["float16"]), key=int)
    if not seeds:
        raise ReportError(f"{root / 'storage_float16/sweep.csv'} pairs no seed")

    def figures(row: dict[str, str]) -> tuple[float, float, float]:
        metrics = _csv(root / "storage_float16/runs" / Path(row["run"]).name / "metrics.csv")
        last = metrics[-1]
        return float(row["eval_return"]), float(last["mean_fitness"]), float(last["wall_time"])

    per = {s: [figures(by[s][seed]) for seed in seeds] for s in by}
    table = []
    for storage in ("float32", "float16"):
        cols = list(zip(*per[storage], strict=True))
        table.append([f"`{storage}`", _ci(cols[0], 0), _ci(cols[1], 0), _ci(cols[2], 0)])
    cols32 = list(zip(*per["float32"], strict=True))
    cols16 = list(zip(*per["float16"], strict=True))
    diffs = [
        [b - a for a, b in zip(c32, c16, strict=True)]
        for c32, c16 in zip(cols32, cols16, strict=True)
    ]
    table.append(
        [
            f"float16 − float32, paired by seed ({', '.join(seeds)})",
            *(f"{_ci(d, 0)} ({', '.join(f'{v:+.0f}' for v in d)})" for d in diffs),
        ]
    )
    header = [
        "synapse storage",
        "held-out return of the best checkpoint",
        "population mean, last generation",
        "training wall time (s)",
    ]
    return _table(header, table)


def _digits_ei(root: Path) -> str:
    sweep = _csv(root / "digits_ei/sweep.csv")
    noise = _csv(root / "digits_ei/noise.csv")
    rows = []
    for frac in ("1.0", "0.8", "0.5", "0.2"):
        e = round(float(frac) * 100)
        cells = [
            f"{e}:{100 - e}",
            _ci(_values(_select(sweep, model__excitatory_fraction=frac), "test_accuracy"), 3),
        ]
        for kind, level in (
            ("input", "0.2"),
            ("input", "0.4"),
            ("weight", "0.1"),
            ("weight", "0.3"),
        ):
            sel = _select(noise, model__excitatory_fraction=frac, noise=kind, level=level)
            cells.append(_ci(_values(sel, "accuracy"), 3))
        sel = _select(noise, model__excitatory_fraction=frac, noise="input", level="0.4")
        cells.append(_ci(_values(sel, "van_rossum"), 2))
        rows.append(cells)
    header = [
        "E:I",
        "clean",
        "input noise 0.2",
        "input noise 0.4",
        "weight noise 0.1",
        "weight noise 0.3",
        "Van Rossum at input noise 0.4",
    ]
    return _table(header, rows)


def _digits_inhibitory(root: Path) -> str:
    sweep = _csv(root / "digits_inhibitory/sweep.csv")
    noise = _csv(root / "digits_inhibitory/noise.csv")
    rows = []
    for spread in ("0", "0.5", "1.0"):
        sel = _select(noise, model__inhibitory_tau_spread=spread, noise="input", level="0.2")
        rows.append(
            [
                spread,
                _ci(
                    _values(_select(sweep, model__inhibitory_tau_spread=spread), "test_accuracy"), 3
                ),
                _ci(_values(sel, "accuracy"), 3),
                _ci(_values(sel, "van_rossum"), 2),
            ]
        )
    header = [
        "inhibitory time-constant spread (80:20)",
        "clean accuracy",
        "accuracy, input noise 0.2",
        "Van Rossum, input noise 0.2",
    ]
    return _table(header, rows)


def _delays(root: Path) -> str:
    sweep = _csv(root / "delays/sweep.csv")
    rewired = _csv(root / "delays_rewiring/sweep.csv")
    rows = []
    for sparsity in ("0", "0.75", "0.9375"):
        cells = [sparsity]
        for delays in ("none", "fixed", "learned"):
            sel = _select(sweep, model__delays=delays, model__sparsity=sparsity)
            cells.append(_ci(_values(sel, "test_accuracy"), 3))
        sel = _select(rewired, model__sparsity=sparsity)
        cells.append(_ci(_values(sel, "test_accuracy"), 3) if sel else "– (dense)")
        rows.append(cells)
    header = [
        "sparsity (hidden -> hidden)",
        "no delays",
        "fixed random delays",
        "learned delays (DCLS)",
        "learned delays + DEEP R / RigL",
    ]
    return _table(header, rows)


# --------------------------------------------------------------------------- prediction

_SERIES = ("mackey_glass", "narma10", "lorenz", "santafe_laser")
_PREDICTORS = (
    ("hrsnn_homo", "HRSNN homogeneous (STDP)"),
    ("hrsnn_hetero", "HRSNN heterogeneous (STDP)"),
    ("bptt", "BPTT SNN"),
    ("esn", "ESN (reservoirpy)"),
    ("linear_ar", "linear AR"),
)


def _prediction(root: Path) -> str:
    """NRMSE, spikes per step, memory capacity and E per series and model."""
    sweeps = {name: _csv(root / "prediction" / name / "sweep.csv") for name, _ in _PREDICTORS}
    rows = []
    for series in _SERIES:
        for name, label in _PREDICTORS:
            sel = _select(sweeps[name], data__series=series)
            rows.append(
                [
                    series,
                    label,
                    _ci(_values(sel, "nrmse"), 4),
                    _ci(_values(sel, "spikes_per_step"), 1) if name != "esn" else "–",
                    _ci(_values(sel, "memory_capacity"), 2),
                    _ci(_values(sel, "E"), 3),
                ]
            )
    header = ["series", "model", "NRMSE (test)", "spikes per step", "memory capacity", "E"]
    return _table(header, rows)


def _prediction_headline(root: Path) -> str:
    """NRMSE only: one row per series, one column per model."""
    sweeps = {name: _csv(root / "prediction" / name / "sweep.csv") for name, _ in _PREDICTORS}
    rows = [
        [series]
        + [
            _ci(_values(_select(sweeps[name], data__series=series), "nrmse"), 4)
            for name, _ in _PREDICTORS
        ]
        for series in _SERIES
    ]
    return _table(["series (NRMSE, one step ahead)", *(label for _, label in _PREDICTORS)], rows)


# --------------------------------------------------------------------------- benchmarks

_BENCH_RATIOS = (
    (
        "bench_population",
        "batched_vs_loop_eager",
        "population step, P=64: speed-up of batched over a loop (eager)",
    ),
    (
        "bench_population",
        "batched_vs_loop_compiled",
        "population step, P=64: speed-up of batched over a loop (compiled)",
    ),
    (
        "bench_population",
        "post_major_speedup_compiled",
        "population step, P=64, compiled: post-major over row-major fast weights (> 1: faster)",
    ),
    (
        "bench_population",
        "native_speedup_over_compiled",
        "population step, P=64: native C step over the compiled step (> 1: faster)",
    ),
    (
        "bench_population",
        "bptt_ours_over_snntorch",
        "BPTT time, Linear+LIF: ours / snnTorch (< 1: faster)",
    ),
    (
        "bench_es",
        "ours_over_evotorch",
        "ES env steps/s, Ant-v5: ours / evotorch VecGymNE (> 1: faster)",
    ),
    ("bench_es", "ours_over_physics", "ES env steps/s, Ant-v5: ours / physics alone (goal >= 0.7)"),
    (
        "bench_es",
        "paired_ratios.ours_over_physics",
        "ES env steps/s, Ant-v5: ours / physics alone, median of per-repeat ratios (goal >= 0.7)",
    ),
    (
        "bench_es",
        "paired_ratios.ours_over_evotorch",
        "ES env steps/s, Ant-v5: ours / evotorch VecGymNE, median of per-repeat ratios",
    ),
    (
        "bench_es",
        "ours_over_physics_step",
        "ES env steps/s, Ant-v5: ours / Gymnasium's physics step (mj_step + mj_rnePostConstraint)",
    ),
    (
        "bench_es",
        "ours_over_physics_replay",
        "ES env steps/s, Ant-v5: ours / its own slot trajectories' physics, replayed",
    ),
    (
        "bench_classify",
        "epoch_time_ours_over_snntorch",
        "classifier epoch time: ours / snnTorch (< 1: faster)",
    ),
    (
        "bench_classify",
        "peak_memory_ours_over_snntorch",
        "classifier peak memory: ours / snnTorch (< 1: less)",
    ),
)


def _bench_variant(script: str, label: str, rec: dict[str, Any], key: str = "") -> str:
    """The row name of one invocation: ``label`` for its env, and what else must not be pooled
    (learner inputs, fast physics, ours' lanes, ours running an MLP, float16 synapse
    storage; for a ratio to evotorch, ``key``, the peer's policy where it is ours' SNN; the
    population step's plastic rule and granularity where not the default) in brackets."""
    if script == "bench_population":  # --rule / --granularity: another plastic layer
        settings = rec["outputs"].get("settings", {})
        rule, per = settings.get("rule", "hebbian"), settings.get("granularity", "synapse")
        if (rule, per) == ("hebbian", "synapse"):
            return label
        per = {"synapse": "synapse", "post": "neuron", "scalar": "layer"}.get(per, per)
        return f"{label} ({rule} rule, coefficients per {per})"
    if script != "bench_es":
        return label
    out = rec["outputs"]
    settings = out.get("settings", {})
    label = label.replace("Ant-v5", settings.get("env", "Ant-v5"))
    parts = []
    if settings.get("inputs"):
        parts.append("inputs " + " + ".join(settings["inputs"]))
    if any(o["config"].get("fast_physics") for o in out["ours"]):
        parts.append("fast physics")
    if any(o["config"].get("physics_step") == "Python per slot" for o in out["ours"]):
        parts.append("Python per-slot physics")  # PLASTICAGENTS_NATIVE_PHYSICS=0
    lanes = {o["config"].get("lanes", 1) for o in out["ours"]}
    if len(lanes) == 1 and min(lanes) > 1:
        parts.append(f"{min(lanes)} lanes")  # --lanes 2: trainer.lanes
    if settings.get("ours_policy", "").startswith("MLP"):
        parts.append("ours runs the peer's MLP 64")  # --ours-policy mlp
    if "evotorch" in key and "plastic SNN" in settings.get("peer_policy", ""):
        parts.append("the peer runs ours' plastic SNN")  # --peer-policy snn
    if settings.get("storage", "float32") != "float32":
        parts.append(f"{settings['storage']} synapse storage")  # --storage float16
    return f"{label} ({', '.join(parts)})" if parts else label


def _revision(rec: dict[str, Any]) -> str:
    """The commit of a record, ``-dirty`` kept: an uncommitted tree is not its commit."""
    return str(rec.get("git_revision", ""))


def _short(revision: str) -> str:
    commit, dirty = revision.removesuffix("-dirty"), revision.endswith("-dirty")
    return f"`{commit[:7]}`" + (" (uncommitted changes)" if dirty else "")


def _bench_command(script: str, rec: dict[str, Any]) -> str:
    argv, shown = rec["command"]["argv"][1:], []
    skip = False
    for arg in argv:  # where the record went says nothing about what was measured
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            shown.append(arg)
    # options in a fixed order: the same settings typed in another order are one command
    groups: list[list[str]] = []
    for arg in shown:
        if arg.startswith("-") or not groups:
            groups.append([arg])
        else:
            groups[-1].append(arg)
    options = sorted(" ".join(g) for g in groups)
    return " ".join(["python", f"benchmarks/{script}.py", *options])


# the README's short table leaves these to the docs page: the per-repeat ratios and the
# other physics floors (it keeps each goal's ratio of medians and the peer comparisons)
_DOCS_ONLY_KEYS = ("paired_ratios.", "ours_over_physics_step", "ours_over_physics_replay")
# ... and these scripts' variant settings (the README keeps the default network's rows)
_DOCS_ONLY_OPTIONS = {
    "bench_population": ("--rule", "--granularity"),
    "bench_es": ("--ours-policy",),
}


def _benchmarks(root: Path, headline: bool = False) -> str:
    """Every benchmark ratio: one column per invocation (oldest first), and their median.
    ``headline`` (the README's table): only each script's rows measured at the commit of its
    newest record, without the docs-only measurements (:data:`_DOCS_ONLY_KEYS`) and variant
    settings (:data:`_DOCS_ONLY_OPTIONS`)."""
    records: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(_need(root / "benchmarks").glob("*.json")):
        rec = json.loads(path.read_text())
        script = path.name.rsplit("-", 2)[0]
        records.setdefault(script, []).append(rec)
    rows = []
    for script, key, label in _BENCH_RATIOS:
        if headline and key.startswith(_DOCS_ONLY_KEYS):
            continue
        latest = _revision(records[script][-1]) if records.get(script) else None
        # one row per measurement and command line (the same command pools its invocations)
        groups: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for rec in records.get(script, []):  # oldest first (the file names are timestamps)
            # "ratios" unless the key names its dict ("paired_ratios.<key>", bench_es)
            field, _, name = key.rpartition(".")
            value = rec["outputs"].get(field or "ratios", {}).get(name)
            if value is not None:
                row = (_bench_variant(script, label, rec, key), _bench_command(script, rec))
                groups.setdefault(row, []).append((_revision(rec), float(value)))
        for (name, command), measured in groups.items():
            # the code as last measured: the invocations at the commit of the newest record
            newest = measured[-1][0]
            if headline and newest != latest:
                continue  # an older commit's row: on the docs page only
            if headline and any(o in command.split() for o in _DOCS_ONLY_OPTIONS.get(script, ())):
                continue  # a variant of the default network: on the docs page only
            values = [v for rev, v in measured if rev == newest]
            runs = ", ".join(f"{v:.2f}" for v in values)
            median = f"{statistics.median(values):.2f}x"
            rows.append([name, f"`{command}`", runs, _short(newest), median])
    if not rows:
        raise ReportError(f"{root / 'benchmarks'} holds no benchmark records with ratios")
    return _table(["measurement", "command", "ratio per invocation", "commit", "median"], rows)


# --------------------------------------------------------------------------- sections

SECTIONS: tuple[Section, ...] = (
    Section(
        "es-halfcheetah",
        "Evolution strategies on HalfCheetah-v5 (the quickstart budget)",
        ("es_halfcheetah",),
        lambda root: _es_table(root, "es_halfcheetah/runs"),
        "PGPE + ClipUp, popsize 64, one 1000-step episode per individual per generation, seed 0; "
        "the plastic SNN is `configs/experiments/quickstart.yaml`, the others the "
        "`halfcheetah_{static_snn,mlp}.yaml` configs at the same number of generations. The "
        "centre evaluation is the trainer's periodic evaluation of the search centre; the last "
        "column re-evaluates the best checkpoint on 10 seeded episodes (`plasticagents "
        "evaluate`). One training seed per agent: the spread is over episodes, not seeds. "
        "The three runs trained one after the other, each alone on the 2-core machine.",
    ),
    Section(
        "halfcheetah-robustness",
        "Robustness of the HalfCheetah agents (trained on the nominal body only)",
        ("es_halfcheetah/robustness",),
        lambda root: _robustness_table(root, "es_halfcheetah/robustness/robustness.csv"),
        "Each cell: return, mean ± 95% CI over 10 seeded episodes, and × the return relative to "
        "the agent's own nominal return on the same episodes, ratio of means with its paired "
        "bootstrap 95% interval.",
        ("es_halfcheetah/robustness/return_ratio.png",),
    ),
    Section(
        "ant-legs",
        "The held-out-leg protocol on Ant-v5 (Najarro & Risi)",
        ("ant_legs",),
        _ant_legs,
        "Each agent trained by ES on three bodies per generation, each with one leg disabled "
        "from the start (front right, back, right back); the front-left leg is held out. Cells "
        "as above (the intact body was never trained on). The second table compares the plastic "
        "and static SNNs on the held-out leg episode by episode: the difference of their ratios "
        "and of their returns with paired bootstrap intervals. Training stopped short of its "
        "generations (see the runs' metrics); the Ant earns 1 per step for staying up, so the "
        "returns mostly measure not falling.",
        ("ant_legs/return_ratio.png", "ant_legs/training.png"),
    ),
    Section(
        "ant-walk",
        "An Ant that walks: Ant-v5, a 32-neuron plastic SNN trained by ES",
        ("ant_walk",),
        _ant_walk,
        "`configs/experiments/ant_walk_plastic_snn.yaml`: PGPE + ClipUp, popsize 64, one "
        "1000-step episode per individual per generation, observation normalisation, the "
        "healthy reward subtracted in the fitness only (reward shift 1, so standing still is "
        "not rewarded and falling is not attractive), fast physics, compiled. The best "
        "checkpoint (the search centre with the best periodic evaluation) re-evaluated on 10 "
        "seeded episodes by `plasticagents evaluate`; the forward velocity is each episode's "
        'mean `info["x_velocity"]`. Wall time on the 2-core machine, from `metrics.csv` '
        "(a resumed run counts both parts).",
        ("ant_walk/runs/ant-walk-plastic-snn-20261130-235732/learning_curve.png",),
        run_done=_EVALUATED,
    ),
    Section(
        "vel-references",
        "Reference returns of HalfCheetahVelSwitch-v0 (hidden target velocity, one switch)",
        ("vel_references",),
        _vel_references,
        "A privileged oracle MLP (sees the target) and a goal-blind MLP trained across the goal "
        "distribution by ES at the same budget, on the same 10 seeded episodes (same goals and "
        "switch steps). Adaptation time: steps after the switch until the agent's moving-average "
        "reward reaches 80% of the oracle's level.",
        ("vel_references/reward_around_onset.png",),
    ),
    Section(
        "cue",
        "Cue association with delays (SpikePropamine's claim)",
        (
            "cue_delay",
            "cue_delay_static",
            "cue_delay_static_recurrent",
            "cue_delay_recurrent",
            "cue_references",
        ),
        _cue,
        "`plasticagents/CueDelayAssociation-v0`: per trial one of 2 noisy cues, a go/no-go "
        "response, a feedback step, 4 blank steps; 20 trials. Each cell is the best checkpoint's "
        "mean return over 200 held-out episodes, mean ± 95% CI over seeds 0, 1, 2. The reference "
        "rows are hand-written players (`envs/temporal.py`: `cue_reference_returns`), not trained.",
        ("cue_delay_compare/compare.png",),
    ),
    Section(
        "cue-long",
        "Cue association at noise 1.0 after 2000 iterations",
        ("cue_noise1_long", "cue_noise1_long_static_recurrent"),
        _cue_long,
        "The same task and scoring at the strongest noise, trained 2000 instead of 600 iterations.",
    ),
    Section(
        "ppo",
        "SB3 PPO with a spiking actor at 1M env steps",
        ("ppo_1m",),
        _ppo,
        "SB3's default MuJoCo PPO settings; the actor's features come from 128 LIF neurons (a "
        "fresh state each env step), the critic is an MLP on the observation. Best checkpoint "
        "re-evaluated on 10 seeded episodes, mean ± std over episodes. The MLP-policy runs of "
        "the same study were never written to a file and are not quoted.",
        ("ppo_1m/hopper_critic_steps.png", "ppo_1m/halfcheetah_critic_steps.png"),
    ),
    Section(
        "ucr-accuracy",
        "UCR/UEA classification: STDP reservoirs, BPTT SNNs, 1-NN baselines",
        ("ucr_hrsnn", "ucr_bptt", "ucr_bptt_hetero", "ucr_dtw"),
        _ucr_accuracy,
        "Test accuracy, mean ± 95% CI over seeds 0, 1, 2. Heterogeneous: gamma-distributed "
        "membrane time constants (CV 0.8) and, for the reservoir, per-synapse STDP (CV 0.8). "
        "1-NN ED / DTW: aeon's full-window distances (`python benchmarks/ucr_dtw.py`).",
    ),
    Section(
        "ucr-energy",
        "UCR/UEA: activity, memory capacity and E of the STDP reservoirs",
        ("ucr_hrsnn",),
        _ucr_energy,
        "MC: linear memory capacity of the trained reservoir under an i.i.d. drive held 5 "
        "steps, delays 1..20; E = spikes per neuron per held input / MC (lower is better).",
    ),
    Section(
        "ucr-tuned",
        "UCR/UEA: the reservoir tuned for E on GunPoint (optuna)",
        ("ucr_hrsnn_tuned", "tune_gunpoint"),
        _ucr_tuned,
        "`plasticagents tune` minimises E on GunPoint; the best trial's config "
        "(`results/tune_gunpoint/best.yaml`) is then trained on the four sets.",
        ("tune_gunpoint/search.png",),
    ),
    Section(
        "prediction",
        "Time-series prediction: heterogeneous spiking reservoirs against an ESN",
        tuple(f"prediction/{name}" for name, _ in _PREDICTORS),
        _prediction,
        "One-step-ahead prediction of Mackey-Glass (tau 17), NARMA-10 and Lorenz from "
        "`reservoirpy.datasets` and the Santa Fe laser series it ships; splits in time order, "
        "test NRMSE (0 perfect, 1 the test mean), mean ± 95% CI over seeds 0, 1, 2. Reservoirs "
        "of 200 units; the ESN uses reservoirpy's documented Mackey-Glass hyper-parameters; the "
        "BPTT SNN trained 8 epochs only. Details: `results/prediction/README.md`.",
    ),
    Section(
        "prediction-nrmse",
        "Time-series prediction: NRMSE at a glance",
        ("prediction/hrsnn_homo", "prediction/hrsnn_hetero", "prediction/esn"),
        _prediction_headline,
        "The NRMSE column of the table above, one row per series.",
    ),
    Section(
        "benchmarks",
        "Speed and memory against peers",
        ("benchmarks",),
        _benchmarks,
        "Each benchmark script times ours and a peer side by side in the same process "
        "(alternating where it can), takes the median of its repeats, and writes every repeat "
        "with its command, commit, versions and machine to `results/benchmarks/`; the table "
        "lists, per command, the ratio of each invocation at the commit of its newest record "
        "(older invocations stay in their files) and their median; each row says which way is "
        "better.",
    ),
    Section(
        "benchmarks-headline",
        "Speed against peers (the README's short view)",
        ("benchmarks",),
        lambda root: _benchmarks(root, headline=True),
        "The benchmarks table's rows measured at each script's newest commit, goals and peers "
        "only; the docs page has every row.",
        on_docs=False,
    ),
    Section(
        "storage-float16",
        "Float16 synapse storage: the quickstart's learning, seed by seed",
        ("storage_float16",),
        _storage_float16,
        "`configs/experiments/quickstart.yaml` (HalfCheetah-v5, 128-neuron plastic SNN, PGPE, "
        "60 generations) trained with `agent.plasticity.storage` float32 and float16 on the "
        "same seeds by one `plasticagents sweep`, one run after another on the 2-core machine "
        "(all float32 runs first, so the wall times also carry the host's drift). Held-out "
        "return: the best checkpoint on the sweep's seeded episodes, evaluated with the "
        "storage it trained with. Cells: mean ± 95% CI over seeds; the last row pairs the "
        "seeds.",
    ),
    Section(
        "digits-ei",
        "Digits: E:I ratio under Dale's law, and noise",
        ("digits_ei",),
        _digits_ei,
        "Rate-coded digits, 128 recurrent LIF, Dale's law on every outgoing synapse; test "
        "accuracy clean and under input / weight noise, and the Van Rossum distance between "
        "clean and noisy hidden spike trains; mean ± 95% CI over seeds 0, 1, 2.",
        ("digits_ei/noise.png",),
    ),
    Section(
        "digits-inhibitory",
        "Digits: diversity of inhibitory time constants",
        ("digits_inhibitory",),
        _digits_inhibitory,
        "The 80:20 network with the inhibitory neurons' time constants spread (CV).",
    ),
    Section(
        "adaptation-vel",
        "The adaptation experiment: hidden target velocity with a mid-episode switch",
        ("adaptation/vel_switch", "adaptation"),  # the analysis, then the training runs
        lambda root: _adaptation(root, "adaptation/vel_switch"),
        "`plasticagents/HalfCheetahVelSwitch-v0`: reward `-|v_x - v*| - 0.1 Σa²`, the hidden "
        "target `v*` uniform on [0, 3] m/s and redrawn once at a step drawn from 300..700 of "
        "1000. The agents see their previous action and reward; the oracle MLP sees `v*`. "
        "Every arm is trained with ES (PGPE) at the same budget, 3 training seeds each "
        "(`results/adaptation/train_vel_switch.sh`), and evaluated on the same 10 held-out "
        "episodes per seed (episode seeds from 1000; the oracle on the privileged twin, so "
        "the same goals and switches). Cells: mean ± 95% Student-t half-width over the 3 "
        "seeds of each seed's episode mean. Shortfall vs oracle: how far the post-switch "
        "reward per step falls below the same seed's oracle, in % of the oracle's; "
        "adaptation time: steps after the switch until the 50-step moving average reaches "
        "80% of the oracle's post-switch level (mean over the episodes that got there, and "
        "their share). Ablations of the plastic SNN (`freeze-at-onset` holds the fast "
        "weights from the switch on, `lesion` keeps them at their initial values all episode, "
        "`reset-at-onset` puts them back to their initial values at the switch) run on the "
        "same episodes; their cost is the drop of the "
        "post-switch reward per step, in points of the intact agent's.",
        ("adaptation/vel_switch/reward_around_onset.png",),
    ),
    Section(
        "adaptation-vel-goals",
        "The adaptation goals on the velocity-switch task",
        ("adaptation/vel_switch",),
        lambda root: _adaptation_goals(root, "adaptation/vel_switch"),
        "The issue's goals measured on the table above, then each paired difference between "
        "arms over the 3 training seeds (mean ± 95% Student-t half-width of the per-seed "
        "differences; the pairs share their held-out episodes).",
    ),
    Section(
        "adaptation-vel-oja",
        "What else was tried on the velocity switch: a modulated Oja rule (one seed)",
        ("adaptation/vel_switch_oja_s0",),
        lambda root: _adaptation(root, "adaptation/vel_switch_oja_s0"),
        "The modulated Hebbian rule's fast weights only grow through an episode (its term "
        "`pre * post` is never negative and has no decay); modulated Oja can move them both "
        "ways. One training seed (seed 0, the main arms' budget, "
        "`results/adaptation/train_vel_switch_variants.sh`) against the seed-0 runs of the "
        "main table on the same held-out episodes; with one seed the cells have no interval.",
        ("adaptation/vel_switch_oja_s0/reward_around_onset.png",),
    ),
    Section(
        "adaptation-vel-retroactive",
        "The velocity switch with SpikePropamine's retroactive rule (3 seeds)",
        ("adaptation/vel_switch_retroactive",),
        lambda root: (
            _adaptation(root, "adaptation/vel_switch_retroactive")
            + "\n\n"
            + _adaptation_goals(root, "adaptation/vel_switch_retroactive")
        ),
        "The plastic arm with the eligibility-trace rule of SpikePropamine (`mode: "
        "retroactive`: `E <- (1 - eta) E + eta pre post`, then `hebb <- hebb + M E` with the "
        "network's signed modulation `M`), trained at the main arms' budget on seeds 0, 1, 2 "
        "(`results/adaptation/train_vel_switch_variants.sh retroactive 0 1 2`), beside the "
        "main table's modulated Hebbian and static SNN runs and the oracle, on the same 10 "
        "held-out episodes per seed. Cells as in the main table; the goals are measured for "
        "the retroactive arm against the static SNN.",
        ("adaptation/vel_switch_retroactive/reward_around_onset.png",),
    ),
    Section(
        "adaptation-dir",
        "The adaptation experiment: a running direction told, then hidden (feed-forward SNNs)",
        (_DIR_FF, "adaptation"),
        lambda root: _adaptation(root, _DIR_FF),
        "`plasticagents/HalfCheetahDirSwitch-v0`: reward `d v_x` (forward or backward), the "
        "direction `d` drawn at the start and reversed every 250 steps, shown (with a cue "
        "flag) only in the 10 observations after each draw, no reward or action input. Both "
        "arms are the same SNN of 64 LIF neurons without recurrent synapses "
        "(`configs/experiments/dir_cue_{plastic,static}_snn.yaml` with `--set "
        "agent.recurrent=false`), so neither membranes nor recurrent activity can carry the "
        "cue for long: the plastic arm's fast weights (modulated Hebbian) are its only "
        "memory, and the static arm has none but the body's own motion. The oracle is the "
        "static arm's network on the privileged twin "
        "(`plasticagents/HalfCheetahDirSwitchPrivileged-v0`: the direction in every "
        "observation). Each is trained with ES (PGPE, popsize 32) for 300 generations (9.6M "
        "env steps), 8 seeds (`results/adaptation/train_dir_cue_ff.sh`: the two arms for 100 "
        "generations, then resumed to 300), and evaluated on the same 10 held-out episodes "
        "per seed (episode seeds from 1000; the oracle on the privileged twin, so the same "
        "directions and reversals) by `results/adaptation/evaluate_dir_cue_ff.sh`; the onset "
        "is the first reversal (step 250). Cells: mean ± 95% Student-t half-width over the 8 "
        "seeds of each seed's "
        "episode mean; ablation cost as in the velocity table.",
        (f"{_DIR_FF}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-dir-goals",
        "The adaptation goals on the direction task (feed-forward SNNs)",
        (_DIR_FF,),
        lambda root: _adaptation_goals(root, _DIR_FF),
        "The issue's goals measured on the table above, then the paired difference between "
        "the arms over the 8 training seeds (mean ± 95% Student-t half-width of the per-seed "
        "differences; the arms share their held-out episodes).",
    ),
    Section(
        "adaptation-dir-lstm",
        "The direction task: the LSTM baseline beside the feed-forward SNNs (3 seeds)",
        (_DIR_LSTM,),
        lambda root: _adaptation_with_goals(root, _DIR_LSTM),
        "The RL² LSTM of sb3-contrib (`RecurrentPPO`, an LSTM of 256, 8 envs, "
        "`configs/experiments/dir_cue_lstm.yaml`) on the same task and inputs, trained for "
        "800k env steps per seed (the most three seeds could get in one session on this "
        "machine; the SNN arms had 9.6M of ES), beside seeds 0-2 of the feed-forward table and "
        "their oracle on the same held-out episodes "
        "(`results/adaptation/evaluate_dir_cue_lstm.sh`). Not the same budget: PPO uses its "
        "env steps far more sparingly than ES. Cells and goals as above.",
        (f"{_DIR_LSTM}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-dir-lstm-es",
        "The direction task at one budget: an LSTM trained by the same ES (8 seeds)",
        (_DIR_LSTM_ES,),
        lambda root: _adaptation_with_goals(root, _DIR_LSTM_ES),
        "An LSTM of 20 units (`agent.kind: lstm`, 3,326 parameters beside the plastic SNN's "
        "3,046; `configs/experiments/dir_cue_lstm_es.yaml`) trained exactly as the SNN arms: "
        "ES (PGPE, popsize 32), 100 generations resumed to 300, 9.6M env steps per seed "
        "(`results/adaptation/train_dir_cue_lstm_es.sh 0 1 2 3 4 5 6 7`), beside the "
        "feed-forward table's 8 seeds and oracle on the same held-out episodes "
        "(`results/adaptation/evaluate_dir_cue_lstm_es.sh`). Same budget, same optimiser, "
        "same inputs. Cells and goals as above; the paired tests against each arm are in "
        "`paired_stats.json` (`python results/adaptation/dir_cue_ff_stats.py "
        "results/adaptation/dir_cue_lstm_es`).",
        (f"{_DIR_LSTM_ES}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-dir-recurrent",
        "The direction task with recurrent SNNs (3 seeds, 100 generations)",
        (_DIR_REC,),
        lambda root: _adaptation_with_goals(root, _DIR_REC),
        "The same task and budget of 100 generations x 32 with the configs as shipped "
        "(recurrent synapses on): the static arm can then hold the cue in its recurrent "
        "activity (`TASK=dir bash results/adaptation/train_vel_cue.sh 0 1 2`). Cells and "
        "goals as above.",
        (f"{_DIR_REC}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-dir-g600",
        "The direction task: the plastic SNN at twice the LSTM's budget",
        (_DIR_G600, "adaptation"),
        lambda root: _adaptation_with_goals(root, _DIR_G600),
        "Each seed's feed-forward plastic SNN of the table above, copied to a new run "
        "directory and resumed from 300 to 600 generations (19.2M env steps; "
        "`results/adaptation/extend_dir_cue_ff_plastic.sh`), beside the 300-generation "
        "plastic and static SNNs, the LSTM (ES, 9.6M) and the oracle on the same held-out "
        "episodes (`results/adaptation/evaluate_dir_cue_ff_g600.sh`); paired statistics in "
        "`paired_stats.json` (`python results/adaptation/dir_cue_ff_stats.py "
        'results/adaptation/dir_cue_ff_g600 "plastic SNN, 19.2M steps"`). Cells and goals '
        "as above.",
        (f"{_DIR_G600}/learning_curves.png", f"{_DIR_G600}/reward_around_onset.png"),
    ),
    Section(
        "adaptation-dir-gated",
        "The direction task with gated fast weights, at the LSTM's budget (8 seeds)",
        (_DIR_GATED, "adaptation"),
        lambda root: _adaptation_with_tests(root, _DIR_GATED),
        "The feed-forward plastic SNN with `agent.plasticity.mode: gated` (a sigmoid gate "
        "read from the input currents, with a learned bias starting at -4, on Miconi's decay "
        "rule `hebb += G eta (pre post - hebb)`: the fast weights are kept while the gate is "
        "shut and rewritten when it opens; `modulator_input: input`, `alpha_init` 0.1), "
        "trained as the other arms: ES (PGPE, popsize 32), 100 generations resumed to 300, "
        "9.6M env steps, seeds 0-7 (`results/adaptation/train_dir_cue_ff_gated.sh`), beside "
        "the same-budget table's modulated plastic SNN, static SNN, LSTM (ES) and oracle on "
        "the same held-out episodes (`results/adaptation/evaluate_dir_cue_gated.sh`). Paired "
        "tests of the gated arm against each other arm: `python "
        "results/adaptation/dir_cue_ff_stats.py results/adaptation/dir_cue_gated "
        '"gated plastic SNN"`. Cells and goals as above (the goals are measured for the gated '
        "arm against the static SNN).",
        (f"{_DIR_GATED}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-dir-constrow-12",
        "The direction task: a plastic bias against its static control (12 seeds)",
        (_DIR_CONSTROW12, "adaptation"),
        lambda root: _adaptation_with_tests(root, _DIR_CONSTROW12),
        "The feed-forward SNN with a constant input whose row alone is plastic "
        "(`agent.constant_input: true`, `agent.plasticity.rows: constant`: a bias per neuron "
        "written within the episode, `hebb_j += eta M_j post_j`) against the same network "
        "without plasticity (a trained slow bias), both trained by ES (PGPE, popsize 32) for "
        '300 generations, 9.6M env steps, seeds 0-11 (`GENERATIONS=300 VARIANTS="constrow '
        'static-const" bash results/adaptation/pilot_dir_cue_ff_plastic.sh 8 9 10 11` for '
        "seeds 8-11; seeds 0-7 are the earlier 8-seed table's runs), evaluated in one call "
        'on 10 held-out episodes per seed without an oracle (`OTHERS= ORACLE= SEEDS="0 ... '
        '11" bash results/adaptation/evaluate_dir_cue_gated.sh`, the command in '
        "`record.json`); paired tests from `python results/adaptation/dir_cue_ff_stats.py "
        'results/adaptation/dir_cue_constrow_12seeds "plastic bias (constant row only)"`, '
        "the paired learning speed in `learning_speed.json` "
        "(`results/adaptation/fitness_pairs.py`). Cells as above; the onset is the first "
        "reversal.",
        (f"{_DIR_CONSTROW12}/learning_curves.png", f"{_DIR_CONSTROW12}/reward_around_onset.png"),
    ),
    Section(
        "adaptation-dir-heldout",
        "The direction task under changes never trained on",
        (_DIR_LSTM_ES, *(f"adaptation/dir_heldout/{d}" for d, _ in _DIR_HELDOUT)),
        _adaptation_dir_heldout,
        "The runs of the same-budget comparison above (feed-forward plastic and static SNNs, "
        "the 20-unit LSTM, the oracle; ES, 9.6M env steps each, 8 seeds) on the same 10 "
        "held-out episodes per seed, with the body changed from step 300 "
        "(`configs/robustness/dir_heldout.yaml`) or the reversals on a schedule never used "
        "in training (`configs/robustness/dir_schedule_*.yaml`, the suites' `env_kwargs`); "
        "`results/adaptation/evaluate_dir_heldout.sh`. Cells: return, mean ± 95% Student-t "
        "half-width over seeds, and in brackets that mean as a share of the same arm's mean "
        "on the trained task (first row); the last two columns: paired differences of "
        "return over seeds, with the paired t-test's p (`python "
        "results/adaptation/dir_heldout_stats.py`). Each change's full table (post-change "
        "reward, the plastic SNN's ablations, per-seed shares of the nominal return for "
        "the body changes) is in `results/adaptation/dir_heldout/<change>/report.md`.",
        ("adaptation/dir_heldout/schedule_once/reward_around_onset.png",),
    ),
    Section(
        "adaptation-dir-heldout-gated",
        "The direction task with gated fast weights under changes never trained on",
        (_DIR_GATED, *(f"{_DIR_HELDOUT_GATED}/{d}" for d, _ in _DIR_HELDOUT)),
        lambda root: _adaptation_dir_heldout(
            root, _DIR_HELDOUT_GATED, _DIR_GATED, "gated plastic SNN"
        ),
        "The held-out changes of the table above with the gated plastic SNN in place of the "
        'modulated one (`PLASTIC=ff-plastic-gated4 LABEL="gated plastic SNN" '
        "OUT=results/adaptation/dir_heldout_gated bash "
        "results/adaptation/evaluate_dir_heldout.sh`), beside the same static SNN, LSTM (ES) "
        "and oracle runs on the same held-out episodes. Cells as above; the shares are "
        "against the gated table's trained-task returns; paired tests from `python "
        'results/adaptation/dir_heldout_stats.py dir_heldout_gated dir_cue_gated "gated '
        "plastic SNN\"`. Each change's full table is in "
        "`results/adaptation/dir_heldout_gated/<change>/report.md`.",
        (f"{_DIR_HELDOUT_GATED}/heavy/reward_around_onset.png",),
    ),
    Section(
        "adaptation-damage",
        "The adaptation experiment: damage at a random onset (HalfCheetah)",
        (*(f"adaptation/damage_onset/{d}" for d, _, _ in _DAMAGE), "adaptation"),
        _adaptation_damage,
        "HalfCheetah-v5; every training episode disables, at a step drawn from 100..600, the "
        "whole back leg, the front shin or the front foot "
        "(`configs/experiments/damage_onset_*.yaml`); the agents see their previous action "
        "and reward. Both arms are trained with ES (PGPE) at the same budget, 3 training "
        "seeds each (`results/adaptation/train_damage_onset.sh`), and evaluated on 10 "
        "held-out episodes per seed (episode seeds from 1000) with each change of "
        "`configs/robustness/damage_onset_heldout.yaml` switched on at step 300, and on the "
        "same episodes without it. Return kept: the mean return under the change in % of "
        "the same seed's nominal return; plastic − static: the per-seed difference of the "
        "two. Cells: mean ± 95% Student-t half-width over the 3 seeds. Freeze cost: the drop "
        "of the post-onset reward per step when the fast weights are held from the onset "
        "on, in points of the intact agent's. Each change's full table, with the `lesion` "
        "and `reset-at-onset` ablations and the fast weights' response, is in "
        "`results/adaptation/damage_onset/<change>/report.md`.",
        ("adaptation/damage_onset/front_leg_disabled_at_300/reward_around_onset.png",),
    ),
    Section(
        "adaptation-damage-6seeds",
        "Damage at a random onset with 6 training seeds",
        (*(f"{_DAMAGE_6}/{d}" for d, _, _ in _DAMAGE), "adaptation"),
        lambda root: _adaptation_damage(root, _DAMAGE_6),
        "The table above with three more training seeds per arm (3-5, trained exactly as 0-2: "
        '`SEEDS="3 4 5" bash results/adaptation/train_damage_onset.sh`), evaluated with '
        'seeds 0-2 on the same held-out episodes (`SEEDS="0 1 2 3 4 5" '
        "OUT=results/adaptation/damage_onset_6seeds bash "
        "results/adaptation/evaluate_damage_onset.sh`). Cells: mean ± 95% Student-t "
        "half-width over the 6 seeds. Each change's full table is in "
        "`results/adaptation/damage_onset_6seeds/<change>/report.md`.",
        (f"{_DAMAGE_6}/gravity_1.5_at_300/reward_around_onset.png",),
    ),
    Section(
        "adaptation-damage-g300",
        "Damage at a random onset at 5x the budget (3 seeds)",
        (*(f"{_DAMAGE_G300}/{d}" for d, _, _ in _DAMAGE), "adaptation"),
        lambda root: _adaptation_damage(
            root, _DAMAGE_G300, control=f"{_DAMAGE_G300}/freeze_control.json"
        ),
        "The damage-onset table's plastic and static SNNs trained for 300 generations instead "
        "of 60 (9.6M env steps per run, seeds 0-2, on the native C step: "
        "`GENERATIONS=300 COMPILE=true bash results/adaptation/train_damage_onset.sh`, run "
        "as two copies sharing the queue), evaluated on the same held-out episodes "
        '(`ARMS="plastic SNN=plastic-snn-g300;static SNN=static-snn-g300" '
        "OUT=results/adaptation/damage_onset_g300 bash "
        "results/adaptation/evaluate_damage_onset.sh --threads 2`). Cells as above; paired "
        "tests: `python results/adaptation/arms_stats.py results/adaptation/damage_onset_g300/*`. "
        "Returns rise with the budget, but freezing the fast weights at the onset still costs "
        "nothing and plastic and static stay within noise of each other under every change. "
        "The last column pairs each freeze cost with its cost where an identity change "
        "switches on at step 300 (`CONDITIONS=no_change_at_300` with the same script, then "
        "`results/adaptation/freeze_control.py`). "
        "Each change's full table is in `results/adaptation/damage_onset_g300/<change>/report.md`.",
        (f"{_DAMAGE_G300}/front_leg_disabled_at_300/reward_around_onset.png",),
    ),
    Section(
        "adaptation-sensor-offset",
        "The adaptation experiment: sensors offset at a random onset (HalfCheetah, 5 seeds)",
        (*(f"{_SENSOR}/{d}" for d, _, _ in _SENSOR_CHANGES), "adaptation"),
        lambda root: _adaptation_damage(
            root, _SENSOR, _SENSOR_CHANGES, "homeostatic SNN", control=_SENSOR_CONTROL
        ),
        "HalfCheetah-v5; in every training episode the 7 angle sensors (observation indices "
        "1-7) gain, at a step drawn from 100..600, a constant offset drawn per sensor from "
        "N(0, 0.2²) rad (`offset_observation`, `configs/experiments/sensor_offset_*.yaml`). "
        "Feed-forward SNNs of 64 LIF with a constant input; the homeostatic SNN's constant "
        "row learns by intrinsic plasticity built in (the abcd rule started at (0, 0.2, -1, 0) "
        "in plain mode with every coefficient fixed, `agent.plasticity.fixed`: each neuron's "
        "bias integrates 0.1 (0.2 - its trace), pulling its mean rate back whatever constant "
        "shift its inputs take); the static SNN's bias is trained and fixed. ES (PGPE), 300 "
        "generations x 32 x 1 episode (9.6M env steps), seeds 0-4 "
        '(`ARMS="homeofixed static" bash results/adaptation/train_sensor_offset.sh`, with '
        '`SEEDS="3 4"` for the last two). Evaluated on 10 held-out episodes per seed with each '
        "change of `configs/robustness/sensor_offset_heldout.yaml` from step 300 and without "
        'it (`ARMS="homeostatic SNN=homeofixed;static SNN=static;LSTM (ES)=lstm" SEEDS="0 1 2 3 4" '
        "OUT=results/adaptation/sensor_offset bash results/adaptation/evaluate_sensor_offset.sh "
        "--threads 2 --overwrite`). Cells as in the damage table. Paired tests "
        '(`PLASTIC_ARM="homeostatic SNN" python results/adaptation/arms_stats.py '
        "results/adaptation/sensor_offset/*/`): "
        "the share kept is ahead on all 5 seeds under the trained offsets (p = 0.016) and the "
        "velocity-sensor offsets (p = 0.007), never offset in training, where the held-out-change "
        "goal (≥ 85% kept, ≥ 10 points over the static SNN) is met; raw returns are not "
        "separable (p 0.14-0.67). An LSTM of 20 units trained by the same ES at the same "
        "budget (`ARMS=lstm` with the training script, in each change's full table) keeps "
        "85.1%, 55.0% and 87.6%: the "
        "homeostatic SNN keeps more under both angle offsets (p = 0.003 and 0.022, 5 of 5 "
        "seeds), and their returns are not separable (p 0.26-0.87). The same rule with its "
        "coefficients searched by ES "
        "(`results/adaptation/sensor_offset_3arms/`, seeds 0-2) ends with 23-27% of its neurons "
        "anti-homeostatic and 56-75% of its biases at the clip, and does not adapt. Each "
        "change's full table is in `results/adaptation/sensor_offset/<change>/report.md`.",
        (f"{_SENSOR}/angle_offset_0.4_at_300/reward_around_onset.png",),
    ),
    Section(
        "adaptation-sensor-physical",
        "The sensor task's agents under physical changes never trained on (HalfCheetah, 5 seeds)",
        (*(f"{_SENSOR_PHYSICAL}/{d}" for d, _, _ in _SENSOR_PHYSICAL_CHANGES), "adaptation"),
        lambda root: _adaptation_damage(
            root,
            _SENSOR_PHYSICAL,
            _SENSOR_PHYSICAL_CHANGES,
            "homeostatic SNN",
            control=_SENSOR_CONTROL,
        ),
        "The sensor task's runs above (trained with angle-sensor offsets only), each arm on the "
        "same 10 held-out episodes per seed with a physical change switched on at step 300 "
        "(`configs/robustness/sensor_offset_physical.yaml`; "
        'SUITE=configs/robustness/sensor_offset_physical.yaml CONDITIONS="..." with the '
        "evaluation script above, OUT=results/adaptation/sensor_offset_physical). The last "
        "column pairs, seed by seed, the cost of freezing the homeostat at the onset with its "
        "cost on the same episodes where an identity change (`no_change_at_300`) switches on "
        "at step 300 (`python results/adaptation/freeze_control.py --control "
        "results/adaptation/sensor_offset_physical/no_change_at_300 --arm 'homeostatic SNN' "
        "--out results/adaptation/sensor_offset_physical/freeze_control.json DIR...`): a cost "
        "that shows under the change only is the rule adapting, not a gait that needs its fast "
        "weights. Where a change leaves the post-onset return near 0 (a disabled thigh, low "
        "gravity), costs in % of it are ill-conditioned. Each change's full table is in "
        "`results/adaptation/sensor_offset_physical/<change>/report.md`.",
        (f"{_SENSOR_PHYSICAL}/stiff_joints_at_300/reward_around_onset.png",),
    ),
    Section(
        "adaptation-damage-homeostat",
        "The sensor task's homeostatic SNN trained on damage (HalfCheetah, 5 seeds)",
        (*(f"{_DAMAGE_HOMEO}/{d}" for d, _, _ in _DAMAGE_HOMEO_CHANGES), "adaptation"),
        lambda root: _adaptation_damage(
            root,
            _DAMAGE_HOMEO,
            _DAMAGE_HOMEO_CHANGES,
            "homeostatic SNN",
            control=f"{_DAMAGE_HOMEO}/freeze_control.json",
        ),
        "The sensor task's two feed-forward arms (64 LIF: the homeostat on a constant row, "
        "and the same network with a trained fixed bias) trained on the damage task instead, "
        "300 generations x 32 x 1 episode (9.6M env steps), seeds 0-4 "
        '(`bash results/adaptation/train_damage_homeostat.sh`, seeds 3-4 with `SEEDS="3 4"`, '
        "added after the first three's table, `results/adaptation/damage_onset_homeostat/`), "
        "and evaluated on the damage "
        "tables' held-out episodes and on two of the sensor task's physical changes "
        '(`ARMS="homeostatic SNN=homeofixed-snn-g300;static SNN=ffstatic-snn-g300" '
        'SEEDS="0 1 2 3 4" OUT=results/adaptation/damage_onset_homeostat_5seeds bash '
        "results/adaptation/evaluate_damage_onset.sh --threads 2`, with "
        "`SUITE=configs/robustness/sensor_offset_physical.yaml` for the last two rows). The "
        "last column pairs each freeze cost with its cost under the no-change control "
        "(`results/adaptation/freeze_control.py`). One homeostatic seed (1) did not learn to "
        "run, so its shares are of a near-zero return; "
        "`results/adaptation/README.md` gives every seed. Each change's full table is in "
        "`results/adaptation/damage_onset_homeostat_5seeds/<change>/report.md`.",
        (f"{_DAMAGE_HOMEO}/back_leg_disabled_at_300/reward_around_onset.png",),
    ),
    Section(
        "adaptation-vel-lstm-es",
        "The velocity switch at one budget: LSTMs trained by the same ES (3 seeds)",
        (_VEL_LSTM_ES, "adaptation"),
        lambda root: _adaptation_with_tests(root, _VEL_LSTM_ES),
        "The velocity-switch table's arms beside two LSTMs (`agent.kind: lstm`, "
        "`configs/experiments/vel_switch_lstm_es.yaml`) trained as the SNN arms: ES "
        "(PGPE, popsize 32 x 1 episode), 60 generations (1.92M env steps), the same inputs "
        "(previous action and reward), seeds 0-2 (`results/adaptation/train_lstm_es_arms.sh`, "
        "with `HIDDEN=20` for the small one), with fast physics (bit-identical to the "
        "Gymnasium step the SNN arms took). 88 units give 40,310 parameters, about the "
        "plastic SNN's 40,112; 20 units (3,726 with these 24 inputs) is the size that solved "
        "the direction task. "
        "Evaluated on the same 10 held-out episodes per seed as the table above "
        "(`results/adaptation/evaluate_lstm_es_arms.sh`); the SNN and MLP arms' rows repeat "
        "that table's runs. Paired tests of the plastic SNN against each arm: `python "
        "results/adaptation/arms_stats.py results/adaptation/vel_switch_lstm_es`. Cells and "
        "goals as above.",
        (f"{_VEL_LSTM_ES}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-vel-g300",
        "The velocity switch at 5x the budget (3 seeds)",
        (_VEL_G300, "adaptation"),
        lambda root: _adaptation_with_tests(root, _VEL_G300),
        "The velocity-switch arms trained for 300 generations x 32 x 1 episode (9.6M env steps "
        "per run, five times the first table's budget) with fast physics and the native C step, "
        "one core per run, with an LSTM of 20 units trained by the same ES "
        "(`bash results/adaptation/train_vel_switch_long.sh`), the oracle the privileged MLP "
        "at the same budget; evaluated on the same 10 held-out episodes per seed "
        "(`bash results/adaptation/evaluate_vel_switch_long.sh --threads 1`), paired tests "
        "from `python results/adaptation/arms_stats.py results/adaptation/vel_switch_g300`. "
        "Cells and goals as above.",
        (f"{_VEL_G300}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-vel-5seeds",
        "The velocity switch at 5x the budget: the plastic and static SNNs on 5 seeds",
        (_VEL_5, f"{_VEL_5}/no_switch_control", "adaptation"),
        lambda root: _adaptation_with_tests(root, _VEL_5),
        "The 5x-budget table's plastic SNN, static SNN and oracle with two more training "
        'seeds (`ARMS="plastic_snn static_snn oracle_mlp" SEEDS="3 4" bash '
        "results/adaptation/train_vel_switch_long.sh`), all five seeds on the same held-out "
        'episodes (`ARMS="plastic SNN=plastic-snn;static SNN=static-snn" '
        'SEEDS="0 1 2 3 4" OUT=results/adaptation/vel_switch_g300_5seeds bash '
        "results/adaptation/evaluate_vel_switch_long.sh --threads 2`). The shortfall is each "
        "seed's against the same seed's oracle, then averaged, so its 95% CI is over seeds. "
        "The ablations' no-switch control and the freeze cost minus it are in "
        "`results/adaptation/vel_switch_g300_5seeds/freeze_control.json`. Cells and goals as "
        "above.",
        (f"{_VEL_5}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-vel-homeostat",
        "The velocity switch: the homeostat on a recurrent SNN (3 seeds)",
        (_VEL_HOMEO, f"{_VEL_HOMEO}/no_switch_control", "adaptation"),
        lambda root: _adaptation_with_tests(root, _VEL_HOMEO),
        "The static arm's recurrent SNN with a constant input whose row learns by the sensor "
        "task's fixed homeostat (`configs/experiments/vel_switch_homeofixed_snn.yaml`), "
        "trained as the 5x-budget arms (`ARMS=homeofixed_snn bash "
        "results/adaptation/train_vel_switch_long.sh`) and evaluated beside the static and "
        'plastic SNNs on the same held-out episodes (`ARMS="homeostatic SNN=homeofixed-snn;'
        'static SNN=static-snn;plastic SNN=plastic-snn" '
        "OUT=results/adaptation/vel_switch_homeostat bash "
        "results/adaptation/evaluate_vel_switch_long.sh --threads 2`). Its ablations' "
        "no-switch control (the same episodes without the switch, an identity change at step "
        "500: `SUITE=configs/robustness/vel_no_switch_control.yaml "
        "CONDITION=no_change_at_500@500` with the same script) and the freeze cost minus it "
        "are in `results/adaptation/vel_switch_homeostat/freeze_control.json`. Cells and "
        "goals as above.",
        (f"{_VEL_HOMEO}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-vel-ff",
        "The velocity switch: feed-forward SNNs, the body their only other memory (5 seeds)",
        (_VEL_FF, f"{_VEL_FF}/no_switch_control", "adaptation"),
        lambda root: _adaptation_with_tests(root, _VEL_FF),
        "The 5x-budget plastic and static SNNs without recurrent synapses "
        '(`agent.recurrent=false`: `ARMS="plastic_snn_ff static_snn_ff" SEEDS="0 1 2 3 4" '
        "bash results/adaptation/train_vel_switch_long.sh`), so that within an episode the "
        "plastic arm's fast weights and the body's own motion (its velocity is observed) are "
        "the only memory of the target; seeds 3-4 were added after the first three's table "
        "(`results/adaptation/vel_switch_ff/`). Evaluated beside the recurrent arms on the same "
        'held-out episodes (`ARMS="plastic SNN (ff)=plastic-snn-ff;static SNN (ff)=static-snn-ff;'
        'plastic SNN=plastic-snn;static SNN=static-snn" SEEDS="0 1 2 3 4" '
        "OUT=results/adaptation/vel_switch_ff_5seeds bash "
        "results/adaptation/evaluate_vel_switch_long.sh --threads 2`); the ablations' "
        "no-switch control and the freeze cost minus it are in "
        "`results/adaptation/vel_switch_ff_5seeds/freeze_control.json`. Cells and goals as "
        "above.",
        (f"{_VEL_FF}/reward_around_onset.png",),
    ),
    Section(
        "adaptation-damage-lstm-es",
        "Damage at a random onset at one budget: LSTMs trained by the same ES (3 seeds)",
        (*(f"{_DAMAGE_LSTM_ES}/{d}" for d, _, _ in _DAMAGE), "adaptation"),
        _adaptation_damage_lstm,
        "The damage-onset table's plastic and static SNNs beside two LSTMs trained exactly as "
        "they were (`configs/experiments/damage_onset_lstm_es.yaml`: ES, PGPE, popsize 32 x "
        "1 episode, 60 generations, 1.92M env steps, the same training damages and inputs, "
        "seeds 0-2; `results/adaptation/train_lstm_es_arms.sh`, `HIDDEN=20` for the small "
        "one), on the same held-out episodes with each change from step 300 "
        "(`results/adaptation/evaluate_lstm_es_arms.sh`). Cells: return under the change, "
        "mean ± 95% Student-t half-width over the 3 seeds, and in brackets that mean as a "
        "share of the same arm's mean return on the same episodes without the change (the "
        "ratio of seed means); the last columns: the plastic SNN's paired return difference "
        "with each LSTM and the paired t-test's p (`python results/adaptation/arms_stats.py "
        "results/adaptation/damage_onset_lstm_es/*`). Each change's full table is in "
        "`results/adaptation/damage_onset_lstm_es/<change>/report.md`.",
        (f"{_DAMAGE_LSTM_ES}/front_leg_disabled_at_300/reward_around_onset.png",),
    ),
    Section(
        "delays",
        "Delays and sparsity (digits scanned row by row)",
        ("delays", "delays_rewiring"),
        _delays,
        "Two feed-forward layers of 64 LIF without recurrence, so combining rows needs membrane "
        "memory or delays; test accuracy, mean ± 95% CI over seeds 0, 1, 2.",
    ),
)


def _section(name: str) -> Section:
    for section in SECTIONS:
        if section.name == name:
            return section
    raise ReportError(
        f"the README names report section {name!r}; sections: {[s.name for s in SECTIONS]}"
    )


def build(results: str | Path, names: Sequence[str] | None = None) -> dict[str, str]:
    """``{section name: Markdown table}`` built from the files under ``results`` (every
    section, or only ``names``).

    Raises:
        ReportError: a file a section needs is missing or malformed (named), or an unknown
            section name.
    """
    root = Path(results)
    chosen = [_section(n) for n in names] if names is not None else list(SECTIONS)
    return {s.name: s.build(root) for s in chosen}


def readme_blocks(text: str) -> dict[str, str]:
    """``{name: content}`` of the README's ``<!-- report:NAME -->`` blocks."""
    return {m[1]: m[2].rstrip("\n") for m in _BLOCK.finditer(text)}


def sync_readme(text: str, tables: dict[str, str]) -> str:
    """``text`` with every report block's content replaced by ``tables[name]``.

    Raises:
        ReportError: a block names a section that ``tables`` does not have.
    """

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        if name not in tables:
            _section(name)  # raises with the valid names when the name is unknown
            raise ReportError(f"no table built for README block {name!r}")
        return f"{BEGIN.format(name)}\n{tables[name]}\n{END.format(name)}"

    return _BLOCK.sub(replace, text)


def _commands(root: Path, section: Section) -> list[str]:
    """The command lines that made a section's files: each source's ``record.json`` (and,
    unless it is a sweep's, the ``meta.json`` of the run directories shipped under it: the
    training commands behind a robustness run), reconstructed records flagged as such. Where
    a source's ``summary.json`` names the runs it evaluated (an adaptation analysis), only
    those runs' commands are given, not every run shipped beside them."""
    lines: list[str] = []
    evaluated: set[str] = set()
    for source in section.sources:
        summary = root / source / "summary.json"
        if summary.is_file():
            named = json.loads(summary.read_text()).get("runs")
            if isinstance(named, dict):
                evaluated |= {Path(r).name for runs in named.values() for r in runs}
    for source in section.sources:
        directory = root / source
        record = directory / "record.json"
        sweep = False
        if record.is_file():
            rec = json.loads(record.read_text())
            cmds = rec.get("commands") or [rec["command"]["line"]]
            note = " (reconstructed: see its record.json)" if rec.get("reconstructed") else ""
            lines += [f"`{c}`{note}" for c in cmds]
            argv = (rec.get("command") or {}).get("argv") or []
            sweep = argv[1:2] == ["sweep"]
        runs = directory / "runs"
        if runs.is_dir() and not sweep:  # a sweep's command already made its runs
            for run in sorted(runs.iterdir()):
                meta = run / "meta.json"
                done = section.run_done is None or (run / section.run_done).is_file()
                if evaluated and run.name not in evaluated:
                    continue
                if meta.is_file() and done:
                    record = json.loads(meta.read_text())
                    # the command, then each resume that continued it, in order
                    for cmd in [
                        record["command"],
                        *(r["command"] for r in record.get("resumed", [])),
                    ]:
                        lines.append(f"`{_command_line(cmd)}`")
    return lines


def _command_line(cmd: list[str] | dict[str, Any]) -> str:
    """A run's recorded command as a line, the program by its name (not the install path):
    ``meta.json`` holds the argv, its ``resumed`` entries ``{"argv", "line"}`` (early ones the
    argv)."""
    argv = cmd["argv"] if isinstance(cmd, dict) else cmd
    return " ".join([Path(argv[0]).name, *argv[1:]]) if argv else ""


def docs_page(results: str | Path, tables: dict[str, str] | None = None) -> str:
    """The full results page (``docs/results.md``): every section's table with what it
    measures, the commands from its records, its source files and figures."""
    root = Path(results)
    tables = tables if tables is not None else build(root)
    out = [
        "# Results",
        "",
        "Generated by `plasticagents report` from the files under `results/`; do not edit by "
        "hand. Each table lists the commands that made it (from the `record.json` of its "
        "directory and the `meta.json` of its run directories: commit, package versions, "
        "machine, dates and wall time are recorded there).",
        "",
    ]
    for section in SECTIONS:
        if not section.on_docs:
            continue
        out += [f"## {section.title}", "", section.about, "", tables[section.name], ""]
        commands = _commands(root, section)
        if commands:
            out += ["Made by:", ""] + [f"- {c}" for c in commands] + [""]
        sources = ", ".join(f"`results/{s}/`" for s in section.sources)
        out += [f"Files: {sources}", ""]
        for fig in section.figures:
            out += [f"![{section.title}](../results/{fig})", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def run_report(
    results: str | Path = "results",
    readme: str | Path = "README.md",
    docs: str | Path = "docs/results.md",
    check: bool = False,
) -> list[str]:
    """Build every table, then write ``docs`` and the README's report blocks (or, with
    ``check``, write nothing). Returns the paths that differ from what the files give (with
    ``check``) or that were rewritten."""
    tables = build(results)
    readme, docs = Path(readme), Path(docs)
    changed = []
    text = readme.read_text()
    new_text = sync_readme(text, tables)
    page = docs_page(results, tables)
    for path, old, new in (
        (readme, text, new_text),
        (docs, docs.read_text() if docs.is_file() else "", page),
    ):
        if old != new:
            changed.append(str(path))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(new)
    return changed


def measure_cue_references(
    out: str | Path = "results/cue_references", episodes: int = 1000, seed: int = 0
) -> Path:
    """Measure the cue task's reference players (:func:`~plasticagents.envs.temporal.
    cue_reference_returns`: the oracle and the Bayesian learner) at noise 0, 0.5 and 1.0 over
    ``episodes`` seeded episodes and write them with their provenance to
    ``out/record.json`` (``plasticagents report --measure cue-references``)."""
    from plasticagents.envs.temporal import cue_reference_returns
    from plasticagents.training.record import Recorder

    argv = [
        "plasticagents",
        "report",
        "--measure",
        "cue-references",
        "--results",
        str(Path(out).parent),
    ]
    recorder = Recorder(argv)
    returns = {}
    for noise in _NOISE:
        refs = cue_reference_returns(episodes=episodes, seed=seed, noise=float(noise))
        returns[noise] = {"oracle": refs["oracle"], "bayesian": refs["bayes_learner"]}
    outputs = {"env": "plasticagents/CueDelayAssociation-v0", "episodes": episodes, "seed": seed}
    return recorder.write(Path(out) / "record.json", outputs={**outputs, "returns": returns})
