"""Speed of the population-batched plastic SNN, side by side with its peers, in one run.

(a) One simulation step of a plastic recurrent spiking network for a whole ES population
    (P individuals, one vmapped call) against the same network run one individual at a time,
    like with like: eager batched against an eager per-individual loop, and (unless
    ``--no-compile``) ``torch.compile``-d batched (``Population(..., compile=True)``) against a
    compiled per-individual loop (one ``torch.compile`` of the single-individual step, its
    parameters passed as inputs so the one graph serves every individual). The compiled batched
    step is also timed with its fast weights stored row-major (``post_major=False``, the layout
    before post-major storage) beside the default post-major one (``post_major_speedup_compiled``),
    and, on the CPU, the hand-written C step of :mod:`plasticagents.native` beside it
    (``native_speedup_over_compiled``).
(b) A BPTT forward + backward through T steps of a Linear + LIF layer, ours against snnTorch
    (``snn.Leaky``) with the same sizes, on the same device (both eager).

Whether compilation really happened is checked, not assumed: a ``Population`` whose compile
failed warns and runs eagerly, and dynamo may split a graph. The label printed next to each
compiled timing says what ran (graphs compiled, graph breaks, recompiles, first-call seconds)
and a fallback is reported as ``eager fallback``, never as compiled.

Each timing is the median of ``--repeats`` runs. The last line prints the ratios
``batched_vs_loop_eager`` and ``batched_vs_loop_compiled`` (loop time / batched time, goal >= 10)
and ``bptt_ours_over_snntorch`` (time ratio, goal <= 1). The record (command, commit, versions,
machine, date, wall time; every repeat, the medians, the ratios, the settings and the compile
status) goes to ``results/benchmarks/bench_population-<YYYYmmdd-HHMMSS>.json`` (``--out``).

    python benchmarks/bench_population.py              # defaults: P=64, 105 inputs, 128 neurons
    python benchmarks/bench_population.py --rule abcd  # the abcd rule in (a)
    python benchmarks/bench_population.py --device cuda --population 1024
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import torch
from _record import add_out_argument, default_out, settings, timing
from torch import nn
from torch.func import functional_call

from plasticagents import LIF, PlasticitySpec, PlasticSNN, Population, resolve_device
from plasticagents.training.record import Recorder


def _seconds(fn, repeats: int, inner: int, device: torch.device) -> list[float]:
    """Per-call seconds of ``fn`` (mean over ``inner`` calls) for each of ``repeats`` runs,
    after one untimed warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) / inner)
    return times


def _dynamo_counts() -> dict[str, int]:
    from torch._dynamo.utils import counters

    return {
        "graphs": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
    }


def _first_call(fn, device: torch.device) -> dict:
    """Run ``fn`` once (where compilation happens), timing it and recording the dynamo graphs
    it compiled, its graph breaks and any ``torch.compile failed`` fallback warning."""
    before = _dynamo_counts()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
    after = _dynamo_counts()
    fell_back = [str(w.message)[:300] for w in caught if "torch.compile failed" in str(w.message)]
    return {
        "first_call_s": round(seconds, 3),
        "graphs": after["graphs"] - before["graphs"],
        "graph_breaks": after["graph_breaks"] - before["graph_breaks"],
        "fallback": fell_back,
    }


def _status(info: dict) -> str:
    """``compiled`` only when dynamo compiled a graph and nothing fell back to eager; a call
    that compiled no new graph (a cached one, or dynamo skipped the frame) is not claimed."""
    if info["fallback"]:
        return "eager fallback"
    if info["graphs"] == 0:
        return "unverified (no new graph compiled: cached or eager)"
    return "compiled" if info["graph_breaks"] == 0 else "compiled with graph breaks"


def _label(info: dict) -> str:
    extra = f", {info['recompiles']} recompile(s)" if info.get("recompiles") else ""
    return (
        f"{info['status']}: {info['graphs']} graph(s), {info['graph_breaks']} break(s){extra}, "
        f"first call {info['first_call_s']:.1f} s"
    )


