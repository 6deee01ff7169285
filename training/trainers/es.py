"""Evolution strategies in the trainer loop (``trainer.kind: es``).

One searcher step per generation over the batched population
(:class:`~plasticagents.training.evolution.PolicyProblem`), periodic evaluation of the search
centre on held-out seeds, exact resume (search distribution, optimizer, RNG, observation
statistics). Everything else (metrics, checkpoints, best tracking) is the loop's.

``metrics.csv`` columns, one row per generation:

``generation``       index of the generation (0-based)
``env_steps``        environment steps so far, all individuals and episodes, plus the
                     observation-normaliser warm-up (evaluation episodes are not counted)
``wall_time``        seconds since the run started (summed over resumed sessions)
``best_fitness``     best individual's fitness: its mean return over ``trainer.episodes``
                     episodes, less ``reward_shift`` per step survived
``mean_fitness``     / ``median_fitness``: the same over the population
``spikes_per_step``  hidden spikes per env step, population mean (0 for an MLP)
``stdev``            mean standard deviation of the search distribution (CMA-ES:
                     ``sigma * sqrt(diag C)``); a collapse towards 0 means the search stalled
``diverged``         episodes this generation that produced a non-finite observation, reward
                     or action (their individuals get the lowest healthy fitness of their
                     evaluation batch)
``eval_return``      mean return of the search centre on ``trainer.eval_episodes`` held-out
                     episodes; empty in generations without an evaluation

Checkpoints. ``policy`` (``best`` and ``latest``): ``params`` (name -> tensor, the trained
parameters of the network the ``agent`` section builds), ``obs_norm`` (the observation
normaliser's ``count`` / ``mean`` / ``m2`` / ``clip``, or ``None`` without ``obs_norm``),
``obs_dim``, ``act_dim``. ``trainer_state`` (``latest`` only): ``searcher`` (the numbers of
the evotorch searcher: centre, standard deviations or covariance, optimizer moments, and the
last evaluated population from which PGPE / SNES / XNES compute their next step), ``rng``
(the problem's torch generator), ``obs_norm``, ``env_steps``. Resume rebuilds the searcher
from the config and writes these numbers back onto it, so a resumed run takes the same
steps as an uninterrupted one.

Example::

    plasticagents train configs/smoke/es.yaml --set trainer.generations=5
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from plasticagents.training.builders import load_network, vector_params
from plasticagents.training.config import ExperimentConfig
from plasticagents.training.evolution import (
    PolicyProblem,
    evaluate_vector,
    load_searcher_state,
    make_searcher,
    searcher_center,
    searcher_state,
    searcher_stdev,
)
from plasticagents.training.loop import Candidate, TrainerBase
from plasticagents.training.rollout import RunningNorm
from plasticagents.training.run import RunDir

__all__ = ["METRIC_COLUMNS", "Trainer", "load_model"]

METRIC_COLUMNS = [
    "generation",
    "wall_time",
    "env_steps",
    "best_fitness",
    "mean_fitness",
    "median_fitness",
    "spikes_per_step",
    "stdev",
    "diverged",
    "eval_return",
]


class Trainer(TrainerBase):
    """Evolution strategies in the trainer loop: one searcher step per generation; the search
    centre is evaluated every ``eval_every`` generations (and at the last) on held-out seeds and
    is the ``best`` candidate; with ``eval_every: 0`` the generation's best individual is."""

    name, unit = "es", "generation"
    columns: ClassVar[list[str]] = METRIC_COLUMNS
    log_keys: ClassVar[dict[str, str]] = {
        "env_steps": "steps",
        "best_fitness": "best",
        "mean_fitness": "mean",
        "spikes_per_step": "spikes/step",
        "eval_return": "eval",
    }

    def __init__(self, cfg: ExperimentConfig, log: Callable[[str], None]) -> None:
        """Build the problem (envs are probed for their sizes, the template policy is built from
        ``cfg.seed``) and the searcher, started at the template's parameters. Nothing is
        evaluated yet. Raises :class:`~plasticagents.training.config.ConfigError` for a full
        covariance too large to keep (see :func:`~plasticagents.training.evolution.make_searcher`).
        """
        logging.getLogger("evotorch").setLevel(logging.WARNING)  # its INFO drowns the progress
        self.cfg, self.t, self.log = cfg, cfg.trainer, log
        self.total, self.checkpoint_every = self.t.generations, self.t.checkpoint_every
        self.problem = PolicyProblem(cfg)
        self.searcher = make_searcher(self.problem, self.t, self.problem.center_init)
        self.env_steps = 0
        self._curriculum_shown: dict[str, Any] | None = None  # the values last logged

    def describe(self) -> str:
        """The header line: env, agent (plastic or static), parameter count, algorithm, budget,
        the network's step (native C, compiled torch or torch)."""
        cfg, t = self.cfg, self.t
        kind = cfg.agent.kind
        if kind == "snn":
            kind += " plastic" if cfg.agent.plasticity else " static"
        elif kind == "lstm":
            kind += f" ({cfg.agent.hidden} units)"
        return (
            f"{cfg.name}: {cfg.env.id}, agent {kind}, {self.problem.solution_length} parameters, "
            f"{t.algorithm} popsize {t.popsize} x {t.episodes} episode(s), {t.generations} "
            f"generations, {self.problem.network_step()}"
        )

    def fresh(self) -> None:
        """Warm the observation normaliser with random-action steps (``trainer.obs_norm_warmup``)
        before generation 0; they count as env steps. A resumed run has its statistics already.
        """
        self.env_steps = self.problem.warmup_obs_norm(self.t.obs_norm_warmup)

    def state(self) -> dict[str, Any]:
        """Resume state: searcher numbers, the problem's RNG, normaliser, env steps (module doc)."""
        norm = self.problem.obs_norm
        return {
            "searcher": searcher_state(self.searcher),
            "rng": self.problem.generator.get_state(),
            "obs_norm": norm.state_dict() if norm is not None else None,
            "env_steps": self.env_steps,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Write a :meth:`state` back onto the freshly built searcher and problem."""
        load_searcher_state(self.searcher, state["searcher"])
        self.problem.generator.set_state(state["rng"])
        if state["obs_norm"] is not None:
            self.problem.obs_norm = RunningNorm.from_state(state["obs_norm"])
        self.env_steps = state["env_steps"]

    def step(self, gen: int) -> dict[str, Any]:
        """One generation: the searcher samples the population, the problem evaluates it (one
        batched rollout, see :class:`~plasticagents.training.evolution.PolicyProblem`) and the
        searcher updates its distribution; then, at every ``eval_every``-th generation and the
        last, the updated centre is evaluated on ``eval_episodes`` episodes seeded from
        ``cfg.seed + 10_000 + gen``, seeds no training generation uses, with the normaliser
        frozen and no action noise. Divergence reports are logged as warnings. Returns the
        metrics row (columns in the module docstring).
        """
        self.problem.generation = gen
        values = self.problem.curriculum()
        if values and values != self._curriculum_shown:
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            self.log(f"[es] curriculum from generation {gen}: {shown}")
            self._curriculum_shown = values
        self.searcher.step()
        steps, diverged = self.problem.end_generation()
        self.env_steps += steps
        for line in diverged:
            self.log(f"[es] warning: {line}")
        evals = self.searcher.population.evals.detach().cpu().numpy()
        fitness, spikes, n_div = evals[:, 0], evals[:, 1], evals[:, 2]
        row: dict[str, Any] = {
            "env_steps": self.env_steps,
            "best_fitness": float(fitness.max()),
            "mean_fitness": float(fitness.mean()),
            "median_fitness": float(np.median(fitness)),
            "spikes_per_step": float(spikes.mean()),
            "stdev": searcher_stdev(self.searcher),
            "diverged": int(n_div.sum()),
            "eval_return": None,
        }
        t = self.t
        if t.eval_every and (gen % t.eval_every == t.eval_every - 1 or gen == t.generations - 1):
            returns = evaluate_vector(
                self.cfg,
                searcher_center(self.searcher),
                self.problem.obs_norm,
                t.eval_episodes,
                seed=self.cfg.seed + 10_000 + gen,
                threads=t.threads,
                template=self.problem.template,
            )
            row["eval_return"] = float(returns.mean())
        return row

    def select(self, gen: int, row: dict[str, Any]) -> Candidate | None:
        """The ``best`` candidate: the search centre scored by ``eval_return`` in evaluated
        generations. Between evaluations nothing (a training fitness is not comparable with an
        evaluation return). With ``eval_every: 0`` the generation's best individual, scored by
        its training fitness: noisier (it is the maximum over the population of a few episodes
        each), but the only score there is.
        """
        if row["eval_return"] is not None:
            return Candidate(row["eval_return"], self._payload(searcher_center(self.searcher)))
        if self.t.eval_every:
            return None
        pop = self.searcher.population
        i_best = int(torch.argmax(pop.evals[:, 0]))
        return Candidate(row["best_fitness"], self._payload(pop.values[i_best]))

    def policy(self) -> dict[str, Any]:
        """The search centre as a policy payload: what ES has learned, and what ``latest`` holds."""
        return self._payload(searcher_center(self.searcher))

    def _payload(self, vector: torch.Tensor) -> dict[str, Any]:
        """A flat parameter vector ``[D]`` as a policy payload: ``params`` cut to the template's
        shapes, plus the current normaliser state and the observation / action sizes.
        """
        p = self.problem
        return {
            "params": vector_params(vector.to(torch.float32), p.template, p.param_names),
            "obs_norm": p.obs_norm.state_dict() if p.obs_norm is not None else None,
            "obs_dim": p.obs_dim,
            "act_dim": p.act_dim,
        }

    def finish(self, run: RunDir, best: float | None) -> dict[str, Any]:
        """Draw ``learning_curve.png`` into the run directory; report the env steps."""
        from plasticagents.training.analysis.plots import plot_learning_curves

        if run.read_metrics():
            plot_learning_curves([run.path], run.path / "learning_curve.png", title=self.cfg.name)
        return {"env_steps": self.env_steps}

    def close(self) -> None:
        """Close the env pools, the lane threads and any Ray actors."""
        self.problem.close()


load_model = load_network  # the configured network; its normaliser is in the checkpoint
