import subprocess
import sys
import time

from plasticagents.training.cli import main


def test_help_is_fast_and_lists_only_working_commands():
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "plasticagents.training.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    elapsed = time.perf_counter() - t0
    assert "info" in out
    assert elapsed < 5.0  # lazy imports: no torch at --help (torch alone takes seconds)
    probe = "import plasticagents.training.cli, sys; print('torch' in sys.modules)"
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout
    assert imported.strip() == "False"


def test_info_prints_versions(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "plasticagents 0.1.0" in out and "torch" in out


def test_list_envs_prints_registered_ids(capsys):
    assert main(["list-envs", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "plasticagents/AntCrippledFrontLeftLegOnset300-v0" in out and "'onset': 300" in out
    assert "plasticagents/CueAssociation-v0" in out


def test_envs_never_import_the_core():
    probe = "import plasticagents.envs, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
