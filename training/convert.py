"""One-time conversion of run directories written before the safe checkpoint format.

Old runs kept ``checkpoints/{best,latest}.pt``: ``torch.save`` pickles, which can execute code
when loaded, plus SB3 ``.zip`` files for PPO. ``plasticagents convert RUN`` reads them with
torch's restricted *weights-only* unpickler, which rebuilds only tensors, plain containers and
the short allowlist below (NumPy arrays, SB3's running-statistics class, evotorch's search
distributions and optimizers); a file that needs anything else fails to load instead of
running it. What it read is rewritten as :class:`~plasticagents.training.checkpoint.Checkpoint`
files beside the old ones (which are kept, renamed ``*.pt.old``).

A ``latest`` checkpoint is converted where its trainer state maps onto today's trainer
(ES, BPTT, recurrent PPO, classify, stdp); otherwise the run stays evaluable but not
resumable, and the conversion says so.
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from plasticagents.training.builders import vector_params
from plasticagents.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    save_checkpoint,
    snapshot_attributes,
)
from plasticagents.training.config import from_dict
from plasticagents.training.run import RunDir

__all__ = ["convert_run", "read_old_checkpoint"]


def _allowed_globals() -> list[Any]:
    """The classes the weights-only unpickler may rebuild besides tensors and plain containers:
    NumPy arrays, dtypes and scalars (under both NumPy 1 and 2 module paths), SB3's
    ``RunningMeanStd`` and evotorch's search distributions and optimizers, each only if its
    package is installed: the data-holding classes old checkpoints held, and nothing else."""
    allowed: list[Any] = [np.ndarray, np.dtype, type(np.dtype("float64")), type(np.dtype("int64"))]
    allowed += [type(np.dtype(t)) for t in ("float32", "bool", "uint8", "int32", "uint32")]
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        with contextlib.suppress(ImportError):
            module = __import__(name, fromlist=["_reconstruct", "scalar"])
            allowed += [module._reconstruct, module.scalar]
    with contextlib.suppress(ImportError):
        from stable_baselines3.common.running_mean_std import RunningMeanStd

        allowed.append(RunningMeanStd)
    with contextlib.suppress(ImportError):
        import evotorch.distributions as dists
        import evotorch.optimizers as opts

        allowed += [
            getattr(dists, n)
            for n in (
                "SymmetricSeparableGaussian",
                "SeparableGaussian",
                "ExpGaussian",
                "ExpSeparableGaussian",
            )
            if hasattr(dists, n)
        ]
        allowed += [getattr(opts, n) for n in ("ClipUp", "Adam", "SGD") if hasattr(opts, n)]
    return allowed


def read_old_checkpoint(path: str | Path) -> dict[str, Any]:
    """An old ``.pt`` checkpoint read by the weights-only unpickler (never plain pickle).

    Raises:
        CheckpointError: the loader refused the file; the message quotes the global it would
            have needed (or the first line of the error).
    """
    try:
        with torch.serialization.safe_globals(_allowed_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the restricted unpickler's refusal or a corrupt file
        first = str(err).strip().splitlines()
        reason = next((line for line in first if "Unsupported global" in line), first[0])
        raise CheckpointError(
            f"{str(path)!r} cannot be converted: the restricted loader refused it "
            f"({reason.strip()})"
        ) from None


def _plain(value: Any) -> Any:
    """Objects the allowlist rebuilt (running statistics, distributions) as plain data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, type):
        return None
    if type(value).__name__ == "RunningMeanStd":
        return {"mean": value.mean, "var": value.var, "count": float(value.count)}
    if hasattr(value, "__dict__") and not isinstance(value, torch.Tensor | np.ndarray):
        return {"__attributes__": snapshot_attributes(value)}
    return value


def _network_policy(cfg: Any, vector: torch.Tensor, names: list[str], old: dict) -> dict:
    """An old flat parameter vector as today's ``policy`` payload (the ES format): the vector cut
    to the shapes of the network the config builds (for BPTT, the SNN inside the binary
    policy), plus the old normaliser state and the sizes (from the old file, or by probing
    the env when it lacks them)."""
    from plasticagents.training.builders import build_policy, env_spaces

    obs_dim, act_dim = old.get("obs_dim"), old.get("act_dim")
    if obs_dim is None or act_dim is None:
        obs_dim, act_dim, _, _ = env_spaces(cfg.env)
    if old.get("trainer") == "bptt" or cfg.trainer.kind == "bptt":
        from plasticagents.training.binary_policy import build_bptt_policy

        template = build_bptt_policy(cfg, obs_dim, act_dim).net
    else:
        template = build_policy(cfg.agent, obs_dim, act_dim, cfg.seed)
    return {
        "params": vector_params(torch.as_tensor(vector), template, names),
        "obs_norm": old.get("obs_norm"),
        "obs_dim": obs_dim,
        "act_dim": act_dim,
    }


