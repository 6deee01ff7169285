"""Hidden-goal locomotion (plasticagents.envs.goals): the goal is hidden or shown as asked, the
reward follows each task's formula, the goal switches on schedule, seeds reproduce goals, specs
round-trip and perturbations compose. Episodes are a few dozen steps."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from plasticagents.envs import goal_ids, make_env

IDS = sorted(goal_ids())
TASK_IDS = {  # the per-episode id of each task, the base env's actuator count, a fixed goal
    "velocity": ("plasticagents/HalfCheetahVel-v0", 6, lambda g: {"velocity_range": [g, g]}),
    "direction": ("plasticagents/HalfCheetahDir-v0", 6, lambda g: {"directions": [g]}),
    "angle": ("plasticagents/AntDir-v0", 8, lambda g: {"angle_range": [g, g]}),
}
TWO_GOALS = {"velocity": (0.5, 2.5), "direction": (1, -1), "angle": (0.3, 2.0)}


def features(task: dict) -> list[float]:
    """What the privileged observation must end with, from ``info["task"]``."""
    if "angle" in task:
        return [math.cos(task["angle"]), math.sin(task["angle"])]
    return [task.get("velocity", task.get("direction"))]


def actions(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, size)).astype(np.float32)


def run(env, acts, seed=0):
    """Observations (reset first), rewards and infos (reset first) of one scripted episode."""
    obs, info = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], [info]
    for a in acts:
        obs, r, terminated, truncated, info = env.step(a)
        observations.append(obs)
        rewards.append(r)
        infos.append(info)
        assert not (terminated or truncated)
    return np.array(observations), np.array(rewards), infos


def test_ids_cover_each_task_with_schedule_and_privileged_twins():
    assert len(IDS) == 12
    for kwargs in goal_ids().values():
        assert kwargs["task"] in TASK_IDS
    for env_id in IDS:
        if "Privileged" not in env_id:
            twin = env_id.replace("-v0", "Privileged-v0")
            assert goal_ids()[twin] == {**goal_ids()[env_id], "privileged": True}


# Gymnasium's own MuJoCo envs declare unbounded observation boxes; the checker warns about it.
@pytest.mark.filterwarnings("ignore:.*A Box observation space (minimum|maximum) value is")
# The task *is* a wrapper, so the wrapped env is what must pass the checks.
@pytest.mark.filterwarnings("ignore:.*is different from the unwrapped version")
@pytest.mark.parametrize("env_id", IDS)
def test_every_goal_id_passes_the_env_checker(env_id):
    env = gym.make(env_id)
    check_env(env, skip_render_check=True)
    extra = {"velocity": 1, "direction": 1, "angle": 2}[goal_ids()[env_id]["task"]]
    base = gym.make(goal_ids()[env_id]["base_id"]).observation_space.shape[0]
    assert env.observation_space.shape == (base + extra * ("Privileged" in env_id),)


@pytest.mark.parametrize("task", sorted(TASK_IDS))
def test_goal_is_hidden_or_shown_and_equals_info_task(task):
    """Same seed, same actions, two goals: the hidden observations are identical (nothing in
    them depends on the goal) while the rewards differ; the privileged observation is the
    hidden one plus the goal of ``info["task"]``, also across a switch."""
    env_id, nu, fixed = TASK_IDS[task]
    acts = actions(12, nu)
    hidden = [run(gym.make(env_id, **fixed(g)), acts) for g in TWO_GOALS[task]]
    np.testing.assert_array_equal(hidden[0][0], hidden[1][0])
    assert not np.allclose(hidden[0][1], hidden[1][1])

    obs, _, infos = run(gym.make(env_id, switch_every=5), acts)
    shown, _, shown_infos = run(gym.make(env_id, switch_every=5, privileged=True), acts)
    k = len(features(infos[0]["task"]))
    np.testing.assert_array_equal(shown[:, :-k], obs)
    assert [i["task"] for i in shown_infos] == [i["task"] for i in infos]
    np.testing.assert_allclose(shown[:, -k:], [features(i["task"]) for i in infos])
    goals = [features(i["task"]) for i in infos]
    changed = [t for t in range(1, len(goals)) if goals[t] != goals[t - 1]]
    assert changed == [6, 11]  # infos[0] is reset's: the goal changed at steps 5 and 10


def expected_reward(task: str, env, before: np.ndarray, action: np.ndarray, goal) -> float:
    """The task's reward recomputed from the MuJoCo state, not from ``info``."""
    base = env.unwrapped
    after = base.data.body("torso").xpos[:2].copy() if task == "angle" else base.data.qpos[:1]
    v = (after - before) / base.dt
    if task == "velocity":
        return -abs(v[0] - goal) - 0.1 * np.sum(np.square(action))
    if task == "direction":
        return goal * v[0] - 0.1 * np.sum(np.square(action))
    healthy = float(0.2 <= base.data.qpos[2] <= 1.0)
    contact = 5e-4 * np.sum(np.square(np.clip(base.data.cfrc_ext, -1.0, 1.0)))
    heading = math.cos(goal) * v[0] + math.sin(goal) * v[1]
    return heading + healthy - 0.5 * np.sum(np.square(action)) - contact


