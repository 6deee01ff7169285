import threading
import time

import gymnasium as gym
import numpy as np
import pytest
import torch

from plasticagents import Agent, MLPPolicy, PlasticitySpec, PlasticSNN
from plasticagents.population import Population
from plasticagents.training.rollout import (
    EnvPool,
    NormalizedAgent,
    RunningNorm,
    collect,
    episode_seeds,
    rollout,
)


def test_running_norm_merges_chunks_like_one_pass():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(1000, 4))
    whole, parts = RunningNorm(4), RunningNorm(4)
    whole.update(data)
    for chunk in np.array_split(data, 7):
        delta = RunningNorm(4)
        delta.update(chunk)
        parts.merge(delta)
    np.testing.assert_allclose(parts.mean, data.mean(0))
    np.testing.assert_allclose(parts.var, data.var(0))
    np.testing.assert_allclose(whole.var, data.var(0))
    y = whole.normalize(data)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-3)
    assert RunningNorm.from_state(whole.state_dict()).normalize(data[:3]).tolist() == y[:3].tolist()


def test_running_norm_scale_follows_its_statistics():
    # normalize keeps sqrt(var + eps) between calls: every update, merge, load or eps change
    # must show in the next call
    rng = np.random.default_rng(1)
    norm, x = RunningNorm(3), rng.normal(size=(5, 3))

    def fresh():
        y = (x - norm.mean) / np.sqrt(norm.var + norm.eps)
        return np.clip(y, -norm.clip, norm.clip).astype(np.float32)

    for change in (
        lambda: norm.update(rng.normal(2.0, 3.0, size=(50, 3))),
        lambda: norm.update(rng.normal(-1.0, 0.5, size=(7, 3))),
        lambda: norm.merge(RunningNorm.from_state(norm.state_dict())),
        lambda: norm.load_state_dict({**norm.state_dict(), "m2": 4 * norm.m2}),
        lambda: setattr(norm, "eps", 0.5),
    ):
        change()
        np.testing.assert_array_equal(norm.normalize(x), fresh())
        np.testing.assert_array_equal(norm.normalize(x), fresh())  # the kept scale


def test_episode_seeds_are_shared_per_generation_and_distinct_across():
    assert episode_seeds(0, 5, 3) == episode_seeds(0, 5, 3)
    assert len(set(episode_seeds(0, 5, 3) + episode_seeds(0, 6, 3))) == 6


def _pendulum(steps):
    return lambda: gym.make("Pendulum-v1", max_episode_steps=steps)


def test_every_slot_runs_one_episode_and_terminated_slots_stop():
    pool = EnvPool([lambda: gym.make("Hopper-v5")] * 3, threads=2)
    agent = Agent(MLPPolicy(11, 3, hidden=(8,), generator=torch.Generator().manual_seed(0)))
    agent.module.net[-1].bias.data.fill_(3.0)  # saturated actions: Hopper falls quickly
    result = rollout(agent, pool, seeds=[1, 2, 3])
    pool.close()
    assert (result.lengths < 1000).all() and (result.lengths > 0).all()
    assert result.env_steps == result.lengths.sum()
    # A fresh single-env rollout with the same seed reproduces slot 1 exactly.
    solo = EnvPool([lambda: gym.make("Hopper-v5")])
    again = rollout(agent, solo, seeds=[2])
    solo.close()
    assert again.returns[0] == pytest.approx(result.returns[1])
    assert again.lengths[0] == result.lengths[1]


def test_population_rollout_matches_individual_rollouts(gen):
    net = PlasticSNN(3, 1, hidden=8, generator=gen, gain=3.0)
    pop = Population(net, 3)
    pop.load_vectors(pop.to_vectors() + 0.3 * torch.randn(3, pop.num_params, generator=gen))
    pool = EnvPool([_pendulum(30)] * 6)  # 3 individuals x 2 episodes
    batched = rollout(Agent(pop, -2.0, 2.0), pool, seeds=[7, 8] * 3, batch_shape=(3, 2))
    for p in range(3):
        single = rollout(Agent(pop.individual(p), -2.0, 2.0), EnvPool([_pendulum(30)] * 2), [7, 8])
        np.testing.assert_allclose(single.returns, batched.returns[2 * p : 2 * p + 2], rtol=1e-4)
        np.testing.assert_allclose(single.spikes, batched.spikes[2 * p : 2 * p + 2])
    assert batched.spikes.sum() > 0


