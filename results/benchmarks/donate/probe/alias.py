import argparse
import logging
import statistics
import sys
import time

sys.path.insert(0, "benchmarks")  # (run from the repository root)
import torch
from bench_es import add_problem_arguments, add_storage_argument, ours_problem
from bench_es_split import time_c_calls

import plasticagents.native as nat

p = argparse.ArgumentParser()
add_problem_arguments(p, 3)
add_storage_argument(p)
args = p.parse_args(sys.argv[1:])
logging.getLogger("evotorch").setLevel(logging.WARNING)
problem, batch = ours_problem(args, fast_physics=True, kernel="native")
problem.evaluate(batch)
population = next(iter(problem._populations.values()))
pool = next(iter(problem._pools.values()))
network, fast = population._native, pool.fast
real_torch = torch
state = {"on": False}


class Proxy:
    def __getattr__(self, k):
        return getattr(real_torch, k)

    def empty(self, *shape, dtype=None):
        last = network._last
        if state["on"] and dtype is network.storage and len(shape) == 4 and last is not None:
            h = last[1][0]
            if tuple(h.shape) == tuple(shape) and h.is_contiguous():
                return h
        return real_torch.empty(*shape, dtype=dtype)


nat.torch = Proxy()
spent, untime = time_c_calls(network, fast)
res = {False: [], True: []}
tot = {False: [], True: []}
fit = {}
for _rep in range(int(sys.argv[-1]) if False else 4):
    for on in (False, True):
        state["on"] = on
        spent.update(physics=0.0, network=0.0, calls=0)
        t = time.perf_counter()
        problem.evaluate(batch)
        el = time.perf_counter() - t
        res[on].append(1e3 * spent["network"] / spent["calls"])
        tot[on].append(1e3 * el / spent["calls"])
        f = batch.evals[:, 0].clone()
        fit.setdefault(on, f)
        print(
            on,
            f"net {res[on][-1]:.3f} ms  total {tot[on][-1]:.3f} ms",
            f" equal {torch.equal(f, fit[False])}",
            flush=True,
        )
for on in (False, True):
    print(on, "median net", statistics.median(res[on]), "total", statistics.median(tot[on]))
