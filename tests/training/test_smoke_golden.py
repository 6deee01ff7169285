"""Same seed, same numbers: every smoke config trains to the numbers pinned before the
training engine was restructured (``smoke_golden.py`` wrote them from the old code)."""

from __future__ import annotations

import json
import math

import pytest
from smoke_golden import GOLDEN, SMOKE, host, smoke_numbers

PINNED = json.loads(GOLDEN.read_text())


def _close(a: str | float, b: str | float) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    # float32 sums differ in their last bits between CPUs (BLAS kernels chosen per CPU): a
    # loss that is a small mean of cancelling terms (PPO's policy loss, about 6e-4) moved by
    # 4.5e-8 on an AMD EPYC host against the host that pinned it; a behaviour change moves
    # these numbers by far more
    return math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-7)


def _mismatch(got: dict, want: dict) -> str | None:
    """The first pinned number ``got`` misses, or ``None`` when it has them all."""
    if len(got["metrics"]) != len(want["metrics"]):
        return f"{len(got['metrics'])} metrics rows, pinned {len(want['metrics'])}"
    for i, (row_got, row_want) in enumerate(zip(got["metrics"], want["metrics"], strict=True)):
        for key, value in row_want.items():
            if not _close(row_got[key], value):
                return f"row {i} {key}: {row_got[key]}, pinned {value}"
    for key, value in want.get("result", {}).items():
        if not _close(got["result"][key], value):
            return f"result {key}: {got['result'][key]}, pinned {value}"
    return None


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_smoke_run_reproduces_its_pinned_numbers(name, tmp_path):
    """The run's numbers are the pinned ones, or those of a pinned host variant (another
    CPU's float rounding, amplified by PPO: ``smoke_golden.py``)."""
    got = smoke_numbers(SMOKE / f"{name}.yaml", tmp_path)
    pinned = PINNED[name]
    misses = [_mismatch(got, pinned)]
    for variant in pinned.get("variants", []):
        misses.append(_mismatch(got, variant))
    assert None in misses, f"{name} on {host()} matches no pinned variant: {misses}"


def test_a_changed_number_matches_no_variant():
    """The comparison the test above makes: a run off by more than rounding is refused."""
    name = sorted(PINNED)[0]
    want = PINNED[name]
    got = json.loads(json.dumps({k: want[k] for k in ("metrics", "result") if k in want}))
    assert _mismatch(got, want) is None
    row = got["metrics"][-1]
    key = next(k for k, v in row.items() if v not in ("", None) and float(v) != 0.0)
    row[key] = str(float(row[key]) * 1.01)
    assert (
        _mismatch(got, want)
        == f"row {len(got['metrics']) - 1} {key}: {row[key]}, pinned {want['metrics'][-1][key]}"
    )
