"""What BPTT differentiates: the binary (go / no-go) policy of the temporal tasks and the
actor-critic loss of whole episodes, run through the rollout engine with the autograd graph
kept through every simulation step and plastic update (Backpropamine, SpikePropamine).

The loss, per iteration over ``B`` episodes with active-step mask ``m[t, b]`` and
``S = sum(m)``::

    G[t]  = r[t] + gamma * m[t] * G[t + 1]            (return-to-go, no bootstrap)
    A[t]  = stopgrad(G[t] - V[t])                     (critic baseline, not normalised)
    loss  = -sum(m * log pi(a | h) * A) / S
            + value_coef * sum(m * (G - V) ** 2) / S
            - beta * sum(m * H[pi]) / S

``log pi`` is the behaviour policy's log-probability (it mixes in uniform go / no-go with
probability ``explore``), so the estimator stays on-policy; ``H`` is the entropy of the
network's own Bernoulli policy, summed over action dimensions; ``beta`` follows
:func:`entropy_schedule`. One Adam step follows, with the gradient norm clipped to
``grad_clip``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents.training.builders import build_policy
from plasticagents.training.config import BPTTConfig, ExperimentConfig
from plasticagents.training.rollout import EnvPool, rollout

__all__ = [
    "BinaryPolicy",
    "build_bptt_policy",
    "entropy_schedule",
    "episode_loss",
    "evaluate_binary",
]


class BinaryPolicy(nn.Module):
    """A network with ``act_dim`` logit readouts and one value readout, acting greedily:
    ``+1`` where the logit is positive, else ``-1`` (the predict protocol's deterministic
    action), or, with ``sample=True``, ``+1`` with probability ``sigmoid(logit)`` drawn from
    ``generator`` (for tasks whose solution explores within the episode, as the cue tasks':
    a greedy learner that says no-go to its first cue never sees a reward). ``net`` is what
    training differentiates; this wrapper is what evaluation runs."""

    def __init__(
        self,
        net: nn.Module,
        act_dim: int,
        sample: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        """Wrap ``net`` (``act_dim + 1`` linear readouts: logits, then the value); ``generator``
        seeds the ``sample=True`` draws (default: seeded with 0 so evaluation repeats)."""
        super().__init__()
        self.net, self.act_dim, self.sample = net, act_dim, sample
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.n_in, self.n_out = net.n_in, act_dim

    def initial_state(self, batch: int | tuple[int, ...]) -> Any:
        """The network's fresh state for ``batch`` rows (membranes, traces, fast weights)."""
        return self.net.initial_state(batch)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """One step: ``x: [B, obs_dim]`` -> actions ``[B, act_dim]`` in ``{-1, +1}`` (the dtype of
        the readouts; the value readout is dropped) and the next state.
        """
        out, state = self.net(x, state)
        logits = out[..., : self.act_dim]
        if self.sample:
            go = torch.rand(logits.shape, generator=self.generator) < torch.sigmoid(logits)
        else:
            go = logits > 0
        return torch.where(go, 1.0, -1.0).to(out.dtype), state

    def weight_change(self, state: Any) -> Tensor:
        """The plastic weight change in ``state`` (what the viewer plots), from the network."""
        return self.net.weight_change(state)

    def modulation(self, state: Any) -> Tensor | None:
        """The neuromodulator's output in ``state`` (``None`` without modulated plasticity)."""
        return self.net.modulation(state)


def build_bptt_policy(cfg: ExperimentConfig, obs_dim: int, act_dim: int) -> BinaryPolicy:
    """The policy a BPTT run trains: the configured SNN with ``act_dim + 1`` linear readouts,
    built from ``cfg.seed``; it samples its actions when ``trainer.eval_sample`` is set.

    Raises:
        ValueError: ``agent.kind`` is not ``snn`` (an MLP has no linear readouts here).
    """
    if cfg.agent.kind != "snn":
        raise ValueError(
            f"trainer.kind 'bptt' trains spiking networks; agent.kind {cfg.agent.kind!r} is not "
            "supported (valid: ['snn'])"
        )
    net = build_policy(cfg.agent, obs_dim, act_dim + 1, cfg.seed, output="linear")
    sample = bool(getattr(cfg.trainer, "eval_sample", False))
    return BinaryPolicy(net, act_dim, sample, torch.Generator().manual_seed(cfg.seed))


