"""The benchmark scripts write a provenance record: command, git revision, versions, machine,
every repeat, the medians and the ratios they print (issues 21 and 22).

The fast tests run each script's ``main`` in this process, at its smallest sizes or with the
expensive part replaced by a fake measurement; the ``slow`` ones run the real scripts at tiny
settings in a subprocess, as a user would.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    """Import a benchmark script as a module (they import their sibling ``_record``)."""
    monkeypatch.syspath_prepend(str(BENCH))

    def load(name: str):
        return importlib.import_module(name)

    return load


def _check_record(path: Path, script: str, argv: list[str], ratio_keys: list[str]) -> dict:
    data = json.loads(path.read_text())
    assert data["command"]["argv"] == [script, *argv]
    assert data["git_revision"]  # this test runs inside the checkout
    assert data["versions"]["torch"] and data["versions"]["python"]
    assert data["machine"]["cpus"] >= 1 and data["machine"]["host"]
    assert data["started"] and data["finished"] and data["wall_time_s"] >= 0
    outputs = data["outputs"]
    assert outputs["settings"]
    if ratio_keys:
        assert set(ratio_keys) <= set(outputs["ratios"])
    return outputs


def test_bench_population_record(bench, tmp_path, capsys):
    argv = ["--population", "2", "--inputs", "3", "--neurons", "4", "--steps", "3"]
    argv += ["--batch", "2", "--repeats", "3", "--no-compile", "--out", str(tmp_path / "r.json")]
    bench("bench_population").main(argv)
    out = _check_record(
        tmp_path / "r.json",
        "bench_population.py",
        argv,
        ["batched_vs_loop_eager", "batched_vs_loop_compiled", "bptt_ours_over_snntorch"],
    )
    assert "RATIOS batched_vs_loop_eager=" in capsys.readouterr().out
    assert out["settings"]["compile"] is False and out["settings"]["population"] == 2
    assert out["ratios"]["batched_vs_loop_compiled"] is None  # nothing compiled, nothing claimed
    from plasticagents.native import library

    timed = ["batched_eager", "loop_eager", "bptt_ours"] + (["batched_native"] if library() else [])
    for key in timed:
        t = out["timings"][key]
        assert len(t["repeats"]) == 3 and t["min"] <= t["median"] <= t["max"]
    assert out["ratios"]["batched_vs_loop_eager"] == pytest.approx(
        out["timings"]["loop_eager"]["median"] / out["timings"]["batched_eager"]["median"]
    )


def test_bench_population_labels_a_fallback_as_eager(bench):
    mod = bench("bench_population")
    info = {
        "first_call_s": 0.1,
        "graphs": 1,
        "graph_breaks": 0,
        "fallback": ["torch.compile failed"],
    }
    assert mod._status(info) == "eager fallback"
    assert mod._status({**info, "fallback": [], "graphs": 0}).startswith("unverified")
    assert mod._status({**info, "fallback": []}) == "compiled"
    assert mod._status({**info, "fallback": [], "graph_breaks": 2}) == "compiled with graph breaks"


def _fake_rounds(mod, kind, seconds, log):
    """A benchmark's rounds: set-up, then one fake timed repeat per ``yield`` (``seconds[r]``
    each), logged as ``(kind, config, r)``."""

    def rounds(args, config=None):
        log.append((kind, config, "set-up"))
        yield
        for r in range(args.repeats):
            log.append((kind, config, r))
            yield
        steps = [args.popsize * args.steps] * args.repeats
        res = mod._rates(list(seconds[: args.repeats]), steps)
        config_ = {"value": config, "mode": f"fake {config}", "physics_step": "fake"}
        return {"config": config_, "compile_status": {"status": "compiled"}, **res}

    return rounds


def _fake_physics(mod, seconds, log):
    inner = _fake_rounds(mod, "physics", seconds, log)

    def rounds(args):
        res = yield from inner(args)
        return {**res, "physics_step": res}

    return rounds


def test_bench_es_record(bench, tmp_path, monkeypatch):
    mod = bench("bench_es")
    log = []
    monkeypatch.setattr(mod, "ours_rounds", _fake_rounds(mod, "ours", [1.0] * 2, log))
    monkeypatch.setattr(mod, "physics_rounds", _fake_physics(mod, [0.5] * 2, log))
    evo = _fake_rounds(mod, "evotorch", [2.0] * 2, log)
    monkeypatch.setattr(mod, "bench_evotorch", lambda args, a: mod._drain(evo(args, a)))
    argv = ["--popsize", "4", "--steps", "5", "--repeats", "2", "--threads", "2"]
    argv += ["--lanes", "1", "2", "--actors", "2", "0", "--out", str(tmp_path / "r.json")]
    mod.main(argv)
    out = _check_record(
        tmp_path / "r.json", "bench_es.py", argv, ["ours_over_evotorch", "ours_over_physics"]
    )
    # as many configurations and repeats on each side; ours and physics side by side, repeat
    # by repeat; two peer configurations (each its own Ray) one after the other
    runs = [(k, c) for k, c, r in log if r == 0]
    assert runs == [("ours", 1), ("ours", 2), ("physics", None), ("evotorch", 2), ("evotorch", 0)]
    assert [x for x in log if x[0] != "evotorch"][3:] == [
        ("ours", 1, 0), ("ours", 2, 0), ("physics", None, 0),
        ("ours", 1, 1), ("ours", 2, 1), ("physics", None, 1),
    ]  # fmt: skip
    assert len(out["ours"]) == len(out["evotorch"]) == 2
    for run in (*out["ours"], *out["evotorch"], out["physics"]):
        assert len(run["seconds"]) == len(run["steps_per_s"]) == len(run["env_steps"]) == 2
    assert out["ratios"]["ours_over_evotorch"] == pytest.approx(2.0)
    assert out["ratios"]["ours_over_physics"] == pytest.approx(0.5)
    assert out["ratios"]["ours_over_physics_step"] == pytest.approx(0.5)
    assert "ours_over_evotorch" not in out["paired_ratios"]  # not run side by side
    assert out["settings"]["threads"] == 2 and out["settings"]["actors"] == [2, 0]


def test_bench_es_pairs_the_repeats_of_sides_run_side_by_side(bench, tmp_path, monkeypatch):
    """One peer configuration runs beside ours and physics; each ratio is also taken repeat by
    repeat (median), which differs from the ratio of the medians when the host drifts."""
    mod = bench("bench_es")
    log = []
    monkeypatch.setattr(mod, "ours_rounds", _fake_rounds(mod, "ours", [1.0, 1.0, 4.0], log))
    monkeypatch.setattr(mod, "physics_rounds", _fake_physics(mod, [1.0, 2.0, 2.0], log))
    monkeypatch.setattr(mod, "evotorch_rounds", _fake_rounds(mod, "evotorch", [2, 2, 8], log))
    argv = ["--popsize", "4", "--steps", "5", "--repeats", "3", "--threads", "2"]
    mod.main([*argv, "--out", str(tmp_path / "r.json")])
    out = json.loads((tmp_path / "r.json").read_text())["outputs"]
    assert [x for x in log if x[2] == 1] == [
        ("ours", 1, 1),
        ("physics", None, 1),
        ("evotorch", 2, 1),
    ]
    # ours' rates 1, 1, 1/4 and physics' 1, 1/2, 1/2 (x 20 steps): per repeat 1, 2, 1/2
    assert out["ratios"]["ours_over_physics"] == pytest.approx(2.0)
    assert out["paired_ratios"]["ours_over_physics"] == pytest.approx(1.0)
    assert out["paired_ratios"]["ours_over_evotorch"] == pytest.approx(2.0)
    assert out["interleaved"] == "ours, physics, evotorch"


def test_bench_es_ours_policy_mlp_is_the_peers_network(bench):
    """``--ours-policy mlp``: ours evolves the peer's default network (one hidden layer of 64
    tanh units: the same parameter count as evotorch's), not the plastic SNN."""
    import argparse

    mod = bench("bench_es")
    args = argparse.Namespace(
        env="HalfCheetah-v5", steps=5, hidden=8, storage="float32", popsize=2, threads=1
    )
    sizes = {}
    for policy in ("mlp", "snn"):
        problem, _ = mod.ours_problem(argparse.Namespace(**vars(args), ours_policy=policy))
        sizes[policy] = (problem.cfg.agent.kind, problem.solution_length)
        problem.close()
    obs, act = 17, 6
    assert sizes["mlp"] == ("mlp", (obs * 64 + 64) + (64 * act + act))
    assert sizes["snn"][0] == "snn"


