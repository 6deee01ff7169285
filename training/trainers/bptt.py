"""Gradient meta-training of plastic spiking policies through time (SpikePropamine).

Every iteration runs ``trainer.batch`` fresh episodes in lockstep (each with its own plastic
state, reset at the episode start) and differentiates an advantage actor-critic loss through
every simulation step of the whole episode: the gradient reaches the initial weights ``W``,
the plastic gains ``alpha``, the plasticity rates ``eta`` and rule coefficients, and the
neuromodulator's weights, through the plastic updates themselves (Miconi et al. 2019's
Backpropamine, Schmidgall et al. 2021's SpikePropamine).

The policy is binary per action dimension (see :class:`~plasticagents.training.config.
BPTTConfig`), which is what the temporal tasks read (go / no-go, left / right arm).

The policy and the loss live in :mod:`plasticagents.training.binary_policy`.

``metrics.csv`` columns, one row per iteration:

``iteration``        index of the iteration (0-based)
``env_steps``        environment steps of the training episodes so far (evaluation excluded)
``wall_time``        seconds since the run started (summed over resumed sessions)
``mean_return``      mean return of this iteration's ``batch`` training episodes (behaviour
                     policy: sampled actions, with ``explore``)
``loss``             the loss above, before the update
``entropy``          mean per-step entropy of the policy (nats, summed over action dims)
``grad_norm``        the gradient's total norm before clipping
``spikes_per_step``  hidden spikes per env step, over the batch
``eval_return``      mean return on ``eval_episodes`` held-out episodes, every ``eval_every``
                     iterations and at the last; empty otherwise

Checkpoints. ``policy``: ``params`` (the trained parameters of the SNN with ``act_dim + 1``
linear readouts), ``obs_dim``, ``act_dim`` (the env's action size; no observation
normaliser: BPTT reads raw observations). ``trainer_state``: ``model`` (the SNN's full
state dict, buffers included), ``optimizer`` (Adam's moments), ``rng`` (the action-sampling
generator), ``env_steps``. Episode seeds derive from ``(seed, iteration)``, so a resumed
run repeats exactly what an uninterrupted one would have done.

Example::

    plasticagents train configs/experiments/cue_plastic_modulated.yaml
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from plasticagents.training.binary_policy import (
    build_bptt_policy,
    entropy_schedule,
    episode_loss,
    evaluate_binary,
)
from plasticagents.training.builders import env_maker, env_spaces, load_params, policy_payload
from plasticagents.training.config import ExperimentConfig
from plasticagents.training.loop import Candidate, TrainerBase
from plasticagents.training.rollout import EnvPool, episode_seeds
from plasticagents.training.run import RunDir

__all__ = ["METRIC_COLUMNS", "Trainer", "load_model"]

METRIC_COLUMNS = [
    "iteration",
    "wall_time",
    "env_steps",
    "mean_return",
    "loss",
    "entropy",
    "grad_norm",
    "spikes_per_step",
    "eval_return",
]


class Trainer(TrainerBase):
    """BPTT in the trainer loop: one Adam step on ``batch`` fresh episodes per iteration; the
    policy is evaluated every ``eval_every`` iterations (and at the last) on held-out episodes,
    and an evaluated policy is the ``best`` candidate."""

    name, unit = "bptt", "iteration"
    columns: ClassVar[list[str]] = METRIC_COLUMNS
    log_keys: ClassVar[dict[str, str]] = {
        "env_steps": "steps",
        "mean_return": "return",
        "entropy": "entropy",
        "spikes_per_step": "spikes/step",
        "eval_return": "eval",
    }
    log_every = 10

    def __init__(self, cfg: ExperimentConfig, log: Callable[[str], None]) -> None:
        """Build the binary SNN policy, Adam over the network's parameters, the sampling
        generator (``cfg.seed``) and two env pools: ``batch`` training envs and
        ``eval_episodes`` evaluation envs (one physics thread each).

        Raises:
            ValueError: ``agent.kind`` is not ``snn``.
        """
        self.cfg, self.t = cfg, cfg.trainer
        self.total, self.checkpoint_every = self.t.iterations, self.t.checkpoint_every
        torch.manual_seed(cfg.seed)
        self.obs_dim, self.act_dim, _, _ = env_spaces(cfg.env)
        self.policy_net = build_bptt_policy(cfg, self.obs_dim, self.act_dim)
        self.optimizer = torch.optim.Adam(self.policy_net.net.parameters(), lr=self.t.lr)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.pool = EnvPool([env_maker(cfg.env)] * self.t.batch, threads=1)
        self.eval_pool = EnvPool([env_maker(cfg.env)] * self.t.eval_episodes, threads=1)
        self.env_steps = 0

    def describe(self) -> str:
        """The header line: env, network size and plasticity rule / mode, budget."""
        cfg, t = self.cfg, self.t
        p = cfg.agent.plasticity
        plastic = "static" if p is None else f"{p.rule}/{p.mode}"
        n_params = sum(q.numel() for q in self.policy_net.net.parameters())
        return (
            f"{cfg.name}: {cfg.env.id}, SNN {cfg.agent.hidden} neurons ({plastic}), {n_params} "
            f"parameters, batch {t.batch}, {t.iterations} iterations"
        )

    def state(self) -> dict[str, Any]:
        """Resume state: model, Adam, sampling RNG, env steps (see the module docstring)."""
        return {
            "model": dict(self.policy_net.net.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.generator.get_state(),
            "env_steps": self.env_steps,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state` onto the freshly built model, optimizer and generator."""
        self.policy_net.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["rng"])
        self.env_steps = state["env_steps"]

    def step(self, it: int) -> dict[str, Any]:
        """One iteration: ``batch`` episodes seeded from ``(cfg.seed, it)``, the loss (module
        docstring) with the entropy bonus of :func:`entropy_schedule`, one clipped Adam step, and
        an evaluation of the updated policy when due. Returns the metrics row.

        Raises:
            ValueError: a non-finite loss (the message suggests a lower ``trainer.lr`` or
                ``grad_clip``) or a diverged episode (from :func:`episode_loss`).
        """
        cfg, t, net = self.cfg, self.t, self.policy_net.net
        seeds = episode_seeds(cfg.seed, it, t.batch)
        result = episode_loss(
            self.policy_net,
            self.pool,
            seeds,
            t,
            self.generator,
            entropy_coef=entropy_schedule(t, it),
        )
        if not torch.isfinite(result["loss"]):
            raise ValueError(
                f"iteration {it}: the loss is {float(result['loss'].detach())}; lower "
                f"trainer.lr (now {t.lr}) or trainer.grad_clip"
            )
        self.optimizer.zero_grad()
        result["loss"].backward()
        grad_norm = float(nn.utils.clip_grad_norm_(net.parameters(), t.grad_clip))
        self.optimizer.step()
        self.env_steps += int(result["lengths"].sum())
        evaluate = t.eval_every and ((it + 1) % t.eval_every == 0 or it == t.iterations - 1)
        return {
            "env_steps": self.env_steps,
            "mean_return": float(result["returns"].mean()),
            "loss": float(result["loss"].detach()),
            "entropy": result["entropy"],
            "grad_norm": grad_norm,
            "spikes_per_step": result["spikes_per_step"],
            "eval_return": evaluate_binary(self.policy_net, self.eval_pool, cfg.seed, t)
            if evaluate
            else None,
        }

    def select(self, it: int, row: dict[str, Any]) -> Candidate | None:
        """The updated policy, scored by ``eval_return``, in evaluated iterations only: the
        training return is earned with exploration and is not comparable.
        """
        if row["eval_return"] is None:
            return None
        return Candidate(row["eval_return"], self.policy())

    def policy(self) -> dict[str, Any]:
        """The policy payload: the SNN's trained parameters and the env's sizes."""
        return policy_payload(self.policy_net.net, obs_dim=self.obs_dim, act_dim=self.act_dim)

    def finish(self, run: RunDir, best: float | None) -> dict[str, Any]:
        """Report the env steps (BPTT writes nothing beyond the loop's files)."""
        return {"env_steps": self.env_steps}

    def close(self) -> None:
        """Close both env pools."""
        self.pool.close()
        self.eval_pool.close()


def load_model(cfg: ExperimentConfig, policy: dict[str, Any]) -> tuple[nn.Module, Any]:
    """The :class:`BinaryPolicy` of a BPTT checkpoint (it is its own deterministic actor)."""
    model = build_bptt_policy(cfg, policy["obs_dim"], policy["act_dim"])
    load_params(model.net, policy["params"], "policy")
    return model, None
