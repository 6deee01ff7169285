import csv
import json

import numpy as np
import pytest
import torch
import yaml

from plasticagents.native import build_error, library
from plasticagents.training.analysis.evaluate import evaluate_run, load_policy
from plasticagents.training.api import train
from plasticagents.training.config import ConfigError
from plasticagents.training.evolution import PolicyProblem, make_searcher
from plasticagents.training.run import RunDir

pytest.importorskip("evotorch")


def _quiet(msg):
    pass


def _train(cfg, tmp_path, name="run", tensorboard=False, log=_quiet):
    """Train ``cfg`` at ``tmp_path/name``; returns the run directory and the TrainResult."""
    result = train(cfg, run_dir=tmp_path / name, log=log, tensorboard=tensorboard)
    return RunDir.open(result.run), result


def test_smoke_run_improves_fitness(tiny_config, tmp_path):
    cfg = tiny_config(trainer={"generations": 6, "popsize": 16})
    run, _ = _train(cfg, tmp_path)
    rows = run.read_metrics()
    mean = [float(r["mean_fitness"]) for r in rows]
    assert len(rows) == 6
    assert np.mean(mean[-2:]) > mean[0] + 5  # forward progress over 100 steps


def test_same_seed_same_first_generation(tiny_config, tmp_path):
    cfg = tiny_config(trainer={"generations": 1})
    first = [_train(cfg, tmp_path, f"r{k}")[0].read_metrics()[0] for k in range(2)]
    for key in ("best_fitness", "mean_fitness", "median_fitness", "spikes_per_step"):
        assert first[0][key] == first[1][key]
    other = _train(tiny_config(seed=5, trainer={"generations": 1}), tmp_path, "r2")[0]
    assert other.read_metrics()[0]["mean_fitness"] != first[0]["mean_fitness"]


def _without_wall_time(run):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in run.read_metrics()]


@pytest.mark.parametrize("algorithm", ["pgpe", "cmaes", "snes", "xnes"])
def test_resume_continues_with_identical_state(tiny_config, tmp_path, algorithm, same_tensors):
    trainer = {"algorithm": algorithm, "generations": 4, "eval_every": 2, "eval_episodes": 1}
    agent = {"hidden": 4, "plasticity": {"granularity": "scalar"}}  # small: xnes is full-cov
    straight, final = _train(tiny_config(trainer=trainer, agent=agent), tmp_path, "straight")
    # "Kill" a run after 2 generations, then resume it to 4.
    killed, _ = _train(
        tiny_config(trainer={**trainer, "generations": 2}, agent=agent), tmp_path, "killed"
    )
    assert killed.load("latest").step == 1
    resumed = train(
        resume=killed.path, overrides=["trainer.generations=4"], log=_quiet, tensorboard=False
    )
    assert resumed.run == killed.path and resumed.step == final.step == 3
    assert resumed.env_steps == final.env_steps
    a, b = straight.load("latest"), killed.load("latest")
    assert a.step == b.step == 3 and a.env_steps == b.env_steps
    same_tensors(a.policy, b.policy, "policy")  # the search centre, obs statistics
    same_tensors(a.trainer_state, b.trainer_state, "trainer_state")
    assert _without_wall_time(straight) == _without_wall_time(killed)


class _Killed(Exception):
    pass


def test_resume_drops_metrics_rows_written_after_the_checkpoint(tiny_config, tmp_path):
    cfg = tiny_config(
        env={"max_episode_steps": 30}, trainer={"generations": 4, "checkpoint_every": 2}
    )
    straight, _ = _train(cfg, tmp_path, "straight")

    def die_at_generation_2(msg):  # its metrics row is written, its checkpoint is not
        if msg.startswith("[es] gen     2"):
            raise _Killed

    with pytest.raises(_Killed):
        _train(cfg, tmp_path, "killed", log=die_at_generation_2)
    killed = RunDir.open(tmp_path / "killed")
    assert killed.load("latest").step == 1
    assert [r["generation"] for r in killed.read_metrics()] == ["0", "1", "2"]
    # the same call again reopens the directory and resumes from generation 1's checkpoint
    _train(cfg, tmp_path, "killed")
    assert [r["generation"] for r in killed.read_metrics()] == ["0", "1", "2", "3"]
    assert _without_wall_time(killed) == _without_wall_time(straight)


