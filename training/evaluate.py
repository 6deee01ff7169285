"""Load a trained run's policy and evaluate it on seeded episodes.

Example (after ``plasticagents train``)::

    policy = load_policy("runs/halfcheetah-...")          # best checkpoint
    returns = evaluate_run("runs/halfcheetah-...", episodes=10, seed=0)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from plasticagents.training.builders import build_policy, env_maker, env_spaces
from plasticagents.training.config import EnvConfig, ExperimentConfig, from_dict
from plasticagents.training.rollout import EnvPool, NormalizedAgent, RunningNorm, rollout
from plasticagents.training.run import RunDir

__all__ = ["LoadedPolicy", "evaluate_run", "load_policy"]


@dataclass
class LoadedPolicy:
    """A trained policy with everything needed to run it as it was trained."""

    config: ExperimentConfig
    policy: nn.Module
    obs_norm: RunningNorm | None
    checkpoint: dict[str, Any]
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

    def agent(self, env_cfg: EnvConfig | None = None, device: str = "cpu") -> NormalizedAgent:
        """The predict-protocol agent for ``env_cfg`` (default: the training env)."""
        from plasticagents.agents import Agent

        obs_dim, act_dim, low, high = env_spaces(env_cfg or self.config.env)
        check_compatible(self, obs_dim, act_dim, (env_cfg or self.config.env).id)
        if self.predictor is not None:
            return self.predictor
        return NormalizedAgent(Agent(self.policy, low, high, device=device), self.obs_norm)


def check_compatible(loaded: LoadedPolicy, obs_dim: int, act_dim: int, env_id: str) -> None:
    trained = (loaded.checkpoint["obs_dim"], loaded.checkpoint["act_dim"])
    if trained != (obs_dim, act_dim):
        raise ValueError(
            f"the policy in {str(loaded.run.path)!r} was trained on {loaded.config.env.id} "
            f"(observation {trained[0]}, action {trained[1]}); {env_id} has observation "
            f"{obs_dim}, action {act_dim}"
        )


def load_policy(run_path: str | Path, which: str = "best") -> LoadedPolicy:
    """Rebuild the policy of ``run_path`` from its config and ``which`` checkpoint."""
    from plasticagents.population import vector_to_parameters

    run = RunDir.open(run_path)
    ckpt = run.load(which)
    if ckpt.get("kind") in ("classifier", "reservoir"):
        raise ValueError(
            f"{run.path} is a classification run (trainer.kind {ckpt.get('trainer')!r}), not a "
            "policy: `plasticagents evaluate RUN` tests it on its data set"
        )
    cfg = from_dict(ckpt["config"])
    if ckpt.get("kind") == "es":  # a latest.pt: the policy is the search centre
        ckpt = {
            "vector": ckpt["center"],
            "param_names": ckpt["param_names"],
            "obs_norm": ckpt["obs_norm"],
            "generation": ckpt["generation"],
            "score": None,
            "obs_dim": None,
            "act_dim": None,
        }
    elif ckpt.get("kind") == "bptt":  # a BPTT latest.pt
        ckpt = {
            "trainer": "bptt",
            "vector": ckpt["vector"],
            "param_names": ckpt["param_names"],
            "obs_norm": None,
            "generation": ckpt["iteration"],
            "score": None,
            "obs_dim": ckpt["obs_dim"],
            "act_dim": ckpt["act_dim"],
        }
    obs_dim, act_dim, _, _ = env_spaces(cfg.env)
    ckpt["obs_dim"], ckpt["act_dim"] = (
        ckpt.get("obs_dim") or obs_dim,
        ckpt.get("act_dim") or act_dim,
    )
    if ckpt.get("trainer") == "ppo":
        from plasticagents.training.ppo import load_sb3_agent

        model, sb3_agent = load_sb3_agent(run, ckpt)
        return LoadedPolicy(cfg, model.policy, None, ckpt, run, sb3_agent)
    if ckpt.get("trainer") == "bptt":
        from plasticagents.training.bptt import build_bptt_policy

        policy = build_bptt_policy(cfg, ckpt["obs_dim"], ckpt["act_dim"])
        target = policy.net
    else:
        policy = target = build_policy(cfg.agent, ckpt["obs_dim"], ckpt["act_dim"], cfg.seed)
    vector_to_parameters(torch.as_tensor(ckpt["vector"]), target, ckpt["param_names"])
    obs_norm = RunningNorm.from_state(ckpt["obs_norm"]) if ckpt.get("obs_norm") else None
    return LoadedPolicy(cfg, policy.eval(), obs_norm, ckpt, run)


def evaluate_run(
    run_path: str | Path,
    episodes: int = 10,
    seed: int = 0,
    which: str = "best",
    env_id: str | None = None,
    perturbations: list[dict[str, Any]] | None = None,
    max_episode_steps: int | None = None,
    threads: int = 2,
) -> np.ndarray:
    """Returns of ``episodes`` seeded episodes of a run's policy (observation norm frozen).

    By default the env is the training env with its fixed perturbations; ``env_id`` /
    ``perturbations`` / ``max_episode_steps`` override them.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes!r}")
    loaded = load_policy(run_path, which)
    env_cfg = loaded.env_config(env_id, perturbations, max_episode_steps)
    agent = loaded.agent(env_cfg)
    pool = EnvPool([env_maker(env_cfg)] * episodes, threads=threads)
    try:
        seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes)]
        return rollout(agent, pool, seeds).returns
    finally:
        pool.close()
