"""The checkpoint format: a typed record of tensors and JSON, loaded without unpickling.

A checkpoint is one ``.safetensors`` file (the format Hugging Face designed so that loading a
stranger's weights cannot execute code): the tensors, plus one JSON document in the file's
metadata that holds everything else and points at the tensors by index. Loading parses JSON
and copies bytes into tensors; no Python object is ever reconstructed from the file, so a run
directory someone shares can be evaluated, viewed and resumed safely.

Every trainer writes the same :class:`Checkpoint`:

``trainer``       the ``trainer.kind`` that wrote it (the registry maps it to a policy family)
``step``          index of the last finished generation / iteration / epoch
``config``        the resolved experiment config as plain data
``policy``        what rebuilds the trained model: ``params`` (name -> tensor), and the
                  family's extras (``obs_norm``, ``obs_dim``, ``act_dim``, ``n_in``, ...)
``score``         the selection score of this checkpoint (``None``: not evaluated)
``progress``      ``env_steps``, ``wall_time``, ``best`` (best score so far)
``trainer_state`` resume-only state (optimizer moments, search distribution, RNG states);
                  ``None`` in a ``best`` checkpoint

Values in ``policy``, ``progress`` and ``trainer_state`` may nest dicts, lists and tuples of
``None``, bools, ints, floats (``nan`` / ``inf`` too), strings, tensors and NumPy arrays;
anything else is refused when saving (a :class:`TypeError` naming its path), so a trainer
cannot put an object into a checkpoint that would need unpickling to come back.

Example:
    >>> import tempfile, torch
    >>> ckpt = Checkpoint("es", 3, {"name": "x"}, {"params": {"w": torch.ones(2)}}, score=1.5)
    >>> path = Path(tempfile.mkdtemp()) / "best.safetensors"
    >>> save_checkpoint(ckpt, path)
    >>> back = load_checkpoint(path)
    >>> back.trainer, back.step, back.policy["params"]["w"].tolist(), back.score
    ('es', 3, [1.0, 1.0], 1.5)
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "FORMAT",
    "SUFFIX",
    "Checkpoint",
    "CheckpointError",
    "decode",
    "encode",
    "load_checkpoint",
    "restore_attributes",
    "save_checkpoint",
    "snapshot_attributes",
]

FORMAT = "plasticagents.checkpoint/1"
SUFFIX = ".safetensors"
_META_KEY = "plasticagents"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, foreign, old-format or corrupt."""


@dataclass
class Checkpoint:
    """One saved state of a run (see the module docstring for the fields)."""

    trainer: str
    step: int
    config: dict[str, Any]
    policy: dict[str, Any]
    score: float | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    trainer_state: dict[str, Any] | None = None

    @property
    def env_steps(self) -> int:
        return int(self.progress.get("env_steps", 0))

    @property
    def wall_time(self) -> float:
        return float(self.progress.get("wall_time", 0.0))

    @property
    def best(self) -> float | None:
        return self.progress.get("best")


# ------------------------------------------------------------------------------ codec
def encode(value: Any, tensors: list[torch.Tensor], where: str = "checkpoint") -> Any:
    """``value`` as JSON-ready data, its tensors appended to ``tensors`` (referenced by index).

    Markers (one-key dicts) keep what JSON cannot: ``{"__tensor__": i}``, ``{"__ndarray__": i}``,
    ``{"__tuple__": [...]}``, ``{"__items__": [[key, value], ...]}`` (a dict with non-string
    keys, e.g. an optimizer's parameter ids), ``{"__float__": "nan" | "inf" | "-inf"}``.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        x = float(value)
        return x if np.isfinite(x) else {"__float__": repr(x)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, torch.Tensor):
        tensors.append(value.detach().cpu().contiguous().clone())
        return {"__tensor__": len(tensors) - 1}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError(f"{where}: object arrays cannot be saved")
        tensors.append(torch.from_numpy(np.ascontiguousarray(value).copy()))
        return {"__ndarray__": len(tensors) - 1}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (
            len(value) == 1 and next(iter(value)).startswith("__")
        ):
            return {k: encode(v, tensors, f"{where}.{k}") for k, v in value.items()}
        return {
            "__items__": [
                [encode(k, tensors, f"{where} key"), encode(v, tensors, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }
    raise TypeError(
        f"{where}: a {type(value).__module__}.{type(value).__qualname__} cannot go into a "
        "checkpoint (tensors, arrays, numbers, strings, lists, tuples and dicts only)"
    )


def decode(data: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The inverse of :func:`encode`."""
    if isinstance(data, list):
        return [decode(v, tensors) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) == 1:
        ((key, inner),) = data.items()
        if key == "__tensor__":
            return tensors[str(inner)]
        if key == "__ndarray__":
            return tensors[str(inner)].numpy()
        if key == "__tuple__":
            return tuple(decode(v, tensors) for v in inner)
        if key == "__items__":
            return {_hashable(decode(k, tensors)): decode(v, tensors) for k, v in inner}
        if key == "__float__":
            return float(inner)
    return {k: decode(v, tensors) for k, v in data.items()}


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


