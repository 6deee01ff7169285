import csv
import json
import math
import re

import numpy as np
import pytest

from plasticagents.training.analysis.evaluate import evaluate_run
from plasticagents.training.analysis.robustness import (
    conditions_of,
    mean_ci,
    onset_metrics,
    paired_difference,
    paired_ratio,
    recovery_time,
    run_robustness,
)
from plasticagents.training.cli import main

SUITE = """\
env: HalfCheetah-v5
episodes: 3
perturbations:
  - {name: heavy, type: scale_body_mass, sweep: {scale: [0.5, 2.0]}}
  - {name: bthigh, type: cripple_leg, leg: bthigh, onsets: [0, 40]}
"""


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return path


def test_recovery_time_on_a_synthetic_reward_trace():
    r = np.concatenate([np.ones(100), np.zeros(30), np.ones(100)])
    # forward windows of 10 reach 0.8 once 8 of their 10 steps are past the 30-step dip
    assert recovery_time(r, onset=100, window=10, fraction=0.8) == 28
    assert recovery_time(r, onset=100, window=10, fraction=1.0) == 30
    assert recovery_time(np.ones(200), onset=100, window=10) == 0  # nothing to recover from
    dip_forever = np.concatenate([np.ones(100), np.zeros(100)])
    assert math.isnan(recovery_time(dip_forever, onset=100, window=10))
    assert math.isnan(recovery_time(np.ones(50), onset=5, window=10))  # too early to measure
    # a negative level: the target sits (1 - fraction) * |pre| below it
    neg = np.concatenate([-np.ones(100), -3 * np.ones(20), -1.1 * np.ones(50)])
    assert recovery_time(neg, onset=100, window=10, fraction=0.8) == 20
    m = onset_metrics(r, onset=100, window=10)
    assert (m["reward_before"], m["reward_after"], m["recovery_steps"]) == (1.0, 0.0, 28)


def test_mean_ci_matches_the_t_interval():
    mean, half, n = mean_ci([1.0, 2.0, 3.0, float("nan")])
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)
    assert math.isnan(mean_ci([5.0])[1])


def _width(interval):
    return interval[2] - interval[1]


def test_the_paired_ratio_interval_covers_the_true_ratio():
    # A noisy nominal return (cv 0.4 per episode) under a quieter perturbed one (cv 0.1): an
    # interval that ignored the denominator's noise would cover the true 0.8 about a third of
    # the time. The percentile bootstrap at n = 20 covers about 93%.
    rng = np.random.default_rng(0)
    trials, covered = 200, 0
    for t in range(trials):
        den = rng.normal(100.0, 40.0, 20)
        num = rng.normal(80.0, 8.0, 20)
        _, low, high = paired_ratio(num, den, n_boot=1000, seed=t)
        covered += low <= 0.8 <= high
    assert covered / trials >= 0.85


def test_the_paired_ratio_interval_carries_the_denominators_uncertainty():
    rng = np.random.default_rng(1)
    den = rng.normal(100.0, 40.0, 10)
    num = rng.normal(80.0, 8.0, 10)
    both = paired_ratio(num, den, n_boot=4000)
    numerator_only = paired_ratio(num, np.full(10, den.mean()), n_boot=4000)
    assert both[0] == pytest.approx(numerator_only[0])  # the same ratio of means
    assert both[1] < both[0] < both[2]
    assert _width(both) > 2 * _width(numerator_only)


def test_a_constant_ratio_has_an_interval_of_zero_width():
    rng = np.random.default_rng(2)
    den = rng.normal(1000.0, 300.0, 10)  # however noisy the nominal returns...
    ratio, low, high = paired_ratio(0.7 * den, den, n_boot=2000)
    assert (ratio, low, high) == pytest.approx((0.7, 0.7, 0.7), abs=1e-12)  # ...same every time
    d, low, high = paired_difference(0.7 * den, 0.7 * den, a_denominator=den, b_denominator=den)
    assert (d, low, high) == pytest.approx((0.0, 0.0, 0.0), abs=1e-12)


