"""Evolution strategies (evotorch) for plastic spiking policies, batched over the population.

:class:`PolicyProblem` is an evotorch ``Problem`` whose ``_evaluate_batch`` loads the whole
batch of solutions into one :class:`~plasticagents.Population` and runs every individual's
episodes through :func:`~plasticagents.training.rollout.rollout` in lockstep: one batched SNN
call per environment step, physics over threads. With ``num_actors > 0`` evotorch splits each
generation over Ray actors, each evaluating its piece the same way; observation statistics,
step counts and divergence reports travel back through evotorch's sync hooks.

:func:`train_es` is the loop behind ``plasticagents train``: searcher steps, metrics, periodic
evaluation of the search centre, atomic checkpoints every ``checkpoint_every`` generations and
exact resume (searcher state, RNG, observation statistics, best-so-far).
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from plasticagents.training.builders import (
    build_policy,
    env_maker,
    env_spaces,
    episode_perturbations,
)
from plasticagents.training.config import ConfigError, ESConfig, ExperimentConfig, to_dict
from plasticagents.training.rollout import (
    EnvPool,
    NormalizedAgent,
    RandomAgent,
    RolloutResult,
    RunningNorm,
    episode_seeds,
    rollout,
)
from plasticagents.training.run import RunDir, summary_writer

__all__ = ["METRIC_COLUMNS", "PolicyProblem", "evaluate_vector", "make_searcher", "train_es"]

METRIC_COLUMNS = [
    "generation",
    "env_steps",
    "wall_time",
    "best_fitness",
    "mean_fitness",
    "median_fitness",
    "spikes_per_step",
    "stdev",
    "diverged",
    "eval_return",
]

# Searcher attributes that are plumbing, not state (re-created by the constructor on resume).
_SEARCHER_SKIP = {
    "_problem",
    "_population",
    "_step",
    "_before_step_hook",
    "_after_step_hook",
    "_log_hook",
    "_end_of_run_hook",
    "_first_step_datetime",
    "_LazyReporter__getters",
    "_LazyReporter__computed",
}


def _problem_base():
    from evotorch import Problem

    return Problem


class PolicyProblem(_problem_base()):
    """Maximise the mean episode return of a policy over ``trainer.episodes`` seeded episodes.

    Each generation every individual meets the same episode seeds (common random numbers), so
    rankings compare policies, not luck. Episode ``k`` runs under the ``k``-th entry of
    ``env.train_distribution`` (if any).
    """

    def __init__(self, cfg: ExperimentConfig) -> None:
        if not isinstance(cfg.trainer, ESConfig):
            raise ConfigError(
                f"trainer.kind must be 'es' for PolicyProblem, got {cfg.trainer.kind!r}"
            )
        from plasticagents.population import parameters_to_vector

        self.cfg = cfg
        self.obs_dim, self.act_dim, self.action_low, self.action_high = env_spaces(cfg.env)
        self.template = build_policy(cfg.agent, self.obs_dim, self.act_dim, cfg.seed)
        self.param_names = [n for n, p in self.template.named_parameters() if p.requires_grad]
        self.center_init = parameters_to_vector(self.template, self.param_names)
        self.generation = 0
        self.obs_norm = RunningNorm(self.obs_dim) if cfg.trainer.obs_norm else None
        self._obs_delta = RunningNorm(self.obs_dim)
        self._steps = 0
        self._diverged: list[str] = []
        self._pools: dict[tuple[int, int], EnvPool] = {}
        self._populations: dict[tuple[int, int], Any] = {}
        self._lane_executor: ThreadPoolExecutor | None = None
        t = cfg.trainer
        super().__init__(
            "max",
            solution_length=len(self.center_init),
            initial_bounds=(-1.0, 1.0),
            dtype=torch.float32,
            device="cpu",
            num_actors=t.num_actors if t.num_actors > 0 else None,
            seed=cfg.seed,
            eval_data_length=2,  # spikes per step, diverged episodes
            store_solution_stats=True,
        )

    def __getstate__(self) -> dict[str, Any]:
        # Ray actors get the problem pickled: they build their own envs and populations.
        state = self.__dict__.copy()
        state["_pools"], state["_populations"], state["_lane_executor"] = {}, {}, None
        return state

    def seed(self, value: int | None = None) -> None:
        """Alias of ``manual_seed``: evotorch 0.6.1's Ray ``EvaluationActor`` calls
        ``problem.seed(...)`` on problems with their own generator, a method ``Problem`` lacks."""
        self.manual_seed(value)

    # lazily built on whichever process evaluates (main or a Ray actor) -----------------------
    def _pool(self, n: int, lane: int = 0, threads: int | None = None) -> EnvPool:
        key = (lane, n)
        if key not in self._pools:
            episodes = self.cfg.trainer.episodes
            makers = [
                env_maker(self.cfg.env, episode_perturbations(self.cfg.env, i % episodes))
                for i in range(n)
            ]
            self._pools[key] = EnvPool(makers, threads=threads or self.cfg.trainer.threads)
        return self._pools[key]

    def _population(self, size: int, lane: int = 0):
        from plasticagents.population import Population

        key = (lane, size)
        if key not in self._populations:
            # functional_call swaps a module's parameters while it runs, so concurrent lanes
            # each need their own copy of the template.
            module = self.template if lane == 0 else copy.deepcopy(self.template)
            self._populations[key] = Population(
                module, size, names=self.param_names, compile=self.cfg.trainer.compile
            )
        return self._populations[key]

    def _agent(self, policy: Any, seed: int) -> NormalizedAgent:
        from plasticagents.agents import Agent

        t = self.cfg.trainer
        agent = Agent(
            policy, self.action_low, self.action_high, noise_std=t.action_noise, seed=seed
        )
        return NormalizedAgent(agent, self.obs_norm)

    def _rollout_lane(self, values: torch.Tensor, lane: int, threads: int) -> RolloutResult:
        """Episodes of the individuals in ``values`` (one population call per env step)."""
        t = self.cfg.trainer
        n, episodes = values.shape[0], t.episodes
        population = self._population(n, lane)
        population.load_vectors(values)
        seed = int(episode_seeds(self.cfg.seed + 7919 + lane, self.generation, 1)[0])
        return rollout(
            self._agent(population, seed),
            self._pool(n * episodes, lane, threads),
            episode_seeds(self.cfg.seed, self.generation, episodes) * n,
            deterministic=t.action_noise == 0,
            collect_obs=self.obs_norm is not None,
            batch_shape=(n, episodes),
        )

    def _evaluate_batch(self, batch) -> None:
        t = self.cfg.trainer
        values = batch.values.detach().to(torch.float32).contiguous()
        n, episodes = values.shape[0], t.episodes
        lanes = min(t.lanes, n)
        if lanes == 1:
            result = self._rollout_lane(values, 0, t.threads)
        else:
            # Each lane runs its share of the population (network and physics) in its own
            # thread: torch kernels and mj_step both release the GIL, so one lane's network
            # step overlaps another lane's physics.
            if self._lane_executor is None:
                self._lane_executor = ThreadPoolExecutor(lanes)
            pieces = [p for p in torch.tensor_split(values, lanes) if len(p)]
            threads = max(1, t.threads // lanes)
            futures = [
                self._lane_executor.submit(self._rollout_lane, piece.contiguous(), k, threads)
                for k, piece in enumerate(pieces)
            ]
            result = RolloutResult.concat([f.result() for f in futures])
        for chunk in result.obs_seen:
            self._obs_delta.update(chunk)
        self._steps += result.env_steps
        returns = result.returns - t.reward_shift * result.lengths
        returns = returns.reshape(n, episodes)
        diverged = result.diverged.reshape(n, episodes)
        fitness = returns.mean(1)
        bad = diverged.any(1) | ~np.isfinite(fitness)
        if bad.any():
            floor = float(fitness[~bad].min()) if (~bad).any() else -1e9
            for i in np.flatnonzero(bad):
                steps = result.diverged_at.reshape(n, episodes)[i]
                self._diverged.append(
                    f"generation {self.generation}: individual {i} of this batch diverged "
                    f"(non-finite observation, reward or action at episode step(s) "
                    f"{steps[steps >= 0].tolist()}); its fitness is set to the batch minimum "
                    f"{floor:.4g}"
                )
            fitness = np.where(bad, floor, fitness)
        spikes = result.spikes_per_step.reshape(n, episodes).mean(1)
        evals = torch.as_tensor(
            np.stack([fitness, spikes, diverged.sum(1)], axis=1), dtype=batch.values.dtype
        )
        batch.set_evals(evals[:, 0], evals[:, 1:])

    # Ray synchronisation (evotorch hooks) ------------------------------------------------
    def _make_sync_data_for_actors(self) -> Any:
        return {
            "generation": self.generation,
            "obs_norm": self.obs_norm.state_dict() if self.obs_norm is not None else None,
        }

    def _use_sync_data_from_main(self, received: dict) -> None:
        self.generation = received["generation"]
        if received["obs_norm"] is not None:
            self.obs_norm = RunningNorm.from_state(received["obs_norm"])

    def _make_sync_data_for_main(self) -> Any:
        data = {
            "obs_delta": self._obs_delta.state_dict(),
            "steps": self._steps,
            "diverged": self._diverged,
        }
        self._obs_delta, self._steps, self._diverged = RunningNorm(self.obs_dim), 0, []
        return data

    def _use_sync_data_from_actors(self, received: list) -> None:
        for data in received:
            self._obs_delta.merge(RunningNorm.from_state(data["obs_delta"]))
            self._steps += data["steps"]
            self._diverged.extend(data["diverged"])

    def warmup_obs_norm(self, steps: int) -> int:
        """Seed the normaliser with ``steps`` random-action observations before generation 0.

        Without it generation 0 would run on raw observations and generation 1 on normalised
        ones, so the first update would follow a ranking of a different input scale.
        """
        if self.obs_norm is None or steps <= 0:
            return 0
        n = min(self.cfg.trainer.popsize, 16)
        episodes = self.cfg.trainer.episodes
        pool = EnvPool(
            [
                env_maker(self.cfg.env, episode_perturbations(self.cfg.env, i % episodes))
                for i in range(n)
            ],
            threads=self.cfg.trainer.threads,
        )
        seen = 0
        try:
            for k in range(max(1, -(-steps // (n * 100)))):
                seeds = episode_seeds(self.cfg.seed + 104_729, k, n)
                agent = RandomAgent(pool.action_space, seeds[0])
                result = rollout(agent, pool, seeds, max_steps=100, collect_obs=True)
                for chunk in result.obs_seen:
                    self.obs_norm.update(chunk)
                seen += result.env_steps
                if seen >= steps:
                    break
        finally:
            pool.close()
        return seen

    def end_generation(self) -> tuple[int, list[str]]:
        """Fold this generation's observation statistics in; returns (env steps, divergences)."""
        if self.obs_norm is not None:
            self.obs_norm.merge(self._obs_delta)
        self._obs_delta = RunningNorm(self.obs_dim)
        steps, diverged = self._steps, self._diverged
        self._steps, self._diverged = 0, []
        return steps, diverged

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        if self._lane_executor is not None:
            self._lane_executor.shutdown()
            self._lane_executor = None
        if self.actors is not None:
            self.kill_actors()


