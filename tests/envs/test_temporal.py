import gymnasium as gym
import numpy as np
import pytest

import plasticagents.envs  # noqa: F401  (registers the ids)


def run(env_id, policy, episodes=400, **kwargs):
    env = gym.make(env_id, **kwargs)
    returns = []
    for seed in range(episodes):
        obs, info = env.reset(seed=seed)
        memory, total, done = {}, 0.0, False
        while not done:
            action = policy(obs, info, memory)
            obs, r, term, trunc, info = env.step(np.array([action], np.float32))
            memory["last"] = (memory.get("cue"), action, r)
            total += r
            done = term or trunc
        returns.append(total)
    return float(np.mean(returns))


def cue_of(obs, n=4):
    return int(np.argmax(obs[:n]))


def oracle(obs, info, memory):
    return 1.0 if obs[-2] == 1 and cue_of(obs) == info["target"] else -1.0


def learner(obs, info, memory):
    """Go on a cue until punished; once a cue is rewarded, go only on it."""
    if "last" in memory and memory["last"][2] != 0:
        cue, _, r = memory["last"]
        memory.setdefault("bad", set()).add(cue) if r < 0 else memory.__setitem__("good", cue)
    if obs[-2] != 1:
        return -1.0
    cue = cue_of(obs)
    memory["cue"] = cue
    if "good" in memory:
        return 1.0 if cue == memory["good"] else -1.0
    return -1.0 if cue in memory.get("bad", set()) else 1.0


def test_cue_association_documented_returns():
    rng = np.random.default_rng(0)
    assert run("plasticagents/CueAssociation-v0", oracle) == pytest.approx(5.0, abs=0.3)
    assert run("plasticagents/CueAssociation-v0", lambda o, i, m: -1.0) == 0.0
    assert run(
        "plasticagents/CueAssociation-v0", lambda o, i, m: rng.choice([-1.0, 1.0])
    ) == pytest.approx(-5.0, abs=0.4)
    assert run("plasticagents/CueAssociation-v0", learner) == pytest.approx(3.3, abs=0.3)


@pytest.mark.parametrize("name", ["CueAssociation", "CueFeedbackAssociation"])
def test_both_variants_have_the_same_documented_returns(name):
    env_id = f"plasticagents/{name}-v0"
    assert run(env_id, oracle, episodes=200) == pytest.approx(5.0, abs=0.4)
    assert run(env_id, learner, episodes=200) == pytest.approx(3.3, abs=0.4)


def test_feedback_step_shows_the_outcome_beside_its_own_cue():
    env = gym.make("plasticagents/CueFeedbackAssociation-v0")
    obs, info = env.reset(seed=3)
    steps = 0
    for _ in range(2):  # cue steps
        obs, *_ = env.step(np.array([-1.0], np.float32))
    cue = cue_of(obs)
    go = np.array([1.0], np.float32)
    obs, reward, *_ = env.step(go)  # response: go
    steps = 3
    assert reward == (1.0 if cue == info["target"] else -1.0)
    assert cue_of(obs) == cue and obs[-1] == reward and obs[-2] == 0  # feedback step
    obs, reward, *_ = env.step(go)  # acting on the feedback step earns nothing
    assert reward == 0.0 and obs[-1] == 0.0
    lengths = []
    for seed in range(3):
        env.reset(seed=seed)
        done, n = False, 0
        while not done:
            _, _, term, trunc, _ = env.step(np.array([-1.0], np.float32))
            done, n = term or trunc, n + 1
        lengths.append(n)
    assert lengths == [20 * 4 - 1] * 3 and steps == 3


def informed_learner(obs, info, memory, n=2):
    """Reads each outcome where the feedback step shows it beside its cue: go on a cue until
    punished; once a cue is rewarded, go only on it."""
    if obs[-1] != 0:
        memory.setdefault("bad", set()).add(cue_of(obs, n)) if obs[-1] < 0 else memory.__setitem__(
            "good", cue_of(obs, n)
        )
    if obs[-2] != 1:
        return -1.0
    cue = cue_of(obs, n)
    if "good" in memory:
        return 1.0 if cue == memory["good"] else -1.0
    return -1.0 if cue in memory.get("bad", set()) else 1.0


