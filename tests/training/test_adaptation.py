"""The adaptation experiment's analysis (``plasticagents adaptation``): arms x seeds around a
goal switch, against the oracle, with the plastic arm's ablations."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from plasticagents.training.analysis.adaptation import (
    _cost,
    _kept,
    _shortfall,
    _weight_traces,
    run_adaptation,
    without_switch,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A static SNN and a privileged oracle, one generation each (the plastic run is the
    session's ``trained`` fixture)."""
    from plasticagents.training import load_config, train

    root = tmp_path_factory.mktemp("adaptation-runs")
    made = {}
    for seed in (0, 1):  # two training seeds of the static arm and of the oracle
        for name, overrides in {
            "static": ["name=static", "trainer.generations=1", "agent.plasticity=null"],
            "oracle": [
                "name=oracle",
                "env.id=plasticagents/HalfCheetahVelSwitchPrivileged-v0",
                "trainer.generations=1",
            ],
        }.items():
            cfg = load_config("configs/smoke/es.yaml", [*overrides, f"seed={seed}"])
            run = train(cfg, runs_dir=root, log=lambda m: None, tensorboard=False).run
            made.setdefault(name, []).append(run)
    # plastic, modulated, seeing its previous action and reward (the registered switch range;
    # gain 6: at the smoke config's 2 this barely-trained net falls silent and its weights freeze)
    cfg = load_config(
        "configs/smoke/adaptation.yaml",
        ["name=plastic", "env.kwargs={}", "trainer.generations=1", "agent.gain=6.0"],
    )
    made["plastic"] = [train(cfg, runs_dir=root, log=lambda m: None, tensorboard=False).run] * 2
    return made


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "goal.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "env": "plasticagents/HalfCheetahVelSwitch-v0",
                "episodes": 2,
                "max_episode_steps": 420,
                "perturbations": [],
            }
        )
    )
    return path


