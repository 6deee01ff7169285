"""The rollout viewer: a trained policy's episode as a video with its network beside the robot.

Each video frame is the MuJoCo render (offscreen: ``MUJOCO_GL=egl`` by default on a machine
without a display, ``osmesa`` also works) next to four panels drawn once for the whole episode,
with a cursor at the frame's step: the hidden layer's spike raster, the neuromodulatory
signal(s) the network computes, the norm of the plastic weight change ``||alpha * hebb||``, and
the reward. A perturbation's onset is a dashed line in the panels and a label on the robot.
The recorded trajectory (observations, actions, rewards, per-neuron spike counts,
modulation, weight change, onsets) is saved beside the video as a compressed ``.npz``.

Example::

    plasticagents view runs/halfcheetah-plastic-snn-... --out cheetah.mp4 \\
        --perturb '{type: cripple_leg, leg: bthigh, onset: 300}'
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from plasticagents.training.analysis.evaluate import LoadedPolicy, load_policy
from plasticagents.training.builders import env_maker
from plasticagents.training.rollout import EnvPool, policy_probe, rollout

__all__ = [
    "VIDEO_FORMATS",
    "Recording",
    "RenderError",
    "compose_frames",
    "record_episode",
    "view",
    "write_video",
]

VIDEO_FORMATS = (".mp4", ".gif")


class RenderError(OSError):
    """Offscreen rendering is unavailable (no GL backend); the message says what to install."""


@dataclass
class Recording:
    """One episode of a policy: frames (if rendered) and per-step arrays, step ``t`` = row ``t``."""

    env_id: str
    seed: int
    perturbations: list[dict[str, Any]]
    dt: float  # seconds of simulated time per env step
    obs: np.ndarray  # [T, obs_dim] raw observations (before the policy's normaliser)
    actions: np.ndarray  # [T, act_dim]
    rewards: np.ndarray  # [T]
    neuron_spikes: np.ndarray  # [T, N] spike count of each hidden neuron in step t (N=0: MLP)
    modulation: np.ndarray  # [T, K] neuromodulatory signals (K=0 without a modulator)
    weight_change: np.ndarray  # [T] ||alpha * hebb|| after step t
    onsets: dict[str, int] = field(default_factory=dict)  # perturbation label -> first step
    goals: list[dict[str, Any]] = field(default_factory=list)  # [T] hidden-goal task's goal
    switches: list[int] = field(default_factory=list)  # steps at which the goal switched
    frames: list[np.ndarray] = field(default_factory=list)
    frame_steps: list[int] = field(default_factory=list)  # the step each frame shows

    @property
    def steps(self) -> int:
        return len(self.rewards)

    def save_npz(self, path: str | Path) -> Path:
        path = Path(path)
        np.savez_compressed(
            path,
            obs=self.obs,
            actions=self.actions,
            rewards=self.rewards,
            spikes=self.neuron_spikes,
            modulation=self.modulation,
            weight_change=self.weight_change,
            onset_labels=np.array(list(self.onsets), dtype=str),
            onset_steps=np.array(list(self.onsets.values()), dtype=np.int64),
            frame_steps=np.array(self.frame_steps, dtype=np.int64),
            goal_switches=np.array(self.switches, dtype=np.int64),
            env_id=np.array(self.env_id),
            seed=np.array(self.seed),
            dt=np.array(self.dt),
        )
        return path


def extend_floor(env: Any, half_size: float = 2000.0) -> None:
    """Draw the floor ``half_size`` metres in every direction (same checker size).

    Gymnasium's HalfCheetah draws a 40 m floor, which a running gait leaves within a few hundred
    steps (the robot then runs through a grey void). A MuJoCo plane collides as an infinite
    plane whatever its size, so only the drawing changes: the plane's drawn half-size and its
    material's texture repeat grow by the same factor. Envs without a MuJoCo model are left
    as they are.
    """
    model = getattr(env, "model", None)
    if model is None:
        return
    import mujoco

    for g in range(model.ngeom):
        size = model.geom_size[g]
        if model.geom_type[g] != mujoco.mjtGeom.mjGEOM_PLANE or not 0 < size[0] < half_size:
            continue
        factor = half_size / size[0]
        size[:2] *= factor
        mat = model.geom_matid[g]
        if mat >= 0 and not model.mat_texuniform[mat]:
            model.mat_texrepeat[mat] *= factor


def _ensure_offscreen_backend() -> None:
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")


def _tracking_camera(env_id: str) -> dict[str, Any]:
    """Render through the model's ``track`` camera (Gymnasium's v5 locomotion models define
    one that follows the robot's centre of mass) for envs built on ``MujocoEnv``; ``{}`` for
    others. Gymnasium otherwise renders from a free camera that the robot runs out of."""
    import inspect

    import gymnasium as gym

    base = gym.spec(env_id).kwargs.get("base_id")
    if base:  # a plasticagents id (perturbed or hidden-goal) built on a Gymnasium env
        return _tracking_camera(base)
    entry = gym.spec(env_id).entry_point
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        try:
            entry = getattr(__import__(module, fromlist=[name]), name)
        except (ImportError, AttributeError):
            return {}
    try:
        accepts = "default_camera_config" in inspect.signature(entry).parameters
    except (TypeError, ValueError):
        accepts = False
    return {"camera_name": "track"} if accepts else {}


def record_episode(
    loaded: LoadedPolicy,
    env_id: str | None = None,
    perturbations: list[dict[str, Any]] | None = None,
    seed: int = 0,
    max_steps: int | None = None,
    render: bool = True,
    width: int = 480,
    height: int = 352,
    every: int = 1,
    progress: bool = True,
    ablation: str | None = None,
) -> Recording:
    """Roll out one seeded episode of ``loaded`` (its plasticity ablated as ``ablation``
    says, if given) and keep what the viewer shows."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every!r}")
    if width < 16 or height < 16:
        raise ValueError(f"frame size must be at least 16x16, got {width}x{height}")
    env_cfg = loaded.env_config(env_id, list(perturbations or []), max_steps)
    agent = loaded.agent(env_cfg, ablation=ablation)
    if render:
        _ensure_offscreen_backend()
        env_cfg.kwargs = {
            **_tracking_camera(env_cfg.id),
            **env_cfg.kwargs,
            "render_mode": "rgb_array",
            "width": int(width),
            "height": int(height),
        }
    pool = EnvPool([env_maker(env_cfg)], threads=1)
    if render:
        extend_floor(pool.envs[0].unwrapped)
    frames: list[np.ndarray] = []
    frame_steps: list[int] = []
    cap = env_cfg.max_episode_steps or pool.envs[0].spec.max_episode_steps
    start = time.perf_counter()

    def on_step(t: int, pool: EnvPool, stepped: np.ndarray) -> None:
        env = pool.envs[0]
        if render and t % every == 0:
            try:
                frames.append(np.asarray(env.render()).copy())
            except Exception as err:  # the GL backend's own exceptions vary by platform
                raise RenderError(
                    f"offscreen rendering failed with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: "
                    f"{err}. Install EGL (Debian: libegl1 libegl-mesa0) or use MUJOCO_GL=osmesa "
                    "(libosmesa6 and `pip install pyopengl`)."
                ) from None
            frame_steps.append(t)
        if progress and (t + 1) % 50 == 0:
            rate = (t + 1) / (time.perf_counter() - start)
            sys.stderr.write(f"\r[view] step {t + 1}/{cap} ({rate:.0f} steps/s)   ")
            sys.stderr.flush()

    try:
        result = rollout(
            agent,
            pool,
            [seed],
            record=(
                "obs",
                "actions",
                "rewards",
                "infos",
                "neuron_spikes",
                "modulation",
                "weight_change",
            ),
            probe=policy_probe(loaded.policy, neurons=True),
            on_step=on_step,
        )
        dt = float(getattr(pool.envs[0].unwrapped, "dt", 0.0))
    finally:
        pool.close()
    if progress:
        sys.stderr.write("\n")
    traj = result.trajectory
    length = int(result.lengths[0])

    def stacked(key: str, empty_shape: tuple[int, ...]) -> np.ndarray:
        if key not in traj or not traj[key]:
            return np.zeros((length, *empty_shape))
        return np.stack(traj[key])[:length, 0]

    # a hidden-goal task reports its goal at every step (info["task"]); other envs nothing
    tasks = [(step[0] or {}).get("task") or {} for step in traj["infos"][:length]]
    goals = [{k: v for k, v in t.items() if k not in ("switched", "last_switch")} for t in tasks]

    return Recording(
        env_id=env_cfg.id,
        seed=seed,
        perturbations=list(perturbations or []),
        dt=dt,
        obs=stacked("obs", (0,)),
        actions=stacked("actions", (0,)),
        rewards=stacked("rewards", ()),
        neuron_spikes=stacked("neuron_spikes", (0,)),
        modulation=stacked("modulation", (0,)),
        weight_change=stacked("weight_change", ()),
        onsets=dict(result.onsets[0]),
        goals=goals,
        switches=[t for t, info in enumerate(tasks) if info.get("switched")],
        frames=frames,
        frame_steps=frame_steps,
    )


