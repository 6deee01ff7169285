import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from plasticagents.envs import expand_entry, leg_actuators, load_suite, make_env, perturbed_ids
from plasticagents.envs.factory import PERTURBATIONS

ZERO = [  # every perturbation at strength 0
    {"type": "cripple_leg", "leg": "bthigh", "strength": 0.0},
    {"type": "weaken_actuator", "actuators": ["fthigh"], "strength": 0.0},
    {"type": "scale_body_mass", "scale": 1.0},
    {"type": "scale_friction", "scale": 1.0},
    {"type": "scale_gravity", "scale": 1.0},
    {"type": "scale_joint_damping", "scale": 1.0},
    {"type": "external_push", "body": "torso", "force": [0.0, 0.0, 0.0]},
    {"type": "gaussian_noise_observation", "std": 0.0},
    {"type": "dropout_observation", "p": 0.0},
    {"type": "gaussian_noise_action", "std": 0.0},
    {"type": "delay_observation", "steps": 0},
    {"type": "delay_action", "steps": 0},
    {"type": "stuck_observation", "indices": []},
    {"type": "offset_observation", "offset": 0.0, "std": 0.0},
]


def rollout(env, seed=0, steps=60, actions=None):
    rng = np.random.default_rng(123)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for t in range(steps):
        a = actions[t] if actions is not None else rng.uniform(-1, 1, env.action_space.shape)
        obs, r, *_ = env.step(a.astype(np.float32))
        out.append(np.append(obs, r))
    return out


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_covers_every_perturbation_type():
    assert {p["type"] for p in ZERO} == set(PERTURBATIONS)


@pytest.mark.parametrize("spec", ZERO, ids=lambda s: s["type"])
def test_strength_zero_equals_base_env(spec):
    base = rollout(gym.make("HalfCheetah-v5"))
    assert same(base, rollout(make_env("HalfCheetah-v5", [spec])))


def test_same_seed_same_rollout_with_random_perturbations():
    specs = [
        {"type": "gaussian_noise_observation", "std": 0.3},
        {"type": "dropout_observation", "p": 0.2},
        {"type": "scale_body_mass", "scale_range": [0.5, 1.5], "onset_range": [5, 20]},
    ]
    a, b = (
        rollout(make_env("Hopper-v5", specs), seed=4),
        rollout(make_env("Hopper-v5", specs), seed=4),
    )
    c = rollout(make_env("Hopper-v5", specs), seed=5)
    assert same(a, b) and not same(a, c)


@pytest.mark.parametrize(
    "spec,field,check",
    [
        (
            {"type": "cripple_leg", "leg": "front_left_leg"},
            "actuator_gear",
            lambda new, nom: (
                new[2, 0] == 0
                and new[3, 0] == 0
                and np.array_equal(new[[0, 1, 4, 5, 6, 7]], nom[[0, 1, 4, 5, 6, 7]])
            ),
        ),
        (
            {"type": "scale_body_mass", "names": ["torso"], "scale": 2.0},
            "body_mass",
            lambda new, nom: new[1] == 2 * nom[1] and new[2] == nom[2],
        ),
        (
            {"type": "scale_friction", "scale": 0.5},
            "geom_friction",
            lambda new, nom: np.allclose(new, 0.5 * nom),
        ),
        (
            {"type": "scale_joint_damping", "scale": 3.0},
            "dof_damping",
            lambda new, nom: np.allclose(new, 3 * nom),
        ),
        (
            {"type": "scale_gravity", "scale": 0.5},
            "gravity",
            lambda new, nom: np.allclose(new, 0.5 * nom),
        ),
    ],
)
def test_physical_perturbation_changes_its_field_and_the_dynamics(spec, field, check):
    nominal_env = gym.make("Ant-v5")

    def get(e):
        model = e.unwrapped.model
        return (model.opt.gravity if field == "gravity" else getattr(model, field)).copy()

    nominal = get(nominal_env)
    env = make_env("Ant-v5", [spec])
    env.reset(seed=0)
    assert check(get(env), nominal)
    assert not same(rollout(nominal_env, steps=30), rollout(env, steps=30))