class _Learner:
    """The stochastic (or ``greedy``) binary policy as a rollout agent that keeps the autograd
    graph: each ``predict`` samples go / no-go and records the step's log-probability, entropy
    and value for the actor-critic loss."""

    population = False

    def __init__(
        self, policy: BinaryPolicy, t: BPTTConfig, generator: torch.Generator, greedy: bool
    ) -> None:
        """``generator`` draws the actions; ``greedy`` acts on the sign of the logits."""
        self.policy, self.t, self.generator, self.greedy = policy, t, generator, greedy
        self.logps: list[Tensor] = []
        self.entropies: list[Tensor] = []
        self.values: list[Tensor] = []

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        """Act on ``obs: [n, obs_dim]`` with the graph kept (no ``no_grad``): returns actions
        ``[n, act_dim]`` in ``{-1, +1}`` and the next state, and appends this step's
        log-probability ``[n]`` (of the behaviour policy), entropy ``[n]`` (of the network's own
        policy) and value ``[n]``. ``episode_start`` is not read: every slot's episode starts
        with the rollout, from the ``None`` state.
        """
        act_dim, explore = self.policy.act_dim, self.t.explore
        out, state = self.policy.net(torch.as_tensor(obs, dtype=torch.float32), state)
        logits, value = out[:, :act_dim], out[:, act_dim]
        policy_dist = torch.distributions.Bernoulli(logits=logits)
        # the behaviour policy mixes in uniform go / no-go with probability ``explore``; its
        # log-probabilities are what the gradient uses, so the estimator stays on-policy
        dist = (
            torch.distributions.Bernoulli(probs=explore / 2 + (1 - explore) * policy_dist.probs)
            if explore and not self.greedy
            else policy_dist
        )
        if self.greedy:
            sample = (logits > 0).to(logits.dtype)
        else:
            with torch.no_grad():
                draw = torch.rand(logits.shape, generator=self.generator)
                sample = (draw < dist.probs).to(logits.dtype)
        self.logps.append(dist.log_prob(sample).sum(-1))
        self.entropies.append(policy_dist.entropy().sum(-1))
        self.values.append(value)
        return (2.0 * sample - 1.0).detach().numpy(), state


def episode_loss(
    policy: BinaryPolicy,
    pool: EnvPool,
    seeds: list[int],
    t: BPTTConfig,
    generator: torch.Generator,
    greedy: bool = False,
    entropy_coef: float | None = None,
) -> dict[str, Any]:
    """Run one episode per pool slot through the rollout engine with the stochastic (or
    ``greedy``) policy and build the actor-critic loss over the whole episode, with the graph
    through every step kept. ``entropy_coef`` overrides ``t.entropy_coef`` (the trainer
    anneals it).

    Slot ``i`` is reset with ``seeds[i]``; ``generator`` draws the actions. Memory grows with
    ``len(pool) x episode length``: the graph of every simulation step is alive until
    ``loss.backward()``.

    Returns:
        ``loss`` (scalar tensor with the graph; see the module docstring), ``entropy`` (float,
        mean per active step), ``returns`` and ``lengths`` (``[n]`` arrays), and
        ``spikes_per_step`` (hidden spikes per env step over all slots).

    Raises:
        ValueError: a slot produced a non-finite observation, reward or action.
    """
    learner = _Learner(policy, t, generator, greedy)
    result = rollout(learner, pool, seeds, deterministic=greedy, record=("rewards", "active"))
    if result.diverged.any():
        bad = int(np.flatnonzero(result.diverged)[0])
        raise ValueError(
            f"slot {bad} produced a non-finite observation, reward or action at step "
            f"{int(result.diverged_at[bad])}"
        )
    traj = result.trajectory
    logp, entropy = torch.stack(learner.logps), torch.stack(learner.entropies)
    value = torch.stack(learner.values)
    reward = torch.as_tensor(np.stack(traj["rewards"]), dtype=torch.float32)  # [T, n]
    mask = torch.as_tensor(np.stack(traj["active"]), dtype=torch.float32)
    target = torch.zeros_like(reward)
    running = torch.zeros(len(pool))
    for k in range(len(reward) - 1, -1, -1):  # discounted return-to-go, zero past the end
        running = reward[k] + t.gamma * running * mask[k]
        target[k] = running
    advantage = (target - value).detach()
    steps = mask.sum().clamp_min(1.0)
    policy_loss = -(logp * advantage * mask).sum() / steps
    value_loss = (((target - value) ** 2) * mask).sum() / steps
    entropy_mean = (entropy * mask).sum() / steps
    beta = t.entropy_coef if entropy_coef is None else entropy_coef
    loss = policy_loss + t.value_coef * value_loss - beta * entropy_mean
    return {
        "loss": loss,
        "entropy": float(entropy_mean.detach()),
        "returns": result.returns,
        "lengths": result.lengths,
        "spikes_per_step": float(result.spikes.sum()) / max(int(result.lengths.sum()), 1),
    }


def entropy_schedule(t: BPTTConfig, iteration: int) -> float:
    """The entropy bonus at ``iteration``: ``t.entropy_coef``, or, with
    ``t.entropy_coef_final`` set, a linear ramp from it to the final value over
    ``t.entropy_anneal`` of the iterations (then constant)."""
    if t.entropy_coef_final is None:
        return t.entropy_coef
    span = max(t.entropy_anneal * t.iterations, 1.0)
    frac = min(iteration / span, 1.0)
    return t.entropy_coef + frac * (t.entropy_coef_final - t.entropy_coef)


def evaluate_binary(policy: BinaryPolicy, pool: EnvPool, seed: int, t: BPTTConfig) -> float:
    """Mean return of one episode per slot of ``pool`` without gradients: greedy (sign of the
    logits) unless ``t.eval_sample``, then sampled as in training (``explore`` mixed in)
    from a generator seeded with ``seed``. The reset seeds derive from ``(seed, 10**6)``:
    the same held-out episodes at every evaluation, distinct from the training seeds (which
    derive from ``(seed, iteration, k)``), so evaluations along a run compare policies, not
    episodes.
    """
    seeds = [int(s) for s in np.random.SeedSequence([seed, 10**6]).generate_state(len(pool))]
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        result = episode_loss(policy, pool, seeds, t, generator, greedy=not t.eval_sample)
    return float(result["returns"].mean())
