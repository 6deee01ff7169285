import numpy as np
import pytest

from plasticagents.training.analysis.plots import group_seed_evaluations
from plasticagents.training.cli import main
from plasticagents.training.run import RunDir

COLUMNS = ["iteration", "env_steps", "mean_return", "eval_return"]


def gradient_run(root, name, seed, agent, evals, every=2):
    """A run directory as the ppo / bptt trainers leave it: an eval_return every ``every`` rows."""
    config = {"name": name, "seed": seed, "agent": {"kind": agent}, "trainer": {"kind": "ppo"}}
    run = RunDir.create(root, name, config)
    for i in range(every * len(evals)):
        value = evals[i // every] if i % every == every - 1 else None
        row = {
            "iteration": i,
            "env_steps": 100 * (i + 1),
            "mean_return": float(i),
            "eval_return": value,
        }
        run.append_metrics(row, COLUMNS)
    return run


def test_seeds_of_one_experiment_are_grouped_at_their_common_evaluations(tmp_path):
    runs = [
        gradient_run(tmp_path, "mlp-s0", 0, "mlp", [1.0, 2.0, 3.0]),
        gradient_run(tmp_path, "mlp-s1", 1, "mlp", [3.0, 4.0]),  # stopped early
        gradient_run(tmp_path, "snn-s0", 0, "snn", [5.0, 6.0, 7.0]),
        gradient_run(tmp_path, "ants", 0, "static", [1.0]),  # alone: its name stays whole
    ]
    loaded = [(r.config_dict(), r.read_metrics()) for r in runs]
    groups = group_seed_evaluations(loaded)
    assert list(groups) == ["mlp", "snn-s0", "ants"]
    steps, values = groups["mlp"]
    np.testing.assert_array_equal(steps, [200, 400])  # where both seeds evaluated
    np.testing.assert_array_equal(values, [[1.0, 2.0], [3.0, 4.0]])
    steps, values = groups["snn-s0"]
    np.testing.assert_array_equal(values, [[5.0, 6.0, 7.0]])


def test_plot_takes_gradient_runs_and_groups_seeds(tmp_path):
    runs = [gradient_run(tmp_path, f"ppo-s{s}", s, "snn", [s, s + 1.0]) for s in range(3)]
    for group in ([], ["--group"]):
        out = tmp_path / f"curves{len(group)}.png"
        assert main(["plot", *[str(r.path) for r in runs], "--out", str(out), *group]) == 0
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grouping_runs_that_never_evaluated_together_is_an_error(tmp_path):
    a = gradient_run(tmp_path, "x-s0", 0, "mlp", [1.0], every=2)
    b = gradient_run(tmp_path, "x-s1", 1, "mlp", [1.0], every=3)  # evaluated at other steps
    loaded = [(r.config_dict(), r.read_metrics()) for r in (a, b)]
    with pytest.raises(ValueError, match=r"\['x-s0', 'x-s1'\] share no evaluated env-step"):
        group_seed_evaluations(loaded)