def test_bench_es_refuses_unequal_configurations(bench, capsys):
    with pytest.raises(SystemExit):
        bench("bench_es").main(["--lanes", "1", "2", "--actors", "2"])
    assert "same number of configurations" in capsys.readouterr().err


def test_bench_classify_record(bench, tmp_path, monkeypatch):
    mod = bench("bench_classify")
    seconds = {"ours": iter([1.0, 3.0, 2.0]), "snntorch": iter([2.0, 2.0, 4.0])}

    real_run = subprocess.run

    def fake_run(cmd, **kwargs):
        if "--lib" not in cmd:  # git, for the record
            return real_run(cmd, **kwargs)
        lib = cmd[cmd.index("--lib") + 1]
        res = {"seconds": next(seconds[lib]), "peak_mb": 100.0}
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(res) + "\n", stderr="")

    monkeypatch.setattr(mod.subprocess, "run", fake_run)
    argv = ["--channels", "8", "--steps", "5", "--batch", "2", "--repeats", "3"]
    argv += ["--out", str(tmp_path / "r.json")]
    mod.main(argv)
    out = _check_record(
        tmp_path / "r.json",
        "bench_classify.py",
        argv,
        ["epoch_time_ours_over_snntorch", "peak_memory_ours_over_snntorch"],
    )
    assert out["epoch_seconds"]["ours"]["repeats"] == [1.0, 3.0, 2.0]
    assert len(out["repeats"]["snntorch"]) == 3
    assert out["ratios"]["epoch_time_ours_over_snntorch"] == pytest.approx(2.0 / 2.0)