@pytest.mark.parametrize("task", sorted(TASK_IDS))
def test_reward_follows_the_formula_with_the_goal_info_reports(task):
    env_id, nu, _ = TASK_IDS[task]
    env = gym.make(env_id, switch_every=4)
    env.reset(seed=3)
    base = env.unwrapped
    for t, a in enumerate(actions(10, nu, seed=1)):
        before = base.data.body("torso").xpos[:2] if task == "angle" else base.data.qpos[:1]
        before = before.copy()
        _, reward, _, _, info = env.step(a)
        goal = info["task"][task]
        assert info["task"]["switched"] == (t in (4, 8))
        assert reward == pytest.approx(expected_reward(task, env, before, a, goal), abs=1e-9)
        assert {"x_position", "x_velocity", "reward_ctrl"} <= set(info)  # the base env's info
        terms = sum(float(v) for k, v in info.items() if k.startswith("reward_"))
        assert reward == pytest.approx(terms, abs=1e-12)


def test_scripted_runs_at_two_target_speeds_score_as_the_formula_says():
    """The goal changes the reward only: under one action sequence the returns at targets
    v1 < v2 differ by sum_t |v_t - v2| - |v_t - v1| (T (v2 - v1) while the robot runs slower
    than both), and the return is higher at the target closer to the speeds it ran."""
    acts = np.full((30, 6), 0.3, np.float32)  # a constant push: the cheetah barely moves
    env_id, _, fixed = TASK_IDS["velocity"]
    (_, slow, infos), (_, fast, _) = (run(gym.make(env_id, **fixed(g)), acts) for g in (1.0, 2.5))
    v = np.array([i["x_velocity"] for i in infos[1:]])
    assert np.all(np.abs(v) < 1.0)
    np.testing.assert_allclose(slow - fast, np.abs(v - 2.5) - np.abs(v - 1.0), atol=1e-12)
    assert slow.sum() - fast.sum() == pytest.approx(30 * 1.5, abs=1e-9)

    env_id, _, fixed = TASK_IDS["direction"]
    (_, forward, infos), (_, backward, _) = (
        run(gym.make(env_id, **fixed(d)), acts) for d in (1, -1)
    )
    v = np.array([i["x_velocity"] for i in infos[1:]])
    np.testing.assert_allclose(forward - backward, 2 * v, atol=1e-12)
    assert np.sign(forward.sum() - backward.sum()) == np.sign(v.sum()) != 0


@pytest.mark.parametrize(
    "schedule,switches",
    [
        ({}, []),
        ({"switch_at": 3}, [3]),
        ({"switch_every": 4}, [4, 8]),
        ({"switch_range": [2, 6]}, None),  # one step in 2..6, drawn per episode
    ],
)
@pytest.mark.parametrize("task", ["velocity", "direction"])
def test_goal_switches_at_the_scheduled_step_and_info_says_so(task, schedule, switches):
    env_id, nu, _ = TASK_IDS[task]
    env = gym.make(env_id, **schedule)
    drawn = set()
    for seed in range(6):
        _, _, infos = run(env, actions(10, nu), seed=seed)
        reported = [t for t, i in enumerate(infos[1:]) if i["task"]["switched"]]
        if switches is None:
            assert len(reported) == 1 and 2 <= reported[0] <= 6
            drawn.add(reported[0])
        else:
            assert reported == switches
        assert not infos[0]["task"]["switched"] and infos[0]["task"]["last_switch"] == 0
        goal, last = infos[0]["task"][task], 0
        for t, info in enumerate(infos[1:]):
            if t in reported:
                assert info["task"][task] != goal
                if task == "direction":
                    assert info["task"][task] == -goal  # a switch reverses the direction
                goal, last = info["task"][task], t
            assert info["task"][task] == goal and info["task"]["last_switch"] == last
    assert switches is not None or len(drawn) > 1


