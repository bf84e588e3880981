"""Procedural human actions: articulated stick figures written as real mp4 clips.

Every clip is one figure (`tasks.video.figure`: head, torso, two-segment arms and legs) doing
one of `ACTIONS`, its joint angles driven by per-action motion curves, seen at a random yaw
over a random background. `write_dataset` writes a folder per class in UCF101's layout (with
``classInd.txt``, ``trainlist01.txt`` and ``testlist01.txt``), so training reads these clips
through the same decoder and loader as a user's; its test clips come from another seed.

Random per clip: body proportions, position, scale, speed (within the action's own range),
facing direction and view angle, phase, line width, colours (one- or two-tone figure, far limbs
shaded or not, disc or ring head, feet or none, shoulder and hip bars or a classic stick),
background (flat, gradient or radial, optional floor), static clutter (boxes, discs, rings,
bars), a moving distractor (ball, bar, box), camera pan, shadow, blur, flicker and Gaussian
sensor noise.

Motion-only pairs (`MOTION_PAIRS`): one frame of either action looks like a frame of the
other, so only the motion tells them apart.

- walk / run: the gait style (stride, knee lift, arm swing, elbow bend, lean, bounce) comes from
  the same distribution for both; the actions differ in cadence (walk 1.3-1.8 steps/s, run
  2.3-2.8 steps/s) and so in translation speed. Single-frame poses are identically distributed.
- wave-one-hand / wave-two-hands: a single frame shows how many arms are raised, not which of
  them move. In 60 % of wave-one-hand clips the other arm is held up, still, at an angle drawn
  from the same distribution as a waving arm's (the rest: hanging, or hand on the hip), so a
  frame with both arms up is ambiguous (wave-two-hands 5:3); a frame with one arm down is
  wave-one-hand for sure. That is as far as the pair can overlap while staying the action a
  person names.
- bend-down / sit-down: both start standing and go down through poses of one family (forward
  lean with bent knees and hips; bend-down anywhere from a stoop to a squat, sit-down leaning
  forward mid-way); both rest the hands on the thighs in half the bend-down clips and in every
  sit-down clip. Bend-down comes back up (and goes down again if the clip is long); sit-down
  ends seated on an unseen seat (thighs near horizontal, torso fairly upright) and stays, a
  pose only the deepest squats of bend-down come near. Order and timing tell them apart; some
  seated frames at the end of a sit-down clip also do.

A nearest-neighbour classifier of single frames' joint angles (tests/test_video_synthetic.py)
tells walk from run at chance (about 0.5), wave-one-hand from wave-two-hands at about 0.72 and
bend-down from sit-down at about 0.74, against 1.0 for pairs of other actions.

Cadences stay below what 16 frames sampled uniformly from the longest default clip (34 frames
at 12 fps: 5.6 frames/s) can show without folding run onto walk: run's fastest step rate plus
walk's fastest stays under 5.6/s. Clip lengths vary within a ratio of 1.2 only (`FRAMES`), so
that the steps a uniformly sampled clip shows still tell walk from run.

Version 2 (`GENERATOR_VERSION`): clips of 30-34 frames instead of 24-40 (walk and run
overlapped in steps per clip), figures at least 0.45 of the frame high instead of 0.35 and
forearm swings of 25-45 degrees instead of 15-40 (a wave of the smallest figures moved the hand
by about a pixel, under the sensor noise).
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tasks.common.generated import progress_printer, writable_target
from tasks.video import figure as fig

ACTIONS = ("walk", "run", "jump-in-place", "jumping-jack", "wave-one-hand", "wave-two-hands",
           "bend-down", "sit-down")
MOTION_PAIRS = (("walk", "run"), ("wave-one-hand", "wave-two-hands"),
                ("bend-down", "sit-down"))
FPS = 12.0
SIZE = 64
# Clip lengths, drawn uniformly per clip. Kept within a ratio of 1.2: models sample a fixed
# number of frames uniformly over a clip, which scales its duration away, so a walk in a long
# clip and a run in a short one would show the same number of steps (with 24-40 frames they
# overlapped from 4.6 to 6.0 steps a clip). With 30-34: walk at most 5.1, run at least 5.75.
FRAMES = (30, 34)
TEST_SEED_OFFSET = 1000
GAIT_STEPS = {"walk": (1.3, 1.8), "run": (2.3, 2.8)}  # steps per second
METADATA_FILE = "metadata.json"
GENERATOR = "rnnzoo tasks.video.synthetic"
# Raised whenever the same seed would give different clips (a cache of written datasets can
# put it in its key).
GENERATOR_VERSION = 2


@dataclass
class Motion:
    """The movement of one clip: angles in degrees and joints in body-height units.

    ``pose``: `figure.angle_names` -> ``[T]``; ``joints``: ``[T, J, 3]`` in the world (y up,
    ground at 0, x the figure's forward direction); ``cadence``: the action's rate in Hz (steps,
    jumps, waves or cycles per second; for sit-down, descents per second); ``progress``: for
    bend-down and sit-down, how far down the figure is (0 standing, 1 at the bottom) per
    frame; ``params``: the clip's random choices.
    """

    action: str
    fps: float
    pose: dict[str, np.ndarray]
    joints: np.ndarray
    body: fig.Body
    yaw: float
    cadence: float
    progress: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return self.joints.shape[0]


def clip_rng(seed: int, action: str, index: int) -> np.random.Generator:
    """The generator of clip ``index`` of ``action`` under ``seed``: independent of the other
    clips, of the order they are made in and of which other actions exist."""
    return np.random.default_rng([int(seed), zlib.crc32(action.encode()), int(index)])


# ----------------------------------------------------------------------------- motion curves

def _rest(steps: int) -> dict[str, np.ndarray]:
    """Standing with the arms hanging, as ``[T]`` angle arrays."""
    pose = {name: np.zeros(steps) for name in fig.angle_names()}
    for side in fig.SIDES:
        pose[f"{side}_thigh_abd"][:] = 3.0
        pose[f"{side}_shin_abd"][:] = 3.0
        pose[f"{side}_upper_abd"][:] = 7.0
        pose[f"{side}_fore_abd"][:] = 7.0
        pose[f"{side}_fore_flex"][:] = 8.0
    return pose


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, amplitude: float) -> np.ndarray:
    """Slow wobble: two sinusoids of random frequency (0.15-0.8 Hz) and phase."""
    out = np.zeros_like(t)
    for _ in range(2):
        out += np.sin(2 * np.pi * rng.uniform(0.15, 0.8) * t + rng.uniform(0, 2 * np.pi))
    return amplitude * out / 2


def _ease(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _side_yaw(rng: np.random.Generator, spread: float) -> float:
    """A profile view (facing right or left) turned by up to ``spread`` degrees."""
    return float(rng.choice([0.0, 180.0]) + rng.uniform(-spread, spread))


def _front_yaw(rng: np.random.Generator, spread: float) -> float:
    """A view from the front (or back) turned by up to ``spread`` degrees."""
    return float(rng.choice([90.0, -90.0]) + rng.uniform(-spread, spread))


def _gait(action: str, rng: np.random.Generator, t: np.ndarray, body: fig.Body) -> dict:
    """Walk and run: one gait family whose style is drawn the same way for both actions;
    only the step rate (and with it the speed) depends on the action."""
    steps_per_s = rng.uniform(*GAIT_STEPS[action])
    theta = np.pi * steps_per_s * t + rng.uniform(0, 2 * np.pi)  # a stride is two steps
    stride, knee_lift, knee_rest = rng.uniform(18, 38), rng.uniform(20, 70), rng.uniform(0, 8)
    arm_swing, elbow, lean = rng.uniform(8, 40), rng.uniform(5, 95), rng.uniform(0, 14)
    leg_abd, arm_abd = rng.uniform(1, 5), rng.uniform(4, 12)
    bounce = rng.uniform(0.0, 0.035)
    pose = _rest(t.size)
    pose["lean"][:] = lean
    for side, shift in zip(fig.SIDES, (0.0, np.pi)):
        th = theta + shift
        thigh = stride * np.sin(th)
        knee = knee_rest + knee_lift * np.maximum(0.0, np.cos(th)) ** 1.5  # swing phase
        pose[f"{side}_thigh_flex"] = thigh
        pose[f"{side}_shin_flex"] = thigh - knee
        pose[f"{side}_thigh_abd"][:] = leg_abd
        pose[f"{side}_shin_abd"][:] = leg_abd
        upper = -arm_swing * np.sin(th) + 0.3 * lean
        pose[f"{side}_upper_flex"] = upper
        pose[f"{side}_fore_flex"] = upper + elbow
        pose[f"{side}_upper_abd"][:] = arm_abd
        pose[f"{side}_fore_abd"][:] = arm_abd
    # step length from the stride angle (a run's flight phase lengthens it a little)
    step = 2 * body.leg * np.sin(np.radians(stride)) * (0.85 if action == "walk" else 1.1)
    speed = steps_per_s * step * rng.uniform(0.92, 1.08)
    return {"pose": pose, "forward": speed * t, "lift": bounce * (0.5 - 0.5 * np.cos(2 * theta)),
            "yaw": _side_yaw(rng, 45), "cadence": steps_per_s,
            "params": {"steps_per_s": steps_per_s, "speed": speed, "stride": stride,
                       "knee_lift": knee_lift, "arm_swing": arm_swing, "elbow": elbow,
                       "lean": lean, "bounce": bounce}}


def _jump_in_place(rng: np.random.Generator, t: np.ndarray, body: fig.Body) -> dict:
    rate = rng.uniform(0.9, 1.5)
    p = (rate * t + rng.uniform(0, 1)) % 1.0
    air_share, height = rng.uniform(0.4, 0.55), rng.uniform(0.1, 0.25)
    depth, knee_max, tuck = rng.uniform(0.4, 1.0), rng.uniform(50, 90), rng.uniform(0, 35)
    arm_up, elbow, arm_abd = rng.uniform(20, 160), rng.uniform(5, 30), rng.uniform(5, 20)
    air = p < air_share
    up = np.where(air, np.sin(np.pi * p / air_share), 0.0)
    crouch = np.where(air, 0.0, depth * np.sin(np.pi * (p - air_share) / (1 - air_share)))
    knee = knee_max * crouch + tuck * up
    pose = _rest(t.size)
    pose["lean"] = 0.4 * knee_max * crouch
    for side in fig.SIDES:
        pose[f"{side}_thigh_flex"] = 0.55 * knee
        pose[f"{side}_shin_flex"] = -0.45 * knee
        upper = -35 * crouch + arm_up * up
        pose[f"{side}_upper_flex"] = upper
        pose[f"{side}_fore_flex"] = upper + elbow
        pose[f"{side}_upper_abd"][:] = arm_abd
        pose[f"{side}_fore_abd"][:] = arm_abd
    return {"pose": pose, "lift": height * up, "yaw": float(rng.uniform(0, 360)),
            "cadence": rate, "params": {"jumps_per_s": rate, "height": height}}


def _jumping_jack(rng: np.random.Generator, t: np.ndarray, body: fig.Body) -> dict:
    rate = rng.uniform(0.7, 1.2)
    phase = 2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)
    spread = 0.5 - 0.5 * np.cos(phase)
    legs, arms = rng.uniform(12, 26), rng.uniform(130, 165)
    leg_rest, arm_rest, elbow_out = rng.uniform(2, 5), rng.uniform(5, 15), rng.uniform(0, 20)
    hop = rng.uniform(0.01, 0.06)
    pose = _rest(t.size)
    for side in fig.SIDES:
        pose[f"{side}_thigh_abd"] = leg_rest + legs * spread
        pose[f"{side}_shin_abd"] = leg_rest + legs * spread
        pose[f"{side}_upper_abd"] = arm_rest + arms * spread
        pose[f"{side}_fore_abd"] = arm_rest + (arms + elbow_out) * spread
        pose[f"{side}_upper_flex"][:] = rng.uniform(0, 15)
        pose[f"{side}_fore_flex"] = pose[f"{side}_upper_flex"] + 8.0
    return {"pose": pose, "lift": hop * np.abs(np.sin(phase)), "yaw": _front_yaw(rng, 35),
            "cadence": rate, "params": {"cycles_per_s": rate, "arms": arms, "legs": legs}}


def _wave_arm(rng: np.random.Generator) -> dict[str, float]:
    """One raised arm's waving parameters (degrees)."""
    return {"raise": rng.uniform(95, 150), "bend": rng.uniform(5, 35),
            "swing": rng.uniform(25, 45), "flex": rng.uniform(-5, 25)}


def _set_wave(pose: dict, side: str, arm: dict[str, float], wave: np.ndarray) -> None:
    """Pose ``side``'s arm raised per ``arm``, the forearm at ``sin`` values ``wave``."""
    pose[f"{side}_upper_abd"] = arm["raise"] + 0.25 * arm["swing"] * wave
    pose[f"{side}_fore_abd"] = arm["raise"] + arm["bend"] + arm["swing"] * wave
    pose[f"{side}_upper_flex"] = arm["flex"] + np.zeros_like(wave)
    pose[f"{side}_fore_flex"] = arm["flex"] + np.zeros_like(wave)


def _wave(action: str, rng: np.random.Generator, t: np.ndarray, body: fig.Body) -> dict:
    rate = rng.uniform(1.2, 2.2)
    phase = 2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi)
    waving, other = ("l", "r") if rng.random() < 0.5 else ("r", "l")
    pose = _rest(t.size)
    _set_wave(pose, waving, _wave_arm(rng), np.sin(phase))
    params: dict[str, Any] = {"waves_per_s": rate, "waving": waving}
    if action == "wave-two-hands":
        offset = rng.choice([0.0, np.pi, rng.uniform(0, 2 * np.pi)])
        _set_wave(pose, other, _wave_arm(rng), np.sin(phase + offset))
        params["other_arm"] = "waving"
    else:
        mode = rng.choice(["raised", "down", "hip"], p=[0.6, 0.25, 0.15])
        params["other_arm"] = str(mode)
        if mode == "raised":  # held up still, where a waving arm might be at any instant
            drift = _smooth_noise(rng, t, 1.5)
            _set_wave(pose, other, _wave_arm(rng), np.full_like(t, np.sin(rng.uniform(0, 6.3))))
            pose[f"{other}_fore_abd"] = pose[f"{other}_fore_abd"] + drift
        elif mode == "down":
            pose[f"{other}_upper_abd"][:] = rng.uniform(3, 12)
            pose[f"{other}_fore_abd"][:] = pose[f"{other}_upper_abd"] + rng.uniform(0, 8)
        else:  # hand on the hip: elbow out, forearm back toward the waist
            pose[f"{other}_upper_abd"][:] = rng.uniform(30, 50)
            pose[f"{other}_fore_abd"][:] = -rng.uniform(15, 40)
    return {"pose": pose, "yaw": _front_yaw(rng, 40), "cadence": rate, "params": params}