def bench_population(args, device) -> dict:
    torch.manual_seed(0)
    net = PlasticSNN(
        args.inputs,
        8,
        hidden=args.neurons,
        steps_per_input=1,
        plasticity=PlasticitySpec(args.rule, granularity=args.granularity),
    ).to(device)
    pop = Population(net, args.population)
    pop.load_vectors(
        pop.to_vectors() + 0.01 * torch.randn(args.population, pop.num_params, device=device)
    )
    x = torch.randn(args.population, args.envs, args.inputs, device=device)
    state = pop.initial_state(args.envs)
    individuals = [pop.individual(i) for i in range(args.population)]
    states = [m.initial_state(args.envs) for m in individuals]

    def loop():
        with torch.no_grad():
            for i, m in enumerate(individuals):
                m(x[i], states[i])

    out: dict = {
        "batched_eager": _seconds(lambda: pop(x, state), args.repeats, 20, device),
        "loop_eager": _seconds(loop, args.repeats, 2, device),
    }
    # The hand-written C step (plasticagents.native) on the same individuals, CPU only
    from plasticagents import native

    if device.type == "cpu" and native.unsupported(net) is None and native.library():
        pop_n = Population(net, args.population, native=True)
        pop_n.load_vectors(pop.to_vectors())
        state_n = pop_n.initial_state(args.envs)
        out["batched_native"] = _seconds(lambda: pop_n(x, state_n), args.repeats, 20, device)

    if args.no_compile:
        return out

    # compiled batched: the fast weights post-major (Population's default when compiling), and
    # the same graph over row-major storage, the layout before (``post_major=False``)
    for key, post_major in (("batched_compiled", True), ("batched_compiled_row_major", False)):
        pop_c = Population(net, args.population, compile=True, post_major=post_major)
        pop_c.load_vectors(pop.to_vectors())
        state_c = pop_c.initial_state(args.envs)
        info = _first_call(lambda: pop_c(x, state_c), device)  # noqa: B023 (called here)
        info["status"] = _status(info)
        out[f"{key}_info"] = info
        out[key] = _seconds(lambda: pop_c(x, state_c), args.repeats, 20, device)  # noqa: B023

    # One compiled single-individual step; every individual's parameters are inputs of the
    # same graph (own contiguous copies, like the eager loop's module copies).
    def single(params, xi, si):
        return functional_call(net, params, (xi, si))

    step_c = torch.compile(single, dynamic=False)
    params = [{n: pop.params[n][i].clone() for n in pop.names} for i in range(args.population)]

    def loop_c():
        with torch.no_grad():
            for i in range(args.population):
                step_c(params[i], x[i], states[i])

    try:
        info = _first_call(loop_c, device)
    except Exception as err:  # no C++ compiler, unsupported platform, ...
        info = {"first_call_s": 0.0, "graphs": 0, "graph_breaks": 0, "fallback": [repr(err)]}
        step_c = single
    info["recompiles"] = max(0, info["graphs"] - 1)
    info["status"] = _status(info)
    out["loop_compiled_info"] = info
    out["loop_compiled"] = _seconds(loop_c, args.repeats, 2, device)
    return out


class _OursLinearLIF(nn.Module):
    def __init__(self, n_in, n, dt=1e-3):
        super().__init__()
        self.fc = nn.Linear(n_in, n)
        # tau_syn = 0: no synaptic filter, the same model as snnTorch's Leaky.
        self.lif = LIF(n, tau_mem=-dt / torch.log(torch.tensor(0.9)).item(), tau_syn=0.0, dt=dt)

    def forward(self, x):  # x: [T, B, I]
        state, out = None, []
        for t in range(x.shape[0]):
            z, state = self.lif(self.fc(x[t]), state)
            out.append(z)
        return torch.stack(out)


def _snntorch_model(n_in, n):
    import snntorch as snn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(n_in, n)
            self.lif = snn.Leaky(beta=0.9)

        def forward(self, x):
            mem = self.lif.reset_mem()
            out = []
            for t in range(x.shape[0]):
                spk, mem = self.lif(self.fc(x[t]), mem)
                out.append(spk)
            return torch.stack(out)

    return Model()


