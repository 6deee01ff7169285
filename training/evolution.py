"""Evolution strategies (evotorch) for plastic spiking policies, batched over the population.

:class:`PolicyProblem` is an evotorch ``Problem`` whose ``_evaluate_batch`` loads the whole
batch of solutions into one :class:`~plasticagents.Population` and runs every individual's
episodes through :func:`~plasticagents.training.rollout.rollout` in lockstep: one batched SNN
call per environment step, physics over threads. With ``num_actors > 0`` evotorch splits each
generation over Ray actors, each evaluating its piece the same way; observation statistics,
step counts and divergence reports travel back through evotorch's sync hooks.

:func:`make_searcher` builds the configured algorithm; :func:`searcher_state` /
:func:`load_searcher_state` carry its numbers through a checkpoint. The trainer adapter that
drives all this is :mod:`plasticagents.training.trainers.es`.
"""

from __future__ import annotations

import copy
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from plasticagents.training.builders import (
    build_policy,
    env_maker,
    env_pool,
    env_spaces,
    episode_perturbations,
)
from plasticagents.training.checkpoint import restore_attributes, snapshot_attributes
from plasticagents.training.config import (
    ConfigError,
    ESConfig,
    ExperimentConfig,
    curriculum_value,
)
from plasticagents.training.rollout import (
    EnvPool,
    NormalizedAgent,
    RandomAgent,
    RolloutResult,
    RunningNorm,
    episode_seeds,
    rollout,
)