def _hands_on_thighs(rng: np.random.Generator) -> tuple[float, float]:
    """Upper-arm flex and elbow bend (degrees) that rest the hands on the thighs or knees."""
    return rng.uniform(20, 50), rng.uniform(20, 70)


def _bend_down(rng: np.random.Generator, t: np.ndarray, body: fig.Body) -> dict:
    """Down, a short hold, back up, a rest; repeated when the clip is long enough."""
    duration = t[-1] + (t[1] - t[0] if t.size > 1 else 0.0)
    down, hold, rise, rest = (rng.uniform(0.5, 1.0), rng.uniform(0.1, 0.6),
                              rng.uniform(0.5, 1.0), rng.uniform(0.2, 0.8))
    active = down + hold + rise
    if active > 0.9 * duration:  # the whole down-and-up fits in every clip
        scale = 0.9 * duration / active
        down, hold, rise, active = down * scale, hold * scale, rise * scale, 0.9 * duration
    period = active + rest
    start = rng.uniform(0.0, max(duration - active, 0.0))
    local = (t - start) % period
    progress = np.where(local < down, _ease(local / down),
                        np.where(local < down + hold, 1.0,
                                 1.0 - _ease((local - down - hold) / rise)))
    progress = np.where(local >= active, 0.0, progress)
    squat = rng.uniform(0, 1)  # 0: a stoop (legs straight, torso down); 1: a squat
    lean = 85 - 55 * squat + rng.uniform(-8, 8)
    knee = max(0.0, 5 + 95 * squat + rng.uniform(-8, 8))
    thigh = knee * (0.45 + 0.5 * squat)
    if rng.random() < 0.5:  # hands toward the floor
        reach, elbow = rng.uniform(-10, 40), rng.uniform(0, 25)
    else:  # hands on the knees or thighs, as when sitting down
        reach, elbow = _hands_on_thighs(rng)
    pose = _rest(t.size)
    pose["lean"] = lean * progress
    for side in fig.SIDES:
        pose[f"{side}_thigh_flex"] = thigh * progress
        pose[f"{side}_shin_flex"] = (thigh - knee) * progress
        pose[f"{side}_upper_flex"] = reach * progress
        pose[f"{side}_fore_flex"] = (reach + elbow) * progress + 8.0 * (1 - progress)
    return {"pose": pose, "yaw": _side_yaw(rng, 40), "cadence": 1.0 / period,
            "progress": progress,
            "params": {"down_s": down, "hold_s": hold, "up_s": rise, "rest_s": rest,
                       "lean": lean, "knee": knee, "squat": squat}}