def test_non_finite_actions_end_the_episode_and_are_reported():
    net = MLPPolicy(3, 1, hidden=(4,))
    net.net[0].weight.data[0, 0] = float("nan")
    result = rollout(Agent(net, -2.0, 2.0), EnvPool([_pendulum(10)] * 2), seeds=[0, 1])
    assert result.diverged.all()
    assert (result.diverged_at == 0).all() and (result.lengths == 0).all()


def test_normalized_agent_sees_normalized_observations():
    seen = []

    class Spy:
        population = False
        policy = None

        def predict(self, obs, state=None, episode_start=None, deterministic=False):
            seen.append(obs)
            return np.zeros((len(obs), 1), np.float32), state

    norm = RunningNorm(3)
    norm.update(np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]))
    rollout(NormalizedAgent(Spy(), norm), EnvPool([_pendulum(2)]), seeds=[0], record=True)
    raw = gym.make("Pendulum-v1").reset(seed=0)[0]
    np.testing.assert_allclose(seen[0][0], (raw - 1.0) / 1.0, rtol=1e-5)


def test_record_keeps_per_step_arrays():
    agent = Agent(MLPPolicy(3, 1, hidden=(4,)), -2.0, 2.0)
    result = rollout(agent, EnvPool([_pendulum(5)] * 2), seeds=[0, 1], record=True)
    traj = result.trajectory
    assert len(traj["obs"]) == len(traj["actions"]) == len(traj["rewards"]) == 5
    np.testing.assert_allclose(np.sum(traj["rewards"], axis=0), result.returns)


def test_pool_rejects_mismatched_envs_and_discrete_actions():
    with pytest.raises(ValueError, match="slot 1 has observation/action shapes"):
        EnvPool([lambda: gym.make("Pendulum-v1"), lambda: gym.make("Hopper-v5")])
    with pytest.raises(ValueError, match="continuous actions; CartPole-v1"):
        EnvPool([lambda: gym.make("CartPole-v1")])
    with pytest.raises(ValueError, match="needs 1 seeds"):
        EnvPool([_pendulum(3)]).reset([1, 2])


def test_probe_values_are_kept_at_each_episodes_last_step():
    from plasticagents import Agent, PlasticitySpec, PlasticSNN
    from plasticagents.training.rollout import policy_probe

    torch.manual_seed(0)  # unseeded, about 1 init in 150 gives no spike pair in 9 steps
    net = PlasticSNN(3, 1, hidden=8, plasticity=PlasticitySpec("hebbian", alpha_init=0.5))
    net.encoder.scale.data.fill_(8.0)
    agent = Agent(net, action_low=-2.0, action_high=2.0)
    lengths = [5, 9]
    pool = EnvPool([lambda k=k: gym.make("Pendulum-v1", max_episode_steps=k) for k in lengths])
    try:
        recorded = rollout(agent, pool, [0, 1], record=["weight_change"], probe=policy_probe(net))
        cut = rollout(agent, pool, [0, 1], max_steps=3, probe=policy_probe(net))
    finally:
        pool.close()
    per_step = np.stack(recorded.trajectory["weight_change"])  # [9, 2]
    assert per_step.shape == (9, 2) and per_step.max() > 0
    for slot, length in enumerate(lengths):  # read only where the episode ended, same value
        assert recorded.final["weight_change"][slot] == per_step[length - 1, slot]
    np.testing.assert_array_equal(cut.final["weight_change"], per_step[2])
    plain = EnvPool([lambda: gym.make("Pendulum-v1")])
    try:
        with pytest.raises(ValueError, match="unknown record field 'weight_change'"):
            rollout(agent, plain, [0], record=["weight_change"])  # no probe to give it
    finally:
        plain.close()


class _Spy:
    """Zero actions; remembers the ``state`` and ``episode_start`` of every call."""

    population = False
    policy = None

    def __init__(self, nan_at=None):
        self.states, self.starts, self.nan_at = [], [], nan_at

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        self.states.append(state)
        self.starts.append(np.array(episode_start))
        action = np.zeros((len(obs), 1), np.float32)
        if self.nan_at is not None and len(self.starts) - 1 == self.nan_at[0]:
            action[self.nan_at[1]] = np.nan
        return action, len(self.starts)