# ------------------------------------------------------------------------------ files
def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> None:
    """Write ``ckpt`` to ``path`` atomically (temporary file, fsync, rename)."""
    from safetensors.torch import save

    path = Path(path)
    tensors: list[torch.Tensor] = []
    record = encode(dataclasses.asdict(ckpt), tensors)
    blob = save(
        {str(i): t for i, t in enumerate(tensors)},
        metadata={"format": FORMAT, _META_KEY: json.dumps(record)},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; nothing in the file is executed.

    Raises :class:`CheckpointError` (one line naming the file) for a missing, foreign,
    truncated or old-format file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    if not path.is_file():
        old = path.with_suffix(".pt")
        if old.is_file():
            raise CheckpointError(_old_format_message(old))
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    raw = path.read_bytes()
    try:
        tensors = load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        meta = json.loads(raw[8 : 8 + header_len]).get("__metadata__") or {}
    except (SafetensorError, ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a plasticagents checkpoint ({err})"
        ) from None
    if meta.get("format") != FORMAT or _META_KEY not in meta:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is a safetensors file but not a plasticagents checkpoint "
            f"(format {meta.get('format')!r}, expected {FORMAT!r})"
        )
    try:
        record = decode(json.loads(meta[_META_KEY]), tensors)
        return Checkpoint(**record)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} is corrupt: {err}") from None


def _old_format_message(old: Path) -> str:
    run = old.parent.parent
    return (
        f"{str(old)!r} is a checkpoint in the old pickle format, which can execute code when "
        f"loaded, so it is not read; convert the run once with `plasticagents convert "
        f"{run}` (it reads the old files with torch's restricted weights-only loader)"
    )


# ---------------------------------------------------------------- object attributes
_PLAIN = (type(None), bool, int, float, str, torch.Tensor, np.ndarray, np.generic)


def _is_plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str | int) and _is_plain(v) for k, v in value.items())
    return False


def snapshot_attributes(obj: Any, skip: frozenset[str] | set[str] = frozenset()) -> dict:
    """The data attributes of ``obj`` (recursively into attribute objects) as plain data.

    For library objects whose constructor rebuilds the structure from the config (an evotorch
    searcher, its distribution and optimizer) while their numbers evolve: the snapshot keeps
    the numbers; :func:`restore_attributes` writes them back onto a freshly constructed object.
    Classes, functions, dtypes and devices are left out (the constructor recreates them).
    """
    out: dict[str, Any] = {}
    for key, value in vars(obj).items():
        if key in skip:
            continue
        if _is_plain(value):
            out[key] = value
        elif (
            hasattr(value, "__dict__")
            and not isinstance(value, type)
            and not callable(value)
            and type(value).__module__.split(".")[0] not in ("torch", "builtins")
        ):
            out[key] = {"__attributes__": snapshot_attributes(value)}
    return out


def restore_attributes(obj: Any, snapshot: dict[str, Any]) -> None:
    """Write a :func:`snapshot_attributes` back onto an object of the same construction."""
    for key, value in snapshot.items():
        if isinstance(value, dict) and set(value) == {"__attributes__"}:
            target = getattr(obj, key, None)
            if target is None:
                raise CheckpointError(
                    f"cannot restore {type(obj).__name__}.{key}: the object built from the "
                    "config has no such part (was the config changed?)"
                )
            restore_attributes(target, value["__attributes__"])
        else:
            setattr(obj, key, value)
