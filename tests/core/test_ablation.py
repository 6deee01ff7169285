"""Plasticity ablations do what their names say, step for step."""

import numpy as np
import pytest
import torch

from plasticagents import Agent, PlasticitySpec, PlasticSNN
from plasticagents.ablation import AblatedAgent, plastic_state

ONSET = 4  # the step whose info reports the onset; the ablation acts from the next step


def _net(mode="modulated"):
    return PlasticSNN(
        3,
        2,
        hidden=12,
        steps_per_input=2,
        dt=0.025,
        gain=4.0,
        plasticity=PlasticitySpec("hebbian", mode=mode, granularity="post", eta=0.5),
        generator=torch.Generator().manual_seed(0),
    )


class _Recorder(Agent):
    """An agent that keeps the fast weights of the state each step starts from."""

    def __init__(self, net):
        super().__init__(net)
        self.started_from = []

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        if state is not None:
            self.started_from.append(plastic_state(state).hebb.clone())
        return super().predict(obs, state, episode_start, deterministic)


def _run(agent, steps=10, onset_slots=(True, False)):
    """The fast weights after each step; the env reports an onset in the info of step
    ``ONSET`` (for the slots ``onset_slots``), which the engine passes on before the next."""
    obs = np.random.default_rng(0).normal(size=(steps, 2, 3)).astype(np.float32) * 3
    state, after = None, []
    for t in range(steps):
        if t == ONSET + 1 and hasattr(agent, "observe_onsets"):
            agent.observe_onsets(np.array(onset_slots))
        _, state = agent.predict(obs[t], state, episode_start=np.array([t == 0, t == 0]))
        after.append(plastic_state(state).hebb.clone())
    return after


def test_freeze_holds_the_fast_weights_from_the_onset_in_the_onset_slots_only():
    intact = _run(Agent(_net()))
    frozen = _run(AblatedAgent(Agent(_net()), "freeze-at-onset"))
    for t in range(ONSET + 1):  # identical up to and including the onset step
        assert torch.equal(frozen[t], intact[t])
    for t in range(ONSET + 1, 10):
        assert torch.equal(frozen[t][0], intact[ONSET][0])  # held at the onset value
        assert torch.equal(frozen[t][1], intact[t][1])  # the other slot keeps learning
    assert not torch.equal(intact[9][0], intact[ONSET][0])  # it would have moved


def test_lesion_keeps_the_fast_weights_at_their_initial_values_all_episode():
    lesioned = _run(AblatedAgent(Agent(_net()), "lesion"))
    initial = plastic_state(_net().initial_state(2)).hebb
    assert all(torch.equal(h, initial) for h in lesioned)
    intact = _run(Agent(_net()))
    assert not torch.equal(intact[-1], initial)


def test_reset_puts_the_plastic_state_back_at_the_onset_then_learning_resumes():
    intact = _run(Agent(_net()))
    inner = _Recorder(_net())
    after = _run(AblatedAgent(inner, "reset-at-onset"))
    before = inner.started_from  # before[t - 1]: what step t started from
    initial = plastic_state(_net().initial_state(2)).hebb
    for t in range(ONSET + 1):
        assert torch.equal(after[t], intact[t])
    assert torch.equal(before[ONSET][0], initial[0])  # the state step ONSET + 1 starts from
    assert torch.equal(before[ONSET][1], intact[ONSET][1])
    assert not torch.equal(after[ONSET + 1][0], initial[0])  # plasticity runs on


@pytest.mark.parametrize("mode", ["freeze-at-onset", "lesion", "reset-at-onset"])
def test_an_ablation_of_a_static_network_is_a_clear_error(mode):
    static = PlasticSNN(3, 2, hidden=8, plasticity=None)
    with pytest.raises(ValueError, match=f"ablation '{mode}' needs a plastic agent"):
        AblatedAgent(Agent(static), mode)
    with pytest.raises(ValueError, match="unknown ablation 'frozen'; valid choices"):
        AblatedAgent(Agent(_net()), "frozen")


def test_freeze_at_an_onset_reported_by_the_reset_holds_the_initial_values():
    agent = AblatedAgent(Agent(_net()), "freeze-at-onset")
    initial = plastic_state(_net().initial_state(2)).hebb
    agent.observe_onsets(np.array([True, False]))  # active from step 0 (the reset info)
    state = None
    obs = np.random.default_rng(1).normal(size=(6, 2, 3)).astype(np.float32) * 3
    for t in range(6):
        _, state = agent.predict(obs[t], state, episode_start=np.array([t == 0, t == 0]))
        hebb = plastic_state(state).hebb
        assert torch.equal(hebb[0], initial[0])
    assert not torch.equal(hebb[1], initial[1])  # the other slot learns
