"""The README's many-machines recipe, on one machine: attach ``plasticagents train`` to a running
Ray cluster.

A one-node cluster on loopback stands in for the head machine: ``ray start --head`` with token
authentication (Ray 2.60's ``ray start --head`` turns it on as soon as the machine has a token;
the test's token lives in its own file, never in ``~/.ray/auth_token``). The trainer then runs
as a user runs it, a separate ``plasticagents train`` process attached through ``RAY_ADDRESS``,
``RAY_AUTH_MODE=token`` and a copy of the head's token, and its metrics must equal those of the
same config trained without Ray, generation for generation.

Both Ray and the trainer get ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``: on Linux, Ray swaps
127.0.0.1 for the machine's routable address (for the node's own address and for the address a
client is given); this switch, Ray's single-machine mode, keeps every address and every
listening socket on loopback. It belongs to the test, not to the recipe.

The head's processes run in a session of their own and are killed by process group (and by
their temporary directory) afterwards, whatever happened: ``ray stop`` would stop every Ray node
on the machine, other people's included.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "configs" / "smoke" / "es.yaml"
# Ray variables the caller's shell may carry; each process here gets exactly the ones it needs.
_RAY_VARS = ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")

pytestmark = pytest.mark.slow  # ~100-120 s on a busy 2-core machine (head start-up, 2 actors)


def _console(name: str) -> str:
    """The console script ``name`` installed with this interpreter (what a user types)."""
    path = Path(sys.executable).with_name(name)
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"the `{name}` command is not installed")
    return found


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _RAY_VARS}
    env.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0", **extra)
    return env


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _processes(pgid: int, marker: str) -> list[int]:
    """Live processes in process group ``pgid`` or with ``marker`` on their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
        if fields[0] != "Z" and (int(fields[2]) == pgid or marker in cmdline):
            found.append(int(entry.name))
    return found


def _kill(pgid: int, marker: str) -> None:
    """Stop this test's Ray processes: SIGTERM, then SIGKILL what is left after 3 s."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        for pid in _processes(pgid, marker):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while _processes(pgid, marker) and time.monotonic() < deadline:
            time.sleep(0.2)
    left = _processes(pgid, marker)
    assert not left, f"Ray processes left running: {left}"


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[int, int, str]:
    """Run ``cmd`` in a session of its own; returns (pid, exit status, output)."""
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        out += f"\n[timed out after {timeout} s]"
    return proc.pid, proc.returncode, out


@pytest.fixture
def ray_head():
    """A one-node Ray cluster on 127.0.0.1 with token authentication, stopped afterwards."""
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is not installed (pip install -e '.[train]')")
    ray = _console("ray")
    # Short path under /tmp: Ray's socket paths live below it and must fit in 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="pa-ray-", dir="/tmp"))
    token = root / "head" / "auth_token"
    token.parent.mkdir()
    token.write_text(secrets.token_hex(32))
    port, client_port, dashboard_port, agent_port = _free_ports(4)
    cmd = [
        ray,
        "start",
        "--head",
        "--node-ip-address=127.0.0.1",
        f"--port={port}",
        f"--ray-client-server-port={client_port}",
        "--include-dashboard=false",
        f"--dashboard-port={dashboard_port}",
        f"--dashboard-agent-listen-port={agent_port}",
        "--num-cpus=2",
        "--disable-usage-stats",
        f"--temp-dir={root / 'ray'}",
    ]
    head = subprocess.Popen(
        cmd,
        env=_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the head's processes form one group, killed below
    )
    try:
        out, _ = head.communicate(timeout=180)
        assert head.returncode == 0, f"ray start --head failed:\n{out[-3000:]}"
        assert "Local node IP: 127.0.0.1" in out, out[-3000:]
        yield SimpleNamespace(address=f"127.0.0.1:{port}", token=token, root=root)
    finally:
        try:
            _kill(head.pid, str(root))
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _metrics(runs_dir: Path) -> list[dict[str, str]]:
    (path,) = runs_dir.glob("*/metrics.csv")
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(f)]


def test_trainer_attached_to_a_cluster_matches_a_local_run(ray_head, tmp_path):
    train = [_console("plasticagents"), "train", str(SMOKE)]
    # The machine that runs the trainer has its own copy of the head's token.
    token = tmp_path / "client" / "auth_token"
    token.parent.mkdir()
    shutil.copy(ray_head.token, token)
    cluster_env = _env(
        RAY_ADDRESS=ray_head.address, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token)
    )
    pid, rc, out = _run(
        [*train, "--set", "trainer.num_actors=2", "--runs-dir", str(tmp_path / "cluster")],
        cluster_env,
        timeout=480,
    )
    assert rc == 0, out[-3000:]
    # It attached to this cluster rather than starting one of its own: its driver log is here.
    logs = ray_head.root / "ray" / "session_latest" / "logs"
    assert list(logs.glob(f"python-core-driver-*_{pid}.log")), out[-3000:]

    _, rc, out = _run([*train, "--runs-dir", str(tmp_path / "local")], _env(), timeout=300)
    assert rc == 0, out[-3000:]

    cluster, local = _metrics(tmp_path / "cluster"), _metrics(tmp_path / "local")
    assert len(cluster) == len(local) == 4
    assert cluster == local