def test_episode_start_reaches_the_agent_exactly_at_each_episodes_first_step():
    pool = EnvPool([_pendulum(3), _pendulum(5)])
    try:
        spy = _Spy()
        rollout(spy, pool, seeds=[0, 1])
        assert spy.states[0] is None and spy.states[1:] == [1, 2, 3, 4]
        assert np.array(spy.starts).tolist() == [[True, True]] + [[False, False]] * 4
        spy = _Spy()
        batch = collect(spy, pool, steps=7, seed=0)
        starts = np.array(spy.starts)  # slot 0 restarts after 3 steps, slot 1 after 5
        assert starts[:, 0].tolist() == [True, False, False, True, False, False, True]
        assert starts[:, 1].tolist() == [True, False, False, False, False, True, False]
        np.testing.assert_array_equal(batch.episode_start, starts)
        np.testing.assert_array_equal(batch.carry.episode_start, [False, False])
        again = collect(spy, pool, steps=2, carry=batch.carry)
        assert spy.states[7] == 7  # the carried state, not a fresh one
        assert again.episode_start[:, 0].tolist() == [False, False]
        assert again.episode_start[:, 1].tolist() == [False, False]
    finally:
        pool.close()


def test_collect_resets_the_agent_state_where_an_episode_starts(gen):
    net = PlasticSNN(3, 1, hidden=8, generator=gen, gain=3.0)
    agent = Agent(net, -2.0, 2.0)
    pool = EnvPool([_pendulum(4)] * 2)
    try:
        batch = collect(agent, pool, steps=8, seed=3, deterministic=True)
    finally:
        pool.close()
    assert batch.episode_start[4].all()

    def replay(obs, state):
        actions = []
        for o in obs:
            a, state = agent.predict(o, state, deterministic=True)
            actions.append(a)
        return np.stack(actions), state

    first, state = replay(batch.obs[:4], None)
    fresh, _ = replay(batch.obs[4:], None)
    carried, _ = replay(batch.obs[4:], state)
    np.testing.assert_allclose(batch.actions[:4], first, rtol=1e-5)
    np.testing.assert_allclose(batch.actions[4:], fresh, rtol=1e-5)
    assert np.abs(carried - fresh).max() > 1e-3  # the state matters: the reset is seen


def _halfcheetah(*perturbations, steps=12):
    from plasticagents.envs import make_env

    return lambda: make_env("HalfCheetah-v5", list(perturbations), max_episode_steps=steps)


MID = {"type": "cripple_leg", "leg": "bthigh", "onset": 5, "label": "mid"}
DRAWN = {"type": "cripple_leg", "leg": "bthigh", "onset_range": [2, 9], "label": "drawn"}
ALWAYS = {"type": "cripple_leg", "leg": "fthigh", "label": "always"}
LATE = {"type": "scale_body_mass", "scale": 2.0, "onset": 50, "label": "late"}


def _first_active(infos, slot, label, start=0, stop=None):
    """Episode step of the first step info in ``infos[start:stop]`` reporting ``label``
    active."""
    for t, step in enumerate(infos[start:stop]):
        info = step[slot]
        if info is not None and info["perturbation"][label]["active"]:
            return t
    return None


def test_rollout_onsets_are_the_first_steps_the_infos_report_active():
    makers = [_halfcheetah(MID)] + [_halfcheetah(DRAWN)] * 3 + [_halfcheetah(ALWAYS, LATE)]
    pool = EnvPool(makers)
    agent = Agent(MLPPolicy(17, 6, hidden=(8,), generator=torch.Generator().manual_seed(0)))
    try:
        result = rollout(agent, pool, seeds=[0, 1, 2, 3, 4], record=["infos"])
    finally:
        pool.close()
    infos = result.trajectory["infos"]
    assert result.onsets[0] == {"mid": 5} == {"mid": _first_active(infos, 0, "mid")}
    drawn = [result.onsets[i]["drawn"] for i in (1, 2, 3)]
    assert len(set(drawn)) > 1 and all(2 <= t <= 9 for t in drawn)  # a draw per episode
    for i, t in zip((1, 2, 3), drawn, strict=True):
        assert t == result.reports[i]["drawn"]["onset"] == _first_active(infos, i, "drawn")
    # active from the reset on: onset 0; scheduled after the episode's end: not started
    assert result.reset_infos[4]["perturbation"]["always"]["active"]
    assert result.onsets[4] == {"always": 0}
    assert result.reports[4]["late"]["onset"] == 50 and not result.reports[4]["late"]["active"]
    pool = EnvPool([_halfcheetah(ALWAYS, LATE)])
    try:  # read from the reset info alone
        assert rollout(agent, pool, seeds=[0], max_steps=0).onsets == [{"always": 0}]
    finally:
        pool.close()


