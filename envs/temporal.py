"""Tasks that need learning *within* an episode (what synaptic plasticity is for).

CueAssociation-v0 (after the SpikePropamine line of work)
    ``n_cues`` cues; at each episode start one of them is secretly paired with reward. Each of
    ``n_trials`` trials shows a random cue for ``cue_steps`` steps (noisy one-hot), then a
    response step. Acting "go" (action > 0) on the response step earns +1 for the paired cue
    and -1 for any other; "no-go" earns 0. The observation is ``[cue (n_cues), response flag,
    last reward]``, so the agent can only tell the paired cue by remembering which cue was
    followed by reward. Returns (default 4 cues, 20 trials): an oracle that knows the pairing
    earns ``n_trials / n_cues`` = 5 in expectation; always-no-go earns 0; random go/no-go
    earns ``n_trials * (1/n_cues - 1/2)`` = -5; the scripted learner "go on a cue until it is
    punished, then never again; once rewarded, go only on it" earns about 3.3 (measured over
    400 seeded episodes; the tests check all four figures).

CueFeedbackAssociation-v0
    The same task with a feedback step after each response (``feedback=True``): the cue stays
    on screen while the reward just earned is shown, so cue and outcome coincide in time (in
    v0 the reward arrives with the next trial's cue, and a learner must bridge that step).
    Same returns as CueAssociation-v0; episodes are ``n_trials (cue_steps + 2) - 1`` steps long.

CueDelayAssociation-v0
    The feedback task with 2 cues and ``delay=4`` blank steps (no cue, no reward) after each
    feedback step, so no agent with a memory of a few steps can carry the outcome of one trial
    to the next by its recent input: remembering which cue pays must outlast 5-7 steps of
    other input. Returns: oracle ``n_trials / 2`` = 10; always-no-go and random go / no-go 0
    (expected); the scripted learner about 9 (tests check them). Any ``CueAssociation`` takes
    ``delay``; episodes are ``n_trials (cue_steps + 1 + feedback + delay) - feedback - delay``
    steps long.

BanditReversal-v0
    Two arms paying +1 with probability ``p_good`` (default 0.8) and ``1 - p_good``; which arm
    is good is drawn per episode and swaps at a trial drawn in the middle third. The
    observation is ``[1, last reward]`` without the last action, so a memoryless agent cannot
    do win-stay/lose-shift: any memoryless policy earns 0.5 per trial in expectation (the
    chance return 0.5 n_trials); an oracle earns ``p_good`` per trial (0.8 n_trials).
    Action: arm 0 if ``action[0] <= 0`` else arm 1.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["BanditReversal", "CueAssociation", "cue_reference_returns"]


class CueAssociation(gym.Env):
    """Within-episode cue-reward association; see the module docstring."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(
        self,
        n_cues: int = 4,
        n_trials: int = 20,
        cue_steps: int = 2,
        noise: float = 0.0,
        feedback: bool = False,
        delay: int = 0,
    ):
        if n_cues < 2 or n_trials < 1 or cue_steps < 1 or delay < 0:
            raise ValueError(
                "need n_cues >= 2, n_trials >= 1, cue_steps >= 1, delay >= 0; "
                f"got {n_cues}, {n_trials}, {cue_steps}, {delay}"
            )
        if not (np.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise must be finite and >= 0, got {noise!r}")
        self.n_cues, self.n_trials, self.cue_steps, self.noise = n_cues, n_trials, cue_steps, noise
        self.feedback, self.delay = bool(feedback), int(delay)
        self._last_phase = cue_steps + int(self.feedback) + self.delay
        self.observation_space = spaces.Box(-np.inf, np.inf, (n_cues + 2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n_cues + 2, np.float32)
        if self.phase <= self.cue_steps + int(self.feedback):  # blank during the delay
            obs[self.cue] = 1.0
        if self.noise:
            obs[: self.n_cues] += self.noise * self.np_random.standard_normal(self.n_cues)
        obs[-2] = float(self.phase == self.cue_steps)
        obs[-1] = self.last_reward
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.target = int(self.np_random.integers(self.n_cues))
        self.trial, self.phase, self.last_reward = 0, 0, 0.0
        self.cue = int(self.np_random.integers(self.n_cues))
        return self._obs(), {"target": self.target, "cue": self.cue}

    def step(self, action):
        reward = 0.0
        if self.phase == self.cue_steps:  # response step
            if float(np.asarray(action).reshape(-1)[0]) > 0:
                reward = 1.0 if self.cue == self.target else -1.0
            self.trial += 1
        if self.phase == self._last_phase:  # next trial
            self.phase = 0
            self.cue = int(self.np_random.integers(self.n_cues))
        else:  # feedback keeps the cue on screen while its outcome shows; delay steps are blank
            self.phase += 1
        self.last_reward = reward
        terminated = self.trial >= self.n_trials
        return self._obs(), reward, terminated, False, {"target": self.target, "cue": self.cue}


def cue_reference_returns(
    env_id: str = "plasticagents/CueDelayAssociation-v0",
    episodes: int = 1000,
    seed: int = 0,
    **env_kwargs,
) -> dict[str, float]:
    """Mean returns of two reference players on a cue-association task, over the seeded
    episodes ``seed .. seed + episodes - 1``: the scale against which a trained agent's return
    at a given ``noise`` reads (with noise, not even an oracle earns ``n_trials / n_cues``).

    ``oracle``
        Knows which cue pays. At each response it goes iff the cue on screen is more likely
        than not the paying one, by Bayes' rule on that trial's noisy looks (the cue channels
        carry Gaussian noise of std ``noise``, so the posterior over cues is the softmax of the
        summed looks divided by ``noise ** 2``).
    ``bayes_learner``
        Does not know. It keeps the posterior over which cue pays, updated after each "go" from
        the outcome and every look at that trial's cue (the feedback step's included), and goes
        iff the immediate expected reward plus what the outcome is expected to add to the
        remaining trials' return (one-step lookahead; future trials valued as if their cue were
        seen clearly) beats no-go. Not the exact Bayes-optimal player, a strong reachable one.

    ``env_id`` names a registered ``CueAssociation`` task; ``env_kwargs`` override its
    arguments (``noise=1.0``). Returns ``{"oracle": ..., "bayes_learner": ..., "no_go": 0.0}``.
    """
    spec = gym.spec(env_id)
    if spec.entry_point != f"{__name__}:CueAssociation":
        raise ValueError(
            f"{env_id!r} is not a cue-association task (entry point {spec.entry_point!r})"
        )
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    kwargs = {**spec.kwargs, **env_kwargs}
    totals = {"oracle": [], "bayes_learner": []}
    for player in totals:
        env = CueAssociation(**kwargs)
        for s in range(seed, seed + episodes):
            totals[player].append(_play_cue_episode(env, s, knows_target=player == "oracle"))
    return {**{k: float(np.mean(v)) for k, v in totals.items()}, "no_go": 0.0}


def _play_cue_episode(env: CueAssociation, seed: int, knows_target: bool) -> float:
    n, sigma = env.n_cues, env.noise
    shown = env.cue_steps + int(env.feedback)  # last phase at which the cue is on screen
    obs, info = env.reset(seed=seed)
    target = info["target"]
    belief = np.full(n, 1.0 / n)  # over which cue pays
    looks, total, went, reward, done = np.zeros(n), 0.0, False, 0.0, False

    def cue_posterior():
        if sigma == 0:
            return (looks == looks.max()).astype(float)
        z = looks / sigma**2
        e = np.exp(z - z.max())
        return e / e.sum()

    def future(b, remaining):  # trials to come, valued as if each cue were seen clearly
        mass = b.sum()  # b: an unnormalised posterior over which cue pays
        return remaining * np.mean(np.maximum(0.0, 2 * b / mass - 1)) if mass > 0 else 0.0

    while not done:
        phase = env.phase
        if phase <= shown:
            looks += obs[:n]
        go = False
        if phase == env.cue_steps:
            q = cue_posterior()
            if knows_target:
                go = q[target] > 0.5
            else:
                p = float(belief @ q)
                remaining = env.n_trials - env.trial - 1
                after = p * future(belief * q, remaining) + (1 - p) * future(
                    belief * (1 - q), remaining
                )
                go = 2 * p - 1 + after > future(belief, remaining) + 1e-12
            went = go
        obs, r, term, trunc, _ = env.step(np.array([1.0 if go else -1.0], np.float32))
        total += r
        if phase == env.cue_steps:
            reward = r
        done = term or trunc
        if env.phase == 0 or done:  # the trial is over: learn from it, start the next one's looks
            if went and not knows_target:
                q = cue_posterior()
                b = belief * (q if reward > 0 else 1 - q)
                if b.sum() > 0:
                    belief = b / b.sum()
            looks[:], went = 0.0, False
    return total


class BanditReversal(gym.Env):
    """Two-armed bandit whose good arm swaps mid-episode; see the module docstring."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, n_trials: int = 60, p_good: float = 0.8):
        if n_trials < 3:
            raise ValueError(f"n_trials must be >= 3, got {n_trials!r}")
        if not 0.5 <= p_good <= 1.0:
            raise ValueError(f"p_good must be in [0.5, 1], got {p_good!r}")
        self.n_trials, self.p_good = n_trials, p_good
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.good = int(self.np_random.integers(2))
        third = self.n_trials // 3
        self.reversal = int(self.np_random.integers(third, 2 * third + 1))
        self.trial = 0
        return np.array([1.0, 0.0], np.float32), {"good_arm": self.good}

    def step(self, action):
        arm = int(float(np.asarray(action).reshape(-1)[0]) > 0)
        p = self.p_good if arm == self.good else 1.0 - self.p_good
        reward = float(self.np_random.random() < p)
        self.trial += 1
        if self.trial == self.reversal:
            self.good = 1 - self.good
        terminated = self.trial >= self.n_trials
        return (
            np.array([1.0, reward], np.float32),
            reward,
            terminated,
            False,
            {"good_arm": self.good},
        )
