"""Environments that test whether an agent adapts: perturbable MuJoCo locomotion (Gymnasium v5),
hidden-goal locomotion (target velocity or direction, redrawn mid-episode) and temporal tasks
that need within-episode learning. Importing this package registers the
``plasticagents/...`` Gymnasium ids (``plasticagents list-envs`` prints them).

This package depends on gymnasium and mujoco only, never on the SNN core. Importing it needs
gymnasium alone: the registered ids name their entry points as strings, and the other
top-level names are imported lazily (PEP 562) on first use, so the classification data sets
(:mod:`plasticagents.envs.datasets`) load on a machine without MuJoCo.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from plasticagents.envs.registration import NAMESPACE, goal_ids, perturbed_ids, register_all

_EXPORTS = {
    "plasticagents.envs.factory": [
        "PERTURBATIONS",
        "expand_entry",
        "load_suite",
        "make_env",
        "wrap",
    ],
    "plasticagents.envs.goals": [
        "GOAL_TASKS",
        "HiddenGoal",
        "PlanarDirection",
        "RunningDirection",
        "TargetVelocity",
        "make_goal_env",
    ],
    "plasticagents.envs.inputs": ["INPUTS", "PreviousActionReward"],
    "plasticagents.envs.perturbations": [
        "CrippleLeg",
        "DelayAction",
        "DelayObservation",
        "DropoutObservation",
        "ExternalPush",
        "GaussianNoiseAction",
        "GaussianNoiseObservation",
        "OffsetObservation",
        "ScaleBodyMass",
        "ScaleFriction",
        "ScaleGravity",
        "ScaleJointDamping",
        "StuckObservation",
        "WeakenActuator",
        "leg_actuators",
    ],
    "plasticagents.envs.temporal": ["BanditReversal", "CueAssociation", "cue_reference_returns"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "GOAL_TASKS",
    "INPUTS",
    "NAMESPACE",
    "PERTURBATIONS",
    "BanditReversal",
    "CrippleLeg",
    "CueAssociation",
    "DelayAction",
    "DelayObservation",
    "DropoutObservation",
    "ExternalPush",
    "GaussianNoiseAction",
    "GaussianNoiseObservation",
    "HiddenGoal",
    "OffsetObservation",
    "PlanarDirection",
    "PreviousActionReward",
    "RunningDirection",
    "ScaleBodyMass",
    "ScaleFriction",
    "ScaleGravity",
    "ScaleJointDamping",
    "StuckObservation",
    "TargetVelocity",
    "WeakenActuator",
    "cue_reference_returns",
    "expand_entry",
    "goal_ids",
    "leg_actuators",
    "load_suite",
    "make_env",
    "make_goal_env",
    "perturbed_ids",
    "register_all",
    "wrap",
]

if TYPE_CHECKING:
    from plasticagents.envs.factory import PERTURBATIONS, expand_entry, load_suite, make_env, wrap
    from plasticagents.envs.goals import (
        GOAL_TASKS,
        HiddenGoal,
        PlanarDirection,
        RunningDirection,
        TargetVelocity,
        make_goal_env,
    )
    from plasticagents.envs.perturbations import (
        CrippleLeg,
        DelayAction,
        DelayObservation,
        DropoutObservation,
        ExternalPush,
        GaussianNoiseAction,
        GaussianNoiseObservation,
        OffsetObservation,
        ScaleBodyMass,
        ScaleFriction,
        ScaleGravity,
        ScaleJointDamping,
        StuckObservation,
        WeakenActuator,
        leg_actuators,
    )
    from plasticagents.envs.temporal import BanditReversal, CueAssociation, cue_reference_returns

register_all()


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'plasticagents.envs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