def test_ucr_dtw_record(bench, tmp_path, monkeypatch):
    mod = bench("ucr_dtw")
    monkeypatch.setattr(
        mod, "one_nn", lambda name, distance: (0.5 if distance == "euclidean" else 0.75, 10, 20)
    )
    argv = ["GunPoint", "ArrowHead", "--out", str(tmp_path / "r.json")]
    mod.main(argv)
    out = _check_record(tmp_path / "r.json", "ucr_dtw.py", argv, [])
    rows = {r["dataset"]: r for r in out["datasets"]}
    assert set(rows) == {"GunPoint", "ArrowHead"}
    assert rows["GunPoint"]["ed_accuracy"] == 0.5 and rows["GunPoint"]["dtw_accuracy"] == 0.75
    assert rows["GunPoint"]["dtw_published"] == mod.PUBLISHED_DTW["GunPoint"]


QUICK = {
    "bench_population.py": (
        "--population 2 --inputs 3 --neurons 4 --steps 3 --batch 2 --repeats 2 --no-compile",
        ["batched_vs_loop_eager", "bptt_ours_over_snntorch"],
    ),
    "bench_es.py": (
        "--popsize 2 --steps 3 --hidden 4 --repeats 2 --threads 1 --no-compile",
        ["ours_over_evotorch", "ours_over_physics"],
    ),
    "bench_classify.py": (
        "--channels 8 --steps 5 --hidden 4 --batch 2 --batches 1 --repeats 1 --threads 1",
        ["epoch_time_ours_over_snntorch", "peak_memory_ours_over_snntorch"],
    ),
}


def test_bench_storage_times_both_storages_in_one_process(bench, tmp_path, capsys):
    import shutil

    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler for the native step")
    mod = bench("bench_storage")
    argv = ["--env", "HalfCheetah-v5", "--popsize", "2", "--steps", "3", "--hidden", "4"]
    argv += ["--repeats", "2", "--threads", "1", "--out", str(tmp_path / "r.json")]
    mod.main(argv)
    out = _check_record(
        tmp_path / "r.json",
        "bench_storage.py",
        argv,
        ["network_float16_over_float32", "step_float16_over_float32"],
    )
    assert out["synapses_held_as"] == {"float32": "float32", "float16": "float16"}
    for storage in ("float32", "float16"):
        ms = out["ms_per_call"][storage]
        assert len(ms["network"]["repeats"]) == 2 and ms["network"]["median"] > 0
        assert ms["step"]["median"] > ms["network"]["median"]  # the step holds the call
    assert "ratio float16 / float32" in capsys.readouterr().out