def bench_bptt(args, device) -> tuple[list[float], list[float] | None]:
    torch.manual_seed(0)
    x = torch.randn(args.steps, args.batch, args.inputs, device=device)

    def timed(model):
        model = model.to(device)

        def step():
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()

        return _seconds(step, args.repeats, 1, device)

    ours = timed(_OursLinearLIF(args.inputs, args.neurons))
    try:
        peer = timed(_snntorch_model(args.inputs, args.neurons))
    except ImportError:
        print("snntorch is not installed (pip install 'plasticagents[bench]'); skipping the peer")
        peer = None
    return ours, peer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--envs", type=int, default=1, help="environments per individual")
    parser.add_argument("--inputs", type=int, default=105)
    parser.add_argument("--neurons", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100, help="BPTT time steps")
    parser.add_argument("--batch", type=int, default=16, help="BPTT batch size")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    parser.add_argument(
        "--rule",
        choices=["hebbian", "abcd"],
        default="hebbian",
        help="the plastic layer's rule (plain mode), in (a) only",
    )
    parser.add_argument(
        "--granularity",
        choices=["synapse", "post", "scalar"],
        default="synapse",
        help="one learning rate (abcd: one set of coefficients) per synapse, per neuron or "
        "one for the layer, in (a) only",
    )
    add_out_argument(parser, "bench_population")
    args = parser.parse_args(argv)
    rec = Recorder(None if argv is None else [Path(__file__).name, *argv])
    device = resolve_device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__}")

    pop = bench_population(args, device)
    med = {k: timing(v)["median"] for k, v in pop.items() if not k.endswith("_info")}
    print(
        f"(a) P={args.population} B={args.envs} I={args.inputs} N={args.neurons} "
        f"{args.rule} ({args.granularity}), one step:"
    )
    print(
        f"    eager:    batched {med['batched_eager'] * 1e3:.3f} ms   "
        f"per-individual loop {med['loop_eager'] * 1e3:.3f} ms"
    )
    if "batched_compiled" in med:
        print(
            f"    compiled: batched {med['batched_compiled'] * 1e3:.3f} ms "
            f"[{_label(pop['batched_compiled_info'])}]"
        )
        print(
            f"              batched, row-major fast weights "
            f"{med['batched_compiled_row_major'] * 1e3:.3f} ms "
            f"[{_label(pop['batched_compiled_row_major_info'])}]"
        )
        print(
            f"              per-individual loop {med['loop_compiled'] * 1e3:.3f} ms "
            f"[{_label(pop['loop_compiled_info'])}]"
        )
    if "batched_native" in med:
        print(f"    native C step: batched {med['batched_native'] * 1e3:.3f} ms")
    ours, peer = bench_bptt(args, device)
    ours_med = timing(ours)["median"]
    peer_med = timing(peer)["median"] if peer else None
    print(f"(b) BPTT T={args.steps} B={args.batch} I={args.inputs} N={args.neurons}, fwd+bwd:")
    print(
        f"    ours {ours_med * 1e3:.2f} ms   snntorch {peer_med * 1e3:.2f} ms"
        if peer_med
        else f"    ours {ours_med * 1e3:.2f} ms"
    )
    ratios: dict[str, float | None] = {
        "batched_vs_loop_eager": med["loop_eager"] / med["batched_eager"],
        "batched_vs_loop_compiled": (
            med["loop_compiled"] / med["batched_compiled"] if "batched_compiled" in med else None
        ),
        "bptt_ours_over_snntorch": ours_med / peer_med if peer_med else None,
    }
    if "batched_compiled" in med:
        ratios["compile_speedup_batched"] = med["batched_eager"] / med["batched_compiled"]
        ratios["compile_speedup_loop"] = med["loop_eager"] / med["loop_compiled"]
        ratios["post_major_speedup_compiled"] = (
            med["batched_compiled_row_major"] / med["batched_compiled"]
        )
        if "batched_native" in med:
            ratios["native_speedup_over_compiled"] = med["batched_compiled"] / med["batched_native"]

    def fmt(key: str, spec: str) -> str:
        value = ratios[key]
        return "n/a" if value is None else format(value, spec)

    if "batched_compiled" in med:
        print(f"post-major over row-major (compiled): {fmt('post_major_speedup_compiled', '.2f')}x")
    if "native_speedup_over_compiled" in ratios:
        print(f"native C step over compiled: {fmt('native_speedup_over_compiled', '.2f')}x")
    print(
        f"RATIOS batched_vs_loop_eager={fmt('batched_vs_loop_eager', '.1f')}x "
        f"batched_vs_loop_compiled={fmt('batched_vs_loop_compiled', '.1f')}x "
        f"bptt_ours_over_snntorch={fmt('bptt_ours_over_snntorch', '.2f')} (time; <1 is faster)"
    )
    timings = {k: timing(v) for k, v in pop.items() if not k.endswith("_info")}
    timings["bptt_ours"] = timing(ours)
    if peer:
        timings["bptt_snntorch"] = timing(peer)
    path = rec.write(
        args.out or default_out("bench_population"),
        outputs={
            "settings": settings(
                args,
                device=str(device),
                compile=not args.no_compile,
                inner_calls_per_repeat={"batched": 20, "loop": 2, "bptt": 1},
            ),
            "unit": "seconds per call",
            "timings": timings,
            "compile_status": {
                k[: -len("_info")]: v for k, v in pop.items() if k.endswith("_info")
            },
            "ratios": ratios,
        },
    )
    print(f"record: {path}")


if __name__ == "__main__":
    main()