def _panels(rec: Recording, width: int, height: int) -> tuple[np.ndarray, list, Any]:
    """The whole-episode panels as an RGB image ``[height, width, 3]`` plus what the cursor
    needs: the axes and the figure (pixel transform)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dpi = 100
    fig, axes = plt.subplots(
        4,
        1,
        figsize=(width / dpi, height / dpi),
        dpi=dpi,
        sharex=True,
        gridspec_kw={"height_ratios": [2.2, 1, 1, 1]},
    )
    steps = np.arange(rec.steps)
    small = {"fontsize": 6}
    ax = axes[0]
    if rec.neuron_spikes.shape[1]:
        ax.imshow(
            rec.neuron_spikes.T > 0,
            aspect="auto",
            interpolation="nearest",
            cmap="Greys",
            extent=(-0.5, rec.steps - 0.5, rec.neuron_spikes.shape[1] - 0.5, -0.5),
        )
        ax.set_ylabel("neuron", **small)
    else:
        ax.text(
            0.5, 0.5, "no spiking layer (MLP)", ha="center", va="center", transform=ax.transAxes
        )
    ax.set_title(f"{rec.env_id}, seed {rec.seed}", **small)
    ax = axes[1]
    if rec.modulation.shape[1]:
        for k in range(rec.modulation.shape[1]):
            ax.plot(steps, rec.modulation[:, k], lw=0.7)
        ax.set_ylabel("neuromod.", **small)
    else:
        ax.text(
            0.5, 0.5, "no neuromodulator", ha="center", va="center", transform=ax.transAxes, **small
        )
    axes[2].plot(steps, rec.weight_change, lw=0.8, color="C2")
    axes[2].set_ylabel("‖αΔw‖", **small)
    axes[3].plot(steps, rec.rewards, lw=0.6, color="C3")
    axes[3].set_ylabel("reward", **small)
    axes[3].set_xlabel("env step", **small)
    for ax in axes:
        ax.tick_params(labelsize=5)
        ax.set_xlim(-0.5, max(rec.steps, 1) - 0.5)
        for t in rec.onsets.values():
            ax.axvline(t, color="C1", ls="--", lw=0.8)
        for t in rec.switches:
            ax.axvline(t, color="C4", ls=":", lw=0.9)
    fig.subplots_adjust(left=0.13, right=0.98, top=0.95, bottom=0.08, hspace=0.12)
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    return image, list(axes), fig


def compose_frames(rec: Recording, panel_width: int | None = None) -> list[np.ndarray]:
    """Robot frame | panels with a cursor at the frame's step, one image per recorded frame."""
    import matplotlib.pyplot as plt
    from PIL import Image, ImageDraw

    if not rec.frames:
        raise ValueError("the recording has no frames (record_episode(render=True) makes them)")
    height, width = rec.frames[0].shape[:2]
    panel_width = panel_width or width
    panels, axes, fig = _panels(rec, panel_width, height)
    h = panels.shape[0]
    top = h - int(fig.transFigure.transform((0, axes[0].get_position().y1))[1])
    bottom = h - int(fig.transFigure.transform((0, axes[-1].get_position().y0))[1])
    to_pixel = axes[-1].transData
    plt.close(fig)
    returns = np.cumsum(rec.rewards)
    out = []
    for frame, t in zip(rec.frames, rec.frame_steps, strict=True):
        robot = Image.fromarray(frame)
        draw = ImageDraw.Draw(robot)
        started = [label for label, t0 in rec.onsets.items() if t >= t0 and label != "task"]
        lines = [(f"step {t}  return {returns[t]:.0f}", (255, 255, 255))]
        if started:
            lines.append(("perturbed: " + ", ".join(started), (255, 120, 60)))
        if rec.goals and rec.goals[t]:
            goal = ", ".join(f"{k} {v:.2f}" for k, v in rec.goals[t].items())
            switched = any(0 <= t - s < 50 for s in rec.switches)  # highlight a fresh switch
            lines.append((f"goal: {goal}", (120, 200, 255) if not switched else (255, 220, 0)))
        for k, (text, color) in enumerate(lines):
            y = 4 + 14 * k
            draw.rectangle(draw.textbbox((6, y), text), fill=(0, 0, 0))
            draw.text((6, y), text, fill=color)
        panel = panels.copy()
        x = int(np.rint(to_pixel.transform((t, 0))[0]))
        x = min(max(x, 0), panel.shape[1] - 1)
        panel[top:bottom, max(0, x - 1) : x + 1] = (220, 30, 30)
        combined = np.concatenate([np.asarray(robot), panel[:height, :, :3]], axis=1)
        out.append(combined)
    return out


