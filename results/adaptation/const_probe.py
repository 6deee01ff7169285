"""Where does the constant-input plastic SNN keep the direction? For each seed's run of the
constant-input arm (dir-cue-ff-plastic-modc-g300-sS, 9.6M env steps), the tables' 10 held-out
episodes (`plasticagents adaptation --episodes 10 --seed 1000`) run three ways:

* ``intact``;
* ``constant row lesioned``: after every step, the fast weights of the constant input's row
  (the bias the network writes within the episode) are set back to 0, the others run on;
* ``other rows lesioned``: the reverse, only the constant row's fast weights are kept.

A memory held in the constant row shows as a cost of the first lesion and little cost of the
second. Also per seed: the size of the bias the constant row's fast weights add,
``||alpha_c * hebb_c||`` (mean over steps after the first reversal), against the slow bias
``||raw_c||``, and how far that plastic bias differs between the two running directions
(the distance between its means over the forward and the backward steps after the first
reversal, cue steps left out, divided by its mean distance from its own direction's mean).

Reward per step after the first reversal (step 250 to the end), as the tables measure it.
A figure beside the file (const_bias.png) shows, per seed, the plastic bias of the first
held-out episode projected on the direction that separates its two running directions
(``fwd - bwd``, unit length; the mean projection over both directions subtracted), step by step,
with the backward stretches shaded: a bias that holds the direction flips at each cue and
stays flipped until the next.
Writes results/adaptation/dir_cue_modc/const_probe.json. From the repository root:
    python results/adaptation/const_probe.py [RUNS OUT]
RUNS (default dir-cue-ff-plastic-modc-g300) names another constant-input arm's runs
(RUNS-sS-*), OUT (default results/adaptation/dir_cue_modc/const_probe.json) its file: the arm
with only the constant row plastic (dir-cue-ff-plastic-constrow-g300, whose other rows hold no
fast weights, so lesioning them costs nothing by construction) writes
results/adaptation/dir_cue_constrow/const_probe.json. Seeds 0-7, those whose runs exist.
"""

import json
import sys
from pathlib import Path

import matplotlib
import numpy as np
import torch
from paired import interval  # results/adaptation/paired.py, beside this script

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from plasticagents.ablation import plastic_state, with_plastic_state
from plasticagents.training.analysis.evaluate import load_policy
from plasticagents.training.analysis.robustness import episode_seed_list
from plasticagents.training.builders import env_maker
from plasticagents.training.rollout import EnvPool, rollout

RUNS = Path("results/adaptation/runs")
ARM = sys.argv[1] if len(sys.argv) > 1 else "dir-cue-ff-plastic-modc-g300"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "results/adaptation/dir_cue_modc/const_probe.json")
EPISODES = episode_seed_list(1000, 10)  # the episodes of the tables (--seed 1000)
FIRST_REVERSAL, EVERY, CUE = 250, 250, 10  # the task's switch_every and cue_steps


class RowLesion:
    """``agent`` with the fast weights of the constant row (``keep=False``) or of every other
    row (``keep=True``) set to 0 after each step."""

    def __init__(self, agent, row: int, keep: bool) -> None:
        self.agent, self.row, self.keep = agent, row, keep
        self.policy, self.population = agent.policy, False

    def predict(self, obs, state=None, episode_start=None, deterministic=False):
        action, state = self.agent.predict(obs, state, episode_start, deterministic)
        plastic = plastic_state(state)
        hebb = plastic.hebb.clone()  # [n, I, N] (I: the plastic rows)
        if self.keep:
            kept = hebb[:, self.row, :].clone()
            hebb.zero_()
            hebb[:, self.row, :] = kept
        else:
            hebb[:, self.row, :] = 0.0
        return action, with_plastic_state(state, plastic._replace(hebb=hebb))


def after_reversal(rewards: np.ndarray) -> float:
    return float(rewards[FIRST_REVERSAL:].mean())


def const_bias_probe(policy, row: int):
    """A rollout probe: the constant row's plastic bias ``alpha_c * hebb_c`` per slot."""
    alpha = policy.layer.plasticity.alpha.detach()[row]

    def probe(state):
        with torch.no_grad():
            return {"bias": (alpha * plastic_state(state).hebb[:, row, :]).numpy()}

    return probe