def test_pairing_narrows_the_interval_of_correlated_episodes():
    # Episode difficulty (the seed's start) moves the perturbed and the nominal return alike:
    # resampling the episodes jointly cancels it, breaking the pairs (a shuffle) does not.
    rng = np.random.default_rng(3)
    base = rng.normal(1000.0, 300.0, 10)
    den = base + rng.normal(0.0, 30.0, 10)
    num = 0.8 * base + rng.normal(0.0, 30.0, 10)
    paired = paired_ratio(num, den, n_boot=4000)
    unpaired = paired_ratio(num, rng.permutation(den), n_boot=4000)
    assert _width(paired) < 0.5 * _width(unpaired)
    # the same for two agents on the same episodes: A = B + 50 in every episode, give or take
    a = base + 50.0 + rng.normal(0.0, 20.0, 10)
    diff = paired_difference(a, base, n_boot=4000)
    assert diff[0] == pytest.approx(np.mean(a - base))
    assert 0 < diff[1] < diff[2]  # A better on these episodes
    assert _width(diff) < 0.5 * _width(paired_difference(a, rng.permutation(base), n_boot=4000))


def test_paired_statistics_edge_cases():
    nan = float("nan")
    # a non-finite member drops its pair; one pair left gives no interval
    assert paired_ratio([1.0, nan], [2.0, 2.0])[0] == 0.5
    assert math.isnan(paired_ratio([1.0, nan], [2.0, 2.0])[1])
    assert all(math.isnan(v) for v in paired_ratio([], []))
    assert all(math.isnan(v) for v in paired_ratio([1.0, 2.0], [1.0, -1.0]))  # mean 0
    with pytest.raises(ValueError, match="equal lengths"):
        paired_ratio([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="both denominators"):
        paired_difference([1.0, 2.0], [1.0, 2.0], a_denominator=[1.0, 1.0])
    x, y = [1.0, 3.0, 2.0, 5.0], [2.0, 2.0, 3.0, 4.0]
    assert paired_ratio(x, y, seed=7) == paired_ratio(x, y, seed=7)  # seeded: reproducible
    assert paired_difference(x, y, a_denominator=y, b_denominator=x)[0] == pytest.approx(
        np.mean(x) / np.mean(y) - np.mean(y) / np.mean(x)
    )


def _write_report(returns, path):
    """``write_report`` on rows holding only the returns ``{(agent, condition): [episodes]}``."""
    from plasticagents.training.analysis.robustness import write_report

    nan = float("nan")
    rows = [
        {"agent": a, "run": f"runs/{a}", "condition": c, "episode": k, "return": float(x)}
        | dict.fromkeys(["reward_before", "spikes_per_step", "weight_change"], nan)
        | {"diverged": False}
        for (a, c), xs in returns.items()
        for k, x in enumerate(xs)
    ]
    info = {"env": "E", "max_episode_steps": 5, "suite": "s.yaml", "episodes": 6, "seed": 0}
    write_report(rows, path, {**info, "checkpoint": "best"})


def test_the_report_compares_agents_on_their_paired_episodes(tmp_path):
    from plasticagents.training.analysis.robustness import agent_pairs

    rng = np.random.default_rng(4)
    base = rng.normal(1000.0, 200.0, 6)
    returns = {
        ("a", "nominal"): base,
        ("a", "leg"): 0.9 * base,
        ("b", "nominal"): base + 100.0,
        ("b", "leg"): 0.6 * base,
    }
    _write_report(returns, tmp_path / "report.md")
    report = (tmp_path / "report.md").read_text()
    r = paired_ratio(0.6 * base, base + 100.0)
    # a's constant ratio is exact; b's carries the spread of its nominal returns
    assert f"| leg | **0.900 [0.900, 0.900]** | {r[0]:.3f} [{r[1]:.3f}, {r[2]:.3f}] |" in report
    d = paired_difference(0.9 * base, 0.6 * base, a_denominator=base, b_denominator=base + 100.0)
    assert f"| leg | {d[0]:.3f} [{d[1]:.3f}, {d[2]:.3f}] |" in report  # the ratio difference
    assert "| nominal | -100.0 [-100.0, -100.0] |" in report  # the return difference
    assert agent_pairs(["a", "b", "a [lesion]", "c"]) == [
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
        ("a", "a [lesion]"),
    ]


def test_an_agent_with_a_nominal_return_near_zero_is_never_bolded(tmp_path):
    """Dividing by a nominal return whose CI includes 0 gives a huge ratio (the MLP on Ant):
    it is shown but not marked best."""

    rng = np.random.default_rng(5)
    base = rng.normal(1000.0, 50.0, 6)
    near_zero = np.array([30.0, -20.0, 25.0, -15.0, 10.0, 5.0])
    returns = {
        ("walker", "nominal"): base,
        ("walker", "leg"): 0.8 * base,
        ("stander", "nominal"): near_zero,
        ("stander", "leg"): near_zero + 40.0,  # ratio of means 7.9: "better" by division only
    }
    _write_report(returns, tmp_path / "report.md")
    line = next(x for x in (tmp_path / "report.md").read_text().splitlines() if "| leg | " in x)
    assert line.startswith("| leg | **0.800 [0.800, 0.800]** | 7.857 [")


def test_suite_expands_sweeps_and_onsets(suite):
    from plasticagents.envs import load_suite

    names = [c.name for c in conditions_of(load_suite(suite))]
    assert names == ["nominal", "heavy[scale=0.5]", "heavy[scale=2.0]", "bthigh@0", "bthigh@40"]


def test_robustness_outputs_match_a_direct_re_evaluation(trained, suite, tmp_path):
    out = tmp_path / "rob"
    rows = run_robustness([trained], suite, out, threads=1, window=10, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [
        "record.json",
        "report.md",
        "return_ratio.png",
        "reward_around_onset.png",
        "robustness.csv",
    ]
    with open(out / "robustness.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == len(rows) == 5 * 3
    by_cond = {}
    for row in table:
        by_cond.setdefault(row["condition"], []).append(float(row["return"]))
    direct = {
        "nominal": evaluate_run(trained, episodes=3, seed=0, perturbations=[], threads=1),
        "heavy[scale=2.0]": evaluate_run(
            trained,
            episodes=3,
            seed=0,
            perturbations=[{"type": "scale_body_mass", "scale": 2.0}],
            threads=1,
        ),
        "bthigh@40": evaluate_run(
            trained,
            episodes=3,
            seed=0,
            perturbations=[{"type": "cripple_leg", "leg": "bthigh", "onset": 40}],
            threads=1,
        ),
    }
    for cond, returns in direct.items():
        np.testing.assert_allclose(by_cond[cond], returns, rtol=1e-4, atol=1e-4, err_msg=cond)
    nominal = np.mean(by_cond["nominal"])
    for row in table:
        assert float(row["nominal_return"]) == pytest.approx(nominal)
        assert float(row["return_ratio"]) == pytest.approx(float(row["return"]) / nominal)
        assert float(row["spikes_per_step"]) > 0
        assert float(row["weight_change"]) > 0  # the plastic synapses moved
        onset_row = row["condition"] == "bthigh@40"
        assert (row["onset"], row["reward_before"] != "") == (
            ("40", True) if onset_row else ("0", False)
        )
    report = (out / "report.md").read_text()
    cell = re.search(r"\| tiny-plastic \| `[^`]+` \| (-?\d+\.\d) ± ", report).group(1)
    assert float(cell) == pytest.approx(nominal, abs=0.051)
    # the return ratio: ratio of means with its paired bootstrap interval
    heavy = [r for r in table if r["condition"] == "heavy[scale=2.0]"]
    nominal_returns = [float(r["return"]) for r in table if r["condition"] == "nominal"]
    ratio, low, high = paired_ratio([float(r["return"]) for r in heavy], nominal_returns)
    assert f"| heavy[scale=2.0] | {ratio:.3f} [{low:.3f}, {high:.3f}] |" in report
    assert "| nominal | 1 (reference) |" in report
    record = json.loads((out / "record.json").read_text())
    line = record["command"]["line"]
    assert line.startswith(f"plasticagents robustness {trained} --suite {suite} --out {out}")
    assert record["outputs"]["episodes"] == 3 and record["wall_time_s"] > 0
    assert record["outputs"]["return_ratio"]["tiny-plastic"]["heavy[scale=2.0]"] == (
        pytest.approx([ratio, low, high])
    )
    assert record["outputs"]["agents"] == {"tiny-plastic": str(trained)}


def test_an_onset_the_episode_never_reaches_leaves_its_onset_metrics_empty(trained, tmp_path):
    # An Ant that falls before its leg is disabled (seen on the held-out-leg suite) ends its
    # episode before the onset: its row is kept, with no before/after numbers to make up.
    suite = tmp_path / "late.yaml"
    suite.write_text(
        "env: HalfCheetah-v5\nperturbations:\n"
        "  - {name: late, type: cripple_leg, leg: bthigh, onset: 130}\n"
    )
    rows = run_robustness(
        [trained], suite, tmp_path / "rob", episodes=2, threads=1, window=10, progress=False
    )
    late = [r for r in rows if r["condition"] == "late"]
    assert [r["length"] for r in late] == [80, 80]  # the run's 80-step cap, onset never reached
    assert [r["onset"] for r in late] == [130, 130]  # as scheduled
    assert all(math.isnan(r["reward_after"]) and math.isnan(r["recovery_steps"]) for r in late)
    nominal = [r["return"] for r in rows if r["condition"] == "nominal"]
    assert [r["return"] for r in late] == pytest.approx(nominal, rel=1e-5)  # never perturbed


def test_a_random_onset_is_the_one_each_episode_drew(trained, tmp_path):
    from plasticagents.envs import make_env

    spec = {"type": "cripple_leg", "leg": "bthigh", "onset_range": [15, 60]}
    suite = tmp_path / "drawn.yaml"
    suite.write_text(
        "env: HalfCheetah-v5\nperturbations:\n"
        "  - {name: drawn, type: cripple_leg, leg: bthigh, onset_range: [15, 60]}\n"
    )
    rows = run_robustness(
        [trained], suite, tmp_path / "rob", episodes=3, threads=1, window=10, progress=False
    )
    drawn = [r for r in rows if r["condition"] == "drawn"]
    for row in drawn:
        env = make_env("HalfCheetah-v5", [spec])
        _, info = env.reset(seed=row["seed"])
        env.close()
        assert row["onset"] == info["perturbation"]["CrippleLeg"]["onset"]
        assert not math.isnan(row["reward_before"]) and not math.isnan(row["reward_after"])
    assert len({row["onset"] for row in drawn}) > 1


def test_robustness_refuses_to_overwrite_and_checks_its_inputs(trained, suite, tmp_path):
    out = tmp_path / "rob"
    run_robustness([trained], suite, out, episodes=1, threads=1, progress=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_robustness([trained], suite, out, episodes=1, threads=1, progress=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("perturbations:\n  - {name: x, type: melt_robot}\n")
    with pytest.raises(ValueError, match="unknown perturbation type 'melt_robot'; valid choices"):
        run_robustness([trained], bad, tmp_path / "o", progress=False)
    bad.write_text("perturbations:\n  - {name: x, type: scale_body_mass, sweep: {scal: [1]}}\n")
    with pytest.raises(ValueError, match="unknown parameter 'scal' for scale_body_mass"):
        run_robustness([trained], bad, tmp_path / "o", progress=False)
    ant = tmp_path / "ant.yaml"
    ant.write_text("env: Ant-v5\nperturbations: []\n")
    with pytest.raises(ValueError, match=r"trained on HalfCheetah-v5 \(observation 17, action 6\)"):
        run_robustness([trained], ant, tmp_path / "o", progress=False)
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="not-a-run"):
        run_robustness([empty], suite, tmp_path / "o", progress=False)


def test_robustness_command(trained, suite, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["robustness", str(trained), "--suite", str(suite), "--out", str(out)]
    assert main([*argv, "--episodes", "1", "--threads", "1", "--max-steps", "60"]) == 0
    printed = capsys.readouterr().out
    assert "## Return relative to the agent's nominal return" in printed
    assert "5 episodes ->" in printed
    assert main(argv) == 2  # exists: one error line, no traceback
    assert "--overwrite" in capsys.readouterr().err


def test_a_goal_switch_is_an_onset_of_the_nominal_condition(trained, tmp_path):
    """On a hidden-goal task the adaptation metrics align on the first goal switch."""
    import yaml

    suite = tmp_path / "goal.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "env": "plasticagents/HalfCheetahVelSwitch-v0",
                "episodes": 2,
                "max_episode_steps": 420,
                "perturbations": [
                    {"name": "leg", "type": "cripple_leg", "leg": "bthigh", "onsets": [100]}
                ],
            }
        )
    )
    # seed 2: the two episodes switch their goals at steps 366 and 370
    rows = run_robustness([trained], suite, tmp_path / "out", seed=2, threads=1, progress=False)
    nominal = [r for r in rows if r["condition"] == "nominal"]
    assert [(r["event"], r["onset"]) for r in nominal] == [
        ("goal switch", 366),
        ("goal switch", 370),
    ]
    assert all(r["reward_after"] == r["reward_after"] for r in nominal)  # measured (not NaN)
    leg = [r for r in rows if r["condition"] == "leg@100"]
    assert all(r["event"] == "perturbation" and r["onset"] == 100 for r in leg)
    assert "goal switches" in (tmp_path / "out" / "report.md").read_text()


def test_time_to_level_on_a_synthetic_trace():
    from plasticagents.training.analysis.robustness import time_to_level

    r = np.r_[np.ones(100), np.zeros(30), np.full(100, 2.0)]  # drop at 100, back at 130
    assert time_to_level(r, 100, 2.0, window=10, fraction=0.8) == 28  # 8 of 10 steps at 2
    assert time_to_level(r, 100, 1.0, window=10, fraction=0.8) == 24  # 4 of 10 steps at 2
    assert math.isnan(time_to_level(r, 100, 5.0, window=10))  # never there
    assert math.isnan(time_to_level(r, 225, 1.0, window=10))  # too short after the onset


def test_adaptation_time_is_measured_against_the_privileged_oracle(trained, tmp_path):
    import yaml

    from plasticagents.training import load_config, train

    oracle = train(
        load_config(
            "configs/smoke/es.yaml",
            [
                "name=oracle",
                "env.id=plasticagents/HalfCheetahVelSwitchPrivileged-v0",
                "trainer.generations=1",
            ],
        ),
        runs_dir=tmp_path,
        log=lambda m: None,
        tensorboard=False,
    ).run
    suite = tmp_path / "goal.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "env": "plasticagents/HalfCheetahVelSwitch-v0",
                "episodes": 2,
                "max_episode_steps": 420,
                "perturbations": [],
            }
        )
    )
    rows = run_robustness(
        [trained], suite, tmp_path / "out", seed=2, threads=1, progress=False, oracle=oracle
    )
    by = {(r["agent"], r["episode"]): r for r in rows}
    assert {a for a, _ in by} == {"oracle (oracle)", "tiny-plastic"}
    for k in range(2):
        o, a = by[("oracle (oracle)", k)], by[("tiny-plastic", k)]
        assert o["onset"] == a["onset"] and o["event"] == "goal switch"  # same switch
        level = o["reward_rest"]
        expected = time_to_level_of(a, level, tmp_path)
        assert a["adaptation_steps"] == expected or (
            math.isnan(expected) and math.isnan(a["adaptation_steps"])
        )
    assert "Adaptation time against the oracle" in (tmp_path / "out" / "report.md").read_text()