def test_bench_rows_times_every_side_and_counts_fewer_parameters(bench, tmp_path, capsys):
    argv = ["--population", "2", "--inputs", "3", "--neurons", "4", "--steps", "2"]
    argv += ["--repeats", "2", "--warmup", "1", "--threads", "1", "--no-compile"]
    argv += ["--out", str(tmp_path / "r.json")]
    bench("bench_rows").main(argv)
    out = _check_record(
        tmp_path / "r.json",
        "bench_rows.py",
        argv,
        ["input_over_all", "recurrent_over_all", "constant_over_all", "static_over_all"],
    )
    params = out["parameters"]
    # a frozen row has no alpha: [I+N, N] = [8, 4] plastic, [4, 4] input, [1, 4] constant
    assert params["all"] - params["input"] == params["all"] - params["recurrent"] == 16
    assert params["all"] - params["constant"] == 28 and params["constant"] > params["static"]
    assert all(len(t["repeats"]) == 2 and t["median"] > 0 for t in out["us_per_step"].values())
    # ES's kernel for these networks: the C step on every side
    assert set(out["kernels"].values()) == {"native C step"}
    assert "rows=constant" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(QUICK))
def test_script_runs_and_writes_its_record(script, tmp_path):
    argv, ratio_keys = QUICK[script]
    argv = [*argv.split(), "--out", str(tmp_path / "r.json")]
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_record(tmp_path / "r.json", script, argv, ratio_keys)


@pytest.mark.parametrize("physics", ["native", "python"])
def test_bench_es_replays_ours_own_physics(bench, physics, monkeypatch):
    # The physics floor of ours' workload: the logged slot trajectories of the last timed
    # generation, replayed without the policy (through the physics step ours took: the C step
    # or the bindings per slot), end in the states ours ended in and count the env steps ours
    # counted; the fast path's slots get their own data back.
    import argparse

    from plasticagents.envs.batched import physics_library

    if physics == "python":
        monkeypatch.setenv("PLASTICAGENTS_NATIVE_PHYSICS", "0")
    elif physics_library() is None:
        pytest.skip("the C physics step does not build here")
    mod = bench("bench_es")
    replay, restored = mod._replay_native, []

    def checked(args, logs, slots, env_steps):  # the slots' own MjData back after the replay
        own = [log.fast.bases[i].data for log, i in slots]
        try:
            return replay(args, logs, slots, env_steps)
        finally:
            restored.append(own == [log.fast.bases[i].data for log, i in slots])

    monkeypatch.setattr(mod, "_replay_native", checked)
    args = argparse.Namespace(
        env="Ant-v5",
        steps=40,
        inputs=[],
        hidden=8,
        popsize=4,
        episodes=2,
        threads=2,
        compile=False,
        fast_physics=True,
        kernel="torch",
        repeats=2,
        storage="float32",
    )
    res = mod.bench_ours(args, lanes=1)
    assert restored == ([True] if physics == "native" else [])
    replay = res["physics_replay"]
    assert ("C physics step" in replay["config"]["work"]) == (physics == "native")
    assert replay["config"]["slots"] == 8
    assert replay["replay_matches"] == 1.0
    assert replay["env_steps"] == [replay["ours_env_steps"]] * 2
    assert 0 < replay["ours_env_steps"] <= 8 * 40
    assert len(replay["seconds"]) == 2 and replay["median_steps_per_s"] > 0


def test_bench_pool_record(bench, tmp_path):
    # part (a) runs one child process per OpenMP wait policy, each timing the physics step
    argv = ["--part", "omp", "--slots", "4", "--steps", "3", "--repeats", "2"]
    argv += ["--out", str(tmp_path / "r.json")]
    bench("bench_pool").main(argv)
    out = _check_record(
        tmp_path / "r.json", "bench_pool.py", argv, ["spinning_over_passive_with_torch_between"]
    )
    for policy in ("unset", "PASSIVE"):
        for case in ("alone", "torch_between"):
            timing = out["omp"][policy][case]
            assert len(timing["seconds_per_step"]) == 2 and timing["median"] > 0
    assert "schedule" not in out