per_seed, traces = {}, {}
SEEDS = [s for s in range(8) if list(RUNS.glob(f"{ARM}-s{s}-*"))]  # the seeds trained
for seed in SEEDS:
    (run,) = RUNS.glob(f"{ARM}-s{seed}-*")
    loaded = load_policy(run)
    policy = loaded.policy
    assert policy.constant_input, f"{run} has no constant input"
    unit = policy.encoder.n_out  # the constant unit comes after the encoded inputs
    # its row in the fast weights, which hold only the plastic rows when not all
    row = unit - (policy.layer.plasticity.rows or (0, 0))[0]
    env_cfg = loaded.env_config()
    base = loaded.agent(env_cfg)
    variants = {
        "intact": base,
        "constant row lesioned": RowLesion(base, row, keep=False),
        "other rows lesioned": RowLesion(base, row, keep=True),
    }
    rewards, bias = {}, None
    for name, agent in variants.items():
        pool = EnvPool([env_maker(env_cfg)] * len(EPISODES), threads=1)
        result = rollout(
            agent,
            pool,
            EPISODES,
            record=("rewards",) + (("infos", "bias") if name == "intact" else ()),
            probe=const_bias_probe(policy, row) if name == "intact" else None,
        )
        pool.close()
        r = np.stack(result.trajectory["rewards"])  # [T, episodes]
        rewards[name] = float(np.mean([after_reversal(r[:, e]) for e in range(r.shape[1])]))
        if name == "intact":
            bias = np.stack(result.trajectory["bias"])  # [T, episodes, N]
            # the running direction at each step of each episode, as the env reports it
            dirs = np.array(
                [
                    [info["task"]["direction"] for info in step]
                    for step in result.trajectory["infos"]
                ]
            )
    T = bias.shape[0]
    steps = np.arange(FIRST_REVERSAL, T)
    uncued = steps[(steps % EVERY) >= CUE]
    d = dirs[uncued]  # [t, episodes]
    b = bias[uncued]  # [t, episodes, N]
    fwd, bwd = b[d > 0].mean(0), b[d < 0].mean(0)
    spread = np.concatenate(
        [np.linalg.norm(b[d > 0] - fwd, axis=-1), np.linalg.norm(b[d < 0] - bwd, axis=-1)]
    ).mean()
    axis = (fwd - bwd) / max(float(np.linalg.norm(fwd - bwd)), 1e-12)
    projection = bias[:, 0] @ axis  # [T]: the first episode
    traces[seed] = (projection - 0.5 * (fwd + bwd) @ axis, dirs[:, 0])
    raw = policy.layer.synapses.raw.detach()[unit]
    per_seed[seed] = {
        "run": str(run),
        "reward_per_step_after_reversal": rewards,
        "lesion_cost": {k: rewards["intact"] - v for k, v in rewards.items() if k != "intact"},
        "plastic_bias_norm": float(np.linalg.norm(bias[FIRST_REVERSAL:], axis=-1).mean()),
        "slow_bias_norm": float(raw.norm()),
        "direction_separation": float(np.linalg.norm(fwd - bwd) / max(spread, 1e-12)),
    }
    print(seed, json.dumps({k: v for k, v in per_seed[seed].items() if k != "run"}), flush=True)

summary = {
    key: interval(np.array([per_seed[s]["lesion_cost"][key] for s in per_seed]))
    for key in ("constant row lesioned", "other rows lesioned")
}
OUT.parent.mkdir(parents=True, exist_ok=True)
OUT.write_text(
    json.dumps(
        {
            "runs": ARM,
            "episode_seeds": EPISODES,
            "lesion_cost_reward_per_step": summary,
            "direction_separation": interval(
                np.array([per_seed[s]["direction_separation"] for s in per_seed])
            ),
            "per_seed": per_seed,
        },
        indent=1,
    )
    + "\n"
)
print(f"wrote {OUT}")

fig, axes = plt.subplots(2, 4, figsize=(13, 5), sharex=True, constrained_layout=True)
for ax, (seed, (projection, direction)) in zip(axes.flat, traces.items(), strict=False):
    steps = np.arange(len(projection))
    ax.fill_between(
        steps, 0, 1, where=direction < 0, transform=ax.get_xaxis_transform(), color="0.9", lw=0
    )
    ax.plot(steps, projection, lw=1)
    ax.axhline(0, color="0.5", lw=0.5)
    cost = per_seed[seed]["lesion_cost"]["constant row lesioned"]
    ax.set_title(f"seed {seed}: lesion costs {cost:.2f}/step", fontsize=9)
for ax in axes.flat[len(traces) :]:
    ax.axis("off")  # fewer than 8 seeds trained
for ax in axes[-1]:
    ax.set_xlabel("step (backward shaded)")
for ax in axes[:, 0]:
    ax.set_ylabel("plastic bias along fwd - bwd")
fig.suptitle(f"{ARM}: the constant row's plastic bias, first held-out episode")
fig.savefig(OUT.with_name("const_bias.png"), dpi=110)
print(f"wrote {OUT.with_name('const_bias.png')}")