def _convert_best(old: dict, run: RunDir) -> Checkpoint:
    """An old ``best.pt`` record as a :class:`Checkpoint` of its ``config``'s trainer kind, with
    the old score and step. PPO's weights come from the SB3 zip the old record names (only its
    ``policy.pth`` member, read weights-only); an stdp readout without ``classes`` gets
    ``0 .. C - 1`` from its coefficient rows.

    Raises:
        KeyError: a field this conversion needs is missing (the caller reports the run as
            not converted).
    """
    cfg = from_dict(old["config"])
    kind = cfg.trainer.kind
    step = int(old.get("generation", old.get("epoch", old.get("iteration", 0))) or 0)
    if kind in ("es", "bptt", "recurrent_ppo"):
        policy = _network_policy(cfg, old["vector"], list(old["param_names"]), old)
    elif kind == "ppo":
        policy = {
            "state_dict": _zip_tensors(_inside(run.checkpoints, old["model_file"]), "policy.pth"),
            "obs_rms": _plain(old["obs_rms"]),
            "obs_dim": old["obs_dim"],
            "act_dim": old["act_dim"],
        }
    elif kind == "classify":
        policy = {"model": old["model"], "n_in": old["n_in"], "n_classes": old["n_classes"]}
    else:  # stdp
        policy = {"model": old["model"], "n_in": old["n_in"], "scaler": old["scaler"]}
        readout = dict(old["readout"])
        readout["intercept"] = np.atleast_1d(readout["intercept"])
        # scikit-learn's binary ridge keeps one coefficient row for two classes
        readout.setdefault("classes", np.arange(max(2, np.atleast_2d(readout["coef"]).shape[0])))
        policy["readout"] = readout
    return Checkpoint(kind, step, old["config"], _plain(policy), old.get("score"))


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, refusing a name (read from the old file) that leaves the folder."""
    path = (folder / str(name)).resolve()
    if path.parent != folder.resolve():
        raise CheckpointError(f"the old checkpoint names a model file outside {folder}: {name!r}")
    return path


def _zip_tensors(path: Path, member: str) -> dict[str, torch.Tensor]:
    """The state dict in ``member`` of the zip at ``path`` (an SB3 model file), read with the
    weights-only loader; nothing else in the archive (SB3's pickled ``data``) is touched."""
    with zipfile.ZipFile(path) as archive, archive.open(member) as fh:
        import io

        return torch.load(io.BytesIO(fh.read()), map_location="cpu", weights_only=True)


def _convert_latest(old: dict) -> Checkpoint:
    """An old ``latest.pt`` record as a resumable :class:`Checkpoint`: its ``trainer_state`` in
    the shape today's adapter's ``load_state`` reads (ES: searcher attributes, RNG,
    normaliser, env steps; BPTT / recurrent PPO: model, optimizer, RNG and their statistics;
    classify: model and optimizer; stdp: the reservoir). A non-finite old best score becomes
    ``None``.

    Raises:
        CheckpointError: a trainer kind without a conversion (``ppo``: its run stays
            evaluable from ``best`` but cannot be resumed).
        KeyError: a field this conversion needs is missing.
    """
    cfg = from_dict(old["config"])
    kind = old.get("kind") if old.get("kind") != "classifier" else "classify"
    kind = {"reservoir": "stdp"}.get(kind, kind)
    if kind == "es":
        state = {
            "searcher": _plain(
                {k: v for k, v in old["searcher"].items() if not isinstance(v, type)}
            ),
            "rng": old["rng"],
            "obs_norm": old["obs_norm"],
            "env_steps": old["env_steps"],
        }
        policy = _network_policy(cfg, old["center"], list(old["param_names"]), old)
        best = old["best"]["fitness"]
        step = old["generation"]
    elif kind in ("bptt", "recurrent_ppo"):
        state = {k: _plain(old[k]) for k in ("model", "optimizer", "rng")}
        if kind == "bptt":
            state["env_steps"] = old["env_steps"]
        else:
            state.update(obs_norm=old["obs_norm"], ret_rms=_plain(old["ret_rms"]))
        policy = _network_policy(cfg, old["vector"], list(old["param_names"]), old)
        best, step = old["best"], old["iteration"]
    elif kind == "classify":
        state = {"model": old["model"], "optimizer": old["optimizer"]}
        policy = {"model": old["model"], "n_in": old["n_in"], "n_classes": old["n_classes"]}
        best, step = old["best"], old["epoch"]
    elif kind == "stdp":
        state = {"model": old["model"]}
        policy = {"model": old["model"], "n_in": None}
        best, step = None, old["epoch"]
    else:
        raise CheckpointError(f"a {kind!r} latest checkpoint has no conversion")
    if best is not None and not np.isfinite(best):
        best = None
    progress = {
        "env_steps": old.get("env_steps", 0),
        "wall_time": old.get("wall_time", 0.0),
        "best": best,
    }
    return Checkpoint(kind, int(step), old["config"], policy, None, progress, state)


def convert_run(path: str | Path) -> list[str]:
    """Convert one run directory's old checkpoints; returns one line per checkpoint.

    For ``best`` and ``latest`` in turn: skipped if there is no old ``.pt`` or it is already
    converted; otherwise read with the restricted loader, rewritten as
    ``checkpoints/<which>.safetensors``, and the old file renamed ``<which>.pt.old`` (kept,
    not deleted). A ``latest`` that cannot be mapped onto today's trainer state is left
    alone and reported: the run is then evaluable but not resumable. Running it twice is
    harmless.

    Raises:
        FileNotFoundError: ``path`` is not a run directory.
        CheckpointError: the restricted loader refused an old file (it needs a class outside
            the allowlist, or is corrupt); nothing of that run after it is converted.
    """
    run = RunDir.open(path)
    lines = []
    for which in ("best", "latest"):
        old_path = run.checkpoints / f"{which}.pt"
        if not old_path.is_file():
            continue
        if run.has_checkpoint(which):
            lines.append(f"{run.path}: {which} is already converted")
            continue
        old = read_old_checkpoint(old_path)
        try:
            ckpt = _convert_best(old, run) if which == "best" else _convert_latest(old)
        except (CheckpointError, KeyError) as err:
            lines.append(
                f"{run.path}: {which} not converted ({err}); the run can be evaluated from its "
                "best checkpoint but not resumed"
            )
            continue
        save_checkpoint(ckpt, run.checkpoint_path(which))
        old_path.rename(old_path.with_name(old_path.name + ".old"))
        lines.append(f"{run.path}: {which} -> {run.checkpoint_path(which).name}")
    if not lines:
        lines.append(f"{run.path}: no old checkpoints")
    return lines