def test_cue_delay_association_documented_returns():
    env_id = "plasticagents/CueDelayAssociation-v0"
    rng = np.random.default_rng(0)

    def oracle2(obs, info, memory):
        return 1.0 if obs[-2] == 1 and cue_of(obs, 2) == info["target"] else -1.0

    assert run(env_id, oracle2) == pytest.approx(10.0, abs=0.3)
    assert run(env_id, lambda o, i, m: -1.0) == 0.0
    assert run(env_id, lambda o, i, m: rng.choice([-1.0, 1.0])) == pytest.approx(0.0, abs=0.4)
    assert run(env_id, informed_learner) == pytest.approx(9.4, abs=0.3)


def test_delay_steps_are_blank_and_set_the_episode_length():
    env = gym.make("plasticagents/CueDelayAssociation-v0")  # 2 cues, feedback, delay 4
    obs, _ = env.reset(seed=1)
    seen = [obs]
    done = False
    while not done:
        obs, _, term, trunc, _ = env.step(np.array([1.0], np.float32))
        seen.append(obs)
        done = term or trunc
    assert len(seen) - 1 == 20 * (2 + 1 + 1 + 4) - 1 - 4
    period = [seen[k] for k in range(8)]  # cue, cue, response, feedback, 4 blank steps
    assert all(period[k][:2].sum() == 1 for k in range(4))
    assert period[2][-2] == 1 and period[3][-1] != 0  # the response flag, then its outcome
    assert all(not period[k].any() for k in range(4, 8))  # nothing at all during the delay
    assert seen[8][:2].sum() == 1  # the next trial's cue


def test_noisy_cues_keep_the_task_defined():
    env = gym.make("plasticagents/NoisyCueAssociation-v0")
    obs, _ = env.reset(seed=0)
    assert not np.all(np.isin(obs[:4], [0.0, 1.0]))


def test_bandit_reversal_documented_returns():
    def oracle_arm(obs, info, memory):
        return 1.0 if info["good_arm"] == 1 else -1.0

    assert run("plasticagents/BanditReversal-v0", oracle_arm) == pytest.approx(0.8 * 60, abs=1.0)
    # memoryless: the action can depend only on the last reward, which says nothing about the arm
    for policy in (lambda o, i, m: 1.0, lambda o, i, m: 1.0 if o[1] > 0 else -1.0):
        assert run("plasticagents/BanditReversal-v0", policy) == pytest.approx(0.5 * 60, abs=1.0)


def test_temporal_tasks_reject_bad_arguments():
    with pytest.raises(ValueError, match="n_cues >= 2"):
        gym.make("plasticagents/CueAssociation-v0", n_cues=1)
    with pytest.raises(ValueError, match="delay >= 0.*-1"):
        gym.make("plasticagents/CueAssociation-v0", delay=-1)
    with pytest.raises(ValueError, match=r"p_good must be in \[0.5, 1\]"):
        gym.make("plasticagents/BanditReversal-v0", p_good=0.3)


def test_cue_reference_players_match_the_documented_and_analytic_returns():
    from scipy.stats import norm

    from plasticagents.envs import cue_reference_returns

    clean = cue_reference_returns(episodes=300)  # CueDelayAssociation-v0
    assert clean["oracle"] == pytest.approx(10.0, abs=0.4)
    assert clean["bayes_learner"] == pytest.approx(
        run("plasticagents/CueDelayAssociation-v0", informed_learner, episodes=300), abs=0.1
    )
    assert clean["no_go"] == 0.0
    # noise 1.0: the oracle decides from 3 looks, the summed cue difference is +-3 with std
    # sqrt(6), so it errs with probability Phi(-3/sqrt(6)) and earns 20 (1/2 - that) = 7.8
    noisy = cue_reference_returns(noise=1.0, episodes=300)
    assert noisy["oracle"] == pytest.approx(20 * (0.5 - norm.cdf(-3 / 6**0.5)), abs=0.35)
    assert 0.5 * noisy["oracle"] < noisy["bayes_learner"] < noisy["oracle"]
    four = cue_reference_returns("plasticagents/CueAssociation-v0", episodes=300)
    assert four["oracle"] == pytest.approx(5.0, abs=0.4)
    assert four["bayes_learner"] == pytest.approx(3.3, abs=0.3)  # explores a cue, as scripted


def test_cue_reference_returns_rejects_other_tasks():
    from plasticagents.envs import cue_reference_returns

    with pytest.raises(ValueError, match="BanditReversal-v0.*not a cue-association task"):
        cue_reference_returns("plasticagents/BanditReversal-v0")
    with pytest.raises(ValueError, match="episodes must be >= 1"):
        cue_reference_returns(episodes=0)
