"""Gradient meta-training of plastic spiking policies through time (SpikePropamine).

Every iteration runs ``trainer.batch`` fresh episodes in lockstep (each with its own plastic
state, reset at the episode start) and differentiates an advantage actor-critic loss through
every simulation step of the whole episode: the gradient reaches the initial weights ``W``,
the plastic gains ``alpha``, the plasticity rates ``eta`` and rule coefficients, and the
neuromodulator's weights, through the plastic updates themselves (Miconi et al. 2019's
Backpropamine, Schmidgall et al. 2021's SpikePropamine).

The policy is binary per action dimension (see :class:`~plasticagents.training.config.
BPTTConfig`), which is what the temporal tasks read (go / no-go, left / right arm).

Example::

    plasticagents train configs/experiments/cue_plastic_modulated.yaml
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from plasticagents.training.builders import build_policy, env_maker, env_spaces
from plasticagents.training.config import BPTTConfig, ExperimentConfig, to_dict
from plasticagents.training.rollout import EnvPool, episode_seeds
from plasticagents.training.run import RunDir, summary_writer

__all__ = ["METRIC_COLUMNS", "BinaryPolicy", "build_bptt_policy", "episode_loss", "train_bptt"]

METRIC_COLUMNS = [
    "iteration",
    "env_steps",
    "wall_time",
    "mean_return",
    "loss",
    "entropy",
    "grad_norm",
    "spikes_per_step",
    "eval_return",
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
        super().__init__()
        self.net, self.act_dim, self.sample = net, act_dim, sample
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.n_in, self.n_out = net.n_in, act_dim

    def initial_state(self, batch: int | tuple[int, ...]) -> Any:
        return self.net.initial_state(batch)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        out, state = self.net(x, state)
        logits = out[..., : self.act_dim]
        if self.sample:
            go = torch.rand(logits.shape, generator=self.generator) < torch.sigmoid(logits)
        else:
            go = logits > 0
        return torch.where(go, 1.0, -1.0).to(out.dtype), state

    def weight_change(self, state: Any) -> Tensor:
        return self.net.weight_change(state)

    def modulation(self, state: Any) -> Tensor | None:
        return self.net.modulation(state)


def build_bptt_policy(cfg: ExperimentConfig, obs_dim: int, act_dim: int) -> BinaryPolicy:
    """The policy a BPTT run trains: the configured SNN with ``act_dim + 1`` linear readouts."""
    if cfg.agent.kind != "snn":
        raise ValueError(
            f"trainer.kind 'bptt' trains spiking networks; agent.kind {cfg.agent.kind!r} is not "
            "supported (valid: ['snn'])"
        )
    net = build_policy(cfg.agent, obs_dim, act_dim + 1, cfg.seed, output="linear")
    sample = bool(getattr(cfg.trainer, "eval_sample", False))
    return BinaryPolicy(net, act_dim, sample, torch.Generator().manual_seed(cfg.seed))


def episode_loss(
    policy: BinaryPolicy,
    pool: EnvPool,
    seeds: list[int],
    t: BPTTConfig,
    generator: torch.Generator,
    greedy: bool = False,
    entropy_coef: float | None = None,
) -> dict[str, Any]:
    """Run one episode per pool slot with the stochastic (or ``greedy``) policy and build the
    actor-critic loss over the whole episode, with the graph through every step kept.
    ``entropy_coef`` overrides ``t.entropy_coef`` (the trainer anneals it)."""
    net, act_dim = policy.net, policy.act_dim
    n = len(pool)
    obs, _ = pool.reset(seeds)
    active = np.ones(n, dtype=bool)
    state = None
    logps, entropies, values, rewards, masks = [], [], [], [], []
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    spikes = torch.zeros(())
    while active.any():
        if not np.isfinite(obs[active]).all():
            bad = int(np.flatnonzero(active & ~np.isfinite(obs).all(1))[0])
            raise ValueError(f"slot {bad} produced a non-finite observation: {obs[bad]}")
        x = torch.as_tensor(np.where(active[:, None], obs, 0.0), dtype=torch.float32)
        out, state = net(x, state)
        logits, value = out[:, :act_dim], out[:, act_dim]
        policy_dist = torch.distributions.Bernoulli(logits=logits)
        # the behaviour policy mixes in uniform go / no-go with probability ``explore``; its
        # log-probabilities are what the gradient uses, so the estimator stays on-policy
        dist = (
            torch.distributions.Bernoulli(probs=t.explore / 2 + (1 - t.explore) * policy_dist.probs)
            if t.explore and not greedy
            else policy_dist
        )
        if greedy:
            sample = (logits > 0).to(logits.dtype)
        else:
            with torch.no_grad():
                sample = (torch.rand(logits.shape, generator=generator) < dist.probs).to(
                    logits.dtype
                )
        action = (2.0 * sample - 1.0).detach().numpy()
        idx = np.flatnonzero(active)
        results = pool.step(action, idx)
        step_reward = np.zeros(n)
        mask = torch.as_tensor(active, dtype=torch.float32)
        for i, (o, r, terminated, truncated, _) in zip(idx, results, strict=True):
            obs[i] = o
            step_reward[i] = r
            returns[i] += r
            lengths[i] += 1
            if terminated or truncated:
                active[i] = False
        logps.append(dist.log_prob(sample).sum(-1))
        entropies.append(policy_dist.entropy().sum(-1))
        values.append(value)
        rewards.append(torch.as_tensor(step_reward, dtype=torch.float32))
        masks.append(mask)
        spikes = spikes + (state.spikes.sum(-1) * mask).sum().detach()
    logp, entropy, value = torch.stack(logps), torch.stack(entropies), torch.stack(values)
    reward, mask = torch.stack(rewards), torch.stack(masks)  # [T, n]
    target = torch.zeros_like(reward)
    running = torch.zeros(n)
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
        "returns": returns,
        "lengths": lengths,
        "spikes_per_step": float(spikes) / max(int(lengths.sum()), 1),
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


def _evaluate(policy: BinaryPolicy, pool: EnvPool, seed: int, t: BPTTConfig) -> float:
    seeds = [int(s) for s in np.random.SeedSequence([seed, 10**6]).generate_state(len(pool))]
    with torch.no_grad():
        generator = torch.Generator().manual_seed(seed)
        result = episode_loss(policy, pool, seeds, t, generator, greedy=not t.eval_sample)
    return float(result["returns"].mean())


def _policy_checkpoint(
    cfg: ExperimentConfig,
    policy: BinaryPolicy,
    iteration: int,
    score: float | None,
    obs_dim: int,
    act_dim: int,
) -> dict[str, Any]:
    from plasticagents.population import parameters_to_vector

    names = [n for n, p in policy.net.named_parameters() if p.requires_grad]
    return {
        "kind": "policy",
        "trainer": "bptt",
        "vector": parameters_to_vector(policy.net, names).detach().clone(),
        "param_names": names,
        "obs_norm": None,
        "generation": iteration,
        "score": score,
        "config": to_dict(cfg),
        "obs_dim": obs_dim,
        "act_dim": act_dim,
    }


def train_bptt(
    cfg: ExperimentConfig,
    run: RunDir,
    resume: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    tensorboard: bool = True,
) -> dict[str, Any]:
    """Train, writing metrics and checkpoints into ``run``; returns the last checkpoint dict.

    ``resume`` (a ``latest`` checkpoint) continues after its iteration with the parameters,
    optimizer moments and random generators exactly as they were saved.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t = cfg.trainer
    if not isinstance(t, BPTTConfig):
        raise ValueError(f"train_bptt needs trainer.kind 'bptt', got {t.kind!r}")
    for name in ("iterations", "batch", "eval_episodes", "checkpoint_every"):
        if getattr(t, name) < 1:
            raise ValueError(f"trainer.{name} must be >= 1, got {getattr(t, name)!r}")
    if not (t.lr > 0 and 0 <= t.gamma <= 1 and t.grad_clip > 0):
        raise ValueError(
            f"need trainer.lr > 0, 0 <= trainer.gamma <= 1, trainer.grad_clip > 0; got "
            f"{t.lr!r}, {t.gamma!r}, {t.grad_clip!r}"
        )
    if not (0 <= t.explore < 1 and 0 < t.entropy_anneal <= 1):
        raise ValueError(
            f"need 0 <= trainer.explore < 1 and 0 < trainer.entropy_anneal <= 1; got "
            f"{t.explore!r}, {t.entropy_anneal!r}"
        )
    torch.manual_seed(cfg.seed)
    obs_dim, act_dim, _, _ = env_spaces(cfg.env)
    policy = build_bptt_policy(cfg, obs_dim, act_dim)
    optimizer = torch.optim.Adam(policy.net.parameters(), lr=t.lr)
    generator = torch.Generator().manual_seed(cfg.seed)
    start, env_steps, wall0, best = 0, 0, 0.0, -math.inf
    if resume is not None:
        policy.net.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        generator.set_state(resume["rng"])
        start, env_steps = resume["iteration"] + 1, resume["env_steps"]
        wall0, best = resume["wall_time"], resume["best"]
        run.truncate_metrics("iteration", resume["iteration"])
    if start >= t.iterations:
        log(
            f"[bptt] {run.path} already finished iteration {start - 1} of {t.iterations}; resume "
            f"with --set trainer.iterations=N (N > {t.iterations}) to train longer"
        )
        return resume or {}
    pool = EnvPool([env_maker(cfg.env)] * t.batch, threads=1)
    eval_pool = EnvPool([env_maker(cfg.env)] * t.eval_episodes, threads=1)
    writer = summary_writer(run, start) if tensorboard else None
    n_params = sum(p.numel() for p in policy.net.parameters())
    plastic = (
        "static"
        if cfg.agent.plasticity is None
        else (f"{cfg.agent.plasticity.rule}/{cfg.agent.plasticity.mode}")
    )
    log(
        f"[bptt] {cfg.name}: {cfg.env.id}, SNN {cfg.agent.hidden} neurons ({plastic}), "
        f"{n_params} parameters, batch {t.batch}, iterations {start}..{t.iterations - 1} "
        f"-> {run.path}"
    )
    clock = time.perf_counter()
    state: dict[str, Any] = {}
    try:
        for it in range(start, t.iterations):
            seeds = episode_seeds(cfg.seed, it, t.batch)
            result = episode_loss(
                policy, pool, seeds, t, generator, entropy_coef=entropy_schedule(t, it)
            )
            if not torch.isfinite(result["loss"]):
                bad = float(result["loss"].detach())
                raise ValueError(
                    f"iteration {it}: the loss is {bad}; lower trainer.lr (now {t.lr}) or "
                    "trainer.grad_clip"
                )
            optimizer.zero_grad()
            result["loss"].backward()
            grad_norm = float(nn.utils.clip_grad_norm_(policy.net.parameters(), t.grad_clip))
            optimizer.step()
            env_steps += int(result["lengths"].sum())
            last = it == t.iterations - 1
            eval_return = None
            if t.eval_every and ((it + 1) % t.eval_every == 0 or last):
                eval_return = _evaluate(policy, eval_pool, cfg.seed, t)
                if eval_return > best:
                    best = eval_return
                    run.save_checkpoint(
                        "best", _policy_checkpoint(cfg, policy, it, best, obs_dim, act_dim)
                    )
            row = {
                "iteration": it,
                "env_steps": env_steps,
                "wall_time": wall0 + time.perf_counter() - clock,
                "mean_return": float(result["returns"].mean()),
                "loss": float(result["loss"].detach()),
                "entropy": result["entropy"],
                "grad_norm": grad_norm,
                "spikes_per_step": result["spikes_per_step"],
                "eval_return": eval_return,
            }
            run.append_metrics(row, METRIC_COLUMNS)
            if writer is not None:
                for key, value in row.items():
                    if key != "iteration" and value is not None:
                        writer.add_scalar(f"bptt/{key}", value, it)
            if eval_return is not None or it == start or (it + 1) % 10 == 0:
                log(
                    f"[bptt] it {it:5d}  episodes {(it + 1) * t.batch:>7,d}  return "
                    f"{row['mean_return']:7.2f}  entropy {row['entropy']:5.2f}  spikes/step "
                    f"{row['spikes_per_step']:6.1f}  "
                    + (f"eval {eval_return:7.2f}  " if eval_return is not None else "")
                    + f"{row['wall_time']:7.1f}s"
                )
            state = {
                "kind": "bptt",
                "iteration": it,
                "env_steps": env_steps,
                "wall_time": row["wall_time"],
                "model": {k: v.detach().clone() for k, v in policy.net.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "rng": generator.get_state(),
                "best": best,
                "config": to_dict(cfg),
                **{
                    k: v
                    for k, v in _policy_checkpoint(cfg, policy, it, None, obs_dim, act_dim).items()
                    if k in ("vector", "param_names", "obs_dim", "act_dim")
                },
            }
            if (it + 1 - start) % t.checkpoint_every == 0 or last:
                run.save_checkpoint("latest", state)
    finally:
        pool.close()
        eval_pool.close()
        if writer is not None:
            writer.close()
    if state and best == -math.inf:  # evaluation never ran: the final policy is the best
        run.save_checkpoint(
            "best", _policy_checkpoint(cfg, policy, state["iteration"], None, obs_dim, act_dim)
        )
    return state