def _sit_down(rng: np.random.Generator, t: np.ndarray, body: fig.Body) -> dict:
    """Lean forward while the knees and hips bend, then settle upright on an (unseen) seat."""
    duration = t[-1] + (t[1] - t[0] if t.size > 1 else 0.0)
    descent = min(rng.uniform(0.8, 1.6), 0.6 * duration)
    start = max(0.0, rng.uniform(0.6, 0.95) * duration - descent)  # seated by the end
    progress = _ease((t - start) / descent)
    knee, thigh = rng.uniform(70, 105), rng.uniform(60, 95)
    lean_mid, lean_end = rng.uniform(20, 50), rng.uniform(-5, 30)
    reach = rng.uniform(0, 70)  # arms forward for balance on the way down
    rest_arm, elbow = _hands_on_thighs(rng)
    pose = _rest(t.size)
    pose["lean"] = lean_mid * np.sin(np.pi * progress) + lean_end * progress
    arm = reach * np.sin(np.pi * progress) + rest_arm * progress
    for side in fig.SIDES:
        pose[f"{side}_thigh_flex"] = thigh * progress
        pose[f"{side}_shin_flex"] = (thigh - knee) * progress
        pose[f"{side}_upper_flex"] = arm
        pose[f"{side}_fore_flex"] = arm + elbow * progress + 8.0 * (1 - progress)
    return {"pose": pose, "yaw": _side_yaw(rng, 40), "cadence": 1.0 / descent,
            "progress": progress,
            "params": {"start_s": start, "descent_s": descent, "knee": knee, "thigh": thigh}}


