"""The results report: the README's tables and docs/results.md are what results/ gives."""

import csv
import re
import shutil
from pathlib import Path

import pytest

from plasticagents.training.analysis import report

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NUMBER = re.compile(r"(?<![\w.-])\d+(?:\.\d+)?(?![\w-])")


def test_readme_tables_and_results_page_equal_what_the_report_builds_from_results():
    """`plasticagents report --check`: a number in the README cannot drift from its files."""
    changed = report.run_report(ROOT / "results", README, ROOT / "docs/results.md", check=True)
    assert changed == [], f"run `plasticagents report`: {changed} differ from results/"


def test_every_readme_table_with_numbers_lies_inside_a_report_block():
    text = README.read_text()
    outside = report._BLOCK.sub("", text)
    numbered = [
        line
        for line in outside.splitlines()
        if line.startswith("|") and "---" not in line and NUMBER.search(line)
    ]
    assert numbered == [], f"README table rows with numbers no report builds: {numbered}"
    assert set(report.readme_blocks(text)) <= {s.name for s in report.SECTIONS}
    assert len(report.readme_blocks(text)) >= 4


def test_a_changed_result_file_changes_the_readme_table(tmp_path):
    names = ["cue_delay", "cue_delay_static", "cue_delay_static_recurrent"]
    names += ["cue_delay_recurrent", "cue_references"]
    for name in names:
        shutil.copytree(ROOT / "results" / name, tmp_path / name)
    before = report.build(tmp_path, ["cue"])["cue"]
    path = tmp_path / "cue_delay_recurrent/sweep.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["eval_return"] = str(float(row["eval_return"]) + 1.0)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    after = report.build(tmp_path, ["cue"])["cue"]
    changed = [b for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0].startswith("| recurrent, neuromodulated Hebbian")
    readme = f"x\n{report.BEGIN.format('cue')}\n{before}\n{report.END.format('cue')}\ny\n"
    synced = report.sync_readme(readme, {"cue": after})
    assert after in synced and before not in synced and synced.endswith("y\n")


def test_missing_result_file_and_unknown_block_are_named(tmp_path):
    with pytest.raises(report.ReportError, match="cue_delay/sweep.csv"):
        report.build(tmp_path, ["cue"])
    text = f"{report.BEGIN.format('nonsense')}\n|a|\n{report.END.format('nonsense')}\n"
    with pytest.raises(report.ReportError, match="'nonsense'.*sections"):
        report.sync_readme(text, {})


def test_results_page_figures_and_commands_exist():
    page = (ROOT / "docs/results.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(\.\./([^)]+)\)", page)
    assert figures and not [f for f in figures if not (ROOT / f).is_file()]
    on_docs = [s for s in report.SECTIONS if s.on_docs]
    for section in report.SECTIONS:  # a README-only view is not on the page
        assert (f"## {section.title}" in page) == section.on_docs
    assert page.count("Made by:") >= len(on_docs) - 1


def _bench_es_record(
    path: Path, revision: str, ratio: float, env: str = "Ant-v5", flipped: bool = False
) -> None:
    import json

    ours = [{"config": {"lanes": 1, "fast_physics": True}}]
    argv = ["bench_es.py", "--fast-physics", "--env", env]
    path.write_text(
        json.dumps(
            {
                "command": {"argv": argv if not flipped else [argv[0], *argv[2:], argv[1]]},
                "git_revision": revision,
                "outputs": {
                    "settings": {"env": env, "inputs": []},
                    "ours": ours,
                    "ratios": {"ours_over_physics": ratio, "ours_over_evotorch": 2 * ratio},
                },
            }
        )
    )


