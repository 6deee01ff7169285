import re

import numpy as np
import pytest

from plasticagents.training.analysis.evaluate import load_policy
from plasticagents.training.analysis.viewer import view
from plasticagents.training.cli import main
from plasticagents.training.rollout import EnvPool, rollout

pytest.importorskip("imageio")


RAW = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]


def _frames(path):
    if str(path).endswith(".gif"):
        import imageio.v3 as iio

        return iio.imread(path, index=None)[..., :3]
    import subprocess

    import imageio_ffmpeg

    # decode with the ffmpeg binary directly: imageio-ffmpeg's reader leaves its pipes open
    # when ffmpeg has already exited (a ResourceWarning, an error under this suite's filters)
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path)], capture_output=True, text=True
    )
    w, h = map(int, re.search(r"Video: .*?, (\d+)x(\d+)", probe.stderr).groups())
    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), *RAW],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_viewer_writes_a_video_and_a_matching_trajectory(trained, tmp_path, suffix):
    if suffix == ".mp4":
        pytest.importorskip("imageio_ffmpeg")
    perturb = [{"type": "cripple_leg", "leg": "bthigh", "onset": 20}]
    video, npz, _ = view(
        trained,
        tmp_path / f"clip{suffix}",
        perturbations=perturb,
        seed=3,
        max_steps=30,
        width=160,
        height=128,
        progress=False,
    )
    frames = _frames(video)
    assert frames.shape[0] == 30  # one frame per env step
    assert frames.shape[1] == 128 and frames.shape[2] == 2 * 160  # robot | panels
    robot = frames[:, :, :160].astype(float)
    assert robot.std() > 10  # the scene, not a blank frame
    assert np.abs(np.diff(robot, axis=0)).mean() > 0.1  # and it moves
    data = np.load(npz)
    assert data["spikes"].shape == (30, 16) and data["rewards"].shape == (30,)
    assert data["modulation"].shape == (30, 1)  # one neuromodulator
    assert list(data["onset_steps"]) == [20]
    # the spike counts are the rollout's: re-run the same seeded episode without rendering
    loaded = load_policy(trained)
    cfg = loaded.config.env
    from dataclasses import replace

    from plasticagents.training.builders import env_maker

    cfg = replace(cfg, perturbations=perturb, max_episode_steps=30)
    pool = EnvPool([env_maker(cfg)])
    try:
        direct = rollout(loaded.agent(cfg), pool, [3])
    finally:
        pool.close()
    assert data["spikes"].sum() == direct.spikes[0] > 0
    np.testing.assert_allclose(data["rewards"].sum(), direct.returns[0], rtol=1e-6)


def test_view_command_and_its_errors(trained, tmp_path, capsys, monkeypatch):
    out = tmp_path / "v.gif"
    argv = ["view", str(trained), "--out", str(out), "--max-steps", "12", "--every", "3"]
    assert main([*argv, "--width", "96", "--height", "64"]) == 0
    assert "(4 frames)" in capsys.readouterr().out
    assert _frames(out).shape[0] == 4 and out.with_suffix(".npz").exists()
    assert main(["view", str(trained), "--out", str(tmp_path / "v.avi")]) == 2
    assert "unknown video format '.avi'; valid choices: ['.mp4', '.gif']" in capsys.readouterr().err
    assert main(["view", str(trained), "--out", str(out), "--env", "Ant-v5"]) == 2
    assert "trained on HalfCheetah-v5" in capsys.readouterr().err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(trained), "--live"]) == 2
    assert "--live needs a display" in capsys.readouterr().err
    empty = tmp_path / "empty-run"
    empty.mkdir()
    assert main(["view", str(empty), "--out", str(out)]) == 2
    assert "empty-run" in capsys.readouterr().err


def test_live_steps_through_the_engine_until_the_window_closes(trained, monkeypatch):
    import mujoco.viewer

    from plasticagents.training.analysis import viewer

    class Handle:  # MuJoCo's passive viewer, without a window: closed after `frames` syncs
        def __init__(self, model, data, frames):
            self.data, self.frames, self.times = data, frames, []

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def sync(self):
            self.times.append(self.data.time)

        def is_running(self):
            return len(self.times) < self.frames

    handles, sleeps = [], []
    for frames in (100, 25):
        monkeypatch.setattr(
            mujoco.viewer,
            "launch_passive",
            lambda model, data, frames=frames: (
                handles.append(Handle(model, data, frames)) or handles[-1]
            ),
        )
        monkeypatch.setattr(viewer.time, "sleep", sleeps.append)
        monkeypatch.setenv("DISPLAY", ":0")
        viewer.live(trained, seed=2, episodes=3)
    full, closed = (np.array(h.times) for h in handles)
    # one frame per env step: an 80-step episode, then the next one from its reset, until the
    # window closed (not 3 x 80 frames); the simulated time advances a step per frame
    assert len(full) == 100 and len(closed) == 25
    dt = np.diff(full[:80])
    assert (dt > 0).all() and np.allclose(dt, dt[0])
    assert full[80] < full[79]
    np.testing.assert_array_equal(closed, full[:25])
    assert all(0 <= s <= dt[0] for s in sleeps)  # real time: the rest of each step's dt