def test_batched_fitness_equals_one_by_one(tiny_config):
    from evotorch import SolutionBatch

    cfg = tiny_config(trainer={"episodes": 2})
    problem = PolicyProblem(cfg)
    problem.obs_norm.update(np.random.default_rng(0).normal(size=(50, problem.obs_dim)))
    values = problem.center_init + 0.1 * torch.randn(4, problem.solution_length)
    batch = SolutionBatch(problem, popsize=4, empty=True)
    batch.set_values(values)
    problem.evaluate(batch)
    singles = []
    for i in range(4):
        one = SolutionBatch(problem, popsize=1, empty=True)
        one.set_values(values[i : i + 1])
        problem.evaluate(one)
        singles.append(one.evals[0].clone())
    torch.testing.assert_close(torch.stack(singles), batch.evals, rtol=1e-4, atol=1e-4)
    problem.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's own, raised while tracing
def test_compiled_population_runs_compiled_and_matches_eager(tiny_config):
    """evotorch's solution values are a read-only tensor subclass; with several episodes per
    individual the compiled step's batched matmuls failed on them and fell back to eager (a
    RuntimeWarning: an error in this suite)."""
    agent = {"hidden": 16, "plasticity": {"rule": "abcd", "granularity": "post"}}
    evals = [
        _first_generation(
            tiny_config(
                agent=agent,
                env={"max_episode_steps": 10},
                trainer={"compile": compile_, "episodes": 2},
            ),
            popsize=3,
        )[0]
        for compile_ in (False, True)
    ]
    torch.testing.assert_close(evals[1], evals[0], rtol=1e-4, atol=1e-3)


def _first_generation(cfg, popsize: int):
    """The fitnesses of ``popsize`` fixed perturbations of the centre under ``cfg``, and
    whether each of the problem's populations ran the native step."""
    from evotorch import SolutionBatch

    problem = PolicyProblem(cfg)
    values = problem.center_init + 0.1 * torch.randn(
        popsize, problem.solution_length, generator=torch.Generator().manual_seed(0)
    )
    batch = SolutionBatch(problem, popsize=popsize, empty=True)
    batch.set_values(values)
    problem.evaluate(batch)
    natives = [p.native for p in problem._populations.values()]
    problem.close()
    return batch.evals.clone(), natives


def test_diverging_individual_is_reported_with_generation_and_index(tiny_config):
    from evotorch import SolutionBatch

    problem = PolicyProblem(tiny_config())
    problem.generation = 5
    values = problem.center_init.repeat(3, 1)
    values[1, 0] = float("nan")
    batch = SolutionBatch(problem, popsize=3, empty=True)
    batch.set_values(values)
    problem.evaluate(batch)
    _, reports = problem.end_generation()
    assert len(reports) == 1
    assert "generation 5: individual 1" in reports[0]
    assert torch.isfinite(batch.evals).all()
    assert batch.evals[1, 0] == batch.evals[[0, 2], 0].min()  # ranked last, not NaN
    problem.close()


def test_run_directory_contents(tiny_config, tmp_path):
    cfg = tiny_config(trainer={"generations": 2, "eval_every": 1, "eval_episodes": 2})
    result = train(cfg, runs_dir=tmp_path, log=_quiet)
    run = RunDir.open(result.run)
    assert run.path.parent == tmp_path and run.path.name.startswith(f"{cfg.name}-")
    assert yaml.safe_load((run.path / "config.yaml").read_text())["trainer"]["popsize"] == 8
    meta = json.loads((run.path / "meta.json").read_text())
    assert meta["versions"]["torch"] and meta["versions"]["evotorch"] and "git_revision" in meta
    with open(run.metrics_path) as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "generation", "wall_time", "env_steps", "best_fitness", "mean_fitness",
        "median_fitness", "spikes_per_step", "stdev", "diverged", "eval_return",
    ]  # fmt: skip
    assert int(rows[1]["env_steps"]) > int(rows[0]["env_steps"]) > 0
    assert float(rows[0]["spikes_per_step"]) >= 0
    assert list((run.path / "tb").glob("events.out.tfevents.*"))
    assert sorted(p.name for p in run.checkpoints.iterdir()) == [
        "best.safetensors",
        "latest.safetensors",
    ]  # atomic writes leave no temporaries
    # The best checkpoint is the centre whose evaluation scored highest, and re-evaluating it
    # on the same episodes reproduces that score.
    best = run.load("best")
    assert best.trainer == "es" and best.trainer_state is None
    assert best.score == max(float(r["eval_return"]) for r in rows) == result.best
    assert result.step == 1 and result.env_steps == int(rows[-1]["env_steps"])
    loaded = load_policy(run.path)
    assert loaded.checkpoint.step == best.step
    returns = evaluate_run(run.path, episodes=3, seed=1)
    assert returns.shape == (3,) and np.isfinite(returns).all()