def test_the_benchmark_table_shows_the_newest_commit_of_each_env(tmp_path):
    bench = tmp_path / "benchmarks"
    bench.mkdir()
    _bench_es_record(bench / "bench_es-20260101-000000.json", "a" * 40, 0.40)
    _bench_es_record(bench / "bench_es-20260102-000000.json", "b" * 40 + "-dirty", 0.50)
    _bench_es_record(bench / "bench_es-20260103-000000.json", "b" * 40, 0.70)
    _bench_es_record(bench / "bench_es-20260104-000000.json", "c" * 40, 0.90, "HalfCheetah-v5")
    table = report._benchmarks(tmp_path)
    ant = next(r for r in table.splitlines() if "Ant-v5: ours / physics" in r)
    assert "| 0.70 |" in ant and "0.40" not in ant and "`bbbbbbb` |" in ant and "0.70x" in ant
    _bench_es_record(bench / "bench_es-20260105-000000.json", "d" * 40 + "-dirty", 0.30)
    ant = next(r for r in report._benchmarks(tmp_path).splitlines() if "Ant-v5: ours / ph" in r)
    assert "| 0.30 |" in ant and "`ddddddd` (uncommitted changes)" in ant  # not pooled, named
    cheetah = next(r for r in table.splitlines() if "HalfCheetah-v5: ours / physics" in r)
    assert "(fast physics)" in cheetah and "0.90x" in cheetah and "--env HalfCheetah-v5" in cheetah
    # the same options in another order are the same command: one row, pooled
    _bench_es_record(
        bench / "bench_es-20260106-000000.json", "c" * 40, 0.80, "HalfCheetah-v5", True
    )
    rows = [
        r for r in report._benchmarks(tmp_path).splitlines() if "HalfCheetah-v5: ours / ph" in r
    ]
    assert len(rows) == 1 and "| 0.90, 0.80 |" in rows[0]
    assert "per-repeat" not in report._benchmarks(tmp_path)  # no record has paired ratios
    import json

    # the Python per-slot physics (PLASTICAGENTS_NATIVE_PHYSICS=0) is not pooled with the C step
    path = bench / "bench_es-20260107-000000.json"
    _bench_es_record(path, "c" * 40, 0.20, "HalfCheetah-v5")
    rec = json.loads(path.read_text())
    rec["outputs"]["ours"][0]["config"]["physics_step"] = "Python per slot"
    path.write_text(json.dumps(rec))
    rows = [
        r for r in report._benchmarks(tmp_path).splitlines() if "HalfCheetah-v5: ours / ph" in r
    ]
    assert len(rows) == 2 and "| 0.90, 0.80 |" in rows[0] and "Python per-slot physics" in rows[1]


def test_the_benchmark_table_shows_paired_ratios_in_rows_of_their_own(tmp_path):
    import json

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    path = bench / "bench_es-20260101-000000.json"
    _bench_es_record(path, "a" * 40, 0.60)
    rec = json.loads(path.read_text())
    rec["outputs"]["paired_ratios"] = {"ours_over_physics": 0.65, "ours_over_evotorch": 1.1}
    path.write_text(json.dumps(rec))
    lines = report._benchmarks(tmp_path).splitlines()
    plain = next(r for r in lines if "ours / physics alone (goal" in r)
    paired = next(r for r in lines if "ours / physics alone, median of per-repeat" in r)
    assert "0.60x" in plain and "0.65x" in paired
    assert "1.10x" in next(r for r in lines if "VecGymNE, median of per-repeat" in r)