def write_video(frames: list[np.ndarray], path: str | Path, fps: float) -> Path:
    """Write frames as ``.mp4`` (H.264 through imageio-ffmpeg) or ``.gif``."""
    import imageio.v2 as imageio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise ValueError(
            f"unknown video format {path.suffix!r}; valid choices: {list(VIDEO_FORMATS)}"
        )
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        imageio.mimsave(path, frames, duration=1000.0 / fps, loop=0)
        return path
    h, w = frames[0].shape[:2]
    h, w = h - h % 2, w - w % 2  # yuv420p needs even sizes
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ValueError(
            f"cannot write {path.name}: `pip install imageio-ffmpeg` for .mp4, or use .gif"
        ) from None
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        fps=fps,
        codec="libx264",
        quality=7,
        pix_fmt_out="yuv420p",
        macro_block_size=1,
    )
    writer.send(None)  # starts ffmpeg
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame[:h, :w, :3]))
    finally:
        writer.close()  # flushes, waits for ffmpeg and closes its pipes
    return path


def view(
    run: str | Path,
    out: str | Path,
    env_id: str | None = None,
    perturbations: list[dict[str, Any]] | None = None,
    seed: int = 0,
    which: str = "best",
    max_steps: int | None = None,
    every: int = 1,
    width: int = 480,
    height: int = 352,
    fps: float | None = None,
    progress: bool = True,
    ablation: str | None = None,
) -> tuple[Path, Path, Recording]:
    """Record, compose and write ``out`` (video) and ``out`` with ``.npz`` (trajectory);
    ``ablation`` renders the plastic policy with its plasticity ablated. ``seed`` is the
    episode's reset seed as is: an evaluated episode replays from the ``seed`` column of its
    ``episodes.csv`` / ``robustness.csv`` (evaluation derives those from its base seed)."""
    out = Path(out)
    if out.suffix.lower() not in VIDEO_FORMATS:
        raise ValueError(
            f"unknown video format {out.suffix!r}; valid choices: {list(VIDEO_FORMATS)}"
        )
    loaded = load_policy(run, which)
    rec = record_episode(
        loaded,
        env_id,
        perturbations,
        seed,
        max_steps,
        True,
        width,
        height,
        every,
        progress,
        ablation,
    )
    frames = compose_frames(rec)
    if fps is None:  # real time where the env says how long a step is
        fps = min(60.0, 1.0 / (rec.dt * every)) if rec.dt > 0 else 30.0
    video = write_video(frames, out, fps)
    npz = rec.save_npz(out.with_suffix(".npz"))
    return video, npz, rec


