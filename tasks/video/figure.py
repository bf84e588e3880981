"""Articulated stick figures for the procedural video actions: body, kinematics and drawing.

A figure is a 3-D skeleton (pelvis, torso, neck and head; two-segment arms and legs) posed by
absolute segment angles and drawn by orthographic projection under a yaw angle, so that one
motion can be seen in profile, from the front or anywhere between.

Coordinates of the body: x forward, y up, z to the figure's left, in units of the figure's
standing height. A limb segment's direction is given by two absolute angles in degrees:
``flex``, the swing forward from hanging straight down (in the x-y plane), and ``abd``, the
swing outward, away from the body's midline: ``(sin flex cos abd, -cos flex cos abd,
side * sin abd)`` with side +1 for the left limbs and -1 for the right ones. ``abd`` = 180
points straight up. The torso leans forward by ``lean`` degrees.

Drawing uses signed distance fields of capsules (thick line segments), discs, rings, boxes and
ellipses over the pixel grid of every frame at once; the coverage ``clip(0.5 - distance, 0,
1)`` gives anti-aliased edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIDES = ("l", "r")
LIMB_SEGMENTS = ("thigh", "shin", "upper", "fore")

# Joint indices of `forward_kinematics`' output.
JOINTS = ("pelvis", "neck", "head", "l_shoulder", "l_elbow", "l_hand", "r_shoulder", "r_elbow",
          "r_hand", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "l_toe", "r_toe")
J = {name: i for i, name in enumerate(JOINTS)}
FEET = (J["l_ankle"], J["r_ankle"])


def angle_names() -> tuple[str, ...]:
    """The keys of a pose: ``lean`` and ``<side>_<segment>_<flex|abd>`` for every limb
    segment."""
    return ("lean",) + tuple(f"{side}_{seg}_{kind}" for side in SIDES for seg in LIMB_SEGMENTS
                             for kind in ("flex", "abd"))


@dataclass(frozen=True)
class Body:
    """Segment lengths of one figure, in units of its standing height."""

    torso: float
    neck: float
    head: float  # radius
    upper: float
    fore: float
    thigh: float
    shin: float
    foot: float
    shoulder_half: float  # half the shoulder width (0: a classic stick figure)
    hip_half: float

    @property
    def leg(self) -> float:
        return self.thigh + self.shin


def sample_body(rng: np.random.Generator) -> Body:
    """Proportions varied a little around an adult's, scaled to a standing height of 1."""
    jitter = rng.uniform(0.9, 1.1, size=8)
    head = 0.075 * jitter[0]
    parts = {"torso": 0.29 * jitter[1], "neck": 0.03 * jitter[2], "head": head,
             "thigh": 0.245 * jitter[3], "shin": 0.235 * jitter[4]}
    height = parts["torso"] + parts["neck"] + 2 * head + parts["thigh"] + parts["shin"]
    arm = 0.31 * jitter[5]
    width = rng.choice([0.0, rng.uniform(0.3, 1.0)], p=[0.5, 0.5])
    body = {k: v / height for k, v in parts.items()}
    return Body(**body, upper=arm * 0.52, fore=arm * 0.48, foot=0.06 * jitter[6],
                shoulder_half=0.1 * width * jitter[7], hip_half=0.06 * width)