_MOTIONS: dict[str, Callable[..., dict]] = {
    "walk": lambda rng, t, body: _gait("walk", rng, t, body),
    "run": lambda rng, t, body: _gait("run", rng, t, body),
    "jump-in-place": _jump_in_place,
    "jumping-jack": _jumping_jack,
    "wave-one-hand": lambda rng, t, body: _wave("wave-one-hand", rng, t, body),
    "wave-two-hands": lambda rng, t, body: _wave("wave-two-hands", rng, t, body),
    "bend-down": _bend_down,
    "sit-down": _sit_down,
}


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")


def sample_motion(action: str, rng: np.random.Generator, *, length: int,
                  fps: float = FPS) -> Motion:
    """The movement of one clip of ``action``, ``length`` frames at ``fps``."""
    _check_action(action)
    t = np.arange(length) / fps
    body = fig.sample_body(rng)
    spec = _MOTIONS[action](rng, t, body)
    pose = spec["pose"]
    for name in pose:  # everyone fidgets a little
        pose[name] = pose[name] + _smooth_noise(rng, t, 1.5)
    joints = fig.forward_kinematics(body, pose)
    feet = joints[:, fig.FEET]
    # feet on the ground (plus any jump); planted feet for actions that do not travel
    height = -feet[..., 1].min(axis=1) + spec.get("lift", 0.0)
    forward = spec["forward"] if "forward" in spec else -feet[..., 0].mean(axis=1)
    joints[..., 0] += forward[:, None]
    joints[..., 1] += height[:, None]
    return Motion(action=action, fps=fps, pose=pose, joints=joints, body=body,
                  yaw=spec["yaw"], cadence=float(spec["cadence"]), progress=spec.get("progress"),
                  params=spec["params"])


# ----------------------------------------------------------------------------- appearance

def _luminance(colour: np.ndarray) -> float:
    return float(np.dot(colour, [0.299, 0.587, 0.114]))