def test_same_seed_same_goals_and_each_episode_draws_anew():
    def goals(env, seed):
        _, _, infos = run(env, actions(12, 6), seed=seed)
        return [i["task"]["velocity"] for i in infos]

    env_id = "plasticagents/HalfCheetahVelSwitch-v0"
    kwargs = {"switch_range": [2, 9]}
    a, b = goals(gym.make(env_id, **kwargs), 7), goals(gym.make(env_id, **kwargs), 7)
    assert a == b and goals(gym.make(env_id, **kwargs), 8) != a
    env = gym.make("plasticagents/AntDir-v0")
    angles = [env.reset(seed=s)[1]["task"]["angle"] for s in (1, 1, 2)]
    assert angles[0] == angles[1] != angles[2]
    first = env.reset(seed=5)[1]["task"]["angle"]
    assert env.reset()[1]["task"]["angle"] != first  # an unseeded reset continues the stream


def test_goal_distributions_give_the_documented_blind_bounds():
    """The module docstring's blind bounds come from the goal distributions: E|v* - 1.5| =
    (3 - 0) / 4 for v* uniform on [0, 3]; E[d] = 0; E[(cos, sin)(theta)] = 0 on the circle."""
    n = 1500
    draws = {}
    for task, (env_id, _, _) in TASK_IDS.items():
        env = gym.make(env_id)
        draws[task] = [env.reset(seed=s)[1]["task"][task] for s in range(n)]
    v = np.array(draws["velocity"])
    assert v.min() >= 0 and v.max() <= 3 and v.max() - v.min() > 2.9
    assert np.mean(np.abs(v - 1.5)) == pytest.approx(0.75, abs=0.04)
    assert set(draws["direction"]) == {-1, 1} and abs(np.mean(draws["direction"])) < 0.1
    theta = np.array(draws["angle"])
    assert np.hypot(np.cos(theta).mean(), np.sin(theta).mean()) < 0.07


def test_spec_round_trips_through_gym_make():
    acts = actions(15, 6)
    env = gym.make("plasticagents/HalfCheetahDirPrivileged-v0", switch_every=6, directions=[1])
    rebuilt = gym.make(env.spec)
    assert rebuilt.spec.to_json() == env.spec.to_json()
    assert rebuilt.spec.kwargs["switch_every"] == 6 and rebuilt.spec.kwargs["directions"] == [1]
    (o1, r1, i1), (o2, r2, i2) = run(env, acts), run(rebuilt, acts)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    assert [i["task"] for i in i1] == [i["task"] for i in i2]
    # the task wrapper applied by hand to a plain Gymnasium env round-trips too
    from plasticagents.envs import TargetVelocity

    wrapped = TargetVelocity(gym.make("HalfCheetah-v5"), velocity_range=[1, 2], switch_at=4)
    again = gym.make(wrapped.spec)
    assert isinstance(again, TargetVelocity) and again.spec.to_json() == wrapped.spec.to_json()
    assert [i["task"] for i in run(again, acts)[2]] == [i["task"] for i in run(wrapped, acts)[2]]


