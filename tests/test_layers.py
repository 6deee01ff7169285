"""The dependency direction of DESIGN.md, checked in fresh interpreters.

The core (``plasticagents/*.py``) imports torch and numpy only, never the environments, the
trainers or their heavy dependencies; the classification data sets import without MuJoCo.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Not core: the command line moves into plasticagents.training (it imports trainers lazily).
NOT_CORE = {"__init__", "cli"}
FORBIDDEN_IN_CORE = (
    "plasticagents.envs",
    "plasticagents.training",
    "gymnasium",
    "mujoco",
    "stable_baselines3",
    "evotorch",
)


def _run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line, returned parsed."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_core_imports_no_environment_trainer_or_rl_library():
    got = _run(
        f"""
        import importlib, json, sys
        from pathlib import Path
        import plasticagents
        names = sorted(
            p.stem for p in Path(plasticagents.__file__).parent.glob("*.py")
            if p.stem not in {sorted(NOT_CORE)!r}
        )
        for name in names:
            importlib.import_module(f"plasticagents.{{name}}")
        loaded = [m for m in {FORBIDDEN_IN_CORE!r} if m in sys.modules]
        print(json.dumps({{"modules": names, "loaded": loaded}}))
        """
    )
    assert len(got["modules"]) >= 10 and "plasticagents" not in got["modules"]
    assert {"neurons", "plasticity", "networks", "reservoir"} <= set(got["modules"])
    assert got["loaded"] == [], f"the core imported {got['loaded']}"


def test_datasets_load_and_env_ids_register_without_mujoco():
    got = _run(
        """
        import json, sys
        sys.modules["mujoco"] = None  # any `import mujoco` now raises ImportError
        from plasticagents.envs.datasets import load_digits, load_shd, load_ucr, synthetic_shd
        import gymnasium as gym
        import plasticagents.envs as envs
        ucr = load_ucr("ItalyPowerDemand", "test")
        digits = load_digits("train")
        env = gym.make("plasticagents/CueAssociation-v0")
        obs, _ = env.reset(seed=0)
        try:
            envs.make_env
            lazy = "imported"
        except ImportError:
            lazy = "ImportError"
        print(json.dumps({
            "ucr": [len(ucr), ucr.n_classes], "digits": [len(digits), digits.n_classes],
            "obs": list(obs.shape),
            "crippled": "plasticagents/AntCrippledBackLeg-v0" in gym.registry,
            "make_env": lazy,
        }))
        """
    )
    assert got["ucr"][0] > 100 and got["ucr"][1] == 2
    assert got["digits"][0] > 100 and got["digits"][1] == 10
    assert got["obs"] and got["crippled"]  # ids registered, MuJoCo ones by entry-point string
    assert got["make_env"] == "ImportError"  # the MuJoCo half loads on first use only


def test_every_name_the_envs_package_exports_resolves():
    import plasticagents.envs as envs

    missing = [name for name in envs.__all__ if not hasattr(envs, name)]
    assert missing == []
    assert set(envs.__all__) <= set(dir(envs))