def test_the_floor_is_drawn_far_beyond_gymnasiums_40_m_and_physics_is_unchanged():
    import gymnasium as gym

    from plasticagents.training.analysis.viewer import extend_floor

    def rewards(extend):
        env = gym.make("HalfCheetah-v5", max_episode_steps=30)
        env.reset(seed=3)
        if extend:
            extend_floor(env.unwrapped)
        actions = np.random.default_rng(0).uniform(-1, 1, size=(30, 6))
        out = [env.step(a)[1] for a in actions]
        return np.array(out), env.unwrapped.model

    plain, _ = rewards(False)
    extended, model = rewards(True)
    np.testing.assert_array_equal(plain, extended)
    assert model.geom_size[0][:2].tolist() == [2000.0, 2000.0]
    assert model.mat_texrepeat[model.geom_matid[0]].tolist() == [3000.0, 3000.0]  # same checkers


def test_a_goal_switch_is_recorded_marked_and_shown(trained):
    from plasticagents.training.analysis.evaluate import load_policy
    from plasticagents.training.analysis.viewer import compose_frames, record_episode

    loaded = load_policy(trained)
    rec = record_episode(
        loaded,
        env_id="plasticagents/HalfCheetahVel-v0",
        max_steps=12,
        render=False,
        progress=False,
    )
    assert rec.switches == [] and set(rec.goals[0]) == {"velocity"}
    rec = record_episode(
        loaded,
        env_id="plasticagents/HalfCheetahVelSwitch-v0",
        seed=0,  # this seed's episode switches its goal at step 305
        max_steps=330,
        render=False,
        progress=False,
    )
    (switch,) = rec.switches
    assert switch == 305 and rec.onsets["task"] == switch
    assert rec.goals[switch] != rec.goals[switch - 1] and rec.goals[0] == rec.goals[switch - 1]
    rec.frames = [np.zeros((64, 64, 3), np.uint8)] * 2
    rec.frame_steps = [switch - 60, switch + 1]
    before, after = compose_frames(rec)
    assert not np.array_equal(before[:40, :64], after[:40, :64])  # the goal line changed colour


def test_plasticagents_ids_render_through_the_tracking_camera():
    from plasticagents.training.analysis.viewer import _tracking_camera

    assert _tracking_camera("plasticagents/HalfCheetahVelSwitch-v0") == {"camera_name": "track"}
    assert _tracking_camera("plasticagents/CueAssociation-v0") == {}


def test_view_replays_an_evaluated_episode_from_its_csv_seed(trained, tmp_path):
    """`view --seed` takes a reset seed as is: the `seed` column of robustness.csv (derived from
    the evaluation's base seed) replays that episode, onset included, to the same return."""
    import csv

    from plasticagents.training.analysis.robustness import run_robustness

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "env: HalfCheetah-v5\nepisodes: 2\nperturbations:\n"
        "  - {name: bthigh, type: cripple_leg, leg: bthigh, onsets: [30]}\n"
    )
    run_robustness([trained], suite, tmp_path / "rob", seed=7, threads=1, progress=False)
    with open(tmp_path / "rob" / "robustness.csv") as fh:
        row = [r for r in csv.DictReader(fh) if r["condition"] == "bthigh@30"][1]
    assert int(row["seed"]) != 7  # derived, not the base seed
    spec = {"type": "cripple_leg", "leg": "bthigh", "onset": 30}
    _, _, rec = view(
        trained,
        tmp_path / "replay.gif",
        perturbations=[spec],
        seed=int(row["seed"]),
        width=64,
        height=48,
        every=80,
        progress=False,
    )
    assert rec.onsets and rec.steps == int(row["length"])
    np.testing.assert_allclose(rec.rewards.sum(), float(row["return"]), rtol=1e-5)