def limb_direction(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """Unit vectors ``[..., 3]`` of segments at absolute ``flex`` and ``abd`` (degrees)."""
    f, a = np.radians(flex), np.radians(abd)
    return np.stack([np.sin(f) * np.cos(a), -np.cos(f) * np.cos(a),
                     side * np.sin(a) * np.ones_like(f)], axis=-1)


def forward_kinematics(body: Body, pose: dict[str, np.ndarray]) -> np.ndarray:
    """Joint positions ``[T, len(JOINTS), 3]`` relative to the pelvis for a pose of ``[T]``
    angle arrays (`angle_names`)."""
    lean = np.radians(pose["lean"])
    steps = lean.shape[0]
    joints = np.zeros((steps, len(JOINTS), 3))
    up = np.stack([np.sin(lean), np.cos(lean), np.zeros_like(lean)], axis=-1)
    joints[:, J["neck"]] = body.torso * up
    joints[:, J["head"]] = joints[:, J["neck"]] + (body.neck + body.head) * up
    for side, sign in zip(SIDES, (1.0, -1.0)):
        def direction(seg: str, side=side, sign=sign) -> np.ndarray:
            return limb_direction(pose[f"{side}_{seg}_flex"], pose[f"{side}_{seg}_abd"], sign)

        shoulder = joints[:, J["neck"]] - 0.02 * up + [0.0, 0.0, sign * body.shoulder_half]
        elbow = shoulder + body.upper * direction("upper")
        hip = np.array([0.0, 0.0, sign * body.hip_half]) + np.zeros((steps, 3))
        knee = hip + body.thigh * direction("thigh")
        ankle = knee + body.shin * direction("shin")
        # the foot points forward, at a right angle to the shin while the shin leans forward
        # and flat when it leans back (the toes never dip below the ankle)
        foot = np.radians(np.maximum(pose[f"{side}_shin_flex"], 0.0))
        toe_dir = np.stack([np.cos(foot), np.sin(foot), np.zeros(steps)], axis=-1)
        joints[:, J[f"{side}_shoulder"]] = shoulder
        joints[:, J[f"{side}_elbow"]] = elbow
        joints[:, J[f"{side}_hand"]] = elbow + body.fore * direction("fore")
        joints[:, J[f"{side}_hip"]] = hip
        joints[:, J[f"{side}_knee"]] = knee
        joints[:, J[f"{side}_ankle"]] = ankle
        joints[:, J[f"{side}_toe"]] = ankle + body.foot * toe_dir
    return joints


def project(joints: np.ndarray, yaw_degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic view under ``yaw``: screen ``[..., 2]`` (x right, y up, body units) and
    depth ``[...]`` (larger is nearer the camera). Yaw 0 shows the figure's left side, facing
    right; 180 faces left; 90 faces the camera."""
    yaw = np.radians(yaw_degrees)
    x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
    screen = np.stack([x * np.cos(yaw) + z * np.sin(yaw), y], axis=-1)
    depth = -x * np.sin(yaw) + z * np.cos(yaw)
    return screen, depth


# Segments drawn for a figure: (joint a, joint b, part); part picks width and colour.
BONES = (
    ("pelvis", "neck", "torso"),
    ("l_shoulder", "l_elbow", "l_arm"), ("l_elbow", "l_hand", "l_arm"),
    ("r_shoulder", "r_elbow", "r_arm"), ("r_elbow", "r_hand", "r_arm"),
    ("l_hip", "l_knee", "l_leg"), ("l_knee", "l_ankle", "l_leg"),
    ("r_hip", "r_knee", "r_leg"), ("r_knee", "r_ankle", "r_leg"),
)
SHOULDER_BAR = ("l_shoulder", "r_shoulder", "torso")
HIP_BAR = ("l_hip", "r_hip", "torso")
FEET_BONES = (("l_ankle", "l_toe", "l_leg"), ("r_ankle", "r_toe", "r_leg"))


# ----------------------------------------------------------------------------- drawing

def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres ``(x [1, H, W], y [1, H, W])`` as float32."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    return x[None], y[None]


def capsule_distance(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray,
                     radius: np.ndarray | float) -> np.ndarray:
    """Signed distance (pixels) from pixel centres to thick segments a-b.

    ``a``, ``b``: ``[N, 2]`` endpoints; ``radius``: scalar or ``[N]``; ``px``, ``py``:
    broadcastable to ``[N, H, W]`` (e.g. ``[1, H, W]``). Returns ``[N, H, W]``.
    """
    ax, ay = a[:, 0, None, None], a[:, 1, None, None]
    dx, dy = (b[:, 0] - a[:, 0])[:, None, None], (b[:, 1] - a[:, 1])[:, None, None]
    wx, wy = px - ax, py - ay
    length2 = np.maximum(dx * dx + dy * dy, 1e-6)
    h = np.clip((wx * dx + wy * dy) / length2, 0.0, 1.0)
    ex, ey = wx - h * dx, wy - h * dy
    return np.sqrt(ex * ex + ey * ey) - np.reshape(radius, (-1, 1, 1))


def disc_distance(px: np.ndarray, py: np.ndarray, centre: np.ndarray,
                  radius: np.ndarray | float) -> np.ndarray:
    """Signed distance to discs of ``centre`` ``[N, 2]`` and ``radius``; ``[N, H, W]``."""
    cx, cy = centre[:, 0, None, None], centre[:, 1, None, None]
    return np.sqrt((px - cx) ** 2 + (py - cy) ** 2) - np.reshape(radius, (-1, 1, 1))


def box_distance(px: np.ndarray, py: np.ndarray, centre: np.ndarray, half: np.ndarray,
                 angle: float = 0.0) -> np.ndarray:
    """Signed distance to boxes (``centre`` ``[N, 2]``, half sizes ``half`` ``[2]``) turned by
    ``angle`` radians; ``[N, H, W]``."""
    c, s = np.cos(angle), np.sin(angle)
    x = px - centre[:, 0, None, None]
    y = py - centre[:, 1, None, None]
    u, v = np.abs(c * x + s * y) - half[0], np.abs(-s * x + c * y) - half[1]
    outside = np.sqrt(np.maximum(u, 0) ** 2 + np.maximum(v, 0) ** 2)
    return outside + np.minimum(np.maximum(u, v), 0)


def ellipse_distance(px: np.ndarray, py: np.ndarray, centre: np.ndarray,
                     radii: tuple[float, float]) -> np.ndarray:
    """Approximate signed distance to axis-aligned ellipses (good enough for shadows)."""
    rx, ry = radii
    x = (px - centre[:, 0, None, None]) / rx
    y = (py - centre[:, 1, None, None]) / ry
    return (np.sqrt(x * x + y * y) - 1.0) * min(rx, ry)


def coverage(distance: np.ndarray) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a signed distance field (pixels)."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def paint(canvas: np.ndarray, cover: np.ndarray, colour, alpha: float = 1.0) -> None:
    """Blend ``colour`` (RGB in [0, 1], or ``[T, 3]``) into ``canvas`` ``[T, H, W, 3]`` where
    ``cover`` ``[T, H, W]`` (or ``[1, H, W]``) says, in place."""
    colour = np.asarray(colour, dtype=np.float32)
    if colour.ndim == 2:
        colour = colour[:, None, None, :]
    weight = (alpha * cover)[..., None]
    canvas *= 1.0 - weight
    canvas += weight * colour


@dataclass(frozen=True)
class FigureStyle:
    """How one figure is drawn (pixels and RGB in [0, 1])."""

    width: float  # line width of the limbs
    torso_width: float
    head_radius: float
    head: str  # "disc" or "ring"
    colour: np.ndarray  # upper body (and everything in a one-colour figure)
    leg_colour: np.ndarray
    far_shade: float  # the limbs on the far side are mixed this much toward `shade_to`
    shade_to: np.ndarray
    feet: bool


def draw_figure(canvas: np.ndarray, screen: np.ndarray, depth: np.ndarray,
                style: FigureStyle, *, bars: bool) -> None:
    """Draw a figure into ``canvas`` ``[T, H, W, 3]`` from its joints in pixels ``screen``
    ``[T, J, 2]`` (x right, y down) and their ``depth`` ``[T, J]``, in place.

    Frame by frame, the limbs of the side farther from the camera are drawn first (shaded
    toward ``style.shade_to`` by ``style.far_shade``), then the torso and head, then the near
    limbs.
    """
    px, py = pixel_grid(*canvas.shape[1:3])
    groups: dict[str, list[tuple[int, int, float]]] = {}
    bones = list(BONES) + ([SHOULDER_BAR, HIP_BAR] if bars else [])
    bones += list(FEET_BONES) if style.feet else []
    for a, b, part in bones:
        radius = (style.torso_width if part == "torso" else style.width) / 2
        groups.setdefault(part, []).append((J[a], J[b], radius))

    def cover_of(part: str) -> np.ndarray:
        distance = None
        for ja, jb, radius in groups[part]:
            d = capsule_distance(px, py, screen[:, ja], screen[:, jb], radius)
            distance = d if distance is None else np.minimum(distance, d)
        return coverage(distance)

    left_near = (depth[:, J["l_shoulder"]] + depth[:, J["l_hip"]]
                 >= depth[:, J["r_shoulder"]] + depth[:, J["r_hip"]])[:, None, None]
    limbs = {}
    for limb in ("leg", "arm"):
        left, right = cover_of(f"l_{limb}"), cover_of(f"r_{limb}")
        limbs[limb] = (np.where(left_near, right, left), np.where(left_near, left, right))
    for limb in ("leg", "arm"):
        colour = style.leg_colour if limb == "leg" else style.colour
        paint(canvas, limbs[limb][0], colour * (1 - style.far_shade)
              + style.shade_to * style.far_shade)
    paint(canvas, cover_of("torso"), style.colour)
    head = disc_distance(px, py, screen[:, J["head"]], style.head_radius)
    if style.head == "ring":
        head = np.abs(head + style.width / 2) - style.width / 2
    paint(canvas, coverage(head), style.colour)
    for limb in ("leg", "arm"):
        paint(canvas, limbs[limb][1], style.leg_colour if limb == "leg" else style.colour)