__all__ = [
    "PolicyProblem",
    "evaluate_vector",
    "init_ray",
    "load_searcher_state",
    "make_searcher",
    "searcher_center",
    "searcher_state",
    "searcher_stdev",
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


def init_ray() -> None:
    """Start Ray in this process, or attach to the cluster ``RAY_ADDRESS`` names (the bare
    ``ray.init()`` evotorch would call); nothing if Ray is running already.

    Raises:
        ConnectionError: attaching to ``RAY_ADDRESS`` failed: one line naming the token settings
            a ``ray start --head`` cluster asks of every machine that attaches.
    """
    import ray

    if ray.is_initialized():
        return
    address = os.environ.get("RAY_ADDRESS")
    try:
        ray.init()
    except (ConnectionError, ray.exceptions.AuthenticationError) as err:
        if not address:
            raise
        reason = f" ({err.message})" if isinstance(err, ray.exceptions.AuthenticationError) else ""
        raise ConnectionError(
            f"could not attach to the Ray cluster at RAY_ADDRESS={address}{reason}: a cluster "
            "started by `ray start --head` may require token authentication; then set "
            "RAY_AUTH_MODE=token and give this machine the head's token (copy the head's "
            "~/.ray/auth_token here, or set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)"
        ) from None


def _problem_base():
    """evotorch's ``Problem`` class, imported when this module is (the class statement below
    needs its base at definition time; evotorch itself is only imported with this module).
    """
    from evotorch import Problem

    return Problem


def _covered(module: Any) -> bool:
    """Whether the native C step runs ``module`` (``trainer.kernel: auto`` then takes it
    quietly; ``native`` asks for it and warns when it cannot)."""
    from plasticagents import native

    return native.unsupported(module) is None and native.library() is not None


def curriculum_owner(env: Any, name: str, env_id: str) -> Any:
    """The outermost layer of ``env`` (a wrapper or the base env) whose class lists ``name`` in
    its ``curriculum_attributes``: the attributes it reads afresh, so a curriculum may change
    them between episodes (e.g. the hidden-goal tasks' ``cue_steps``). Anything else, such as a
    value the env derives other settings from when built or the fast path caches
    (``frame_skip``), is refused.

    Raises:
        ConfigError: no layer declares ``name`` (the message lists those that are declared).
    """
    declared: list[str] = []
    layer = env
    while True:
        names = tuple(getattr(type(layer), "curriculum_attributes", ()))
        if name in names:
            return layer
        declared += names
        if not isinstance(layer, gym.Wrapper):
            break
        layer = layer.env
    raise ConfigError(
        f"trainer.curriculum.{name}: the env {env_id!r} does not let {name!r} change during "
        f"training; attributes a curriculum may set here: {sorted(set(declared))}"
    )


class PolicyProblem(_problem_base()):
    """Maximise the mean episode return of a policy over ``trainer.episodes`` seeded episodes.

    Each generation every individual meets the same episode seeds (common random numbers), so
    rankings compare policies, not luck. Episode ``k`` runs under the ``k``-th entry of
    ``env.train_distribution`` (if any).
    """

    def __init__(self, cfg: ExperimentConfig) -> None:
        """Probe the env for its sizes and action bounds, build the template policy from
        ``cfg.seed`` (its trainable parameters, in ``named_parameters`` order, are the solution
        vector) and set up the evotorch problem: maximise, ``solution_length`` = number of
        trained parameters, float32 on CPU, ``num_actors`` Ray actors (0: evaluate in this
        process), two extra evaluation columns (spikes per step, diverged episodes). Env pools
        and populations are built lazily, on whichever process evaluates.

        Raises:
            ConfigError: ``cfg.trainer`` is not an ES section.
        """
        if not isinstance(cfg.trainer, ESConfig):
            raise ConfigError(
                f"trainer.kind must be 'es' for PolicyProblem, got {cfg.trainer.kind!r}"
            )
        from plasticagents.population import parameters_to_vector

        self.cfg = cfg
        self.obs_dim, self.act_dim, self.action_low, self.action_high = env_spaces(cfg.env)
        if cfg.trainer.curriculum:  # attributes the env lets change, values checked up front
            probe = env_maker(cfg.env, episode_perturbations(cfg.env, 0))()
            try:
                for name, entry in cfg.trainer.curriculum.items():
                    owner = curriculum_owner(probe, name, cfg.env.id)
                    start = curriculum_value(entry, cfg.env.kwargs[name], 0)
                    try:  # the values move linearly from start to env.kwargs' (valid) one
                        owner.check_curriculum_value(name, start)
                    except ValueError as err:
                        raise ConfigError(f"trainer.curriculum.{name}.start: {err}") from None
            finally:
                probe.close()
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
        """Pickled state without the env pools, populations and lane threads (for Ray actors)."""
        # Ray actors get the problem pickled: they build their own envs and populations.
        state = self.__dict__.copy()
        state["_pools"], state["_populations"], state["_lane_executor"] = {}, {}, None
        return state

    def seed(self, value: int | None = None) -> None:
        """Alias of ``manual_seed``: evotorch 0.6.1's Ray ``EvaluationActor`` calls
        ``problem.seed(...)`` on problems with their own generator, a method ``Problem`` lacks."""
        self.manual_seed(value)

    def _parallelize(self) -> None:
        """evotorch's actor start-up, with two changes. Ray is started (or attached to) by
        :func:`init_ray` first, so that a refused attach is a one-line error. The actors' seeds
        are drawn without advancing this problem's generator: evotorch draws them from it at the
        first evaluation, after generation 0 was sampled, which made every later population of
        a run with actors differ from the same run without (the actors' seeds play no part in
        the fitness: episode seeds come from the generation index).
        """
        started = self._actors is not None or self._actor_index is not None  # or is an actor
        if self.cfg.trainer.num_actors <= 0 or started:
            super()._parallelize()
            return
        init_ray()
        state = self.generator.get_state()
        super()._parallelize()
        self.generator.set_state(state)

    # lazily built on whichever process evaluates (main or a Ray actor) -----------------------
    def _pool(self, n: int, lane: int = 0, threads: int | None = None) -> EnvPool:
        """The pool of ``n`` envs of ``lane`` (built once, kept): slot ``i`` carries the
        perturbations of episode ``i mod trainer.episodes``, which matches the individual-major
        layout ``slot = individual * episodes + episode`` of :meth:`_rollout_lane`.
        """
        key = (lane, n)
        if key not in self._pools:
            episodes = self.cfg.trainer.episodes
            makers = [
                env_maker(self.cfg.env, episode_perturbations(self.cfg.env, i % episodes))
                for i in range(n)
            ]
            t = self.cfg.trainer
            self._pools[key] = env_pool(makers, threads or t.threads, t.fast_physics)
        return self._pools[key]

    def _population(self, size: int, lane: int = 0, threads: int | None = None):
        """The batched :class:`~plasticagents.Population` of ``size`` individuals for ``lane``
        (built once per size and lane; the last Ray piece or lane may be smaller). ``threads``:
        the C network step's threads (a lane's share of ``trainer.threads``; default: torch's).
        """
        from plasticagents.population import Population

        key = (lane, size)
        if key not in self._populations:
            # functional_call swaps a module's parameters while it runs, so concurrent lanes
            # each need their own copy of the template.
            module = self.template if lane == 0 else copy.deepcopy(self.template)
            self._populations[key] = Population(
                module,
                size,
                names=self.param_names,
                compile=self.cfg.trainer.compile,
                native=self._wants_native(),
                threads=threads,
            )
        return self._populations[key]

    def _wants_native(self) -> bool:
        t = self.cfg.trainer
        return t.kernel == "native" or (
            t.kernel == "auto" and t.compile and _covered(self.template)
        )

    def network_step(self) -> str:
        """Which step the population's network runs (the ES header line shows it)."""
        if self._wants_native() and _covered(self.template):
            return "native C step"
        return "compiled torch step" if self.cfg.trainer.compile else "torch step"

    def _agent(self, policy: Any, seed: int) -> NormalizedAgent:
        """``policy`` as an agent scaled to the action bounds, with ``trainer.action_noise``
        (Gaussian, seeded by ``seed``), behind the current (frozen) normaliser.
        """
        from plasticagents.agents import Agent

        t = self.cfg.trainer
        agent = Agent(
            policy, self.action_low, self.action_high, noise_std=t.action_noise, seed=seed
        )
        return NormalizedAgent(agent, self.obs_norm)

    def _rollout_lane(self, values: torch.Tensor, lane: int, threads: int) -> RolloutResult:
        """Episodes of the individuals in ``values: [n, D]``, ``trainer.episodes`` each, in
        lockstep: one batched population call per env step for all ``n * episodes`` slots
        (laid out ``[n, episodes]``, individual-major).

        Every individual meets the generation's episode seeds
        (:func:`~plasticagents.training.rollout.episode_seeds` of ``(cfg.seed, generation)``);
        the action-noise seed differs per lane so lanes do not share noise. Raw observations
        are collected when the normaliser is on.
        """
        t = self.cfg.trainer
        n, episodes = values.shape[0], t.episodes
        # with several lanes each runs its network on its share of the threads too: one
        # lane's network then overlaps another's physics without oversubscribing the cores
        population = self._population(n, lane, threads if t.lanes > 1 else None)
        population.load_vectors(values)
        seed = int(episode_seeds(self.cfg.seed + 7919 + lane, self.generation, 1)[0])
        pool = self._pool(n * episodes, lane, threads)
        self._apply_curriculum(pool)
        return rollout(
            self._agent(population, seed),
            pool,
            episode_seeds(self.cfg.seed, self.generation, episodes) * n,
            deterministic=t.action_noise == 0,
            collect_obs=self.obs_norm is not None,
            batch_shape=(n, episodes),
        )

    def curriculum(self) -> dict[str, Any]:
        """This generation's values of ``trainer.curriculum`` (empty without one)."""
        kwargs = self.cfg.env.kwargs
        return {
            name: curriculum_value(entry, kwargs[name], self.generation)
            for name, entry in self.cfg.trainer.curriculum.items()
        }

    def _apply_curriculum(self, pool: EnvPool) -> None:
        """Set this generation's curriculum values on every training env of ``pool`` (on the
        outermost layer that declares the attribute, see :func:`curriculum_owner`)."""
        for name, value in self.curriculum().items():
            for env in pool.envs:
                owner = curriculum_owner(env, name, self.cfg.env.id)
                owner.check_curriculum_value(name, value)
                setattr(owner, name, value)

    def _evaluate_batch(self, batch) -> None:
        """evotorch's hook: evaluate every solution of ``batch`` (values ``[n, D]``) and set its
        evals ``[n, 3]``: fitness, spikes per step, diverged episodes.

        The batch is split over ``trainer.lanes`` threads (each with its own population copy and
        env pool); observations seen are kept in a delta that :meth:`end_generation` folds into
        the normaliser, so every individual of a generation sees the same statistics. An
        individual with a diverged episode or a non-finite fitness gets the lowest healthy
        fitness of the batch (``-1e9`` if none is healthy) and a report line for the log: it is
        ranked last while the fitness statistics and the searcher's update stay finite.
        """
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
        """What each Ray actor needs before a generation: the generation index (the episode seeds
        derive from it) and the normaliser.
        """
        return {
            "generation": self.generation,
            "obs_norm": self.obs_norm.state_dict() if self.obs_norm is not None else None,
        }

    def _use_sync_data_from_main(self, received: dict) -> None:
        """The actor side of :meth:`_make_sync_data_for_actors`."""
        self.generation = received["generation"]
        if received["obs_norm"] is not None:
            self.obs_norm = RunningNorm.from_state(received["obs_norm"])

    def _make_sync_data_for_main(self) -> Any:
        """An actor's report after its piece: observation-statistics delta, env steps, divergence
        lines; reset here so nothing is reported twice.
        """
        data = {
            "obs_delta": self._obs_delta.state_dict(),
            "steps": self._steps,
            "diverged": self._diverged,
        }
        self._obs_delta, self._steps, self._diverged = RunningNorm(self.obs_dim), 0, []
        return data

    def _use_sync_data_from_actors(self, received: list) -> None:
        """Merge the actors' reports into this process's delta, step count and divergence list."""
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
        pool = env_pool(
            [
                env_maker(self.cfg.env, episode_perturbations(self.cfg.env, i % episodes))
                for i in range(n)
            ],
            self.cfg.trainer.threads,
            self.cfg.trainer.fast_physics,
        )
        self._apply_curriculum(pool)  # generation 0's envs, as the first generation meets them
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
        """Close the env pools and lane threads and stop the Ray actors (if any)."""
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
    """Returns ``[episodes]`` of seeded episodes of one parameter vector (frozen normaliser).

    The trainer's held-out evaluation of the search centre. Episode ``k`` runs under
    ``env.train_distribution[k mod K]`` (if any), as in training, and is reset with the
    ``k``-th seed that ``SeedSequence(seed)`` generates; actions are deterministic (no
    ``action_noise``).

    Args:
        cfg: the experiment config (``agent`` builds the network unless ``template`` is given).
        vector: the flat parameters ``[D]``, in the template's ``named_parameters`` order.
        obs_norm: the normaliser to apply, unchanged by the episodes (``None``: raw
            observations).
        episodes: number of episodes, run in parallel, one env each.
        seed: seeds the episode resets.
        env_cfg: another env section to evaluate on (default ``cfg.env``).
        threads: physics threads.
        template: a network of the right architecture to copy instead of rebuilding one.
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
    pool = env_pool(
        [env_maker(env_cfg, episode_perturbations(env_cfg, k)) for k in range(episodes)],
        threads,
        getattr(cfg.trainer, "fast_physics", False),
    )
    try:
        seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes)]
        return rollout(agent, pool, seeds).returns
    finally:
        pool.close()


def _full_covariance(algorithm: str, cfg: ESConfig) -> bool:
    """Whether the algorithm keeps a ``D x D`` covariance (XNES; CMA-ES unless separable)."""
    return algorithm == "xnes" or (algorithm == "cmaes" and not cfg.separable)


def make_searcher(problem: PolicyProblem, cfg: ESConfig, center: torch.Tensor):
    """The evotorch search algorithm ``cfg.algorithm`` names, started at ``center: [D]``.

    ``pgpe``: PGPE with centred ranking, ``center_lr`` / ``stdev_lr`` defaulting to 0.1, the
    ``optimizer`` on the centre (``none``: plain gradient steps) and ClipUp's rule of thumb
    ``max_speed = 2 * center_lr`` unless set; ``stdev_max_change`` bounds the relative change
    of each standard deviation per step. ``snes`` / ``xnes``: natural evolution strategies with
    evotorch's default learning rates unless set. ``cmaes``: CMA-ES, diagonal when
    ``separable``. ``popsize`` and ``stdev_init`` apply to all.

    Raises:
        ConfigError: ``xnes``, or ``cmaes`` with ``separable: false``, for a policy of more
            than 5000 parameters (a ``D x D`` covariance matrix to keep and update).
    """
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
    if cfg.algorithm in ("snes", "xnes"):
        return {"snes": SNES, "xnes": XNES}[cfg.algorithm](
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
    """The current search-distribution centre ``[D]`` (what ES has learned), a copy: CMA-ES
    keeps it as ``m``, the others in ``status["center"]``."""
    if hasattr(searcher, "m"):  # CMA-ES
        return searcher.m.detach().clone()
    return searcher.status["center"].detach().clone()


def searcher_stdev(searcher) -> float:
    """The search distribution's mean standard deviation over parameters (the ``stdev``
    metric): PGPE / SNES / XNES report it directly; for CMA-ES it is
    ``mean(sigma * sqrt(diag C))``.
    """
    if hasattr(searcher, "sigma") and hasattr(searcher, "C"):  # CMA-ES: sigma * sqrt(diag C)
        c = searcher.C if searcher.C.dim() == 1 else torch.diagonal(searcher.C)
        return float((searcher.sigma * c.clamp_min(0).sqrt()).mean())
    return float(searcher.status["stdev"].mean())


def searcher_state(searcher) -> dict[str, Any]:
    """The numbers that determine the searcher's next steps, as checkpointable plain data.

    The structure (distribution and optimizer classes, the problem) is rebuilt from the config
    by :func:`make_searcher`; :func:`load_searcher_state` writes these numbers back onto it.
    """
    state = snapshot_attributes(searcher, skip=_SEARCHER_SKIP)
    # PGPE / SNES / XNES compute the next update from the last evaluated population.
    pop = getattr(searcher, "_population", None)
    if pop is not None:
        state["_population"] = {
            "values": pop.values.detach().clone(),
            "evals": pop.evals.detach().clone(),
        }
    return state


def load_searcher_state(searcher, state: dict[str, Any]) -> None:
    """Write a :func:`searcher_state` back onto a searcher that :func:`make_searcher` built from
    the same config, including the last evaluated population (values and evals) that PGPE /
    SNES / XNES compute their next update from.

    Raises:
        CheckpointError: the state names a part the searcher lacks (the config changed).
    """
    from evotorch import SolutionBatch

    state = dict(state)
    pop = state.pop("_population", None)
    restore_attributes(searcher, state)
    if pop is not None:
        batch = SolutionBatch(searcher.problem, popsize=len(pop["values"]), empty=True)
        batch.set_values(pop["values"])
        batch.set_evals(pop["evals"][:, 0], pop["evals"][:, 1:])
        searcher._population = batch
