import matplotlib.image
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


@pytest.fixture
def saved_figures(monkeypatch):
    """The matplotlib figures saved while a test runs, in order (the plot functions close
    theirs; this keeps a reference to read their axes back)."""
    from matplotlib.figure import Figure

    saved, savefig = [], Figure.savefig

    def keep(fig, *args, **kwargs):
        saved.append(fig)
        return savefig(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    return saved


def test_plot_takes_gradient_runs_and_groups_seeds(tmp_path, saved_figures):
    runs = [gradient_run(tmp_path, f"ppo-s{s}", s, "snn", [s, s + 1.0]) for s in range(3)]
    for group in ([], ["--group"]):
        out = tmp_path / f"curves{len(group)}.png"
        assert main(["plot", *[str(r.path) for r in runs], "--out", str(out), *group]) == 0
        image = matplotlib.image.imread(out)
        assert image.shape[:2] == (462, 770)  # figsize (7, 4.2) at 110 dpi
        assert image[..., :3].std() > 0.05  # drawn on, not a blank canvas
    separate, grouped = (fig.axes[0] for fig in saved_figures)
    # one colour per run: its training episodes (mean_return = iteration) and its evaluations
    assert [line.get_label() for line in separate.get_lines()] == [
        f"ppo-s{s}: {what}" for s in range(3) for what in ("training episodes", "evaluation")
    ]
    evaluation = separate.get_lines()[5]  # ppo-s2's evaluations at env steps 200 and 400
    np.testing.assert_allclose(evaluation.get_xydata(), [[2e-4, 2.0], [4e-4, 3.0]])
    np.testing.assert_allclose(separate.get_lines()[0].get_ydata(), [0, 1, 2, 3])
    # grouped: the three seeds are one line, their mean evaluation, with a min-max band
    (line,) = grouped.get_lines()
    assert line.get_label() == "ppo (3 seeds)"
    np.testing.assert_allclose(line.get_xydata(), [[2e-4, 1.0], [4e-4, 2.0]])  # mean of s, s+1
    (band,) = grouped.collections
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.0) and ys.max() == pytest.approx(3.0)  # seeds 0 and 2
    assert grouped.get_xlabel() == "env steps (millions)"
    assert grouped.get_ylabel() == "episode return"


def test_grouping_runs_that_never_evaluated_together_is_an_error(tmp_path):
    a = gradient_run(tmp_path, "x-s0", 0, "mlp", [1.0], every=2)
    b = gradient_run(tmp_path, "x-s1", 1, "mlp", [1.0], every=3)  # evaluated at other steps
    loaded = [(r.config_dict(), r.read_metrics()) for r in (a, b)]
    with pytest.raises(ValueError, match=r"\['x-s0', 'x-s1'\] share no evaluated env-step"):
        group_seed_evaluations(loaded)
