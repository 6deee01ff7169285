import argparse
import logging
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, "benchmarks")  # (run from the repository root)
import plasticagents  # noqa
import bench_es

p = argparse.ArgumentParser()
bench_es.add_problem_arguments(p, 3)
bench_es.add_storage_argument(p)
args = p.parse_args([])
logging.getLogger("evotorch").setLevel(logging.WARNING)
problem, batch = bench_es.ours_problem(
    args, [], episodes=1, lanes=1, compile=True, fast_physics=True, kernel="native"
)
problem.evaluate(batch)
problem.end_generation()
print("ready", flush=True)
t = time.perf_counter()
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 12):
    problem.evaluate(batch)
    problem.end_generation()
print("done", time.perf_counter() - t, flush=True)