def _colour_apart(rng: np.random.Generator, others: list[np.ndarray],
                  gap: float = 0.3) -> np.ndarray:
    """A random colour whose luminance differs from each of ``others`` by ``gap`` or more
    (the best of 50 tries if none does)."""
    best, best_gap = None, -1.0
    for _ in range(50):
        colour = rng.uniform(0, 1, 3)
        if rng.random() < 0.3:  # some greys and near-greys
            colour = np.clip(rng.uniform(0, 1) + rng.normal(0, 0.05, 3), 0, 1)
        apart = min((abs(_luminance(colour) - _luminance(o)) for o in others), default=1.0)
        if apart >= gap:
            return colour
        if apart > best_gap:
            best, best_gap = colour, apart
    return best


def _background(rng: np.random.Generator, size: int, figure_colours: list[np.ndarray],
                ground: float) -> np.ndarray:
    """A ``[H, W, 3]`` backdrop: flat, linear or radial gradient, optional floor below
    ``ground`` (pixels) and faint blotches; its colours stand apart from the figure's."""
    c1 = _colour_apart(rng, figure_colours)
    c2 = _colour_apart(rng, figure_colours) if rng.random() < 0.8 else c1
    px, py = fig.pixel_grid(size, size)
    px, py = px[0] / size, py[0] / size
    kind = rng.choice(["flat", "linear", "radial"], p=[0.3, 0.5, 0.2])
    if kind == "flat":
        mix = np.zeros_like(px)
    elif kind == "linear":
        angle = rng.uniform(0, 2 * np.pi)
        mix = (np.cos(angle) * (px - 0.5) + np.sin(angle) * (py - 0.5)) + 0.5
    else:
        cx, cy = rng.uniform(0, 1, 2)
        mix = np.sqrt((px - cx) ** 2 + (py - cy) ** 2) / 1.2
    mix = np.clip(mix, 0, 1)[..., None]
    image = (1 - mix) * c1 + mix * c2
    if rng.random() < 0.4:  # a floor
        floor = _colour_apart(rng, figure_colours)
        edge = np.clip(py * size - ground + 0.5, 0, 1)[..., None]
        image = (1 - edge) * image + edge * floor
    for _ in range(rng.integers(0, 4)):  # soft blotches
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.4)
        blob = np.exp(-((px - cx) ** 2 + (py - cy) ** 2) / (2 * r * r))[..., None]
        image = image + rng.uniform(-0.08, 0.08) * blob
    return np.clip(image, 0, 1).astype(np.float32)


def _figure_style(rng: np.random.Generator, height_px: float, head_px: float
                  ) -> fig.FigureStyle:
    """Line widths, head, colours (the backdrop is then chosen to stand apart from them)."""
    colour = rng.uniform(0, 1, 3)
    if rng.random() < 0.3:  # greys, black, white
        colour = np.full(3, rng.choice([0.0, 1.0, rng.uniform(0, 1)]))
    legs = colour
    if rng.random() < 0.35:  # trousers of another colour, not far in brightness
        legs = _colour_apart(rng, [colour], gap=0.0)
        legs = np.clip(legs - _luminance(legs) + _luminance(colour) + rng.uniform(-0.2, 0.2),
                       0, 1)
    width = max(0.9, rng.uniform(0.03, 0.11) * height_px)
    ring = rng.random() < 0.3 and head_px > 1.6 * width
    shade = rng.uniform(0.15, 0.5) if rng.random() < 0.5 else 0.0
    shade_to = np.zeros(3) if rng.random() < 0.5 else np.ones(3)
    return fig.FigureStyle(width=width, torso_width=width * rng.uniform(1.0, 2.5),
                           head_radius=head_px, head="ring" if ring else "disc",
                           colour=colour.astype(np.float32), leg_colour=legs.astype(np.float32),
                           far_shade=shade, shade_to=shade_to.astype(np.float32),
                           feet=bool(rng.random() < 0.5))


def _clutter(rng: np.random.Generator, canvas: np.ndarray, pan_px: np.ndarray) -> None:
    """Static shapes fixed in the world (they slide by ``-pan_px[t]`` as the camera pans)."""
    steps, size = canvas.shape[0], canvas.shape[1]
    px, py = fig.pixel_grid(size, size)
    reach = float(np.abs(pan_px).max()) if pan_px.size else 0.0
    moving = reach > 0.05
    for _ in range(rng.integers(0, 7)):
        x = rng.uniform(-reach - 4, size + reach + 4)
        y = rng.uniform(0, size)
        centre = np.stack([x - pan_px, np.full(steps, y)], axis=-1)
        if not moving:
            centre = centre[:1]
        kind = rng.choice(["box", "disc", "ring", "bar"])
        scale = rng.uniform(2, 0.3 * size)
        if kind == "box":
            distance = fig.box_distance(px, py, centre, np.array([scale, scale])
                                        * rng.uniform(0.3, 1.0, 2) / 2, rng.uniform(0, np.pi))
            if rng.random() < 0.3:  # an outline
                distance = np.abs(distance) - rng.uniform(0.5, 1.5)
        elif kind == "disc":
            distance = fig.disc_distance(px, py, centre, scale / 2)
        elif kind == "ring":
            distance = np.abs(fig.disc_distance(px, py, centre, scale / 2)) - rng.uniform(0.5, 2)
        else:
            angle = rng.uniform(0, np.pi)
            half = np.array([np.cos(angle), np.sin(angle)]) * scale
            distance = fig.capsule_distance(px, py, centre - half, centre + half,
                                            rng.uniform(0.5, 2.5))
        fig.paint(canvas, fig.coverage(distance), rng.uniform(0, 1, 3), rng.uniform(0.4, 1.0))