def test_runs_never_overwrite_each_other(tmp_path):
    a = RunDir.create(tmp_path, "same", {})
    b = RunDir.create(tmp_path, "same", {})
    assert a.path != b.path and a.path.is_dir() and b.path.is_dir()


def test_full_covariance_on_a_large_policy_is_refused(tiny_config):
    cfg = tiny_config(trainer={"algorithm": "xnes"}, agent={"hidden": 64})
    problem = PolicyProblem(cfg)
    with pytest.raises(ConfigError, match="full covariance keeps a .* matrix"):
        make_searcher(problem, cfg.trainer, problem.center_init)


def test_training_on_a_perturbation_distribution(tiny_config):
    dist = [[{"type": "scale_body_mass", "scale": 2.0}], [{"type": "scale_gravity", "scale": 0.5}]]
    cfg = tiny_config(env={"train_distribution": dist}, trainer={"episodes": 2})
    problem = PolicyProblem(cfg)
    pool = problem._pool(4)
    labels = [next(iter(type(e).__name__ for e in [env])) for env in pool.envs]
    assert labels == ["ScaleBodyMass", "ScaleGravity"] * 2
    problem.close()


def test_bad_perturbation_in_the_distribution_fails_before_training(tiny_config):
    cfg = tiny_config(env={"train_distribution": [[{"type": "cripple_wing"}]]})
    with pytest.raises(ValueError, match="unknown perturbation type 'cripple_wing'"):
        PolicyProblem(cfg)


_RAY_SCRIPT = """
import json, sys
from pathlib import Path
from plasticagents.training.api import train
from plasticagents.training.run import RunDir
import ray

root, config = Path(sys.argv[1]), json.loads(sys.argv[2])
rows = {}
try:
    for name, actors in (("local", 0), ("ray", 2)):
        config["trainer"]["num_actors"] = actors
        result = train(config, run_dir=root / name, log=lambda msg: None, tensorboard=False)
        rows[name] = RunDir.open(result.run).read_metrics()[0]
finally:
    ray.shutdown()
print(json.dumps(rows))
"""


