"""Load a trained run's policy and evaluate it on seeded episodes.

:func:`load_policy` rebuilds any policy run's model from its config and checkpoint (ES,
BPTT, PPO, recurrent PPO alike, through the trainer registry) into a :class:`LoadedPolicy`,
the one object that evaluation, robustness suites and the viewer run; :func:`evaluate_run`
plays seeded episodes with it (``plasticagents evaluate``); :func:`evaluate_classifier_run`
is the classifiers' counterpart on their test split.

Evaluation episodes are reset with the seeds ``SeedSequence(seed)`` generates, whatever the
run, so the same ``seed`` gives every run the same episodes: the condition for comparing
runs.

Example (after ``plasticagents train``)::

    policy = load_policy("runs/halfcheetah-...")          # best checkpoint
    returns = evaluate_run("runs/halfcheetah-...", episodes=10, seed=0)
    crippled = evaluate_run("runs/halfcheetah-...", perturbations=[
        {"type": "cripple_leg", "leg": "bthigh"}])       # same seeds, one leg disabled
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from plasticagents.training.builders import env_maker, env_spaces
from plasticagents.training.checkpoint import Checkpoint
from plasticagents.training.config import EnvConfig, ExperimentConfig, from_dict
from plasticagents.training.registry import adapter, lookup
from plasticagents.training.rollout import EnvPool, NormalizedAgent, RunningNorm, rollout
from plasticagents.training.run import RunDir

__all__ = [
    "Episodes",
    "LoadedPolicy",
    "check_compatible",
    "evaluate_classifier_run",
    "evaluate_run",
    "load_policy",
]


@dataclass
class LoadedPolicy:
    """A trained policy with everything needed to run it as it was trained.

    ``config``: the run's validated config; ``policy``: the rebuilt network in eval mode (for
    PPO, SB3's policy module); ``obs_norm``: the observation normaliser it was trained with
    (``None`` for BPTT, PPO and runs without one); ``checkpoint``: the loaded checkpoint;
    ``run``: its run directory; ``predictor``: for PPO, the SB3 agent that normalises and acts
    itself.
    """

    config: ExperimentConfig
    policy: nn.Module
    obs_norm: RunningNorm | None
    checkpoint: Checkpoint
    run: RunDir
    predictor: Any = None  # an agent with its own predict (SB3 models), used as it is

    def env_config(
        self,
        env_id: str | None = None,
        perturbations: list[dict[str, Any]] | None = None,
        max_episode_steps: int | None = None,
    ) -> EnvConfig:
        """The training env without its training distribution, with overrides: another
        ``env_id`` (its gym kwargs are dropped), ``perturbations`` (default: the run's fixed
        ones), an episode cap."""
        base = self.config.env
        same = env_id is None or env_id == base.id
        return dataclasses.replace(
            base,
            id=base.id if same else env_id,
            kwargs=dict(base.kwargs) if same else {},
            perturbations=list(base.perturbations if perturbations is None else perturbations),
            train_distribution=[],
            max_episode_steps=max_episode_steps or base.max_episode_steps,
        )

    def agent(
        self, env_cfg: EnvConfig | None = None, device: str = "cpu", ablation: str | None = None
    ) -> Any:
        """The predict-protocol agent for ``env_cfg`` (default: the training env), with its
        plasticity ablated as ``ablation`` says (one of
        :data:`plasticagents.ablation.ABLATIONS`; a clear error for a non-plastic policy)."""
        from plasticagents.ablation import AblatedAgent
        from plasticagents.agents import Agent

        obs_dim, act_dim, low, high = env_spaces(env_cfg or self.config.env)
        check_compatible(self, obs_dim, act_dim, (env_cfg or self.config.env).id)
        if self.predictor is not None:
            agent = self.predictor
        else:
            agent = NormalizedAgent(Agent(self.policy, low, high, device=device), self.obs_norm)
        if ablation is None:
            return agent
        try:
            return AblatedAgent(agent, ablation)
        except ValueError as err:
            raise ValueError(f"{self.run.path}: {err}") from None


def check_compatible(loaded: LoadedPolicy, obs_dim: int, act_dim: int, env_id: str) -> None:
    """Check that an env of ``obs_dim`` observations and ``act_dim`` actions fits the policy
    (its checkpoint's sizes), before any episode runs: another env id or a perturbation may
    change the spaces.

    Raises:
        ValueError: the sizes differ (the message names both envs and their sizes).
    """
    policy = loaded.checkpoint.policy
    trained = (policy["obs_dim"], policy["act_dim"])
    if trained != (obs_dim, act_dim):
        raise ValueError(
            f"the policy in {str(loaded.run.path)!r} was trained on {loaded.config.env.id} "
            f"(observation {trained[0]}, action {trained[1]}); {env_id} has observation "
            f"{obs_dim}, action {act_dim}"
        )


def load_policy(run_path: str | Path, which: str = "best") -> LoadedPolicy:
    """Rebuild the policy of ``run_path`` from its config and ``which`` checkpoint.

    The checkpoint's trainer kind names (through the registry) the adapter whose
    ``load_model`` rebuilds the network; nothing in the file is executed.

    Raises:
        FileNotFoundError: not a run directory, or no ``which`` checkpoint yet.
        CheckpointError: an unusable checkpoint (corrupt, or in the old pickle format).
        ValueError: a classification run, or parameters that do not fit the network its
            config builds (for PPO, torch's ``RuntimeError`` from ``load_state_dict``).
    """
    run = RunDir.open(run_path)
    ckpt = run.load(which)
    if lookup(ckpt.trainer).family != "policy":
        raise ValueError(
            f"{run.path} is a classification run (trainer.kind {ckpt.trainer!r}), not a "
            "policy: `plasticagents evaluate RUN` tests it on its data set"
        )
    cfg = from_dict(ckpt.config)
    model, predictor = adapter(ckpt.trainer).load_model(cfg, ckpt.policy)
    norm = ckpt.policy.get("obs_norm")
    obs_norm = RunningNorm.from_state(norm) if norm else None
    return LoadedPolicy(cfg, model.eval(), obs_norm, ckpt, run, predictor)


def evaluate_classifier_run(run: RunDir, which: str = "best", seed: int = 0) -> dict[str, Any]:
    """Test a classification run's ``which`` checkpoint on its data set's test split:
    ``accuracy`` and ``samples`` (plus spikes / SynOps per sample and loss for BPTT
    classifiers; an STDP reservoir is re-tested through its saved ridge readout).

    ``seed`` seeds the encoder's randomness (rate-coded spikes) of a ``classify`` model; an
    STDP reservoir always uses the encoder seeds of its training-time test pass
    (``cfg.seed + 1``), so it reproduces ``result.json``'s accuracy.

    Raises:
        FileNotFoundError: no ``which`` checkpoint.
        ValueError: an ``stdp`` checkpoint without a readout (``latest``, or an unfinished
            run).
    """
    from plasticagents.training.classification import Encoder, evaluate_classifier, load_data

    ckpt = run.load(which)
    cfg = from_dict(ckpt.config)
    model, _ = adapter(ckpt.trainer).load_model(cfg, ckpt.policy)
    train, test = load_data(cfg.data, cfg.seed)
    encoder = Encoder(cfg.data, train)
    if hasattr(model, "predict"):  # a reservoir with a fitted readout
        predicted, labels = model.predict(test, encoder, cfg.seed + 1)
        return {"accuracy": float((predicted == labels).mean()), "samples": len(test)}
    return {**evaluate_classifier(model, test, encoder, seed=seed), "samples": len(test)}


@dataclass(frozen=True)
class Episodes:
    """What :func:`evaluate_run` with ``details`` measured, one entry per seeded episode.

    ``returns`` (float64), ``lengths`` (steps), and ``forward_velocity``: the mean of the
    env's ``info["x_velocity"]`` over the episode's steps (m/s; the displacement along x over
    the episode's duration for the MuJoCo locomotion envs; non-finite values, from a
    diverging step, left out; NaN for an episode with none), ``None`` for an env whose step
    info has no ``x_velocity``.
    """

    returns: np.ndarray
    lengths: np.ndarray
    forward_velocity: np.ndarray | None


def _forward_velocity(infos: list[list[dict | None]], n: int) -> np.ndarray | None:
    total, count = np.zeros(n), np.zeros(n)
    seen = False
    for step in infos:
        for i, info in enumerate(step):
            if info is not None and "x_velocity" in info:
                seen = True
                value = float(info["x_velocity"])
                if math.isfinite(value):
                    total[i] += value
                    count[i] += 1
    if not seen:
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def evaluate_run(
    run_path: str | Path,
    episodes: int = 10,
    seed: int = 0,
    which: str = "best",
    env_id: str | None = None,
    perturbations: list[dict[str, Any]] | None = None,
    max_episode_steps: int | None = None,
    threads: int = 2,
    ablation: str | None = None,
    details: bool = False,
) -> np.ndarray | Episodes:
    """Returns ``[episodes]`` (float64) of seeded episodes of a run's policy (observation norm
    frozen); with ``details``, an :class:`Episodes` with their lengths and forward velocities
    too (each step's info is then kept until the episodes end).

    By default the env is the training env with its fixed perturbations; ``env_id`` /
    ``perturbations`` / ``max_episode_steps`` override them. ``ablation`` runs the plastic
    policy with its plasticity frozen at an onset, lesioned or reset at an onset
    (:mod:`plasticagents.ablation`), on the same seeds.

    The ``episodes`` episodes run in lockstep, one env each (physics on ``threads``
    threads), with deterministic actions (no exploration noise; PPO's Gaussian mean; a BPTT
    policy trained with ``eval_sample`` still samples, from its seeded generator). The
    run's ``train_distribution`` is not applied: evaluation is on the nominal env unless
    ``perturbations`` say otherwise.

    Raises:
        ValueError: ``episodes < 1``; an env whose observation or action size differs from
            the policy's (:func:`check_compatible`); an unknown ``ablation``, or one of a
            non-plastic policy. See also :func:`load_policy`.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    loaded = load_policy(run_path, which)
    env_cfg = loaded.env_config(env_id, perturbations, max_episode_steps)
    agent = loaded.agent(env_cfg, ablation=ablation)
    pool = EnvPool([env_maker(env_cfg)] * episodes, threads=threads, fast_physics=True)
    try:
        seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes)]
        result = rollout(agent, pool, seeds, record=["infos"] if details else False)
        if not details:
            return result.returns
        velocity = _forward_velocity(result.trajectory["infos"], episodes)
        return Episodes(result.returns, result.lengths, velocity)
    finally:
        pool.close()
