import re
from pathlib import Path

import pytest

from plasticagents.envs import load_suite
from plasticagents.training.config import (
    ClassificationConfig,
    ConfigError,
    ESConfig,
    ExperimentConfig,
    from_dict,
    load_config,
)
from plasticagents.training.registry import TRAINERS, kinds

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
EXPERIMENTS = sorted(p for p in CONFIGS.rglob("*.yaml") if p.parent.name != "robustness")


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_experiment_config_loads(path):
    cfg = load_config(path)
    if isinstance(cfg, ClassificationConfig):
        assert cfg.name and cfg.data.source and cfg.trainer.kind in kinds("classifier")
    else:
        assert isinstance(cfg, ExperimentConfig)
        assert cfg.name and cfg.env.id and cfg.trainer.kind in kinds("policy")


def test_every_trainer_kind_has_a_smoke_config():
    smoke = {load_config(p).trainer.kind for p in (CONFIGS / "smoke").glob("*.yaml")}
    assert smoke == set(kinds("policy")) | set(kinds("classifier")) == set(TRAINERS)
    assert {"es", "bptt", "ppo", "recurrent_ppo", "classify", "stdp"} <= smoke


@pytest.mark.parametrize("path", sorted((CONFIGS / "robustness").glob("*.yaml")), ids=str)
def test_every_robustness_suite_loads(path):
    suite = load_suite(path)
    assert suite["perturbations"] or suite["env"]  # a reference suite: nominal only


def test_there_are_experiment_configs_for_both_robots_and_all_agents():
    names = {p.stem for p in EXPERIMENTS}
    for robot in ("halfcheetah", "ant"):
        for agent in ("plastic_snn", "static_snn", "mlp"):
            assert f"{robot}_{agent}" in names


def test_defaults_and_overrides():
    cfg = from_dict({}, ["trainer.popsize=10", "agent.plasticity.rule=oja", "env.kwargs.x=1.5"])
    assert isinstance(cfg.trainer, ESConfig)
    assert cfg.trainer.popsize == 10
    assert cfg.agent.plasticity.rule == "oja"
    assert cfg.env.kwargs == {"x": 1.5}


def test_null_plasticity_is_the_static_snn():
    assert from_dict({}, ["agent.plasticity=null"]).agent.plasticity is None


@pytest.mark.parametrize(
    ("data", "overrides", "match"),
    [
        (
            {"trainer": {"popsiz": 8}},
            [],
            r"trainer: unknown key 'popsiz' \(did you mean 'popsize'\?\)",
        ),
        (
            {"agent": {"kind": "gru"}},
            [],
            r"agent.kind: invalid value 'gru'; valid choices: \['snn', 'mlp', 'lstm'\]",
        ),
        (
            {"agent": {"kind": "lstm"}, "trainer": {"kind": "ppo"}},
            [],
            r"agent.kind 'lstm' is trained by trainer.kind 'es', got trainer.kind 'ppo'",
        ),
        ({}, ["trainer.algorithm=adam"], r"trainer.algorithm: invalid value 'adam'; valid choices"),
        ({}, ["trainer.popsize=many"], r"trainer.popsize: expected an integer, got 'many'"),
        ({}, ["trainer.popsize=true"], r"trainer.popsize: expected an integer"),
        ({}, ["trainer.popsize=7"], r"popsize must be even"),
        ({}, ["trainer.generations=0"], r"trainer.generations: must be > 0"),
        ({}, ["agent.density=1.5"], r"agent.density"),
        (
            {},
            ["agent.plasticity.storage=bfloat16"],
            r"agent.plasticity.storage: invalid value 'bfloat16'; valid choices: "
            r"\['float32', 'float16'\]",
        ),
        (
            {},
            ["agent.plasticity.storage=float16", "agent.plasticity.clip=1e6"],
            r"agent.plasticity: plasticity clip 1000000.0 does not fit in storage 'float16'",
        ),
        (
            {},
            ["agent.plasticity.rule=abcd", "agent.plasticity.abcd_init=[0, 0.2, -1]"],
            r"agent.plasticity: plasticity abcd_init must be 4 finite numbers \(A, B, C, D\), "
            r"got \[0.0, 0.2, -1.0\]",
        ),
        (
            {},
            ["agent.plasticity.abcd_init=[0, 0.2, -1, 0]"],
            r"abcd_init \[0.0, 0.2, -1.0, 0.0\] sets the 'abcd' rule's coefficients, but the "
            r"rule is 'hebbian'",
        ),
        (
            {"trainer": {"kind": "sac"}},
            [],
            # every registered kind: es, bptt, ppo, recurrent_ppo, ..., classify, stdp
            r"trainer.kind: invalid value 'sac'; valid choices: " + re.escape(str(list(TRAINERS))),
        ),
        ({"env": []}, [], r"env: expected a mapping"),
        # trainer ranges are checked at load time, before a run directory exists
        ({"trainer": {"kind": "bptt"}}, ["trainer.batch=0"], r"trainer.batch: must be > 0"),
        (
            {"trainer": {"kind": "bptt"}},
            ["trainer.explore=1.5"],
            r"trainer.explore: must be in \[0, 1\), got 1.5",
        ),
        ({"trainer": {"kind": "ppo"}}, ["trainer.n_envs=0"], r"trainer.n_envs: must be > 0"),
        (
            {"trainer": {"kind": "recurrent_ppo", "n_envs": 2}},
            ["trainer.minibatch_envs=3"],
            r"trainer.minibatch_envs: must be <= trainer.n_envs \(2\), got 3",
        ),
        (
            {"trainer": {"kind": "classify"}},
            ["trainer.validation_fraction=1.0"],
            r"trainer.validation_fraction: must be in \[0, 1\)",
        ),
        ({}, ["popsize"], r"--set expects KEY=VALUE"),
        ({"trainer": {"popsize": 4}}, ["trainer.popsize.x=1"], r"trainer.popsize is not a mapping"),
        (
            {"env": {"train_distribution": [{"type": "cripple_leg"}]}},
            [],
            r"env.train_distribution\[0\]: expected a list",
        ),
    ],
)
def test_bad_values_name_the_key_and_the_choices(data, overrides, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(data, overrides)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text("agent:\n  hiden: 3\n")
    with pytest.raises(ConfigError, match=r"typo.yaml: agent: unknown key 'hiden'"):
        load_config(typo)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["agent.gain=.nan"], r"agent.gain: expected a finite number, got nan"),
        (["agent.gain=-1"], r"agent.gain: must be > 0, got -1.0"),
        (["agent.tau_mem=1e30"], r"agent.tau_mem: must be <= 1000 seconds"),
        (["agent.dt=1e30"], r"agent.dt: must be in \(0, 1.0\] seconds"),
        (["trainer.stdev_init=1e30"], r"trainer.stdev_init: must be <= 10"),
        (["trainer.center_lr=1e30"], r"trainer.center_lr: must be <= 10"),
        (["trainer.center_lr=.inf"], r"trainer.center_lr: expected a finite number"),
    ],
)
def test_absurd_values_are_one_line_errors(overrides, match):
    with pytest.raises(ConfigError, match=match):
        from_dict({}, overrides)


def test_absurd_classifier_time_constants_and_an_empty_file(tmp_path):
    with pytest.raises(ConfigError, match=r"model.tau_mem: must be <= 1000 seconds"):
        from_dict({"trainer": {"kind": "classify"}}, ["model.tau_mem=1e30"])
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match=r"empty.yaml: the config is empty; an experiment names"):
        load_config(empty)