def test_ray_actors_give_the_same_generation_as_one_process(tiny_config, tmp_path):
    # In a subprocess, as `plasticagents train` runs it: Ray's worker processes, threads and
    # pipes stay out of the test session.
    pytest.importorskip("ray")
    import subprocess
    import sys

    from plasticagents.training.config import to_dict

    config = to_dict(tiny_config(trainer={"generations": 1}))
    proc = subprocess.run(
        [sys.executable, "-c", _RAY_SCRIPT, str(tmp_path), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    a, b = rows["local"], rows["ray"]
    for key in ("env_steps", "best_fitness", "mean_fitness", "median_fitness", "spikes_per_step"):
        assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-5), key


def test_reward_shift_changes_the_fitness_only(tiny_config):
    from evotorch import SolutionBatch

    evals = []
    for shift in (0.0, 1.0):
        problem = PolicyProblem(tiny_config(trainer={"reward_shift": shift}))
        batch = SolutionBatch(problem, popsize=2, empty=True)
        batch.set_values(problem.center_init.repeat(2, 1))
        problem.evaluate(batch)
        evals.append(batch.evals[:, 0].clone())
        problem.close()
    torch.testing.assert_close(evals[0] - evals[1], torch.full((2,), 100.0))  # 100 steps x 1.0


def test_each_lane_steps_its_network_on_its_share_of_the_threads(tiny_config):
    # two lanes on two threads: each lane's C network step runs one thread, so one lane's
    # network overlaps the other's physics instead of both oversubscribing the cores
    from evotorch import SolutionBatch

    if library() is None:
        pytest.skip(f"no native step: {build_error()}")
    threads = {}
    for lanes in (1, 2):
        problem = PolicyProblem(
            tiny_config(trainer={"lanes": lanes, "threads": 2, "kernel": "native", "popsize": 4})
        )
        problem.evaluate(SolutionBatch(problem, popsize=4))
        threads[lanes] = sorted((p._native.threads for p in problem._populations.values()), key=str)
        problem.close()
    assert threads == {1: [None], 2: [1, 1]}  # None: torch's thread count at each call


def test_lanes_give_the_same_fitness_as_one_batch(tiny_config):
    from evotorch import SolutionBatch

    values = None
    evals = []
    for lanes in (1, 2, 3):
        problem = PolicyProblem(tiny_config(trainer={"lanes": lanes, "episodes": 2}))
        if values is None:
            gen = torch.Generator().manual_seed(0)
            values = problem.center_init + 0.1 * torch.randn(
                5, problem.solution_length, generator=gen
            )
        batch = SolutionBatch(problem, popsize=5, empty=True)
        batch.set_values(values)
        problem.evaluate(batch)
        steps, _ = problem.end_generation()
        evals.append((batch.evals.clone(), steps))
        problem.close()
    for other, steps in evals[1:]:
        torch.testing.assert_close(other, evals[0][0], rtol=1e-4, atol=1e-4)
        assert steps == evals[0][1]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's own, raised while tracing
def test_native_kernel_gives_the_torch_kernels_fitness(tiny_config):
    import os
    import shutil

    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler for the native step")

    runs = [
        _first_generation(
            tiny_config(env={"max_episode_steps": 30}, trainer={"kernel": k, "compile": c}), 4
        )
        for k, c in (("torch", False), ("native", False), ("auto", True))
    ]
    evals, natives = [e for e, _ in runs], [n for _, n in runs]
    assert natives == [[False], [True], [True]]  # auto: native when compiling a covered net
    torch.testing.assert_close(evals[1], evals[0], rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(evals[2], evals[0], rtol=1e-4, atol=1e-3)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch's own, raised while tracing
def test_float16_storage_gives_one_fitness_on_every_kernel(tiny_config):
    """``agent.plasticity.storage: float16`` means the same network to the eager torch step,
    the compiled one and the C step (half fast weights; a rounding flip now and then moves
    an episode's return a little)."""
    import os
    import shutil

    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler for the native step")
    half = {"plasticity": {"rule": "hebbian", "granularity": "post", "storage": "float16"}}
    runs = [
        _first_generation(
            tiny_config(
                env={"max_episode_steps": 30}, agent=half, trainer={"kernel": k, "compile": c}
            ),
            4,
        )
        for k, c in (("torch", False), ("native", False), ("torch", True))
    ]
    evals, natives = [e for e, _ in runs], [n for _, n in runs]
    assert natives == [[False], [True], [False]]
    full = _first_generation(tiny_config(env={"max_episode_steps": 30}), 4)[0]
    assert not torch.equal(evals[0], full)  # the storage reached the network
    torch.testing.assert_close(evals[1], evals[0], rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(evals[2], evals[0], rtol=1e-2, atol=1e-2)


def test_auto_kernel_keeps_the_torch_step_quietly_for_an_uncovered_net(tiny_config, recwarn):
    cfg = tiny_config(agent={"plasticity": {"rule": "oja"}}, trainer={"compile": True})
    problem = PolicyProblem(cfg)
    assert not problem._population(2).native  # compiled torch step, no warning
    assert not [w for w in recwarn if "native" in str(w.message)]
    problem.close()
    cfg = tiny_config(agent={"plasticity": {"rule": "oja"}}, trainer={"kernel": "native"})
    problem = PolicyProblem(cfg)
    with pytest.warns(RuntimeWarning, match="does not cover this network: rule 'oja'"):
        assert not problem._population(2).native
    problem.close()


def test_the_es_header_names_the_network_step(tiny_config):
    import os
    import shutil

    from plasticagents.training.trainers.es import Trainer

    compiler = shutil.which(os.environ.get("CC", "cc")) is not None
    cases = [
        ({"compile": False}, {}, "torch step"),
        ({"compile": True, "kernel": "torch"}, {}, "compiled torch step"),
        ({"compile": True}, {"plasticity": {"rule": "oja"}}, "compiled torch step"),
    ]
    if compiler:
        cases.append(({"compile": True}, {}, "native C step"))
    for trainer, agent, step in cases:
        t = Trainer(tiny_config(trainer=trainer, agent=agent), print)
        assert t.describe().endswith(f"generations, {step}")
        t.problem.close()


def test_an_lstm_trains_by_es_and_its_checkpoint_evaluates(tiny_config, tmp_path):
    """agent.kind 'lstm': trained through the same population step, saved, and reloaded as an
    LSTMPolicy whose evaluation is the logged centre evaluation."""
    from plasticagents import LSTMPolicy

    cfg = tiny_config(
        agent={"kind": "lstm", "hidden": 8, "plasticity": None},
        trainer={"generations": 2, "eval_every": 2, "eval_episodes": 2},
    )
    lines = []
    run, _ = _train(cfg, tmp_path, log=lines.append)
    assert "agent lstm (8 units), 886 parameters" in lines[0]  # 4*8*(17+8+1) + 6*8 + 6
    rows = run.read_metrics()
    assert len(rows) == 2 and float(rows[-1]["spikes_per_step"]) == 0.0
    assert isinstance(load_policy(run.path, which="latest").policy, LSTMPolicy)
    # the trainer evaluates the centre of the last generation (1) on seeds from seed + 10,001
    returns = evaluate_run(run.path, 2, cfg.seed + 10_001, which="latest", threads=1)
    assert float(returns.mean()) == pytest.approx(float(rows[-1]["eval_return"]), abs=1e-3)


def _cue_config(tiny_config, curriculum, env=None):
    """The tiny config on the direction task (60-step episodes) with ``curriculum``, loaded
    and validated as from a file."""
    from plasticagents.training.config import from_dict, to_dict

    data = to_dict(tiny_config(trainer={"popsize": 2}))
    data["env"] = env or {
        "id": "plasticagents/HalfCheetahDirSwitch-v0",
        "kwargs": {"cue_steps": 10, "switch_every": 100, "switch_range": None},
        "max_episode_steps": 60,
    }
    data["trainer"]["curriculum"] = curriculum
    return from_dict(data)


def test_a_curriculum_changes_the_training_envs_over_the_generations(tiny_config):
    # cue_steps from 50 at generation 0 to env.kwargs' 10 at generation 2: the cue flag (the
    # last observation) is on for 50 of the 60 training steps at generation 0, 30 at 1, 10
    # from 2 on; evaluation envs keep env.kwargs' 10
    from evotorch import SolutionBatch

    cfg = _cue_config(tiny_config, {"cue_steps": {"start": 50, "generations": 2}})
    problem = PolicyProblem(cfg)
    problem.warmup_obs_norm(600)  # its random-action episodes meet generation 0's envs
    assert round(problem.obs_norm.mean[-1] * 60) == 50
    batch = SolutionBatch(problem, popsize=2, empty=True)
    batch.set_values(problem.center_init.repeat(2, 1))
    shown = []
    for gen in range(4):
        problem.generation = gen
        assert problem.curriculum() == {"cue_steps": [50, 30, 10, 10][gen]}
        problem.evaluate(batch)
        # the observations the generation saw (before they fold into the normaliser)
        shown.append(round(problem._obs_delta.mean[-1] * 60))
        problem.end_generation()
    problem.close()
    assert shown == [50, 30, 10, 10]


def test_bad_curricula_are_refused_by_name(tiny_config):
    with pytest.raises(ConfigError, match=r"env.kwargs.switch_at must be the number"):
        _cue_config(tiny_config, {"switch_at": {"start": 5, "generations": 2}})
    with pytest.raises(ConfigError, match=r"trainer.curriculum.cue_steps: expected a mapping"):
        _cue_config(tiny_config, {"cue_steps": {"start": 5}})
    with pytest.raises(ConfigError, match=r"cue_steps.generations: must be an integer >= 1"):
        _cue_config(tiny_config, {"cue_steps": {"start": 5, "generations": 0}})
    with pytest.raises(ConfigError, match=r"cue_steps.start: expected a number, got 'x'"):
        _cue_config(tiny_config, {"cue_steps": {"start": "x", "generations": 2}})
    with pytest.raises(ConfigError, match=r"cue_steps.start: cue_steps must be an int >= 1, got 0"):
        PolicyProblem(_cue_config(tiny_config, {"cue_steps": {"start": 0, "generations": 2}}))
    # attributes an env derives other settings from, or the fast path caches, are refused
    env = {"id": "HalfCheetah-v5", "kwargs": {"frame_skip": 5}}
    cfg = _cue_config(tiny_config, {"frame_skip": {"start": 2, "generations": 3}}, env)
    with pytest.raises(ConfigError, match=r"'HalfCheetah-v5' does not let 'frame_skip' change"):
        PolicyProblem(cfg)
    env = {"id": "plasticagents/CueAssociation-v0", "kwargs": {"cue_steps": 2}}
    cfg = _cue_config(tiny_config, {"cue_steps": {"start": 6, "generations": 3}}, env)
    with pytest.raises(ConfigError, match=r"does not let 'cue_steps' change during training"):
        PolicyProblem(cfg)