def test_fast_physics_rollout_without_infos_equals_gymnasium_in_a_mixed_pool():
    """The engine reads onsets from the infos it does not keep: on the fast path (slots with
    and without hooks, and a slot Gymnasium steps because a wrapper does not split its step)
    returns, lengths, onsets and reports equal a Gymnasium-only rollout's."""
    clipped = _halfcheetah(MID)
    makers = [
        _halfcheetah(),
        _halfcheetah(DRAWN),
        lambda: gym.wrappers.ClipAction(clipped()),
        _halfcheetah(ALWAYS, LATE),
    ]
    agent = Agent(MLPPolicy(17, 6, hidden=(8,), generator=torch.Generator().manual_seed(1)))
    results = []
    for fast in (False, True):
        pool = EnvPool(makers, threads=2, fast_physics=fast)
        try:
            assert fast is (pool.fast is not None and list(pool.fast_blocked) == [2])
            results.append(rollout(agent, pool, seeds=[0, 1, 2, 3]))
        finally:
            pool.close()
    slow, fast = results
    assert np.array_equal(slow.returns, fast.returns)
    assert np.array_equal(slow.lengths, fast.lengths)
    assert slow.onsets == fast.onsets and slow.reports == fast.reports
    assert fast.onsets[2] == {"mid": 5} and fast.onsets[3] == {"always": 0}
    assert 2 <= fast.onsets[1]["drawn"] <= 9


def test_empty_steps_are_empty_arrays():
    pool = EnvPool([_halfcheetah()] * 2, fast_physics=True)
    try:
        pool.reset([0, 1])
        step = pool.step_arrays(np.zeros((2, 6)), [], infos=False)
        assert step.obs.shape == (0, 17) and step.rewards.shape == (0,) and step.infos == []
    finally:
        pool.close()