def time_to_level_of(row, level, tmp_path):
    """Recompute one row's adaptation time from a fresh rollout of the same episode."""
    from plasticagents.training.analysis.evaluate import load_policy
    from plasticagents.training.analysis.robustness import time_to_level
    from plasticagents.training.builders import env_maker
    from plasticagents.training.rollout import EnvPool, rollout

    loaded = load_policy(row["run"])
    cfg = loaded.env_config(row["env"], [], 420)
    pool = EnvPool([env_maker(cfg)])
    try:
        result = rollout(loaded.agent(cfg), pool, [row["seed"]], record=("rewards",))
    finally:
        pool.close()
    rewards = np.stack(result.trajectory["rewards"])[:, 0]
    return time_to_level(rewards, row["onset"], level, window=50, fraction=0.8)


def test_a_suite_can_change_the_task_for_every_run_and_the_oracle(trained, tmp_path):
    """A suite's ``env_kwargs`` (a switch schedule never trained on) reach every run and the
    privileged oracle; report and record say the task was changed."""
    import yaml

    from plasticagents.training import load_config, train

    overrides = [
        "name=oracle",
        "env.id=plasticagents/HalfCheetahVelSwitchPrivileged-v0",
        "trainer.generations=1",
    ]
    oracle = train(
        load_config("configs/smoke/es.yaml", overrides),
        runs_dir=tmp_path,
        log=lambda m: None,
        tensorboard=False,
    ).run
    suite = tmp_path / "held_out.yaml"
    base = {"env": "plasticagents/HalfCheetahVelSwitch-v0", "episodes": 2, "perturbations": []}
    suite.write_text(yaml.safe_dump({**base, "env_kwargs": {"switch_range": [40, 40]}}))
    out = tmp_path / "out"
    rows = run_robustness([trained], suite, out, threads=1, progress=False, oracle=oracle)
    assert {r["agent"] for r in rows} == {"oracle (oracle)", "tiny-plastic"}
    assert {r["onset"] for r in rows} == {40}  # the registered range is 300..700
    assert "The task changed for this evaluation" in (out / "report.md").read_text()
    record = json.loads((out / "record.json").read_text())
    assert record["outputs"]["env_kwargs"] == {"switch_range": [40, 40]}