def _distractor(rng: np.random.Generator, steps: int, size: int, fps: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """A moving object crossing the frame: its coverage ``[T, H, W]`` and colour."""
    px, py = fig.pixel_grid(size, size)
    t = np.arange(steps) / fps
    duration = max(steps / fps, 1e-3)
    start = rng.uniform(-0.2, 1.2, 2) * size
    end = rng.uniform(-0.2, 1.2, 2) * size
    speed_scale = rng.uniform(0.5, 1.5)
    path = start + (end - start) * (t[:, None] / duration) * speed_scale
    kind = rng.choice(["ball", "bouncing ball", "bar", "box"])
    if kind == "bouncing ball":  # thrown: a parabola, bouncing on the bottom of the frame
        g = rng.uniform(0.5, 2.0) * size
        vy = rng.uniform(-1.0, 0.0) * size
        y = start[1] + vy * t + 0.5 * g * t * t
        y = size - np.abs(size - y)  # reflect at the bottom
        path[:, 1] = y
    radius = rng.uniform(1.0, 0.08 * size)
    if kind in ("ball", "bouncing ball"):
        distance = fig.disc_distance(px, py, path, radius)
    elif kind == "bar":
        spin = rng.uniform(-3, 3) * t + rng.uniform(0, np.pi)
        half = np.stack([np.cos(spin), np.sin(spin)], axis=-1) * rng.uniform(3, 0.25 * size)
        distance = fig.capsule_distance(px, py, path - half, path + half, radius / 2)
    else:
        distance = np.stack([fig.box_distance(px, py, path[i:i + 1], np.array([radius, radius]),
                                              0.5 * i)[0] for i in range(steps)])
    return fig.coverage(distance), rng.uniform(0, 1, 3)


def _blur(frames: np.ndarray) -> np.ndarray:
    """A light [1, 2, 1] / 4 blur along height and width (edges repeated)."""
    padded = np.pad(frames, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    rows = 0.25 * padded[:, :-2] + 0.5 * padded[:, 1:-1] + 0.25 * padded[:, 2:]
    return 0.25 * rows[:, :, :-2] + 0.5 * rows[:, :, 1:-1] + 0.25 * rows[:, :, 2:]


def render_motion(motion: Motion, rng: np.random.Generator, *, size: int = SIZE
                  ) -> np.ndarray:
    """Draw ``motion`` in a random scene: uint8 ``[T, size, size, 3]`` RGB frames."""
    steps = motion.length
    t = np.arange(steps) / motion.fps
    screen, depth = fig.project(motion.joints, motion.yaw)  # body units, y up
    reach = motion.body.head + 0.06  # head radius and line widths beyond the joints
    low, high = screen.min(axis=(0, 1)) - reach, screen.max(axis=(0, 1)) + reach
    # at least 0.45 of the frame: on a smaller figure a waving forearm moves about a pixel
    height_px = rng.uniform(0.45, 0.9) * size
    tallest = high[1] - min(low[1], 0.0)
    height_px = min(height_px, 0.94 * size / tallest)

    # camera pan (body units): follows a travelling figure part of the way, drifts otherwise
    x_centre = screen[:, 0, 0]
    pose_low = (screen[..., 0] - x_centre[:, None]).min() - reach
    pose_high = (screen[..., 0] - x_centre[:, None]).max() + reach
    room = max(0.0, 0.94 * size / height_px - (pose_high - pose_low))
    travel = x_centre[-1] - x_centre[0]
    if abs(travel) > 1e-6:
        shown = np.sign(travel) * min(abs(travel), room * rng.uniform(0.3, 1.0))
        pan = (travel - shown) * t / max(t[-1], 1e-6)
    else:
        pan = rng.uniform(-0.08, 0.08) * t * (rng.random() < 0.5)
    seen = screen[..., 0] - pan[:, None]
    x_low, x_high = seen.min() - reach, seen.max() + reach
    margin = 1.0
    span_px = (x_high - x_low) * height_px
    left = (rng.uniform(margin, max(margin, size - margin - span_px))
            if span_px < size - 2 * margin else (size - span_px) / 2)
    x0 = left - x_low * height_px
    top_px = (high[1]) * height_px
    ground = rng.uniform(min(top_px + margin, size - margin), size - margin)
    pixels = np.stack([x0 + seen * height_px, ground - screen[..., 1] * height_px], axis=-1)
    pan_px = pan * height_px

    style = _figure_style(rng, height_px, motion.body.head * height_px)
    background = _background(rng, size, [style.colour, style.leg_colour], ground)
    canvas = np.repeat(background[None], steps, axis=0)
    clutter = np.repeat(background[None], 1 if not np.any(pan_px) else steps, axis=0)
    _clutter(rng, clutter, pan_px if np.any(pan_px) else np.zeros(1))
    canvas[:] = clutter
    if rng.random() < 0.3:  # a soft shadow under the figure
        shadow = np.stack([pixels[:, 0, 0], np.full(steps, ground)], axis=-1)
        cover = fig.coverage(fig.ellipse_distance(*fig.pixel_grid(size, size), shadow,
                                                  (0.18 * height_px, 0.03 * height_px + 0.5)))
        fig.paint(canvas, cover, np.zeros(3), rng.uniform(0.15, 0.4))
    distractor = _distractor(rng, steps, size, motion.fps) if rng.random() < 0.75 else None
    in_front = rng.random() < 0.5
    if distractor is not None and not in_front:
        fig.paint(canvas, *distractor)
    fig.draw_figure(canvas, pixels.astype(np.float32), depth, style,
                    bars=motion.body.shoulder_half > 0)
    if distractor is not None and in_front:
        fig.paint(canvas, *distractor)

    # camera: exposure, flicker, blur, sensor noise
    gain = rng.uniform(0.8, 1.15) * (1 + rng.uniform(0, 0.04) * rng.standard_normal(steps))
    canvas = canvas * gain[:, None, None, None].astype(np.float32) + rng.uniform(-0.06, 0.06)
    if rng.random() < 0.35:
        canvas = _blur(canvas)
    noise = rng.uniform(0.0, 0.05)
    if noise > 0.005:
        canvas = canvas + rng.standard_normal(canvas.shape, dtype=np.float32) * noise
    return (np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_clip(action: str, seed: int | np.random.Generator, *, length: int = 32,
                size: int = SIZE, fps: float = FPS, return_motion: bool = False
                ) -> np.ndarray | tuple[np.ndarray, Motion]:
    """One clip of ``action``: uint8 ``[length, size, size, 3]`` RGB frames.

    ``seed``: an int or a ``numpy.random.Generator`` (`clip_rng` gives the one a dataset
    uses); the same seed gives the same frames. ``return_motion`` also returns the `Motion`
    (joint angles, joints, cadence) the frames show.
    """
    _check_action(action)
    if length < 2:
        raise ValueError(f"a clip needs at least 2 frames, got {length}")
    if size < 16 or size % 2:
        raise ValueError(f"frame size must be even and at least 16, got {size}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    motion = sample_motion(action, rng, length=length, fps=fps)
    frames = render_motion(motion, rng, size=size)
    return (frames, motion) if return_motion else frames


# ----------------------------------------------------------------------------- the dataset

LICENCE = ("Generated by rnnzoo (tasks.video.synthetic): procedural clips, no third-party "
           "content; no licence is needed to use them.")


def clip_lengths(frames: int | tuple[int, int]) -> tuple[int, int]:
    """``frames`` (one length, or the shortest and longest) as ``(low, high)``, checked."""
    low, high = (frames, frames) if isinstance(frames, (int, np.integer)) else frames
    low, high = int(low), int(high)
    if low < 2 or high < low:
        raise ValueError(f"clip lengths must be at least 2 frames, shortest first; got "
                         f"{low}-{high}")
    return low, high


def _check_seed(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _clip_name(action: str, seed: int, index: int, count: int) -> str:
    return f"{action}_s{seed}_{index:0{max(4, len(str(count - 1)))}d}.mp4"


def write_dataset(out: str | os.PathLike, *, clips_per_class: int, seed: int = 0,
                  test_clips_per_class: int | None = None, test_seed: int | None = None,
                  frames: int | tuple[int, int] = FRAMES, size: int = SIZE, fps: float = FPS,
                  overwrite: bool = False,
                  progress: bool | Callable[[str], None] = True) -> dict[str, Any]:
    """Write the procedural video-actions dataset to ``out`` in UCF101's layout.

    ``out/<action>/<action>_s<seed>_<index>.mp4`` (H.264, `tasks.video.encode.write_video`)
    for ``clips_per_class`` training clips of every action from ``seed`` and
    ``test_clips_per_class`` test clips (default: a third as many, at least 1) from
    ``test_seed`` (default ``seed + 1000``; never ``seed``), plus ``classInd.txt`` (``1
    walk``), ``trainlist01.txt`` (``walk/walk_s1_0003.mp4 1``), ``testlist01.txt``
    (``walk/walk_s1001_0002.mp4``), ``clips.csv`` (every clip's length and motion figures),
    ``metadata.json`` and ``README.txt``. Clip lengths are drawn uniformly from ``frames``
    (one length or ``(shortest, longest)``), frames are ``size`` x ``size`` at ``fps``.

    The same seeds give the same frames. Everything is written to a temporary folder that
    becomes ``out`` at the end, so a failure leaves nothing half-written. An existing
    non-empty ``out`` is refused (`FileExistsError`) unless ``overwrite`` and it is a dataset
    this function wrote. ``progress``: one line per action and split on stderr (or to a
    callable; False for none). Returns a summary (the contents of ``metadata.json`` plus
    ``out`` and ``seconds``).
    """
    from tasks.video.encode import write_video
    from zoo import __version__
    from zoo.preset_io import atomic_folder

    if isinstance(clips_per_class, bool) or not isinstance(clips_per_class, (int, np.integer)) \
            or clips_per_class < 1:
        raise ValueError(f"clips_per_class must be a positive integer, got {clips_per_class!r}")
    clips_per_class = int(clips_per_class)
    if test_clips_per_class is None:
        test_clips_per_class = max(1, -(-clips_per_class // 3))
    if isinstance(test_clips_per_class, bool) \
            or not isinstance(test_clips_per_class, (int, np.integer)) or test_clips_per_class < 0:
        raise ValueError(f"test_clips_per_class must be a non-negative integer, got "
                         f"{test_clips_per_class!r}")
    seed = _check_seed("seed", seed)
    test_seed = _check_seed("test seed", seed + TEST_SEED_OFFSET if test_seed is None
                            else test_seed)
    if test_seed == seed:
        raise ValueError(f"the test seed must differ from the training seed ({seed}), so that "
                         "no test clip is a training clip")
    low, high = clip_lengths(frames)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16 \
            or size % 2:
        raise ValueError(f"frame size must be an even number of pixels, at least 16; got "
                         f"{size!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    say = progress_printer(progress)
    target, empty = writable_target(out, overwrite=overwrite, metadata_file=METADATA_FILE,
                                    generator=GENERATOR)
    splits = (("train", seed, clips_per_class), ("test", test_seed, int(test_clips_per_class)))
    metadata: dict[str, Any] = {
        "dataset": "video-actions",
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "rnnzoo_version": __version__,
        "actions": list(ACTIONS),
        "motion_pairs": [list(pair) for pair in MOTION_PAIRS],
        "splits": {name: {"seed": s, "clips_per_class": n, "clips": n * len(ACTIONS),
                          "list": f"{name}list01.txt"} for name, s, n in splits},
        "frames": [low, high],
        "size": int(size),
        "fps": float(fps),
        "video": "mp4, H.264 (libx264, yuv420p, crf 20)",
        "layout": "UCF101: <action>/<clip>.mp4, classInd.txt, trainlist01.txt, testlist01.txt",
        "clip_seed": "numpy.random.default_rng([seed, zlib.crc32(action), index])",
        "licence": LICENCE,
        "command": (f"rnnzoo data video-actions --out OUT --clips-per-class {clips_per_class} "
                    f"--seed {seed} --test-clips-per-class {test_clips_per_class} "
                    f"--test-seed {test_seed} --frames {low}-{high} --size {size} --fps {fps:g}"),
    }
    started = time.perf_counter()
    with atomic_folder(target, overwrite=overwrite or empty, markers=(METADATA_FILE,),
                       what="a generated dataset") as temp:
        lists: dict[str, list[str]] = {"train": [], "test": []}
        rows = ["file,split,action,frames,cadence_hz,yaw_degrees,detail"]
        for label, action in enumerate(ACTIONS, start=1):
            (temp / action).mkdir()
            action_started = time.perf_counter()
            for split, split_seed, count in splits:
                for index in range(count):
                    rng = clip_rng(split_seed, action, index)
                    length = int(rng.integers(low, high + 1))
                    clip, motion = render_clip(action, rng, length=length, size=size, fps=fps,
                                               return_motion=True)
                    name = f"{action}/{_clip_name(action, split_seed, index, count)}"
                    write_video(temp / name, clip, fps=fps)
                    lists[split].append(f"{name} {label}" if split == "train" else name)
                    detail = motion.params.get("other_arm", "")
                    rows.append(f"{name},{split},{action},{length},{motion.cadence:.3f},"
                                f"{motion.yaw % 360:.1f},{detail}")
            say(f"video-actions: {action:<15} {clips_per_class} training + "
                f"{test_clips_per_class} test clips ({time.perf_counter() - action_started:.1f} s)")
        (temp / "classInd.txt").write_text(
            "".join(f"{i} {a}\n" for i, a in enumerate(ACTIONS, start=1)))
        for split in ("train", "test"):
            (temp / f"{split}list01.txt").write_text("".join(f"{line}\n"
                                                             for line in lists[split]))
        (temp / "clips.csv").write_text("\n".join(rows) + "\n")
        (temp / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        (temp / "README.txt").write_text(_readme(metadata))
    return {**metadata, "out": str(target), "seconds": round(time.perf_counter() - started, 2)}


def _readme(metadata: dict[str, Any]) -> str:
    train, test = metadata["splits"]["train"], metadata["splits"]["test"]
    pairs = "; ".join(" / ".join(pair) for pair in metadata["motion_pairs"])
    return (
        "video-actions: procedural human actions (stick figures), written by rnnzoo\n\n"
        f"Actions ({len(metadata['actions'])}): {', '.join(metadata['actions'])}.\n"
        f"Motion-only pairs (one frame cannot tell them apart; the motion can): {pairs}.\n\n"
        f"Training clips: {train['clips']} ({train['clips_per_class']} per action), seed "
        f"{train['seed']}, listed in trainlist01.txt.\n"
        f"Test clips: {test['clips']} ({test['clips_per_class']} per action), seed "
        f"{test['seed']}, listed in testlist01.txt.\n"
        f"Clips: {metadata['frames'][0]}-{metadata['frames'][1]} frames of "
        f"{metadata['size']}x{metadata['size']} at {metadata['fps']:g} fps, "
        f"{metadata['video']}.\n"
        "Layout: UCF101's (<action>/<clip>.mp4, classInd.txt, trainlist01.txt, "
        "testlist01.txt); clips.csv lists every clip's length, cadence and view.\n\n"
        f"Generator: {metadata['generator']} version {metadata['generator_version']} (rnnzoo "
        f"{metadata['rnnzoo_version']}); the same seeds give the same frames.\n"
        f"Made with: {metadata['command']}\n\n"
        f"Licence: {metadata['licence']}\n")