def _ant_run(root, name, seed, steps, returns, velocities, lengths):
    import json

    run = root / "ant_walk/runs" / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(f"seed: {seed}\nenv: {{id: Ant-v5}}\n")
    rows = [{"generation": 9, "env_steps": steps, "wall_time": 600.0}]
    with (run / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    outputs = {
        "returns": returns,
        "mean": sum(returns) / len(returns),
        "std": 0.0,
        "episodes": len(returns),
        "lengths": lengths,
        "forward_velocity": velocities,
    }
    argv = ["plasticagents", "evaluate", str(run), "--checkpoint", "best", "--episodes", "10"]
    line = {"command": {"argv": argv}, "outputs": outputs}
    (run / "evaluations.jsonl").write_text(json.dumps(line) + "\n")


def test_the_ant_walk_goal_needs_return_speed_and_budget_together(tmp_path):
    full = [1000] * 10
    _ant_run(tmp_path, "a", 0, 19_000_000, [2600.0] * 10, [1.1] * 10, full)
    _ant_run(tmp_path, "b", 1, 19_000_000, [2600.0] * 10, [0.9] * 10, full)  # too slow
    _ant_run(tmp_path, "c", 2, 21_000_000, [2600.0] * 10, [1.1] * 10, full)  # over budget
    _ant_run(tmp_path, "d", 3, 19_000_000, [2400.0] * 10, [1.2] * 10, [1000] * 9 + [300])
    _ant_run(tmp_path, "e", 4, 9_000_000, [900.0] * 10, [0.5] * 10, full)
    (tmp_path / "ant_walk/runs/e/evaluations.jsonl").unlink()  # still training: not a row
    rows = report._ant_walk(tmp_path).splitlines()[2:]
    assert [r.rsplit("|", 2)[1].strip() for r in rows] == ["yes", "no", "no", "no"]
    assert "| 9 / 10 |" in rows[3] and "| 1.10 ± 0.00 |" in rows[0] and "| 19.00M |" in rows[0]


def test_a_run_still_training_is_not_listed_beside_the_table(tmp_path):
    import json

    full = [1000] * 10
    _ant_run(tmp_path, "a", 0, 19_000_000, [2600.0] * 10, [1.1] * 10, full)
    _ant_run(tmp_path, "b", 1, 9_000_000, [900.0] * 10, [0.5] * 10, full)
    (tmp_path / "ant_walk/runs/b/evaluations.jsonl").unlink()  # still training
    again = ["train", "--resume", "a", "--set", "trainer.generations=9"]
    resumed = [  # an early record (the argv, the program by its install path), then a later one
        {"command": ["/venv/bin/plasticagents", *again]},
        {"command": {"argv": ["plasticagents", *again], "line": "(not read)"}},
    ]
    for name, seed in (("a", 0), ("b", 1)):
        argv = ["/venv/bin/plasticagents", "train", "ant.yaml", "--set", f"seed={seed}"]
        meta = {"command": argv, "resumed": resumed}
        (tmp_path / "ant_walk/runs" / name / "meta.json").write_text(json.dumps(meta))
    section = next(s for s in report.SECTIONS if s.name == "ant-walk")
    assert report._commands(tmp_path, section) == [
        "`plasticagents train ant.yaml --set seed=0`",
        *["`plasticagents train --resume a --set trainer.generations=9`"] * 2,  # how it went on
    ]


def test_an_analysis_lists_the_training_commands_of_the_runs_it_evaluated_only(tmp_path):
    """Runs shipped beside an adaptation analysis but not evaluated in it (a pilot, another
    task's arms) are not listed as the commands behind its table."""
    import json

    runs = tmp_path / "adaptation/runs"
    for name in ("arm-s0", "oracle-s0", "pilot-s0"):
        (runs / name).mkdir(parents=True)
        meta = {"command": ["plasticagents", "train", f"{name}.yaml"]}
        (runs / name / "meta.json").write_text(json.dumps(meta))
    analysis = tmp_path / "adaptation/dir"
    analysis.mkdir()
    named = {
        "arm": ["results/adaptation/runs/arm-s0"],
        "oracle": ["results/adaptation/runs/oracle-s0"],
    }
    (analysis / "summary.json").write_text(json.dumps({"runs": named}))
    section = report.Section("x", "x", ("adaptation/dir", "adaptation"), lambda root: "", "x")
    assert report._commands(tmp_path, section) == [
        "`plasticagents train arm-s0.yaml`",
        "`plasticagents train oracle-s0.yaml`",
    ]


def _bench_es_pair(tmp_path, argv: list[str], settings: dict) -> list[str]:
    """The benchmark table's lines for two bench_es records at one commit: a plain one and one
    invoked with ``argv`` more, its settings updated by ``settings``."""
    import json

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    _bench_es_record(bench / "bench_es-20260101-000000.json", "a" * 40, 0.40)
    path = bench / "bench_es-20260102-000000.json"
    _bench_es_record(path, "a" * 40, 0.60)
    rec = json.loads(path.read_text())
    rec["command"]["argv"] += argv
    rec["outputs"]["settings"].update(settings)
    path.write_text(json.dumps(rec))
    return report._benchmarks(tmp_path).splitlines()


def test_the_benchmark_table_names_a_peer_running_ours_snn(tmp_path):
    # --peer-policy snn: its ratio to evotorch is labelled as such (and never pooled with the
    # MLP peer's); its ratio to physics alone is the same measurement of ours as any other
    lines = _bench_es_pair(
        tmp_path,
        ["--peer-policy", "snn"],
        {"peer_policy": "evotorch VecGymNE, ours' plastic SNN"},
    )
    evo = [r for r in lines if "ours / evotorch" in r]
    assert len(evo) == 2
    assert "plastic SNN" not in evo[0] and "| 0.80 |" in evo[0]
    assert "(fast physics, the peer runs ours' plastic SNN)" in evo[1] and "| 1.20 |" in evo[1]
    assert "--peer-policy snn" in evo[1]
    phys = [r for r in lines if "ours / physics alone" in r]
    assert len(phys) == 2 and not any("plastic SNN" in r for r in phys)


def test_the_benchmark_table_names_ours_running_the_peers_mlp(tmp_path):
    # --ours-policy mlp: ours evolves an MLP, not the plastic SNN; its rows say so, are never
    # pooled with the SNN's, and stay on the docs page (the README keeps the SNN's rows)
    lines = _bench_es_pair(
        tmp_path,
        ["--ours-policy", "mlp"],
        {"ours_policy": "MLP, Linear(obs, 64) >> Tanh >> Linear(64, act) >> Tanh"},
    )
    phys = [r for r in lines if "ours / physics alone" in r]
    assert len(phys) == 2 and "MLP" not in phys[0]
    assert "(fast physics, ours runs the peer's MLP 64)" in phys[1] and "| 0.60 |" in phys[1]
    short = report._benchmarks(tmp_path, headline=True)
    assert "MLP" not in short and "| 0.40 |" in short


def test_the_benchmark_table_keeps_float16_storage_apart(tmp_path):
    # --storage float16 runs another network (half synapses): its rows are never pooled
    # with float32's, for the physics ratio too
    lines = _bench_es_pair(tmp_path, ["--storage", "float16"], {"storage": "float16"})
    phys = [r for r in lines if "ours / physics alone" in r]
    assert len(phys) == 2
    assert "float16" not in phys[0]
    assert "(fast physics, float16 synapse storage)" in phys[1] and "--storage float16" in phys[1]


def test_the_benchmark_table_names_ours_lanes(tmp_path):
    # --lanes 2 (trainer.lanes) is another configuration of ours: its rows say so
    import json

    _bench_es_pair(tmp_path, ["--lanes", "2"], {})
    path = tmp_path / "benchmarks" / "bench_es-20260102-000000.json"
    rec = json.loads(path.read_text())
    rec["outputs"]["ours"][0]["config"]["lanes"] = 2
    path.write_text(json.dumps(rec))
    lines = report._benchmarks(tmp_path).splitlines()
    phys = [r for r in lines if "ours / physics alone" in r]
    assert len(phys) == 2
    assert "lanes" not in phys[0].split("|")[1]
    assert "(fast physics, 2 lanes)" in phys[1] and "--lanes 2" in phys[1]


def test_the_readme_benchmark_view_keeps_the_newest_commits_goal_and_peer_rows(tmp_path):
    # the README's short table: rows measured at the script's newest commit, without the
    # per-repeat ratios and the other physics floors; the page's table keeps every row
    import json

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    _bench_es_record(bench / "bench_es-20260101-000000.json", "a" * 40, 0.40, "HalfCheetah-v5")
    path = bench / "bench_es-20260102-000000.json"
    _bench_es_record(path, "b" * 40, 0.70)
    rec = json.loads(path.read_text())
    rec["outputs"]["paired_ratios"] = {"ours_over_physics": 0.65}
    rec["outputs"]["ratios"]["ours_over_physics_step"] = 0.6
    path.write_text(json.dumps(rec))
    full, short = report._benchmarks(tmp_path), report._benchmarks(tmp_path, headline=True)
    assert "HalfCheetah-v5" in full and "HalfCheetah-v5" not in short  # an older commit
    assert "per-repeat" in full and "per-repeat" not in short
    assert "physics step" in full and "physics step" not in short
    assert "| 0.70 |" in short and "| 1.40 |" in short  # Ant: physics and evotorch


def test_the_float16_storage_table_pairs_the_seeds(tmp_path):
    import csv

    runs = tmp_path / "storage_float16/runs"
    rows = []
    for storage, returns in (("float32", (2400.0, 2000.0)), ("float16", (2500.0, 1900.0))):
        for seed, ret in enumerate(returns):
            name = f"storage={storage}-s{seed}"
            (runs / name).mkdir(parents=True)
            with open(runs / name / "metrics.csv", "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["generation", "wall_time", "mean_fitness"])
                wall = 10.0 + seed + (storage == "float16")
                w.writerows([[0, 1.0, 0.0], [1, wall, ret - 100.0]])  # the last row counts
            rows.append([storage, seed, f"results/storage_float16/runs/{name}", ret])
    with open(tmp_path / "storage_float16/sweep.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["agent.plasticity.storage", "seed", "run", "eval_return"])
        w.writerows(rows)
    table = report._storage_float16(tmp_path).splitlines()
    assert table[2].startswith("| `float32` | 2200 ± ")
    assert table[3].startswith("| `float16` | 2200 ± ")
    paired = table[4]
    assert "paired by seed (0, 1)" in paired
    assert "(+100, -100)" in paired  # returns and last-generation means, seed by seed
    assert "1 ± 0 (+1, +1)" in paired  # wall time


def test_the_population_benchmarks_rule_variants_are_named_and_left_to_the_page(tmp_path):
    # --rule abcd / --granularity post time another plastic layer: never pooled with the
    # default's rows, named in the row, and on the docs page only
    import json

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    for stamp, extra, settings, ratio in (
        ("000000", [], {"rule": "hebbian", "granularity": "synapse"}, 1.4),
        (
            "000100",
            ["--rule", "abcd", "--granularity", "post"],
            {"rule": "abcd", "granularity": "post"},
            1.2,
        ),
    ):
        rec = {
            "command": {"argv": ["bench_population.py", *extra]},
            "git_revision": "a" * 40,
            "outputs": {"settings": settings, "ratios": {"native_speedup_over_compiled": ratio}},
        }
        (bench / f"bench_population-20260101-{stamp}.json").write_text(json.dumps(rec))
    page = [r for r in report._benchmarks(tmp_path).splitlines() if "native C step" in r]
    assert len(page) == 2 and "rule" not in page[0].split("|")[1] and "1.40x" in page[0]
    assert "(abcd rule, coefficients per neuron)" in page[1] and "1.20x" in page[1]
    headline = [
        r for r in report._benchmarks(tmp_path, headline=True).splitlines() if "native C" in r
    ]
    assert len(headline) == 1 and "1.40x" in headline[0]