def test_a_crippled_leg_composes_with_a_goal_task():
    """make_env puts perturbations on a goal id: the leg's gear is zero in the model the
    physics uses, the dynamics change, and the goals (same seed) and info["task"] stay."""
    leg = {"type": "cripple_leg", "leg": "bthigh", "onset": 5}
    acts = actions(12, 6)
    env = make_env("plasticagents/HalfCheetahVel-v0", [leg], switch_every=4)
    intact = gym.make("plasticagents/HalfCheetahVel-v0", switch_every=4)
    obs, _, infos = run(env, acts)
    gear = env.unwrapped.model.actuator_gear[:, 0]
    assert np.all(gear[:3] == 0) and np.all(gear[3:] > 0)
    assert [i["perturbation"]["CrippleLeg"]["active"] for i in infos[1:]] == [False] * 5 + [
        True
    ] * 7
    obs_intact, _, infos_intact = run(intact, acts)
    np.testing.assert_array_equal(obs[:6], obs_intact[:6])  # identical until the onset
    assert not np.allclose(obs[7:], obs_intact[7:])
    assert [i["task"] for i in infos] == [i["task"] for i in infos_intact]
    assert gym.make(env.spec).spec.to_json() == env.spec.to_json()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"switch_at": 0}, "switch_at must be an int >= 1, got 0"),
        ({"switch_every": 2.5}, "switch_every must be an int >= 1"),
        ({"switch_range": [5, 2]}, r"switch_range must be two ints 1 <= lo <= hi, got \[5, 2\]"),
        ({"switch_at": 3, "switch_every": 4}, "give at most one of switch_at"),
        ({"velocity_range": [3, 1]}, "velocity_range must be finite with low <= high"),
        ({"velocity_range": 2.0}, "velocity_range must be two numbers"),
        ({"cue_steps": 0}, "cue_steps must be an int >= 1, got 0"),
        ({"cue_steps": 2, "privileged": True}, "give privileged .* or cue_steps"),
    ],
)
def test_bad_options_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make("plasticagents/HalfCheetahVel-v0", **kwargs)


def test_bad_task_options_are_named():
    with pytest.raises(ValueError, match=r"directions must be a non-empty list of -1 and 1"):
        gym.make("plasticagents/HalfCheetahDir-v0", directions=[0, 1])
    with pytest.raises(ValueError, match=r"angle_range must be finite"):
        gym.make("plasticagents/AntDir-v0", angle_range=[0, float("inf")])
    from plasticagents.envs import make_goal_env

    with pytest.raises(ValueError, match=r"unknown hidden-goal task 'speed'; valid choices"):
        make_goal_env("speed", "HalfCheetah-v5")


def test_observation_noise_does_not_change_the_goals_of_hidden_and_privileged_variants():
    """The oracle is paired with the hidden-goal agent on seeds: both must meet the same goals
    even when a perturbation draws from the env's generator every step."""
    from plasticagents.envs import make_env

    noise = [{"type": "gaussian_noise_observation", "std": 0.1}]

    def goals(env_id):
        env = make_env(env_id, noise, switch_range=None, switch_every=5)
        env.reset(seed=123)
        return [env.step(env.action_space.sample() * 0)[-1]["task"]["velocity"] for _ in range(16)]

    hidden = goals("plasticagents/HalfCheetahVel-v0")
    assert hidden == goals("plasticagents/HalfCheetahVelPrivileged-v0")
    assert len(set(hidden)) == 4  # switched at 5, 10, 15


@pytest.mark.parametrize("task", sorted(TASK_IDS))
def test_a_cued_goal_shows_for_cue_steps_observations_after_each_draw(task):
    """``cue_steps=K``: ``[goal..., 1]`` in the K observations from each draw (reset, switch),
    ``[0..., 0]`` in all others; goals, rewards and the base observation are the hidden
    task's on the same seed."""
    env_id, size, _ = TASK_IDS[task]
    acts = actions(14, size)
    cued = gym.make(env_id, cue_steps=3, switch_every=6)
    hidden = gym.make(env_id, switch_every=6)
    obs, rewards, infos = run(cued, acts)
    obs_hidden, rewards_hidden, infos_hidden = run(hidden, acts)
    width = len(features(infos[0]["task"])) + 1
    assert cued.observation_space.shape == (hidden.observation_space.shape[0] + width,)
    assert cued.observation_space.contains(obs[0].astype(cued.observation_space.dtype))
    np.testing.assert_array_equal(obs[:, :-width], obs_hidden)
    np.testing.assert_array_equal(rewards, rewards_hidden)
    assert [i["task"] for i in infos] == [i["task"] for i in infos_hidden]
    # observation k (0: reset) is that of step k - 1; draws at reset and steps 6, 12
    shown = [k for k in range(len(obs)) if obs[k, -1] == 1.0]
    assert shown == [0, 1, 2, 7, 8, 9, 13, 14]
    for k in range(len(obs)):
        expected = [*features(infos[k]["task"]), 1.0] if k in shown else [0.0] * width
        np.testing.assert_allclose(obs[k, -width:], expected)