def test_suite_kwargs_go_over_the_runs_own_and_name_a_clash():
    from plasticagents.training.analysis.robustness import with_suite_kwargs
    from plasticagents.training.config import EnvConfig

    own = {"switch_range": None, "switch_every": 250}  # as the direction task's runs
    cued = EnvConfig(id="plasticagents/HalfCheetahDirSwitch-v0", kwargs=own)
    suite = {"env_kwargs": {"switch_every": 400, "cue_steps": 5}}
    got = with_suite_kwargs(cued, suite, "s.yaml").kwargs
    assert got == {"switch_range": None, "switch_every": 400, "cue_steps": 5}
    # the privileged oracle sees the goal always: what only sets the arms' view is dropped
    privileged = EnvConfig(id="plasticagents/HalfCheetahDirSwitchPrivileged-v0", kwargs=own)
    got = with_suite_kwargs(privileged, suite, "s.yaml", oracle=True).kwargs
    assert got == {"switch_range": None, "switch_every": 400}
    clash = {"env_kwargs": {"switch_range": [100, 200]}}
    with pytest.raises(ValueError, match=r"'s\.yaml'.*'switch_every': 250.*give at most one"):
        with_suite_kwargs(cued, clash, "s.yaml")
    none = {"env_kwargs": {}}
    assert with_suite_kwargs(cued, none, "s.yaml") is cued