def test_collect_onsets_restart_with_every_episode():
    pool = EnvPool([_halfcheetah(DRAWN, steps=10)] * 2)
    agent = Agent(MLPPolicy(17, 6, hidden=(8,), generator=torch.Generator().manual_seed(0)))
    try:
        batch = collect(agent, pool, steps=30, seed=5, infos=True)
    finally:
        pool.close()
    assert batch.episode_lengths.tolist() == [10] * 6
    drawn = [o["drawn"] for o in batch.episode_onsets]
    assert len(set(drawn)) > 1
    for k, (slot, onset) in enumerate(zip(batch.episode_slots, drawn, strict=True)):
        start = 10 * (k // 2)  # both slots end together every 10 steps
        assert onset == _first_active(batch.infos, slot, "drawn", start, start + 10)


class _Countdown(gym.Env):
    """Ends (terminated) after a horizon drawn at reset from 2..5 steps; observes the steps
    left and a seeded draw ``u``; rewards ``u + action``."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.left, self.u = int(self.np_random.integers(2, 6)), float(self.np_random.uniform())
        return np.array([self.left, self.u]), {}

    def step(self, action):
        self.left -= 1
        obs = np.array([self.left, self.u])
        return obs, self.u + float(action[0]), self.left == 0, False, {}


def _countdown():
    return gym.wrappers.TimeLimit(_Countdown(), max_episode_steps=4)  # horizon 5: truncated


@pytest.mark.parametrize("make", [_pendulum(4), _countdown], ids=["pendulum", "countdown"])
def test_collect_steps_like_sb3_dummy_vec_env_across_calls(make):
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    n, seed = 3, 11
    pool = EnvPool([make] * n)
    space = pool.action_space
    net = MLPPolicy(pool.observation_space.shape[0], 1, hidden=(8,))
    agent = Agent(net, space.low, space.high, noise_std=0.5, seed=0)  # sampled actions
    try:
        first = collect(agent, pool, steps=6, seed=seed)
        carried = first.carry.obs.copy()
        second = collect(agent, pool, steps=7, carry=first.carry)
    finally:
        pool.close()
    np.testing.assert_array_equal(first.carry.obs, carried)  # the caller's carry is kept
    np.testing.assert_array_equal(second.episode_start[0], first.carry.episode_start)
    parts = (first, second)
    obs, actions, rewards, terminated, truncated, starts = (
        np.concatenate([getattr(p, key) for p in parts])
        for key in ("obs", "actions", "rewards", "terminated", "truncated", "episode_start")
    )
    finals = {(t, i): o for t, i, o in zip(*first.final_index.T, first.final_obs, strict=True)}
    for (t, i), o in zip(second.final_index, second.final_obs, strict=True):
        finals[(t + 6, i)] = o
    assert len(finals) == truncated.sum() > 0
    assert terminated.any() == (make is _countdown)

    venv = DummyVecEnv([lambda: Monitor(make())] * n)
    venv.seed(seed)
    np.testing.assert_array_equal(obs[0], venv.reset())  # exactly: same dtype, same numbers
    sb3_returns, sb3_lengths = [], []
    for t in range(len(obs)):
        sb3_obs, sb3_rewards, dones, infos = venv.step(actions[t])
        np.testing.assert_array_equal(rewards[t].astype(np.float32), sb3_rewards)
        np.testing.assert_array_equal(terminated[t] | truncated[t], dones)
        np.testing.assert_array_equal(truncated[t], [i["TimeLimit.truncated"] for i in infos])
        for i in np.flatnonzero(truncated[t]):
            np.testing.assert_array_equal(finals[(t, i)], infos[i]["terminal_observation"])
        sb3_returns += [i["episode"]["r"] for i in infos if "episode" in i]
        sb3_lengths += [i["episode"]["l"] for i in infos if "episode" in i]
        later = t + 1 < len(obs)
        np.testing.assert_array_equal(obs[t + 1] if later else second.carry.obs, sb3_obs)
        np.testing.assert_array_equal(starts[t + 1] if later else second.carry.episode_start, dones)
    venv.close()
    returns = np.concatenate([p.episode_returns for p in parts])
    np.testing.assert_allclose(returns, sb3_returns, atol=1e-5)  # Monitor rounds to 6 digits
    assert np.concatenate([p.episode_lengths for p in parts]).tolist() == sb3_lengths


def test_collect_ends_a_diverged_episode_and_resets_its_slot():
    pool = EnvPool([_pendulum(10)] * 2)
    try:
        batch = collect(_Spy(nan_at=(2, 0)), pool, steps=5, seed=0)
    finally:
        pool.close()
    assert batch.diverged[:, 0].tolist() == [False, False, True, False, False]
    assert not batch.diverged[:, 1].any()
    assert batch.terminated[2].tolist() == [True, False] and not batch.truncated.any()
    assert batch.episode_start[3].tolist() == [True, False]
    assert batch.rewards[2, 0] == 0 and batch.rewards[2, 1] != 0
    # the non-finite action was not sent: the episode took 2 steps
    assert (batch.episode_lengths.tolist(), batch.episode_slots.tolist()) == ([2], [0])
    assert len(batch.final_obs) == 0 and batch.carry.lengths.tolist() == [2, 5]


def test_pool_threads_take_the_next_slot_so_a_slow_slot_does_not_hold_back_others():
    # Slot 0's step takes long (an Ant in heavy contact); the other thread must step every
    # other slot meanwhile instead of waiting on a fixed half of the slots.
    pool = EnvPool([_pendulum(5)] * 8, threads=2)
    ran_by: dict[int, str] = {}

    def step(i: int) -> int:
        ran_by[i] = threading.current_thread().name
        time.sleep(0.3 if i == 0 else 0.002)
        return 10 * i

    assert pool._map(step, list(range(8))) == [10 * i for i in range(8)]  # in slot order
    slow_thread = ran_by[0]
    assert [i for i, name in ran_by.items() if name == slow_thread] == [0]
    assert pool._map(step, [5, 3]) == [50, 30]


def test_pool_map_reraises_a_slots_error():
    pool = EnvPool([_pendulum(5)] * 4, threads=2)

    def step(i: int) -> int:
        if i == 2:
            raise RuntimeError("slot 2 diverged")
        return i

    with pytest.raises(RuntimeError, match="slot 2 diverged"):
        pool._map(step, [0, 1, 2, 3])


def test_a_threaded_pool_warns_once_when_openmp_threads_spin(monkeypatch):
    import plasticagents
    import plasticagents.training.rollout as rollout_mod

    monkeypatch.setattr(plasticagents, "OMP_SPINNING", True)
    monkeypatch.setattr(rollout_mod, "_OMP_WARNED", False)
    EnvPool([_pendulum(5)], threads=2).close()  # one slot: one thread, no physics threads
    with pytest.warns(RuntimeWarning, match="OMP_WAIT_POLICY=PASSIVE"):
        EnvPool([_pendulum(5)] * 2, threads=2).close()
    EnvPool([_pendulum(5)] * 2, threads=2).close()  # once per process
    monkeypatch.setattr(plasticagents, "OMP_SPINNING", False)
    monkeypatch.setattr(rollout_mod, "_OMP_WARNED", False)
    EnvPool([_pendulum(5)] * 2, threads=2).close()


def test_a_native_population_holds_ended_episodes_with_the_same_returns(gen):
    # Hopper's episodes end at different steps; the native step then holds the ended slots
    # instead of running them, and every return is the one of a population that runs them all.
    # The rollout gives up each state it passes on after the first (its fast weights are
    # updated in place), with the same returns
    from plasticagents.native import build_error, library

    if library() is None:
        pytest.skip(f"no native step: {build_error()}")
    net = PlasticSNN(11, 3, hidden=16, generator=gen, gain=3.0)
    vectors = Population(net, 3).to_vectors()
    vectors = vectors + 0.5 * torch.randn(vectors.shape, generator=gen)
    results, held, donated = {}, [], []
    for native in (False, True):
        pop = Population(net, 3, native=native)
        pop.load_vectors(vectors)
        if native:
            step = pop._native._call

            def spy(params, x, state, B, order, donate, _step=step):
                held.append(0 if order is None else 6 - order[1])
                donated.append(donate)
                return _step(params, x, state, B, order, donate)

            pop._native._call = spy
        pool = EnvPool([lambda: gym.make("Hopper-v5", max_episode_steps=200)] * 6)
        agent = NormalizedAgent(Agent(pop), None)  # (as ES wraps it: it passes the calls on)
        results[native] = rollout(agent, pool, seeds=[1, 2] * 3, batch_shape=(3, 2))
        pool.close()
    lengths = results[False].lengths
    assert len(set(lengths.tolist())) > 1 and lengths.max() < 200  # episodes end apart
    np.testing.assert_array_equal(results[True].lengths, lengths)
    np.testing.assert_allclose(results[True].returns, results[False].returns, rtol=1e-4)
    np.testing.assert_allclose(results[True].spikes, results[False].spikes, rtol=1e-4)
    # a step held as many slots as had ended before it
    ended = [(lengths <= t).sum() for t in range(lengths.max())]
    assert held == ended
    assert donated == [False] + [True] * (len(donated) - 1)


def test_collect_leaves_the_state_of_the_carry_it_continues_from(gen):
    # collect may be continued from the same carry again (and an actor may keep its states):
    # it gives up no state, so the native step never writes the one it is handed
    from plasticagents.native import build_error, library

    if library() is None:
        pytest.skip(f"no native step: {build_error()}")
    net = PlasticSNN(3, 1, hidden=8, generator=gen, gain=3.0, plasticity=PlasticitySpec("hebbian"))
    pop = Population(net, 2, native=True)
    agent = Agent(pop, action_low=-2.0, action_high=2.0)
    pool = EnvPool([_pendulum(50)] * 4)
    first = collect(agent, pool, steps=3, seed=0, batch_shape=(2, 2))
    before = first.carry.state.layer.plastic.hebb.clone()
    second = collect(agent, pool, steps=3, carry=first.carry, batch_shape=(2, 2))
    pool.close()
    assert torch.equal(first.carry.state.layer.plastic.hebb, before)
    assert not torch.equal(second.carry.state.layer.plastic.hebb, before)