def _static_switch_run(root, name, env_kwargs):
    """A static SNN trained one generation on the velocity-switch task with ``env_kwargs``."""
    from plasticagents.training import load_config, train

    overrides = [
        f"name={name}",
        "trainer.generations=1",
        "agent.plasticity=null",
        "env.id=plasticagents/HalfCheetahVelSwitch-v0",
        f"env.kwargs={env_kwargs}",
    ]
    cfg = load_config("configs/smoke/es.yaml", overrides)
    return train(cfg, runs_dir=root, log=lambda m: None, tensorboard=False).run


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_the_summary_is_computed_per_seed_from_the_episodes(runs, suite, tmp_path):
    """Every summary figure is the seed-level statistic of the episodes in episodes.csv: per
    seed, the mean over that seed's episodes; the shortfall against the same seed's oracle;
    the ablation cost against the same seed's intact agent."""
    out = tmp_path / "out"
    # seed 2: the two held-out episodes switch their goals at steps 366 and 370
    arms = {"plastic": runs["plastic"], "static": runs["static"]}
    summary = run_adaptation(
        arms,
        suite,
        out,
        oracle=runs["oracle"],
        seed=2,
        threads=1,
        progress=False,
    )
    rows = _rows(out / "episodes.csv")
    agents = {r["agent"] for r in rows}
    assert agents == {
        "oracle",
        "plastic",
        "plastic [freeze-at-onset]",
        "plastic [lesion]",
        "plastic [reset-at-onset]",
        "static",  # not plastic: no ablations
    }
    assert {r["onset"] for r in rows} == {"366", "370"}
    for r in rows:  # seed index i is every arm's i-th run, and the oracle's
        assert r["run"] == str({**arms, "oracle": runs["oracle"]}[r["arm"]][int(r["seed_index"])])

    def seed_mean(agent, i, key):
        vals = [float(r[key]) for r in rows if (r["agent"], r["seed_index"]) == (agent, str(i))]
        assert len(vals) == 2
        return np.mean(vals)

    for agent, entry in summary["agents"].items():
        per_seed = entry["return"]["per_seed"]
        assert per_seed == pytest.approx([seed_mean(agent, i, "return") for i in (0, 1)])
    for i in (0, 1):  # against the same seed's oracle (the two oracles differ)
        oracle_rest = seed_mean("oracle", i, "reward_rest")
        rest = seed_mean("static", i, "reward_rest")
        got = summary["agents"]["static"]["oracle_shortfall_pct"]["per_seed"][i]
        assert got == pytest.approx(100 * (oracle_rest - rest) / abs(oracle_rest))
    assert seed_mean("oracle", 0, "return") != seed_mean("oracle", 1, "return")
    intact = seed_mean("plastic", 1, "reward_rest")
    frozen = seed_mean("plastic [freeze-at-onset]", 1, "reward_rest")
    cost = summary["ablation_cost_pp"]["plastic [freeze-at-onset]"]["per_seed"][1]
    assert cost == pytest.approx(100 * (intact - frozen) / abs(intact))
    diff = summary["differences"]["plastic − static"]["return"]["per_seed"]
    expected = [
        seed_mean("plastic", i, "return") - seed_mean("static", i, "return") for i in (0, 1)
    ]
    assert diff == pytest.approx(expected)
    assert list(summary["differences"]) == ["plastic − static"]  # each pair once
    # the same run twice: the two seed indices agree exactly, so the interval has no width
    assert summary["agents"]["plastic"]["return"]["half"] == 0.0
    assert summary["weight_response_pct"]["plastic"]["n"] == 2
    assert len(summary["goals"]) == 4
    assert all(isinstance(g["met"], bool) for g in summary["goals"])
    assert (
        json.loads((out / "summary.json").read_text())["agents"].keys() == summary["agents"].keys()
    )
    record = json.loads((out / "record.json").read_text())
    assert record["outputs"]["seeds"] == 2 and record["wall_time_s"] > 0
    report = (out / "report.md").read_text()
    assert "| plastic [freeze-at-onset] |" in report and "## Goals" in report
    assert (out / "reward_around_onset.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileExistsError, match="--overwrite"):
        run_adaptation({"plastic": runs["plastic"][:1]}, suite, out, seed=2, progress=False)


def test_a_cued_arm_is_measured_against_the_privileged_oracle(runs, suite, tmp_path):
    """Arms shown the goal only after each draw (``cue_steps``) meet the oracle on the
    privileged twin of the same task: the switch schedule is shared, the cue is not."""
    cued = _static_switch_run(tmp_path, "cued", "{cue_steps: 10}")
    summary = run_adaptation(
        {"cued": [cued, cued]},
        suite,
        tmp_path / "out",
        oracle=runs["oracle"],
        seed=2,  # both held-out episodes switch before the suite's 420-step cap
        threads=1,
        progress=False,
    )
    rows = _rows(tmp_path / "out" / "episodes.csv")

    def switches(agent):
        return {(r["seed_index"], r["episode"], r["onset"]) for r in rows if r["agent"] == agent}

    assert switches("cued") == switches("oracle") and len(switches("cued")) == 4
    assert np.isfinite(summary["agents"]["cued"]["oracle_shortfall_pct"]["mean"])


def test_the_fast_weights_differ_only_from_the_switch_on(runs):
    """The unchanged episode is the same episode up to the onset: same seeds, same first goal;
    the fast weights' norm is identical before the switch and departs from it after."""
    from plasticagents.training.analysis.evaluate import load_policy
    from plasticagents.training.analysis.robustness import episode_seed_list

    lp = load_policy(runs["plastic"][0])  # sees its reward: the switch reaches it
    switch = lp.env_config("plasticagents/HalfCheetahVelSwitch-v0", [], 420)
    still = without_switch(switch)
    seeds = episode_seed_list(2, 2)  # goals switch at steps 366 and 370
    w_on, onsets = _weight_traces(lp, switch, [], seeds, threads=1)
    w_off, none = _weight_traces(lp, still, [], seeds, threads=1)
    assert none == [None, None]
    for k, t0 in enumerate(onsets):
        assert t0 in (366, 370)
        np.testing.assert_array_equal(w_on[k, :t0], w_off[k, :t0])
        assert np.abs(w_on[k, t0 + 1 :] - w_off[k, t0 + 1 :]).max() > 1e-6


def test_shortfall_and_ablation_cost_keep_their_sign_for_negative_rewards():
    # the oracle at -0.5 per step: an agent at -0.6 falls 20% short, one at -0.4 is above it
    assert _shortfall(-0.6, -0.5) == pytest.approx(20.0)
    assert _shortfall(-0.4, -0.5) == pytest.approx(-20.0)
    assert _shortfall(0.8, 1.0) == pytest.approx(20.0)
    # an ablation that lowers the reward costs points, whatever the reward's sign
    assert _cost(-0.5, -0.6) == pytest.approx(20.0)
    assert _cost(1.0, 0.9) == pytest.approx(10.0)
    assert _cost(1.0, 1.1) == pytest.approx(-10.0)


def test_bad_arms_are_named(trained, runs, suite, tmp_path):
    with pytest.raises(ValueError, match="same number of runs"):
        arms = {"plastic": runs["plastic"], "static": runs["static"]}
        run_adaptation(arms, suite, tmp_path / "a", oracle=runs["oracle"][:1])
    with pytest.raises(ValueError, match="unknown condition 'leg'.*nominal"):
        run_adaptation({"plastic": [trained]}, suite, tmp_path / "b", condition="leg")
    with pytest.raises(ValueError, match="reserved or ambiguous"):
        run_adaptation({"oracle": [trained]}, suite, tmp_path / "c")
    with pytest.raises(ValueError, match="mixes plastic and non-plastic"):
        run_adaptation({"x": [trained, runs["static"][0]]}, suite, tmp_path / "d")
    # the smoke config as shipped switches at step 25 (its gym kwargs): another task
    from plasticagents.training import load_config, train

    cfg = load_config("configs/smoke/adaptation.yaml", ["trainer.generations=1"])
    other = train(cfg, runs_dir=tmp_path, log=lambda m: None, tensorboard=False).run
    with pytest.raises(ValueError, match="same task"):
        run_adaptation({"a": [runs["plastic"][0]], "b": [other]}, suite, tmp_path / "e")


def test_the_command_parses_its_arms(capsys, tmp_path, suite, trained):
    from plasticagents.training.cli import main

    assert main(["adaptation", "--arm", "plastic", "--suite", str(suite), "--out", "x"]) == 2
    assert "expected NAME=RUN[,RUN...]" in capsys.readouterr().err
    args = ["--suite", str(suite), "--out", str(tmp_path / "o")]
    assert main(["adaptation", "--arm", f"a={trained}", "--arm", f"a={trained}", *args]) == 2
    assert "given twice" in capsys.readouterr().err


def test_reached_is_not_measured_without_an_oracle():
    from plasticagents.training.analysis.adaptation import seed_summary

    nan = float("nan")
    rows = [
        {
            "agent": "a",
            "condition": "nominal",
            "seed_index": 0,
            "return": -1.0 * k,
            "reward_before": -1.0,
            "reward_after": -1.0,
            "reward_rest": -1.0,
            "adaptation_steps": steps,
        }
        for k, steps in enumerate([12.0, nan])
    ]
    with_oracle = seed_summary(rows)["a"][0]
    assert with_oracle["reached"] == 0.5 and with_oracle["adaptation_steps"] == 12.0
    assert with_oracle["return"] == -0.5
    assert np.isnan(seed_summary(rows, oracle=False)["a"][0]["reached"])


def test_the_return_kept_reads_a_loss_below_100_for_either_sign():
    assert _kept(80.0, 100.0) == pytest.approx(80.0)
    assert _kept(-20.0, -10.0) == pytest.approx(0.0)  # twice the loss of a -10 nominal
    assert _kept(-5.0, -10.0) == pytest.approx(150.0)
    assert np.isnan(_kept(3.0, 0.0))


def test_a_perturbation_reports_the_share_of_the_nominal_return_kept(runs, tmp_path):
    """Around a perturbation's onset every intact arm also runs the same episodes without it;
    the return kept is, per seed, the perturbed over the nominal mean return (read as a loss
    against |nominal| when the nominal return is negative), and the goal on it is measured."""
    path = tmp_path / "damage.yaml"
    leg = {"name": "leg", "type": "cripple_leg", "leg": "bthigh", "onsets": [100]}
    path.write_text(
        yaml.safe_dump(
            {
                "env": "HalfCheetah-v5",
                "episodes": 2,
                "max_episode_steps": 200,
                "perturbations": [leg],
            }
        )
    )
    out = tmp_path / "out"
    arms = {"static": runs["static"], "plastic": runs["plastic"]}  # static first: any order
    summary = run_adaptation(
        arms, path, out, condition="leg@100", seed=5, threads=1, progress=False
    )
    rows = _rows(out / "episodes.csv")
    nominal = {r["agent"] for r in rows if r["condition"] == "nominal"}
    assert nominal == {"plastic", "static"}  # the intact arms only, not the ablations

    def seed_mean(agent, i, condition):
        vals = [
            float(r["return"])
            for r in rows
            if (r["agent"], r["seed_index"], r["condition"]) == (agent, str(i), condition)
        ]
        assert len(vals) == 2
        return np.mean(vals)

    kept = {}
    for agent in ("plastic", "static"):
        expected = []
        for i in (0, 1):
            nom, hit = seed_mean(agent, i, "nominal"), seed_mean(agent, i, "leg@100")
            expected.append(100 * (1 + (hit - nom) / abs(nom)))  # = 100 hit / nom if nom > 0
            # the condition's return is the perturbed one, not the nominal
            assert summary["agents"][agent]["return"]["per_seed"][i] == pytest.approx(hit)
        got = summary["agents"][agent]["return_kept_pct"]["per_seed"]
        assert got == pytest.approx(expected)
        kept[agent] = got
        # the share of the seed means: one point estimate, not a mean of per-seed shares
        nom = np.mean([seed_mean(agent, i, "nominal") for i in (0, 1)])
        hit = np.mean([seed_mean(agent, i, "leg@100") for i in (0, 1)])
        assert summary["agents"][agent]["return_kept_of_means_pct"] == pytest.approx(
            100 * (1 + (hit - nom) / abs(nom))
        )
    assert "return_kept_pct" not in summary["agents"]["plastic [lesion]"]
    gap = summary["differences"]["static − plastic"]["return_kept_pct"]["per_seed"]
    assert gap == pytest.approx(
        [s - p for p, s in zip(kept["plastic"], kept["static"], strict=True)]
    )
    goal = [g for g in summary["goals"] if "nominal return" in g["goal"]]
    assert len(goal) == 1 and "beats static by >= 10 points" in goal[0]["goal"]
    mean_gap = np.mean([p - s for p, s in zip(kept["plastic"], kept["static"], strict=True)])
    assert f"{mean_gap:.1f}" in goal[0]["measured"]  # oriented plastic − static
    assert goal[0]["met"] == (np.mean(kept["plastic"]) >= 85 and mean_gap >= 10)
    assert "return kept, % of nominal" in (out / "report.md").read_text()


def test_a_freeze_cost_whose_interval_includes_zero_does_not_meet_the_goal():
    from plasticagents.training.analysis.adaptation import goals

    def summary(mean, half):
        cost = {"mean": mean, "half": half, "n": 3, "per_seed": []}
        return {
            "agents": {"p": {}},
            "ablation_cost_pp": {"p [freeze-at-onset]": cost},
            "weight_response_pct": {},
            "differences": {},
        }

    assert not goals(summary(46.5, 105.3), "p", None)[0]["met"]  # near-zero rewards inflate it
    assert goals(summary(12.0, 1.5), "p", None)[0]["met"]
    assert not goals(summary(8.0, 1.0), "p", None)[0]["met"]


def test_a_suite_can_change_the_task_for_every_arm_and_the_oracle(runs, tmp_path):
    """A suite's ``env_kwargs`` (here a switch schedule the runs never trained on) go over
    every arm's own gym kwargs and the oracle's: all switch at the suite's step, the summary
    and report say the task was changed; a kwarg the env does not take names the suite."""
    # a run with its own schedule (a switch at 150), which the suite overrides
    own = _static_switch_run(tmp_path, "own", "{switch_range: [150, 150]}")
    path = tmp_path / "held_out.yaml"
    base = {"env": "plasticagents/HalfCheetahVelSwitch-v0", "episodes": 2}
    base["max_episode_steps"], base["perturbations"] = 200, []
    path.write_text(yaml.safe_dump({**base, "env_kwargs": {"switch_range": [90, 90]}}))
    out = tmp_path / "out"
    summary = run_adaptation(
        {"own": [own, own]}, path, out, oracle=runs["oracle"], threads=1, progress=False
    )
    rows = _rows(out / "episodes.csv")
    assert {r["agent"] for r in rows} == {"own", "oracle"}
    assert {r["onset"] for r in rows} == {"90"}  # not the run's 150 nor the registered 300..700
    assert summary["suite_env_kwargs"] == {"switch_range": [90, 90]}
    assert summary["env_kwargs"] == {"switch_range": [90, 90]}
    assert "never trained on" in (out / "report.md").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**base, "env_kwargs": {"switch_rnge": [90, 90]}}))
    with pytest.raises(ValueError, match=r"bad\.yaml.*switch_rnge"):
        run_adaptation({"own": [own]}, bad, tmp_path / "o2", progress=False)