def evaluate_vector(
    cfg: ExperimentConfig,
    vector: torch.Tensor,
    obs_norm: RunningNorm | None,
    episodes: int,
    seed: int,
    env_cfg: Any = None,
    threads: int = 1,
    template: torch.nn.Module | None = None,
) -> np.ndarray:
    """Returns of ``episodes`` seeded episodes of one parameter vector (frozen normaliser).

    Episode ``k`` runs under ``env.train_distribution[k mod K]`` (if any), as in training.
    """
    from plasticagents.agents import Agent
    from plasticagents.population import vector_to_parameters

    env_cfg = env_cfg or cfg.env
    obs_dim, act_dim, low, high = env_spaces(env_cfg)
    policy = (
        copy.deepcopy(template)
        if template is not None
        else build_policy(cfg.agent, obs_dim, act_dim, cfg.seed)
    )
    names = [n for n, p in policy.named_parameters() if p.requires_grad]
    vector_to_parameters(vector.to(torch.float32), policy, names)
    agent = NormalizedAgent(Agent(policy, low, high), obs_norm)
    pool = EnvPool(
        [env_maker(env_cfg, episode_perturbations(env_cfg, k)) for k in range(episodes)],
        threads=threads,
    )
    try:
        seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes)]
        return rollout(agent, pool, seeds).returns
    finally:
        pool.close()