def test_external_push_moves_the_body_only_during_its_window():
    push = {
        "type": "external_push",
        "body": "torso",
        "force": [500.0, 0, 0],
        "duration": 3,
        "onset": 10,
    }
    env = make_env("HalfCheetah-v5", [push])
    env.reset(seed=0)
    active = []
    for _ in range(20):
        _, _, _, _, info = env.step(np.zeros(6, np.float32))
        active.append(info["perturbation"]["ExternalPush"]["active"])
        if 10 <= len(active) - 1 < 13:
            assert env.unwrapped.data.xfrc_applied[1, 0] == 500.0
    assert active == [False] * 10 + [True] * 3 + [False] * 7
    assert not same(rollout(gym.make("HalfCheetah-v5"), steps=20), rollout(env, steps=20))


def test_nominal_values_restored_after_reset_and_never_compound():
    specs = [
        {"type": "scale_body_mass", "scale": 2.0, "onset": 5},
        {"type": "scale_body_mass", "scale": 3.0},
    ]
    env = make_env("Walker2d-v5", specs)
    nominal = gym.make("Walker2d-v5").unwrapped.model.body_mass.copy()
    for _ in range(3):
        env.reset(seed=0)
        np.testing.assert_allclose(
            env.unwrapped.model.body_mass, 3 * nominal
        )  # only the always-on one
        for _ in range(6):
            env.step(env.action_space.sample())
        np.testing.assert_allclose(
            env.unwrapped.model.body_mass, 6 * nominal
        )  # both: product, once
    env.close()
    np.testing.assert_allclose(env.unwrapped.model.body_mass, nominal)


@pytest.mark.parametrize(
    "schedule,expected",
    [
        ({"onset": 3}, [False] * 3 + [True] * 5),
        ({"onset": 2, "until": 5}, [False] * 2 + [True] * 3 + [False] * 3),
    ],
)
def test_schedules_switch_at_the_right_step(schedule, expected):
    env = make_env("Hopper-v5", [{"type": "cripple_leg", "leg": "thigh", **schedule}])
    env.reset(seed=0)
    flags = []
    for _ in range(8):
        *_, info = env.step(np.zeros(3, np.float32))
        flags.append(info["perturbation"]["CrippleLeg"]["active"])
    assert flags == expected


def test_random_onset_and_random_leg_drawn_per_episode():
    env = make_env(
        "Ant-v5",
        [{"type": "cripple_leg", "leg": ["front_left_leg", "back_leg"], "onset_range": [0, 50]}],
    )
    seen_legs, seen_onsets = set(), set()
    for seed in range(12):
        _, info = env.reset(seed=seed)
        report = info["perturbation"]["CrippleLeg"]
        seen_legs.add(report["leg"])
        seen_onsets.add(report["onset"])
        assert 0 <= report["onset"] <= 50
    assert seen_legs == {"front_left_leg", "back_leg"} and len(seen_onsets) > 3


def test_observation_offset_is_constant_within_an_episode_and_redrawn_per_episode():
    spec = {"type": "offset_observation", "std": 0.5, "indices": [1, 3], "onset": 4}
    env = make_env("HalfCheetah-v5", [spec])

    def offsets(seed):  # shifted minus exact observation after each step, and the rewards
        base = rollout(gym.make("HalfCheetah-v5"), seed=seed, steps=12)[1:]
        shifted = rollout(env, seed=seed, steps=12)[1:]
        assert [s[-1] for s in shifted] == [b[-1] for b in base]  # rewards untouched
        return [s[:-1] - b[:-1] for s, b in zip(shifted, base, strict=True)]

    diffs = offsets(0)
    assert all(not d.any() for d in diffs[:4])  # transitions before the onset: exact sensors
    offset = diffs[4][[1, 3]]
    assert np.all(offset != 0)
    for d in diffs[4:]:
        np.testing.assert_allclose(d[[1, 3]], offset, atol=1e-6)  # one offset all episode
        assert not np.delete(d, [1, 3]).any()  # the other sensors untouched
    assert not np.allclose(offsets(1)[-1][[1, 3]], offset)  # a new episode, a new offset

    fixed = {"type": "offset_observation", "offset": [0.2, -0.1], "indices": [0, 5]}
    exact = rollout(gym.make("HalfCheetah-v5"), steps=3)[2]
    got = rollout(make_env("HalfCheetah-v5", [fixed]), steps=3)[2]
    np.testing.assert_allclose((got - exact)[[0, 5]], [0.2, -0.1], atol=1e-6)
    with pytest.raises(ValueError, match=r"one per index\), got \[0\.1, 0\.2\]"):
        make_env("HalfCheetah-v5", [{"type": "offset_observation", "offset": [0.1, 0.2]}])
    with pytest.raises(ValueError, match="index 17 out of range; valid: 0..16"):
        make_env("HalfCheetah-v5", [{"type": "offset_observation", "indices": [17]}])


