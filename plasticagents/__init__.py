"""plasticagents: plastic spiking neural networks for agents that keep learning.

The core library (torch and numpy only): spiking neurons, synapses, plasticity rules,
networks, the population axis for evolution strategies and the agent protocol.
Environments live in :mod:`plasticagents.envs`, trainers in :mod:`plasticagents.training`.

Top-level names are imported lazily (PEP 562) so that ``plasticagents --help`` does not pay
for importing torch.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# ES steps MuJoCo on its own threads between torch's OpenMP kernels, every env step; idle
# libgomp workers that spin would take the cores the physics needs (benchmarks/bench_pool.py,
# results/benchmarks/bench_pool-20261201-150206.json: a 64-slot HalfCheetah physics step with
# a torch call between steps, 1.44 ms while they spin, 0.91 ms with OMP_WAIT_POLICY=PASSIVE).
# libgomp reads the policy once, when torch loads it: set it here unless the environment chose
# one or torch is loaded already (``OMP_SPINNING`` then says that the physics pool will warn).
OMP_SPINNING = "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_EXPORTS = {
    "plasticagents.agents": ["Agent"],
    "plasticagents.networks": [
        "DirectCurrentEncoder",
        "LSTMPolicy",
        "MLPPolicy",
        "PlasticSNN",
        "PopulationEncoder",
        "RecurrentSpikingLayer",
    ],
    "plasticagents.neurons": [
        "ALIF",
        "LI",
        "LIF",
        "TimeConstants",
        "alif_step",
        "li_step",
        "lif_step",
    ],
    "plasticagents.plasticity": [
        "Neuromodulator",
        "Plasticity",
        "PlasticitySpec",
        "plasticity_step",
    ],
    "plasticagents.population": ["Population", "parameters_to_vector", "vector_to_parameters"],
    "plasticagents.state": ["reset_where", "resolve_device"],
    "plasticagents.surrogate": ["surrogate"],
    "plasticagents.synapses": ["Synapses", "dale_signs"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_WHERE, "__version__"])

if TYPE_CHECKING:
    from plasticagents.agents import Agent
    from plasticagents.networks import (
        DirectCurrentEncoder,
        MLPPolicy,
        PlasticSNN,
        PopulationEncoder,
        RecurrentSpikingLayer,
    )
    from plasticagents.neurons import ALIF, LI, LIF, TimeConstants, alif_step, li_step, lif_step
    from plasticagents.plasticity import Neuromodulator, Plasticity, PlasticitySpec, plasticity_step
    from plasticagents.population import Population, parameters_to_vector, vector_to_parameters
    from plasticagents.state import reset_where, resolve_device
    from plasticagents.surrogate import surrogate
    from plasticagents.synapses import Synapses, dale_signs


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'plasticagents' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