def _full_covariance(algorithm: str, cfg: ESConfig) -> bool:
    return algorithm == "xnes" or (algorithm == "cmaes" and not cfg.separable)


def make_searcher(problem: PolicyProblem, cfg: ESConfig, center: torch.Tensor):
    """The evotorch search algorithm ``cfg.algorithm`` names, started at ``center``."""
    from evotorch.algorithms import CMAES, PGPE, SNES, XNES

    dim = problem.solution_length
    if _full_covariance(cfg.algorithm, cfg) and dim > 5000:
        raise ConfigError(
            f"trainer.algorithm: {cfg.algorithm!r} with a full covariance keeps a {dim}x{dim} "
            f"matrix for this policy ({dim} parameters); use 'pgpe', 'snes' or "
            "'cmaes' with separable: true"
        )
    if cfg.algorithm == "pgpe":
        center_lr = 0.1 if cfg.center_lr is None else cfg.center_lr
        optimizer = None if cfg.optimizer == "none" else cfg.optimizer
        config = None
        if cfg.optimizer == "clipup":  # ClipUp's rule of thumb: max speed = 2 x step size
            config = {"max_speed": cfg.max_speed or 2.0 * center_lr}
        return PGPE(
            problem,
            popsize=cfg.popsize,
            center_learning_rate=center_lr,
            stdev_learning_rate=0.1 if cfg.stdev_lr is None else cfg.stdev_lr,
            stdev_init=cfg.stdev_init,
            optimizer=optimizer,
            optimizer_config=config,
            ranking_method="centered",
            center_init=center,
            stdev_max_change=cfg.stdev_max_change,
        )
    if cfg.algorithm == "snes":
        return SNES(
            problem,
            stdev_init=cfg.stdev_init,
            popsize=cfg.popsize,
            center_learning_rate=cfg.center_lr,
            stdev_learning_rate=cfg.stdev_lr,
            center_init=center,
        )
    if cfg.algorithm == "xnes":
        return XNES(
            problem,
            stdev_init=cfg.stdev_init,
            popsize=cfg.popsize,
            center_learning_rate=cfg.center_lr,
            stdev_learning_rate=cfg.stdev_lr,
            center_init=center,
        )
    with warnings.catch_warnings():
        # evotorch's CMAES builds its weights with torch.tensor(tensor) and hands a tensor to
        # np.floor: harmless warnings about evotorch's internals, nothing a user can act on.
        warnings.filterwarnings("ignore", "To copy construct from a tensor", UserWarning)
        warnings.filterwarnings("ignore", "__array_wrap__ must accept", DeprecationWarning)
        return CMAES(
            problem,
            stdev_init=cfg.stdev_init,
            popsize=cfg.popsize,
            center_init=center.detach().cpu().numpy(),
            separable=cfg.separable,
        )