def live(
    run: str | Path,
    env_id: str | None = None,
    perturbations: list[dict[str, Any]] | None = None,
    seed: int = 0,
    which: str = "best",
    episodes: int = 1,
    ablation: str | None = None,
) -> None:
    """Run the policy (its plasticity ablated as ``ablation`` says, if given) in MuJoCo's
    interactive viewer in real time (needs a display).

    Episodes ``seed, seed + 1, ...`` run through :func:`rollout` (deterministic actions, as in
    the recorded video): each step is shown and held for the env's ``dt`` seconds, and closing
    the window stops the run.
    """
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ValueError(
            "--live needs a display (neither DISPLAY nor WAYLAND_DISPLAY is set); on a headless "
            "machine write a video instead: plasticagents view RUN --out rollout.mp4"
        )
    import mujoco.viewer

    loaded = load_policy(run, which)
    env_cfg = loaded.env_config(env_id, list(perturbations or []))
    agent = loaded.agent(env_cfg, ablation=ablation)
    pool = EnvPool([env_maker(env_cfg)], threads=1)
    base = pool.envs[0].unwrapped
    try:
        with mujoco.viewer.launch_passive(base.model, base.data) as handle:
            shown = [time.perf_counter()]

            def on_step(t: int, pool: EnvPool, stepped: np.ndarray) -> bool:
                """Show the step, hold it until its simulated time has passed; stop when the
                window closes."""
                handle.sync()
                time.sleep(max(0.0, base.dt - (time.perf_counter() - shown[0])))
                shown[0] = time.perf_counter()
                return not handle.is_running()

            for k in range(episodes):
                if not handle.is_running():
                    break
                rollout(agent, pool, [seed + k], on_step=on_step)
    finally:
        pool.close()
