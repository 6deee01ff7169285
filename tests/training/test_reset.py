"""``agent.reset`` / ``model.reset``: the neurons of every built network reset as configured."""

import pytest
import torch

from plasticagents.training import load_config
from plasticagents.training.builders import build_policy
from plasticagents.training.classification import build_classifier
from plasticagents.training.trainers.stdp import build_reservoir


def _resets(module: torch.nn.Module) -> set[str]:
    return {m.reset for m in module.modules() if hasattr(m, "reset") and isinstance(m.reset, str)}


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_every_trainer_family_builds_its_neurons_with_the_configured_reset(reset):
    es = load_config("configs/smoke/es.yaml", [f"agent.reset={reset}"])
    assert _resets(build_policy(es.agent, 4, 2, seed=0)) == {reset}
    cls = load_config("configs/smoke/classify.yaml", [f"model.reset={reset}"])
    assert _resets(build_classifier(cls, 8, 3)) == {reset}
    stdp = load_config("configs/smoke/stdp.yaml", [f"model.reset={reset}"])
    assert _resets(build_reservoir(stdp, 8)) == {reset}