def searcher_center(searcher) -> torch.Tensor:
    """The current search-distribution centre (what ES has learned)."""
    if hasattr(searcher, "m"):  # CMA-ES
        return searcher.m.detach().clone()
    return searcher.status["center"].detach().clone()


def searcher_stdev(searcher) -> float:
    if hasattr(searcher, "sigma") and hasattr(searcher, "C"):  # CMA-ES: sigma * sqrt(diag C)
        c = searcher.C if searcher.C.dim() == 1 else torch.diagonal(searcher.C)
        return float((searcher.sigma * c.clamp_min(0).sqrt()).mean())
    return float(searcher.status["stdev"].mean())


def searcher_state(searcher) -> dict[str, Any]:
    """Everything that determines the searcher's next steps (deep-copied)."""
    state = {
        k: copy.deepcopy(v)
        for k, v in vars(searcher).items()
        if k not in _SEARCHER_SKIP and not k.startswith("_SinglePopulationAlgorithmMixin")
    }
    # PGPE / SNES / XNES compute the next update from the last evaluated population.
    pop = getattr(searcher, "_population", None)
    if pop is not None:
        state["_population"] = {
            "values": pop.values.detach().clone(),
            "evals": pop.evals.detach().clone(),
        }
    return state


def load_searcher_state(searcher, state: dict[str, Any]) -> None:
    from evotorch import SolutionBatch

    for k, v in state.items():
        if k == "_population":
            batch = SolutionBatch(searcher.problem, popsize=len(v["values"]), empty=True)
            batch.set_values(v["values"])
            batch.set_evals(v["evals"][:, 0], v["evals"][:, 1:])
            setattr(searcher, k, batch)
        else:
            setattr(searcher, k, v)


