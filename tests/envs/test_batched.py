"""The batched fast path equals Gymnasium step for step (observations, rewards, terminations,
truncations, infos and their types), nominal and under per-slot perturbations."""

import gymnasium as gym
import numpy as np
import pytest

from plasticagents.envs import make_env
from plasticagents.envs.batched import (
    BatchedLocomotion,
    fast_path_blocker,
    physics_build_error,
    physics_library,
)
from plasticagents.envs.split import SplitStep
from plasticagents.training.rollout import EnvPool

# per slot: perturbations (None: a wrapper the fast path does not cover, so the slot steps
# through Gymnasium beside the batched ones)
SLOTS = {
    "HalfCheetah-v5": [
        [],
        [{"type": "cripple_leg", "leg": "bthigh"}],
        [{"type": "cripple_leg", "leg": ["bthigh", "fthigh"], "strength": 0.7}],
        [{"type": "scale_body_mass", "scale": 1.5}, {"type": "scale_friction", "scale": 0.5}],
        [{"type": "scale_joint_damping", "scale_range": [0.5, 2.0]}],
        [{"type": "gaussian_noise_observation", "std": 0.1}],
        [{"type": "offset_observation", "std": 0.3, "indices": [1, 2, 9], "onset_range": [5, 40]}],
        [{"type": "weaken_actuator", "actuators": ["fshin"], "onset": 40, "until": 70}],
        [{"type": "gaussian_noise_action", "std": 0.3, "onset_range": [10, 50]}],
        # two action hooks whose order matters: the delay holds the noisy action or not
        [{"type": "delay_action", "steps": 1}, {"type": "gaussian_noise_action", "std": 0.3}],
        None,
    ],
    "Ant-v5": [
        [],
        [],
        [{"type": "cripple_leg", "leg": ["front_left_leg", "back_leg"]}],
        [{"type": "scale_body_mass", "scale": 1.5}],
        [{"type": "scale_gravity", "scale": 0.2, "onset": 30}],
        [{"type": "delay_action", "steps": 2}],
        [{"type": "external_push", "force": [50.0, 0.0, 0.0], "duration": 5, "onset": 10}],
        [{"type": "stuck_observation", "onset": 20}, {"type": "delay_observation", "steps": 1}],
        None,
    ],
}
STEPS, CAP = 300, 100


def _maker(env_id, specs, **kwargs):
    if specs is None:
        return lambda: gym.wrappers.ClipAction(make_env(env_id, [], max_episode_steps=CAP))
    return lambda: make_env(env_id, specs, max_episode_steps=CAP, **kwargs)


class _Pools:
    """The same slots three ways: Gymnasium's ``env.step``, the fast path's per-slot tuples
    (``EnvPool.step``) and its arrays (``EnvPool.step_arrays``, the rollout engine's path)."""

    def __init__(self, makers, threads=1):
        self.gym = EnvPool(makers)
        self.fast = EnvPool(makers, fast_physics=True, threads=threads)
        self.arrays = EnvPool(makers, fast_physics=True, threads=threads)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for pool in (self.gym, self.fast, self.arrays):
            pool.close()


def _pools(env_id, slots=None):
    slots = SLOTS[env_id] if slots is None else slots
    return _Pools([_maker(env_id, s) for s in slots], threads=2)


