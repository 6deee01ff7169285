"""plasticagents: plastic spiking neural networks for agents that keep learning.

The core library (torch and numpy only): spiking neurons, synapses, plasticity rules,
networks, the population axis for evolution strategies and the agent protocol.
Environments live in :mod:`plasticagents.envs`, trainers in :mod:`plasticagents.training`.
"""

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

__version__ = "0.1.0"

__all__ = [
    "ALIF",
    "Agent",
    "LI",
    "LIF",
    "DirectCurrentEncoder",
    "MLPPolicy",
    "Neuromodulator",
    "PlasticSNN",
    "Plasticity",
    "PlasticitySpec",
    "Population",
    "PopulationEncoder",
    "RecurrentSpikingLayer",
    "Synapses",
    "TimeConstants",
    "__version__",
    "alif_step",
    "dale_signs",
    "li_step",
    "lif_step",
    "parameters_to_vector",
    "plasticity_step",
    "reset_where",
    "resolve_device",
    "surrogate",
    "vector_to_parameters",
]
