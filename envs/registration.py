"""Gymnasium ids for the temporal tasks, perturbed locomotion and hidden-goal locomotion.

Ids are versioned (``-v0``) and never edited in place. Each perturbed id's spec kwargs hold the
full perturbation list, and each hidden-goal id's its task, schedule and view (see
:mod:`plasticagents.envs.goals`), so ``env.spec`` describes exactly what an agent was tested on.
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["NAMESPACE", "goal_ids", "perturbed_ids", "register_all"]

NAMESPACE = "plasticagents"
LEGS = {
    "Ant": ["front_left_leg", "front_right_leg", "back_leg", "right_back_leg"],
    "HalfCheetah": ["bthigh", "fthigh"],
    "Walker2d": ["thigh", "thigh_left"],
    "Hopper": ["thigh"],
}
_STEPS = {"Ant": 1000, "HalfCheetah": 1000, "Walker2d": 1000, "Hopper": 1000}
_VARIANTS = {
    "HeavyTorso": [{"type": "scale_body_mass", "names": ["torso"], "scale": 1.5}],
    "LowGravity": [{"type": "scale_gravity", "scale": 0.5}],
    "Slippery": [{"type": "scale_friction", "scale": 0.3}],
    "NoisySensors": [{"type": "gaussian_noise_observation", "std": 0.1}],
    "DelayedActions": [{"type": "delay_action", "steps": 2}],
}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def perturbed_ids() -> dict[str, tuple[str, list[dict]]]:
    """Every perturbed id with its base id and perturbation list."""
    ids: dict[str, tuple[str, list[dict]]] = {}
    for robot, legs in LEGS.items():
        base = f"{robot}-v5"
        for leg in legs:
            cripple = {"type": "cripple_leg", "leg": leg, "strength": 1.0}
            ids[f"{NAMESPACE}/{robot}Crippled{_camel(leg)}-v0"] = (base, [cripple])
            ids[f"{NAMESPACE}/{robot}Crippled{_camel(leg)}Onset300-v0"] = (
                base,
                [{**cripple, "onset": 300}],
            )
        ids[f"{NAMESPACE}/{robot}CrippledRandomLeg-v0"] = (
            base,
            [{"type": "cripple_leg", "leg": legs, "strength": 1.0}],
        )
        for variant, perturbations in _VARIANTS.items():
            ids[f"{NAMESPACE}/{robot}{variant}-v0"] = (base, perturbations)
    return ids


# Hidden-goal tasks: (name, base id, task); each id also comes with the goal redrawn once
# mid-episode ("Switch", at a step drawn from 300..700) and a privileged twin of both.
_GOAL_TASKS = [
    ("HalfCheetahVel", "HalfCheetah-v5", "velocity"),
    ("HalfCheetahDir", "HalfCheetah-v5", "direction"),
    ("AntDir", "Ant-v5", "angle"),
]
_GOAL_SWITCH_RANGE = [300, 700]


def goal_ids() -> dict[str, dict]:
    """Every hidden-goal id with its entry-point kwargs (``task``, ``base_id``, options)."""
    ids: dict[str, dict] = {}
    for name, base, task in _GOAL_TASKS:
        for switch, schedule in [("", {}), ("Switch", {"switch_range": list(_GOAL_SWITCH_RANGE)})]:
            for view, privileged in [("", {}), ("Privileged", {"privileged": True})]:
                kwargs = {"task": task, "base_id": base, **schedule, **privileged}
                ids[f"{NAMESPACE}/{name}{switch}{view}-v0"] = kwargs
    return ids


def register_all() -> None:
    """Register every id once (idempotent)."""
    if f"{NAMESPACE}/CueAssociation-v0" in gym.registry:
        return
    gym.register(f"{NAMESPACE}/CueAssociation-v0", "plasticagents.envs.temporal:CueAssociation")
    gym.register(
        f"{NAMESPACE}/NoisyCueAssociation-v0",
        "plasticagents.envs.temporal:CueAssociation",
        kwargs={"noise": 0.5},
    )
    gym.register(
        f"{NAMESPACE}/CueFeedbackAssociation-v0",
        "plasticagents.envs.temporal:CueAssociation",
        kwargs={"feedback": True},
    )
    gym.register(
        f"{NAMESPACE}/CueDelayAssociation-v0",
        "plasticagents.envs.temporal:CueAssociation",
        kwargs={"n_cues": 2, "feedback": True, "delay": 4},
    )
    gym.register(f"{NAMESPACE}/BanditReversal-v0", "plasticagents.envs.temporal:BanditReversal")
    for env_id, (base, perturbations) in perturbed_ids().items():
        robot = base.split("-")[0]
        gym.register(
            env_id,
            "plasticagents.envs.factory:make_registered",
            kwargs={"base_id": base, "perturbations": perturbations},
            max_episode_steps=_STEPS[robot],
        )
    for env_id, kwargs in goal_ids().items():
        gym.register(
            env_id,
            "plasticagents.envs.goals:make_goal_env",
            kwargs=kwargs,
            max_episode_steps=_STEPS[kwargs["base_id"].split("-")[0]],
        )
