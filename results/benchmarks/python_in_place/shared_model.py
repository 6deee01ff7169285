"""Physics alone with each slot's own MjModel (as ours' envs have) against one shared model (as
bench_es.py's physics floor has): mj_step x5 on 64 MjData over 2 Python threads, 6 alternated
repeats of 200 steps. Prints env steps/s per repeat and the medians."""

import time
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import mujoco
import numpy as np


def main() -> None:
    n = 64
    envs = [gym.make("Ant-v5").unwrapped for _ in range(n)]
    shared = envs[0].model
    sets = {
        "own": [(e.model, mujoco.MjData(e.model)) for e in envs],
        "shared": [(shared, mujoco.MjData(shared)) for _ in envs],
    }
    for slots in sets.values():
        for model, data in slots:
            mujoco.mj_forward(model, data)
    chunks = np.array_split(np.arange(n), 2)
    rates: dict[str, list[float]] = {k: [] for k in sets}
    with ThreadPoolExecutor(2) as pool:
        for _ in range(6):
            for name, slots in sets.items():

                def run(chunk, slots=slots):
                    for i in chunk:
                        model, data = slots[i]
                        mujoco.mj_step(model, data, nstep=5)

                t = time.perf_counter()
                for _ in range(200):
                    list(pool.map(run, chunks))
                rates[name].append(n * 200 / (time.perf_counter() - t))
    for name, values in rates.items():
        print(name, [round(x) for x in values], np.median(values))


if __name__ == "__main__":
    main()