def test_signal_perturbations_do_what_they_say():
    env = make_env("HalfCheetah-v5", [{"type": "delay_observation", "steps": 2}])
    base = rollout(gym.make("HalfCheetah-v5"), steps=10)
    delayed = rollout(env, steps=10)
    np.testing.assert_array_equal(delayed[5][:-1], base[3][:-1])
    stuck = rollout(
        make_env("HalfCheetah-v5", [{"type": "stuck_observation", "indices": [0, 4], "onset": 3}]),
        steps=10,
    )
    assert all(np.array_equal(s[[0, 4]], stuck[3][[0, 4]]) for s in stuck[3:])
    assert not np.array_equal(stuck[8][1], stuck[3][1])
    dropped = rollout(
        make_env("HalfCheetah-v5", [{"type": "dropout_observation", "p": 0.5}]), steps=10
    )
    assert 0.3 < np.mean([np.mean(d[:-1] == 0) for d in dropped[1:]]) < 0.7


def test_delay_action_applies_old_actions():
    actions = np.random.default_rng(0).uniform(-1, 1, (10, 6))
    delayed = rollout(
        make_env("HalfCheetah-v5", [{"type": "delay_action", "steps": 1}]), steps=9, actions=actions
    )
    shifted = rollout(
        gym.make("HalfCheetah-v5"), steps=9, actions=np.vstack([np.zeros((1, 6)), actions])
    )
    assert same(delayed, shifted)


def test_spec_round_trips_through_gym_make():
    env = make_env(
        "Ant-v5",
        [
            {"type": "cripple_leg", "leg": "back_leg", "onset": 7},
            {"type": "gaussian_noise_observation", "std": 0.2},
        ],
    )
    rebuilt = gym.make(env.spec)
    assert rebuilt.spec.to_json() == env.spec.to_json()
    assert same(rollout(env, steps=20), rollout(rebuilt, steps=20))


def test_leg_names_per_robot():
    legs = {
        robot: sorted(leg_actuators(gym.make(f"{robot}-v5").unwrapped.model))
        for robot in ["Ant", "HalfCheetah", "Walker2d", "Hopper"]
    }
    assert legs["Ant"] == ["back_leg", "front_left_leg", "front_right_leg", "right_back_leg"]
    assert legs["HalfCheetah"] == ["bthigh", "fthigh"]
    assert legs["Walker2d"] == ["thigh", "thigh_left"] and legs["Hopper"] == ["thigh"]


@pytest.mark.parametrize(
    "spec,message",
    [
        (
            {"type": "cripple_leg", "leg": "tail"},
            r"unknown leg 'tail'; valid choices: \['back_leg'",
        ),
        ({"type": "scale_body_mass", "names": ["head"]}, "unknown body 'head'; valid choices"),
        ({"type": "scale_body_mass", "scale": -1.0}, "scale must be finite and >= 0, got -1.0"),
        (
            {"type": "scale_friction", "scale": float("nan")},
            "scale must be finite and >= 0, got nan",
        ),
        ({"type": "weaken_actuator", "actuators": ["9"]}, "unknown actuator '9'"),
        ({"type": "cripple_leg", "onset": -1}, "onset must be an int >= 0"),
        ({"type": "warp_drive"}, "unknown perturbation type 'warp_drive'; valid choices"),
        ({"type": "cripple_leg", "legg": "x"}, "unknown parameter 'legg' for cripple_leg; valid"),
    ],
)
def test_bad_perturbations_fail_at_construction(spec, message):
    with pytest.raises(ValueError, match=message):
        make_env("Ant-v5", [spec])


def test_unknown_env_id_suggests_close_matches():
    with pytest.raises(ValueError, match=r"unknown environment id 'Ant-v9'; did you mean \["):
        make_env("Ant-v9")


