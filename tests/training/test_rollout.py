import gymnasium as gym
import numpy as np
import pytest
import torch

from plasticagents import Agent, MLPPolicy, PlasticSNN
from plasticagents.population import Population
from plasticagents.training.rollout import (
    EnvPool,
    NormalizedAgent,
    RunningNorm,
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