def test_bench_es_interleave_releases_every_side_when_one_fails(bench):
    mod = bench("bench_es")
    released = []

    def side(name, fail_at=None):
        try:
            yield  # set-up
            for r in range(3):
                if r == fail_at:
                    raise RuntimeError(f"{name} failed")
                yield
        finally:
            released.append(name)
        return {}

    with pytest.raises(RuntimeError, match="b failed"):
        mod._interleave([side("a"), side("b", fail_at=1), side("c")])
    assert sorted(released) == ["a", "b", "c"]


def test_bench_es_peer_snn_is_ours_network_stepped_by_evotorch(bench):
    # --peer-policy snn: evotorch's Policy (vmapped over the population, state kept by
    # evotorch) gives each solution the actions ours' network gives with those parameters,
    # step after step (the fast weights carried), and evotorch's reset (zeroing) is a fresh start
    import argparse

    import torch
    from evotorch.neuroevolution.net.vecrl import Policy

    from plasticagents.training.builders import build_policy

    mod = bench("bench_es")
    args = argparse.Namespace(env="HalfCheetah-v5", hidden=8, storage="float32")
    policy = Policy(mod._peer_snn(args)(obs_length=17, act_length=6))
    gen = torch.Generator().manual_seed(0)
    reference = [build_policy(mod._agent_config(args), 17, 6, 0) for _ in range(2)]
    flat = torch.nn.utils.parameters_to_vector(reference[0].parameters())
    values = flat + 0.3 * torch.randn(2, len(flat), generator=gen)
    policy.set_parameters(values)
    states = [None, None]
    for net, row in zip(reference, values, strict=True):
        torch.nn.utils.vector_to_parameters(row, net.parameters())
    with torch.no_grad():
        for step in range(6):
            if step == 4:  # evotorch's reset of solution 1's episode: a fresh state
                policy.reset(torch.tensor([False, True]))
                states[1] = None
            x = torch.randn(2, 17, generator=gen) * 3
            actions = policy(x)
            for j, net in enumerate(reference):
                expected, states[j] = net(x[j], states[j])
                torch.testing.assert_close(actions[j], expected, atol=1e-5, rtol=1e-5)
    hebb = states[0].layer.plastic.hebb
    assert hebb.abs().max() > 0  # the fast weights did change, and were carried


@pytest.mark.parametrize("env", ["HalfCheetah-v5", "Ant-v5"])
def test_bench_es_split_record(bench, tmp_path, env):
    # the network replayed from its recorded outputs, and the physics skipped with its
    # recorded rows written back, give the full run's fitness over the same batched steps
    # (the split times ours' own episodes, Ant's early terminations included)
    from plasticagents.envs.batched import physics_library
    from plasticagents.native import library

    if physics_library() is None or library() is None:
        pytest.skip("the C steps do not build here")
    argv = ["--env", env, "--popsize", "4", "--steps", "12", "--hidden", "8"]
    argv += ["--repeats", "2", "--threads", "1", "--out", str(tmp_path / "r.json")]
    bench("bench_es_split").main(argv)
    out = _check_record(tmp_path / "r.json", "bench_es_split.py", argv, [])
    assert out["replayed_fitness_equal"] is True
    assert set(out["batched_steps_per_generation"].values()) == {12}
    assert len(out["ms_per_batched_step"]["all"]["repeats"]) == 2
    # the in-place split: both C calls were timed where they ran, and with the rest they
    # make up each repeat of "all"
    placed = {k: v["repeats"] for k, v in out["in_place_ms"].items()}
    assert set(placed) == {"physics", "network", "rest"}
    assert all(t > 0 for part in ("physics", "network") for t in placed[part])
    sums = [sum(ts) for ts in zip(*placed.values(), strict=True)]
    np.testing.assert_allclose(sums, out["ms_per_batched_step"]["all"]["repeats"], rtol=1e-9)


def test_a_records_settings_are_the_options_given_and_torch_threads(bench):
    # every script's record keeps its options (not --out, a path of this machine), torch's
    # thread count and what the script adds
    import argparse

    import torch

    settings = bench("_record").settings
    args = argparse.Namespace(env="Ant-v5", repeats=3, out=Path("/tmp/r.json"))
    assert settings(args, peer="mlp") == {
        "env": "Ant-v5",
        "repeats": 3,
        "torch_threads": torch.get_num_threads(),
        "peer": "mlp",
    }