def _same(a, b, where):
    """Equal values of equal types, recursively (numpy arrays: equal dtype and bits)."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b), (where, list(a), list(b))
        for key in a:
            _same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{k}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    else:
        assert a == b, (where, a, b)


def _same_arrays(results, arrays, infos, pool, slots, where):
    """``step_arrays`` holds the per-slot results' values (bit for bit, rewards widened); an
    info is left out exactly where it was not asked for and no wrapper hooks the step (the
    hooked slots' infos carry the perturbation and task reports)."""
    for j, (o, r, term, trunc, info) in enumerate(results):
        assert np.array_equal(arrays.obs[j], o), (where, j)
        assert arrays.rewards[j] == np.float64(r) and arrays.rewards.dtype == np.float64
        assert arrays.terminated[j] == term and arrays.truncated[j] == trunc, (where, j)
        fast = pool.fast is not None and pool.fast.covered[slots[j]]
        unbuilt = not infos and fast and not pool.fast._hooked[slots[j]]
        if unbuilt:
            assert arrays.infos[j] is None, (where, j)
            assert "perturbation" not in info and "task" not in info, (where, j)
        else:
            _same(info, arrays.infos[j], f"{where} slot {j} info")


def _compare(pools, seed=0, drop=()):
    """Step the pools with the same random actions (float32 and float64 alternately),
    resetting slots whose episode ended, and check every return is identical. Counts the
    ends and the hidden goals' switches."""
    gym_pool, fast_pool, arrays_pool = pools.gym, pools.fast, pools.arrays
    n = len(gym_pool)
    rng = np.random.default_rng(seed)
    space = gym_pool.action_space
    obs_a, info_a = gym_pool.reset(list(range(n)))
    for pool in (fast_pool, arrays_pool):
        obs_b, info_b = pool.reset(list(range(n)))
        _same(obs_a, obs_b, "reset")
        _same(info_a, info_b, "reset info")
    ends = {"terminated": 0, "truncated": 0, "switched": 0}
    for t in range(STEPS):
        dtype = np.float32 if t % 2 == 0 else np.float64
        actions = rng.uniform(space.low, space.high, (n, *space.shape)).astype(dtype)
        alive = [i for i in range(n) if i not in drop or t % 3]  # some slots skip steps
        results = gym_pool.step(actions, alive)
        infos = t % 4 == 0
        arrays = arrays_pool.step_arrays(actions, alive, infos)
        _same_arrays(results, arrays, infos, arrays_pool, alive, f"step {t}")
        for i, a, b in zip(alive, results, fast_pool.step(actions, alive), strict=True):
            _same(a, b, f"step {t} slot {i}")
            ends["switched"] += a[4].get("task", {}).get("switched", False)
            if a[2] or a[3]:
                ends["terminated" if a[2] else "truncated"] += 1
                o_a, i_a = gym_pool.reset([None], [i])
                for pool in (fast_pool, arrays_pool):
                    o_b, i_b = pool.reset([None], [i])
                    _same((o_a, i_a), (o_b, i_b), f"reset after step {t} slot {i}")
    return ends


@pytest.fixture(params=["native", "python"])
def physics(request, monkeypatch):
    """Both physics paths of the fast path: the C step (``native_physics.c``) and each
    slot's Python closure (``PLASTICAGENTS_NATIVE_PHYSICS=0``)."""
    if request.param == "python":
        monkeypatch.setenv("PLASTICAGENTS_NATIVE_PHYSICS", "0")
    elif physics_library() is None:
        pytest.skip(f"the C physics step does not build here: {physics_build_error()}")
    return request.param


@pytest.mark.parametrize("env_id", ["HalfCheetah-v5", "Ant-v5"])
def test_fast_path_equals_gymnasium_step_for_step(env_id, physics):
    with _pools(env_id) as pools:
        n = len(SLOTS[env_id])
        assert pools.fast.fast.native == (physics == "native")
        assert pools.fast.fast.covered.tolist() == [True] * (n - 1) + [False]
        assert list(pools.fast.fast_blocked) == [n - 1]
        # slots 5 (noise, delay) skip steps: their hooks must run only when they are stepped
        ends = _compare(pools, drop={5, n - 1})
        assert ends["truncated"] > 0
        if env_id == "Ant-v5":
            assert ends["terminated"] > 0  # random actions flip the ant (healthy_z_range)


def test_registered_perturbed_ids_equal_gymnasium():
    ids = ["Ant-v5", *(f"plasticagents/Ant{x}-v0" for x in ("CrippledRandomLeg", "HeavyTorso"))]
    ids += ["plasticagents/AntLowGravity-v0", "plasticagents/AntSlippery-v0"]
    makers = [lambda env_id=env_id: gym.make(env_id, max_episode_steps=CAP) for env_id in ids]
    with _Pools(makers) as pools:
        assert pools.fast.fast.covered.all()
        _compare(pools, seed=2)


def test_non_default_env_parameters_are_honoured():
    kwargs = dict(
        ctrl_cost_weight=0.3,
        contact_cost_weight=1e-3,
        healthy_z_range=(0.3, 0.9),
        include_cfrc_ext_in_observation=False,
        exclude_current_positions_from_observation=False,
        max_episode_steps=CAP,
    )
    makers = [lambda: make_env("Ant-v5", [], **kwargs)] * 3
    with _Pools(makers) as pools:
        assert pools.fast.fast.covered.all()
        assert _compare(pools, seed=1)["terminated"] > 0


@pytest.mark.parametrize(
    "env_id, inputs, options",
    [
        ("plasticagents/HalfCheetahVelSwitch-v0", ["action", "reward"], {}),
        ("plasticagents/HalfCheetahVelSwitchPrivileged-v0", ["reward"], {}),
        ("plasticagents/HalfCheetahDir-v0", ["action", "reward"], {"switch_every": 30}),
        ("plasticagents/AntDirSwitch-v0", ["reward"], {}),
        ("plasticagents/HalfCheetahVelSwitch-v0", [], {"cue_steps": 5}),
    ],
)
def test_hidden_goals_and_learner_inputs_equal_gymnasium(env_id, inputs, options):
    """Goal switches, the rescored reward, ``info["task"]`` and the appended previous action and
    reward come out of the fast path as out of Gymnasium, perturbations included."""
    options = {"switch_range": [20, 60], **options} if "Switch" in env_id else options
    slots = [[], [{"type": "gaussian_noise_action", "std": 0.2}], [{"type": "delay_action"}]]
    makers = [_maker(env_id, s, inputs=inputs, **options) for s in slots]
    with _Pools(makers, threads=2) as pools:
        assert pools.fast.fast.covered.all()
        assert _compare(pools, seed=3)["switched"] >= 6  # 2+ per slot


class _OwnStep(SplitStep):
    def step(self, action):  # a wrapper that overrides step: the fast path cannot split it
        return self.env.step(action)


def test_what_the_fast_path_covers():
    leg = {"type": "cripple_leg", "leg": "bthigh"}
    covered = [
        [],
        [leg],
        [{**leg, "onset": 5}],
        [{"type": "scale_body_mass", "onset_range": [0, 9]}],
        [{"type": "external_push"}, {"type": "stuck_observation"}],
    ]
    for specs in covered:
        assert fast_path_blocker(make_env("HalfCheetah-v5", specs)) is None
    assert fast_path_blocker(make_env("HalfCheetah-v5", [], inputs=["reward"])) is None
    assert fast_path_blocker(gym.make("plasticagents/HalfCheetahVelSwitch-v0")) is None
    assert "HopperEnv" in fast_path_blocker(gym.make("Hopper-v5"))
    assert "ClipAction" in fast_path_blocker(gym.wrappers.ClipAction(gym.make("HalfCheetah-v5")))
    assert "_OwnStep" in fast_path_blocker(_OwnStep(gym.make("HalfCheetah-v5")))
    # slots must share the env's parameters with the first covered slot
    mixed = BatchedLocomotion(
        [gym.make("HalfCheetah-v5"), gym.make("HalfCheetah-v5", ctrl_cost_weight=0.2)]
    )
    assert mixed.covered.tolist() == [True, False]


def test_gymnasium_takes_over_after_batched_steps():
    """After fast steps the slot's TimeLimit has counted them: Gymnasium truncates on time."""
    makers = [
        lambda: make_env(
            "HalfCheetah-v5", [{"type": "cripple_leg", "leg": "bthigh"}], max_episode_steps=5
        )
    ]
    fast_pool = EnvPool(makers, fast_physics=True)
    try:
        fast_pool.reset([0])
        for _ in range(4):
            ((_, _, _, truncated, info),) = fast_pool.step(np.zeros((1, 6)), [0])
            assert not truncated and info["perturbation"]["CrippleLeg"]["active"]
        *_, truncated, _ = fast_pool.envs[0].step(np.zeros(6))
        assert truncated
    finally:
        fast_pool.close()


def test_step_before_reset_is_an_error():
    fast = BatchedLocomotion([gym.make("HalfCheetah-v5")])
    with pytest.raises(gym.error.ResetNeeded):
        fast.step(np.zeros((1, 6)), [0])


def test_physics_path_choice(monkeypatch):
    """``native=True`` insists on the C step and says why it is missing; ``False`` keeps each
    slot's Python closure; a thread count below 1 is named."""
    envs = [gym.make("HalfCheetah-v5")]
    assert not BatchedLocomotion(envs, native=False).native
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        BatchedLocomotion(envs, threads=0)
    monkeypatch.setenv("PLASTICAGENTS_NATIVE_PHYSICS", "0")
    assert not BatchedLocomotion(envs).native
    with pytest.raises(
        RuntimeError, match="not available: turned off by PLASTICAGENTS_NATIVE_PHYSICS=0"
    ):
        BatchedLocomotion(envs, native=True)


def test_a_mujoco_error_in_a_slot_is_mujocos_fatal_error(physics, tmp_path):
    """A slot whose arena overflows mid-episode: the step raises ``mujoco.FatalError`` (the C
    step names the slot) instead of MuJoCo's default handler ending the process, and the
    bindings' own calls still raise theirs afterwards."""
    from pathlib import Path

    import mujoco
    from gymnasium.envs.mujoco import half_cheetah_v5

    xml = (Path(half_cheetah_v5.__file__).parent / "assets" / "half_cheetah.xml").read_text()
    small = tmp_path / "cheetah.xml"  # enough for the reset, not for the contacts of a fall
    small.write_text(xml.replace('model="cheetah">', 'model="cheetah"><size memory="8K"/>'))
    envs = [gym.make("HalfCheetah-v5"), gym.make("HalfCheetah-v5", xml_file=str(small))]
    fast = BatchedLocomotion(envs, threads=2)
    for i, env in enumerate(envs):
        env.reset(seed=i)
        fast.begin(i)
    assert fast.native == (physics == "native")
    where = "slot 1: mj_stackAlloc" if fast.native else "mj_stackAlloc"
    with pytest.raises(mujoco.FatalError, match=where):
        for _ in range(300):
            fast.step(np.ones((2, 6)), [0, 1])
    model = envs[1].unwrapped.model
    data = mujoco.MjData(model)
    data.ctrl[:] = 1.0
    with pytest.raises(mujoco.FatalError, match="mj_stackAlloc"):
        mujoco.mj_step(model, data, nstep=1500)


def test_bad_slot_indices_and_a_swapped_model_are_named(physics):
    """Slot indices out of range or repeated are refused before any physics (the C step would
    write outside its rows); a slot whose model no longer has the batch's sizes is refused."""
    envs = [gym.make("HalfCheetah-v5") for _ in range(3)]
    fast = BatchedLocomotion(envs, threads=2)
    for i, env in enumerate(envs):
        env.reset(seed=i)
        fast.begin(i)
    for bad in ([-1], [3], [0, 0], [2, 0, 2], [1, -1, 2]):
        with pytest.raises(ValueError, match=r"distinct and in 0\.\.2, got"):
            fast.step(np.zeros((3, 6)), bad)
    ant = gym.make("Ant-v5").unwrapped
    envs[2].unwrapped.model, envs[2].unwrapped.data = ant.model, ant.data
    with pytest.raises(ValueError, match="slot 2: its model has nq 15" if fast.native else None):
        fast.step(np.zeros((3, 6)), [0, 2])


def test_slots_given_out_of_order_step_their_own_rows(physics):
    """Slot indices in any order are each slot's own: row r of the arrays is slot idx[r],
    stepped with its own action row, as Gymnasium steps it."""
    envs = [gym.make("HalfCheetah-v5", max_episode_steps=4) for _ in range(3)]
    twins = [gym.make("HalfCheetah-v5", max_episode_steps=4) for _ in range(3)]
    fast = BatchedLocomotion(envs, threads=2)
    for i in range(3):
        envs[i].reset(seed=i)
        twins[i].reset(seed=i)
        fast.begin(i)
    actions = np.random.default_rng(0).uniform(-1, 1, (3, 6))
    for t in range(4):
        step = fast.step_arrays(actions, [2, 0], infos=False)
        for r, i in enumerate([2, 0]):
            obs, reward, terminated, truncated, _ = twins[i].step(actions[i])
            assert np.array_equal(step.obs[r], obs) and step.rewards[r] == reward
            assert (step.terminated[r], step.truncated[r]) == (terminated, truncated)
        assert step.truncated.tolist() == [t == 3, t == 3]
    assert envs[1].unwrapped.data.time == 0.0  # slot 1 was never stepped


def test_actions_of_any_memory_layout_give_gymnasiums_rewards(physics):
    """A step of every slot in order reads the actions as given; NumPy sums a row of a
    Fortran-ordered array in another order, so such actions take the row-copy path and the
    control cost stays Gymnasium's to the bit (Ant's 8 actions: a tree sum)."""
    n = 16
    envs = [gym.make("Ant-v5") for _ in range(n)]
    twins = [gym.make("Ant-v5") for _ in range(n)]
    fast = BatchedLocomotion(envs, threads=2)
    for i in range(n):
        envs[i].reset(seed=i)
        twins[i].reset(seed=i)
        fast.begin(i)
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = np.asfortranarray(rng.uniform(-1, 1, (n, 8)))
        step = fast.step_arrays(actions, list(range(n)), infos=False)
        for i in range(n):
            obs, reward, *_ = twins[i].step(actions[i])
            assert np.array_equal(step.obs[i], obs) and step.rewards[i] == reward, i


def test_a_model_and_data_swapped_between_steps_are_the_ones_stepped(physics):
    """The C step caches the slots' MuJoCo addresses: a slot whose env was given another
    ``MjModel``/``MjData`` after it had stepped steps the new ones (gravity edited in the new
    model shows in the next step), not the cached ones."""
    envs = [gym.make("HalfCheetah-v5") for _ in range(2)]
    fast = BatchedLocomotion(envs, threads=2)
    for i, env in enumerate(envs):
        env.reset(seed=0)
        fast.begin(i)
    for _ in range(3):
        fast.step(np.zeros((2, 6)), [0, 1])
    spare = gym.make("HalfCheetah-v5").unwrapped
    spare.reset(seed=0)
    spare.model.opt.gravity[:] = (0.0, 0.0, 5.0)  # pulls up: the torso rises
    old_data = envs[1].unwrapped.data
    envs[1].unwrapped.model, envs[1].unwrapped.data = spare.model, spare.data
    before = (old_data.time, spare.data.time)
    (_, *_), (obs1, *_) = fast.step(np.zeros((2, 6)), [0, 1])
    assert old_data.time == before[0]  # the replaced data was not stepped
    assert spare.data.time > before[1]
    np.testing.assert_array_equal(obs1[:8], spare.data.qpos[1:])
    assert spare.data.qvel[1] > 0  # upward: the edited model's gravity


V5_CASES = {
    "Ant-v5": ("Ant-v5", {}),
    "HalfCheetah-v5": ("HalfCheetah-v5", {}),
    "Ant-v5, other parameters": (
        "Ant-v5",
        dict(
            include_cfrc_ext_in_observation=False,
            terminate_when_unhealthy=False,
            healthy_reward=-0.5,
            ctrl_cost_weight=0.3,
            contact_cost_weight=1e-3,
            contact_force_range=(-0.5, 0.7),
            forward_reward_weight=2,
        ),
    ),
    "Ant-v5, a NumPy weight": ("Ant-v5", dict(ctrl_cost_weight=np.float64(0.5))),
    # a bound of -0.0: a force of 0.0 keeps its sign, as np.clip keeps a value equal to a bound
    "Ant-v5, forces clipped at zero": ("Ant-v5", dict(contact_force_range=(-0.0, 0.5))),
}


@pytest.mark.parametrize("case", list(V5_CASES))
def test_the_c_steps_v5_outputs_equal_gymnasium(case):
    """A rollout's step without hooks or infos: the C step computes the observations, rewards
    and terminations in the slots' threads, bit for bit Gymnasium's over a few hundred random
    steps of float32 and float64 actions, C- and Fortran-ordered, of every slot or some (in any
    order), episodes ending and resetting. A NumPy scalar weight (which makes the control cost
    float64) leaves it to NumPy."""
    if physics_library() is None:
        pytest.skip(f"the C physics step does not build here: {physics_build_error()}")
    env_id, kwargs = V5_CASES[case]
    n, cap = 8, 60
    envs = [gym.make(env_id, max_episode_steps=cap, **kwargs) for _ in range(n)]
    twins = [gym.make(env_id, max_episode_steps=cap, **kwargs) for _ in range(n)]
    fast = BatchedLocomotion(envs, threads=2)
    lane = []
    physics = fast._native_physics

    def spy(actions, idx, full=None, v5=None):
        lane.append(v5 is not None)
        return physics(actions, idx, full, v5)

    fast._native_physics = spy
    for i in range(n):
        envs[i].reset(seed=i)
        twins[i].reset(seed=i)
        fast.begin(i)
    rng = np.random.default_rng(0)
    nu = envs[0].action_space.shape[0]
    ends = {"terminated": 0, "truncated": 0}
    for t in range(200):
        dtype = np.float32 if t % 2 == 0 else np.float64
        actions = rng.uniform(-1, 1, (n, nu)).astype(dtype)
        if t % 4 == 1:
            actions = np.asfortranarray(actions)
        slots = list(range(n)) if t % 3 else [int(i) for i in rng.permutation(n)[: n // 2]]
        step = fast.step_arrays(actions, slots, infos=False)
        for j, i in enumerate(slots):
            obs, reward, terminated, truncated, _ = twins[i].step(actions[i])
            assert np.array_equal(step.obs[j], obs), (t, i)
            assert np.array_equal(np.signbit(step.obs[j]), np.signbit(obs)), (t, i)
            assert step.rewards[j] == reward and step.rewards.dtype == np.float64, (t, i)
            assert step.terminated[j] == terminated and step.truncated[j] == truncated, (t, i)
            if terminated or truncated:
                ends["terminated" if terminated else "truncated"] += 1
                envs[i].reset(seed=100 + t)
                twins[i].reset(seed=100 + t)
                fast.begin(i)
    assert ends["truncated"] > 0
    if env_id == "Ant-v5" and kwargs.get("terminate_when_unhealthy", True):
        assert ends["terminated"] > 0
    assert all(lane) if "NumPy" not in case else not any(lane)
    assert len(lane) == 200