def test_suites_load_and_bad_suites_are_named(tmp_path):
    from pathlib import Path

    for path in sorted(Path(__file__).resolve().parents[2].glob("configs/robustness/*.yaml")):
        suite = load_suite(path)
        # a reference suite may hold the nominal condition alone (vel_reference.yaml)
        assert suite["perturbations"] or suite["env"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "perturbations:\n  - {name: a, type: cripple_leg, leg: front_left_leg, strenght: 1}\n"
    )
    with pytest.raises(ValueError, match=r"perturbations\[0\]: unknown parameter 'strenght'"):
        load_suite(bad)
    bad.write_text("perturbations: [\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_suite(bad)
    bad.write_text(
        "perturbations:\n  - {name: a, type: scale_gravity}\n  - {name: a, type: scale_gravity}\n"
    )
    with pytest.raises(ValueError, match="duplicate perturbation name 'a'"):
        load_suite(bad)
    bad.write_text("perturbations: []\n")
    assert load_suite(bad)["env_kwargs"] == {}  # no key: the runs' own kwargs
    for value in ("[switch_every, 100]", "false", "''"):
        bad.write_text(f"env_kwargs: {value}\nperturbations: []\n")
        with pytest.raises(ValueError, match="env_kwargs must be a mapping"):
            load_suite(bad)
    bad.write_text("env_kwargs: {switch_every: 400}\nperturbations: []\n")
    assert load_suite(bad)["env_kwargs"] == {"switch_every": 400}
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_suite(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "entry, message",
    [
        ("{name: a, type: scale_gravity, sweep: {scale: 2.0}}", "needs a non-empty list"),
        ("{name: a, type: scale_gravity, sweep: {scale: [1], x: [2]}}", "sweep must map one"),
        ("{name: a, type: scale_gravity, sweep: {scael: [1.5]}}", "unknown parameter 'scael'"),
        ("{name: a, type: scale_gravity, onsets: [1.5]}", "onsets must be a non-empty list"),
        ("{name: a, type: scale_gravity, onsets: [-3]}", "onset must be an int >= 0"),
    ],
)
def test_bad_sweeps_and_onsets_are_named(tmp_path, entry, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"perturbations:\n  - {entry}\n")
    with pytest.raises(ValueError, match=message):
        suite = load_suite(bad)
        for spec in suite["perturbations"].values():  # onset values are checked on building
            make_env("HalfCheetah-v5", [s for s in expand_entry(spec)])


def test_suite_entries_expand_to_the_sweep_x_onset_grid():
    spec = {
        "name": "m",
        "type": "scale_body_mass",
        "sweep": {"scale": [0.5, 2.0]},
        "onsets": [0, 9],
    }
    grid = [(s["scale"], s["onset"], s["_value"], s["_onset"]) for s in expand_entry(spec)]
    assert grid == [(0.5, 0, 0.5, 0), (0.5, 9, 0.5, 9), (2.0, 0, 2.0, 0), (2.0, 9, 2.0, 9)]
    env = make_env("HalfCheetah-v5", [expand_entry(spec)[3]])  # private keys are ignored
    env.reset(seed=0)
    assert env.spec.additional_wrappers[0].kwargs["onset"] == 9


# Gymnasium's own MuJoCo envs declare unbounded observation boxes; the checker warns about it.
@pytest.mark.filterwarnings("ignore:.*A Box observation space (minimum|maximum) value is")
# The perturbation *is* a wrapper, so the wrapped env is what must pass the checks.
@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")
@pytest.mark.parametrize(
    "env_id", sorted(i for i in gym.registry if i.startswith("plasticagents/"))
)
def test_every_registered_id_passes_the_env_checker(env_id):
    env = gym.make(env_id)
    check_env(env, skip_render_check=True)
    if env_id in perturbed_ids():
        assert gym.make(env.spec).spec.kwargs["perturbations"] == perturbed_ids()[env_id][1]


def test_scaled_masses_keep_the_centre_of_mass_consistent():
    """MuJoCo's subtree_com divides by body_subtreemass, a compiled constant: it must follow
    the edited masses or the reported centre of mass (and trackcom cameras) jump away."""
    env = make_env("HalfCheetah-v5", [{"type": "scale_body_mass", "scale": 2.0, "onset": 3}])
    env.reset(seed=0)
    model, data = env.unwrapped.model, env.unwrapped.data
    nominal_total = model.body_subtreemass[0]
    for _ in range(5):
        env.step(np.zeros(6))
    assert model.body_subtreemass[0] == pytest.approx(2 * nominal_total)
    com = (model.body_mass[:, None] * data.xipos).sum(0) / model.body_mass.sum()
    np.testing.assert_allclose(data.subtree_com[0], com, atol=1e-9)
    env.reset(seed=1)  # the schedule switches it off again: nominal masses, nominal subtree
    assert model.body_subtreemass[0] == pytest.approx(nominal_total)
