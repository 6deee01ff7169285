"""Speed of the population-batched plastic SNN, side by side with its peers, in one run.

(a) One simulation step of a plastic recurrent spiking network for a whole ES population
    (P individuals, one vmapped call) against the same network run one individual at a time.
(b) A BPTT forward + backward through T steps of a Linear + LIF layer, ours against snnTorch
    (``snn.Leaky``) with the same sizes, on the same device.

Each timing is the median of ``--repeats`` runs. The last line prints the ratios:
``batched_vs_loop`` and ``batched_compiled_vs_loop`` (goal >= 10) and
``bptt_ours_over_snntorch`` (time ratio, goal <= 1).

    python benchmarks/bench_population.py              # defaults: P=64, 105 inputs, 128 neurons
    python benchmarks/bench_population.py --device cuda --population 1024
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from plasticagents import LIF, PlasticitySpec, PlasticSNN, Population, resolve_device


def _median_seconds(fn, repeats: int, inner: int, device: torch.device) -> float:
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
    return statistics.median(times)


def bench_population(args, device) -> tuple[float, float | None, float]:
    torch.manual_seed(0)
    net = PlasticSNN(
        args.inputs,
        8,
        hidden=args.neurons,
        steps_per_input=1,
        plasticity=PlasticitySpec("hebbian"),
    ).to(device)
    pop = Population(net, args.population)
    pop.load_vectors(
        pop.to_vectors() + 0.01 * torch.randn(args.population, pop.num_params, device=device)
    )
    x = torch.randn(args.population, args.envs, args.inputs, device=device)
    state = pop.initial_state(args.envs)
    batched = _median_seconds(lambda: pop(x, state), args.repeats, 20, device)
    compiled = None
    if not args.no_compile:
        pop_c = Population(net, args.population, compile=True)
        pop_c.load_vectors(pop.to_vectors())
        compiled = _median_seconds(lambda: pop_c(x, state), args.repeats, 20, device)

    individuals = [pop.individual(i) for i in range(args.population)]
    states = [m.initial_state(args.envs) for m in individuals]

    def loop():
        with torch.no_grad():
            for i, m in enumerate(individuals):
                m(x[i], states[i])

    looped = _median_seconds(loop, args.repeats, 2, device)
    return batched, compiled, looped


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


def bench_bptt(args, device) -> tuple[float, float | None]:
    torch.manual_seed(0)
    x = torch.randn(args.steps, args.batch, args.inputs, device=device)

    def timed(model):
        model = model.to(device)

        def step():
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()

        return _median_seconds(step, args.repeats, 1, device)

    ours = timed(_OursLinearLIF(args.inputs, args.neurons))
    try:
        peer = timed(_snntorch_model(args.inputs, args.neurons))
    except ImportError:
        print("snntorch is not installed (pip install 'plasticagents[bench]'); skipping the peer")
        peer = None
    return ours, peer


def main() -> None:
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
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__}")

    batched, compiled, looped = bench_population(args, device)
    print(
        f"(a) P={args.population} B={args.envs} I={args.inputs} N={args.neurons} Hebbian, one step:"
    )
    print(f"    batched {batched * 1e3:.3f} ms   per-individual loop {looped * 1e3:.3f} ms")
    if compiled is not None:
        print(f"    batched + torch.compile {compiled * 1e3:.3f} ms")
    ours, peer = bench_bptt(args, device)
    print(f"(b) BPTT T={args.steps} B={args.batch} I={args.inputs} N={args.neurons}, fwd+bwd:")
    print(
        f"    ours {ours * 1e3:.2f} ms   snntorch {peer * 1e3:.2f} ms"
        if peer
        else f"    ours {ours * 1e3:.2f} ms"
    )
    ratio = f"{ours / peer:.2f}" if peer else "n/a"
    best = min(batched, compiled or batched)
    print(
        f"RATIOS batched_vs_loop={looped / batched:.1f}x "
        f"batched_compiled_vs_loop={looped / best:.1f}x "
        f"bptt_ours_over_snntorch={ratio} (time; <1 is faster)"
    )


if __name__ == "__main__":
    main()
