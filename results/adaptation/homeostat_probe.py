"""What ES made of a homeostatic plastic bias (issue 20, the sensor task).

For each run (a feed-forward SNN whose constant input's row learns by the abcd rule): the share
of neurons whose rule is still a homeostat (loop gain eta * alpha * (A + C) < 0, so a rate above
target lowers the bias, with a target B + D in (0, 1) that a trace can reach), and the share of
plastic biases held at the clip at the end of the nominal part of a held-out episode (step 299:
a bias at the clip acts as a static bias). Usage:

    python results/adaptation/homeostat_probe.py RUN... [--out FILE.json]

(``--out`` writes the rows under ``outputs.runs`` of a record with the command, commit,
versions, machine and wall time.)
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from plasticagents.training.analysis.evaluate import load_policy
from plasticagents.training.builders import env_maker
from plasticagents.training.record import Recorder
from plasticagents.training.rollout import EnvPool, rollout


def _fast_weights(state):
    """The layer's ``hebb`` inside an agent's (nested tuple) state."""
    if getattr(state, "hebb", None) is not None:
        return state.hebb
    for part in state if isinstance(state, tuple) else ():
        found = _fast_weights(part)
        if found is not None:
            return found
    return None


def probe(run: str, seed: int = 1000, steps: int = 300) -> dict:
    loaded = load_policy(run)
    rule = loaded.policy.layer.plasticity
    with torch.no_grad():
        gain = (rule.eta * rule.alpha[0] * (rule.A + rule.C)).numpy()
        target = (rule.B + rule.D).numpy()
    env_cfg = loaded.env_config(perturbations=[])
    pool = EnvPool([env_maker(env_cfg)], threads=1)
    try:  # the rollout engine; the probe keeps the fast weights after the last step
        result = rollout(
            loaded.agent(env_cfg), pool, [seed], max_steps=steps,
            probe=lambda state: {"hebb": _fast_weights(state).detach().numpy()},
        )  # fmt: skip
    finally:
        pool.close()
    hebb = result.final["hebb"].reshape(-1)
    return {
        "run": run,
        "neurons": int(gain.size),
        "homeostatic_share": float(np.mean((gain < 0) & (target > 0) & (target < 1))),
        "anti_homeostatic_share": float(np.mean(gain > 0)),
        "unreachable_target_share": float(np.mean((target <= 0) | (target >= 1))),
        "at_clip_share_step_299": float(np.mean(np.abs(hebb) >= rule.spec.clip - 1e-4)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out")
    args = parser.parse_args()
    recorder = Recorder()  # command, commit, versions, machine, dates, wall time
    rows = [probe(run) for run in args.runs]
    for row in rows:
        print(json.dumps(row))
    if args.out:
        recorder.write(args.out, {"runs": rows})


if __name__ == "__main__":
    main()
