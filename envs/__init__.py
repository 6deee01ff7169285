"""Environments that test whether an agent adapts: perturbable MuJoCo locomotion (Gymnasium v5)
and temporal tasks that need within-episode learning. Importing this package registers the
``plasticagents/...`` Gymnasium ids (``plasticagents list-envs`` prints them).

This package depends on gymnasium and mujoco only, never on the SNN core.
"""

from plasticagents.envs.factory import PERTURBATIONS, expand_entry, load_suite, make_env, wrap
from plasticagents.envs.perturbations import (
    CrippleLeg,
    DelayAction,
    DelayObservation,
    DropoutObservation,
    ExternalPush,
    GaussianNoiseAction,
    GaussianNoiseObservation,
    ScaleBodyMass,
    ScaleFriction,
    ScaleGravity,
    ScaleJointDamping,
    StuckObservation,
    WeakenActuator,
    leg_actuators,
)
from plasticagents.envs.registration import NAMESPACE, perturbed_ids, register_all
from plasticagents.envs.temporal import BanditReversal, CueAssociation, cue_reference_returns

register_all()

__all__ = [
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
    "ScaleBodyMass",
    "ScaleFriction",
    "ScaleGravity",
    "ScaleJointDamping",
    "StuckObservation",
    "WeakenActuator",
    "cue_reference_returns",
    "expand_entry",
    "leg_actuators",
    "load_suite",
    "make_env",
    "perturbed_ids",
    "register_all",
    "wrap",
]