def _generator_state(problem: PolicyProblem) -> torch.Tensor:
    return problem.generator.get_state()


def train_es(
    cfg: ExperimentConfig,
    run: RunDir,
    resume: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    tensorboard: bool = True,
) -> dict[str, Any]:
    """Train, writing metrics and checkpoints into ``run``; returns the final checkpoint dict.

    ``resume`` is a checkpoint from :meth:`RunDir.load` (``latest``): training continues at the
    generation after it, with the searcher, RNG and normaliser exactly as they were saved.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    logging.getLogger("evotorch").setLevel(logging.WARNING)  # its INFO lines drown the progress
    t = cfg.trainer
    problem = PolicyProblem(cfg)
    if resume is not None:
        center0 = resume["center"]
    else:
        center0 = problem.center_init
    searcher = make_searcher(problem, t, center0)
    start, env_steps, wall0 = 0, 0, 0.0
    best: dict[str, Any] = {"fitness": -math.inf, "vector": center0.clone(), "generation": -1}
    if resume is not None:
        load_searcher_state(searcher, resume["searcher"])
        problem.generator.set_state(resume["rng"])
        if resume["obs_norm"] is not None:
            problem.obs_norm = RunningNorm.from_state(resume["obs_norm"])
        start, env_steps, wall0 = resume["generation"] + 1, resume["env_steps"], resume["wall_time"]
        best = resume["best"]
        run.truncate_metrics("generation", resume["generation"])
    else:
        env_steps = problem.warmup_obs_norm(t.obs_norm_warmup)
    if start >= t.generations:
        log(
            f"[es] {run.path} already finished generation {start - 1} of {t.generations}; "
            "resume with --set trainer.generations=N (N > "
            f"{t.generations}) to train longer"
        )
        problem.close()
        return resume or {}
    writer = summary_writer(run, start) if tensorboard else None
    log(
        f"[es] {cfg.name}: {cfg.env.id}, agent {cfg.agent.kind}"
        f"{'' if cfg.agent.kind == 'mlp' else ' plastic' if cfg.agent.plasticity else ' static'}, "
        f"{problem.solution_length} parameters, {t.algorithm} popsize {t.popsize} x "
        f"{t.episodes} episode(s), generations {start}..{t.generations - 1} -> {run.path}"
    )
    clock = time.perf_counter()
    state: dict[str, Any] = {}
    try:
        for gen in range(start, t.generations):
            problem.generation = gen
            searcher.step()
            steps, diverged = problem.end_generation()
            env_steps += steps
            for line in diverged:
                log(f"[es] warning: {line}")
            pop = searcher.population
            evals = pop.evals.detach().cpu().numpy()
            fitness, spikes, n_div = evals[:, 0], evals[:, 1], evals[:, 2]
            i_best = int(np.argmax(fitness))
            row: dict[str, Any] = {
                "generation": gen,
                "env_steps": env_steps,
                "wall_time": round(wall0 + time.perf_counter() - clock, 3),
                "best_fitness": float(fitness[i_best]),
                "mean_fitness": float(fitness.mean()),
                "median_fitness": float(np.median(fitness)),
                "spikes_per_step": float(spikes.mean()),
                "stdev": searcher_stdev(searcher),
                "diverged": int(n_div.sum()),
                "eval_return": None,
            }
            center = searcher_center(searcher)
            last = gen == t.generations - 1
            if t.eval_every and (gen % t.eval_every == t.eval_every - 1 or last):
                returns = evaluate_vector(
                    cfg,
                    center,
                    problem.obs_norm,
                    t.eval_episodes,
                    seed=cfg.seed + 10_000 + gen,
                    threads=t.threads,
                    template=problem.template,
                )
                row["eval_return"] = float(returns.mean())
                score, candidate = row["eval_return"], center
            elif not t.eval_every:
                score, candidate = row["best_fitness"], pop.values[i_best].detach().clone()
            else:
                score = None
            if score is not None and score > best["fitness"]:
                best = {
                    "fitness": score,
                    "vector": candidate.clone(),
                    "generation": gen,
                    "obs_norm": problem.obs_norm.state_dict() if problem.obs_norm else None,
                }
                run.save_checkpoint(
                    "best",
                    _policy_checkpoint(cfg, problem, best["vector"], best["obs_norm"], gen, score),
                )
            run.append_metrics(row, METRIC_COLUMNS)
            if writer is not None:
                for key, value in row.items():
                    if key != "generation" and value is not None:
                        writer.add_scalar(f"es/{key}", value, gen)
                writer.flush()
            log(
                f"[es] gen {gen:4d}  steps {env_steps:>10,d}  best {row['best_fitness']:9.1f}  "
                f"mean {row['mean_fitness']:9.1f}  spikes/step {row['spikes_per_step']:6.1f}  "
                + (f"eval {row['eval_return']:9.1f}  " if row["eval_return"] is not None else "")
                + f"{row['wall_time']:7.1f}s"
            )
            state = {
                "generation": gen,
                "env_steps": env_steps,
                "wall_time": row["wall_time"],
                "center": center,
                "searcher": searcher_state(searcher),
                "rng": _generator_state(problem),
                "obs_norm": problem.obs_norm.state_dict() if problem.obs_norm else None,
                "best": best,
                "config": to_dict(cfg),
                "param_names": problem.param_names,
                "kind": "es",
            }
            if (gen + 1 - start) % t.checkpoint_every == 0 or last:
                run.save_checkpoint("latest", state)
    finally:
        if writer is not None:
            writer.close()
        problem.close()
    if state:
        from plasticagents.training.plots import plot_learning_curves

        plot_learning_curves([run.path], run.path / "learning_curve.png", title=cfg.name)
    if best["generation"] < 0 and state:  # no evaluation ever ran: keep the final centre
        run.save_checkpoint(
            "best",
            _policy_checkpoint(
                cfg, problem, state["center"], state["obs_norm"], state["generation"], None
            ),
        )
    return state


def _policy_checkpoint(
    cfg: ExperimentConfig,
    problem: PolicyProblem,
    vector: torch.Tensor,
    obs_norm: dict | None,
    generation: int,
    score: float | None,
) -> dict[str, Any]:
    return {
        "kind": "policy",
        "trainer": "es",
        "vector": vector.detach().clone(),
        "param_names": problem.param_names,
        "obs_norm": obs_norm,
        "generation": generation,
        "score": score,
        "config": to_dict(cfg),
        "obs_dim": problem.obs_dim,
        "act_dim": problem.act_dim,
    }
