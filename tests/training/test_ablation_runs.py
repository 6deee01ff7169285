"""Ablations through the engine: robustness, evaluate and view run an ablated plastic agent on
the intact agent's seeds, and the ablation starts where the env reports the onset."""

import numpy as np
import pytest
import yaml

from plasticagents.ablation import plastic_state
from plasticagents.training.analysis.evaluate import evaluate_run, load_policy
from plasticagents.training.analysis.robustness import run_robustness
from plasticagents.training.builders import env_maker
from plasticagents.training.rollout import EnvPool, rollout

ONSET = 20


def _hebb_per_step(loaded, ablation):
    """The fast weights after every step of one 40-step episode, back leg disabled at ONSET."""
    env_cfg = loaded.env_config(
        None, [{"type": "cripple_leg", "leg": "bthigh", "onset": ONSET}], 40
    )
    pool = EnvPool([env_maker(env_cfg)])
    try:
        result = rollout(
            loaded.agent(env_cfg, ablation=ablation),
            pool,
            [7],
            record=("hebb",),
            probe=lambda s: {"hebb": plastic_state(s).hebb.reshape(1, -1).numpy()},
        )
    finally:
        pool.close()
    assert result.onsets[0] == {"CrippleLeg": ONSET}
    return np.stack(result.trajectory["hebb"])[:, 0]


def test_the_engine_tells_the_ablation_when_the_onset_happened(trained):
    loaded = load_policy(trained)
    intact = _hebb_per_step(loaded, None)
    frozen = _hebb_per_step(loaded, "freeze-at-onset")
    reset = _hebb_per_step(loaded, "reset-at-onset")
    np.testing.assert_array_equal(frozen[: ONSET + 1], intact[: ONSET + 1])
    np.testing.assert_array_equal(reset[: ONSET + 1], intact[: ONSET + 1])
    assert (frozen[ONSET + 1 :] == intact[ONSET]).all()  # held from the onset on
    assert not np.array_equal(intact[-1], intact[ONSET])
    assert not np.array_equal(reset[ONSET + 1], intact[ONSET + 1])  # restarted from scratch
    assert (_hebb_per_step(loaded, "lesion") == 0).all()


def test_robustness_puts_each_ablation_beside_the_intact_agent(trained, tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "env": "HalfCheetah-v5",
                "episodes": 2,
                "max_episode_steps": 60,
                "perturbations": [
                    {"name": "leg", "type": "cripple_leg", "leg": "bthigh", "onsets": [ONSET]}
                ],
            }
        )
    )
    ablations = ["freeze-at-onset", "lesion", "reset-at-onset"]
    rows = run_robustness(
        [trained], suite, tmp_path / "out", threads=1, progress=False, ablations=ablations
    )
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    assert agents == ["tiny-plastic"] + [f"tiny-plastic [{a}]" for a in ablations]
    by = {(r["agent"], r["condition"], r["episode"]): r for r in rows}
    for k in range(2):
        intact = by[("tiny-plastic", "nominal", k)]["return"]
        # no onset in the nominal condition: freeze and reset never act; lesion always does
        assert by[("tiny-plastic [freeze-at-onset]", "nominal", k)]["return"] == intact
        assert by[("tiny-plastic [reset-at-onset]", "nominal", k)]["return"] == intact
        assert by[("tiny-plastic [lesion]", "nominal", k)]["return"] != intact
        assert by[("tiny-plastic [lesion]", "nominal", k)]["weight_change"] == 0.0
        before = by[("tiny-plastic", f"leg@{ONSET}", k)]["reward_before"]
        assert by[("tiny-plastic [freeze-at-onset]", f"leg@{ONSET}", k)]["reward_before"] == before
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Ablated agents" in report and "tiny-plastic [lesion]" in report


def test_evaluate_with_an_ablation_and_its_errors(trained, tmp_path, capsys):
    from plasticagents.training.cli import main

    lesioned = evaluate_run(trained, episodes=2, threads=1, ablation="lesion")
    intact = evaluate_run(trained, episodes=2, threads=1)
    assert lesioned.shape == (2,) and not np.allclose(lesioned, intact)
    with pytest.raises(SystemExit):
        main(["evaluate", str(trained), "--episodes", "1", "--ablation", "frozen"])
    assert "invalid choice: 'frozen'" in capsys.readouterr().err


@pytest.fixture
def static_run(tmp_path):
    from plasticagents.training import load_config, train

    cfg = load_config(
        "configs/smoke/es.yaml",
        ["agent.plasticity=null", "trainer.generations=1", "trainer.eval_every=0"],
    )
    return train(cfg, runs_dir=tmp_path, log=lambda m: None, tensorboard=False).run


def test_an_ablation_of_a_static_run_fails_before_any_episode(static_run, tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    with pytest.raises(ValueError, match="needs a plastic agent"):
        run_robustness(
            [static_run],
            "configs/robustness/halfcheetah.yaml",
            tmp_path / "o",
            ablations=["lesion"],
            progress=False,
        )
    assert not (tmp_path / "o" / "robustness.csv").exists()
