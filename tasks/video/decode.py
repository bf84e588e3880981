"""Reading one video file with PyAV: sample frames, turn them upright, resize and centre-crop.

`read_clip(path, frames=16, size=64, stride=None)` returns uint8 ``[frames, size, size, 3]``
RGB frames and a list of notes. Any container and codec that FFmpeg decodes works; the
tested ones are mp4 and mkv (H.264), webm (VP9) and avi (MJPEG).

Sampling:

* uniform (default): the clip's presentation time, from its first frame to the end of its
  last one, is cut into ``frames`` equal segments and the frame on screen at the middle of
  each is taken. Times come from the frames' timestamps, so a variable-frame-rate file is
  sampled evenly in time (a frame that stays on screen for long can be taken twice); with a
  constant rate and ``n`` frames this is frame ``floor((i + 0.5) * n / frames)``. Frames
  without timestamps, or with timestamps that do not increase, are sampled by their index
  instead (a note says so). The last frame lasts as long as the interval before it.
* ``stride=s``: decoded frames ``0, s, 2s, ...`` from the start, in presentation order;
  decoding stops after the last one needed.
* fewer frames than needed (uniform: fewer than ``frames``; stride: the clip ends before the
  last sample): every frame there is (uniform) or every sample there is (stride) is used
  and the last one is repeated to fill the clip; a note says how many were repeated.

Geometry: the shorter displayed side is scaled to ``size`` (non-square pixels are honoured
through the sample aspect ratio), then the centre ``size x size`` square is cut. Scaling is
FFmpeg's swscale ("area" filter) through PyAV, straight from the decoded YUV frame. Odd sizes
are fine. A shorter side under `MIN_SIDE` pixels is refused.

Rotation: a display matrix (the side data phones write; FFmpeg also turns an mp4 track
matrix into one) is applied to the frames: the eight combinations of quarter turns and
mirroring. A matrix that turns by another angle, or one that cannot be read, is refused
with an error naming the angle. Without a matrix, a ``rotate`` metadata tag (clockwise
degrees, written by old tools) is honoured the same way. Containers that have no place for
either (AVI) are taken as they are.

Bad files raise `VideoError` ("<path>: <problem>", one line): empty file, not a video (no
container FFmpeg recognises, or a still image), audio only (no video stream, or only cover
art), zero decodable frames, truncated or corrupt (a decode error after some frames, or
frames that end well before the duration the file declares), rotation it cannot apply, tiny
frames. A truncated file is refused rather than used in part: what is left may miss the
action, and sampling what is left would silently change the clip's time scale. A file
counts as truncated when its decoded frames end more than ``max(10 %, two frame intervals)``
before the video stream's declared duration (the stream's own duration, else its
``DURATION`` tag, else the container's when it holds one stream), or, for AVI, when fewer
than 90 % of the frames its header counts decode. In stride mode decoding stops early, so
damage after the last sampled frame goes unnoticed.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.common.input_files import check_input_file
from zoo.errors import RnnzooError

MIN_SIDE = 16  # pixels: a shorter displayed side below this is refused ("tiny")
HOLD_BYTES = 256 * 2**20  # decoded frames kept unconverted until they take this much memory
INTERPOLATION = "AREA"  # swscale filter for resizing
_local = threading.local()


class VideoError(RnnzooError, ValueError):
    """A video file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class Orientation:
    """How to turn decoded frames upright: transpose, then flip rows and/or columns."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    def apply(self, image: np.ndarray) -> np.ndarray:
        if self.transpose:
            image = image.transpose(1, 0, 2)
        if self.flip_rows:
            image = image[::-1]
        if self.flip_cols:
            image = image[:, ::-1]
        return image


UPRIGHT = Orientation()
# clockwise quarter turns -> orientation (for the old ``rotate`` tag)
_CLOCKWISE = {0: UPRIGHT, 90: Orientation(True, False, True), 180: Orientation(False, True, True),
              270: Orientation(True, True, False)}


def check_options(frames: int, size: int, stride: int | None) -> None:
    """ValueError for a frame count, size or stride that is not a positive integer."""
    for name, value in (("frames", frames), ("size", size), ("stride", stride)):
        if name == "stride" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def uniform_indices(times: np.ndarray, end: float, frames: int) -> np.ndarray:
    """Indices of the frames on screen at the middle of ``frames`` equal segments of
    ``[times[0], end)``; ``times`` are increasing presentation times."""
    times = np.asarray(times, dtype=np.float64)
    centres = times[0] + (np.arange(frames) + 0.5) * (end - times[0]) / frames
    return np.clip(np.searchsorted(times, centres, side="right") - 1, 0, len(times) - 1)


def sample_indices(count: int, frames: int, stride: int | None = None,
                   times: np.ndarray | None = None, end: float | None = None,
                   ) -> tuple[np.ndarray, int]:
    """Which of ``count`` frames to take: ``(indices, repeated)``, ``repeated`` being how
    many trailing entries repeat the last frame because the clip is too short.

    Without ``stride``: uniform over ``times`` (default ``0..count-1``, ending at ``end``,
    default one interval after the last); with ``stride``: ``0, stride, 2*stride, ...``.
    """
    if count < 1:
        raise ValueError("no frames to sample from")
    if stride is not None:
        taken = np.arange(0, min(count, frames * stride), stride)
    elif count < frames:
        taken = np.arange(count)
    else:
        if times is None:
            times, end = np.arange(count, dtype=np.float64), float(count)
        return uniform_indices(times, end, frames), 0
    repeated = frames - len(taken)
    return np.concatenate([taken, np.full(repeated, taken[-1])]).astype(np.int64), repeated


def repeat_note(count: int, frames: int, repeated: int, stride: int | None = None) -> str:
    """The note for a clip of ``count`` frames that filled ``frames`` by repeating its last
    frame ``repeated`` times."""
    if stride is None:
        return (f"only {_frames(count)}, {frames} asked: repeated the last frame "
                f"{_times(repeated)}")
    return (f"only {_frames(count)}: {frames - repeated} of {frames} samples at stride "
            f"{stride}; repeated the last frame {_times(repeated)}")


def read_clip(path: str | os.PathLike, *, frames: int = 16, size: int = 64,
              stride: int | None = None, threads: int = 0) -> tuple[np.ndarray, list[str]]:
    """``(clip, notes)``: uint8 ``[frames, size, size, 3]`` RGB frames of the video at ``path``
    and notes on what was done to fill it (see the module docstring).

    ``threads``: FFmpeg decoding threads for this file (0: FFmpeg's choice; the dataset
    pipeline passes 1 since it decodes several files at once). Raises `VideoError` naming the
    file for bad input, FileNotFoundError for a missing one, ValueError for bad options.
    """
    check_options(frames, size, stride)
    path = check_input_file(path, "video", VideoError)
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as error:
        raise VideoError(path, _open_problem(path, error)) from None
    with container:
        stream = _video_stream(path, container)
        stream.codec_context.thread_count = int(threads)
        if threads != 1:
            stream.thread_type = "AUTO"
        context = stream.codec_context
        sar = _aspect(stream)
        if context.width and context.height:
            _check_side(path, context.width, context.height, sar)
        return _ClipReader(path, container, stream, frames, size, stride, sar).read()


class _ClipReader:
    """Decodes one opened stream and keeps what sampling needs."""

    def __init__(self, path, container, stream, frames, size, stride, sar):
        self.path, self.container, self.stream = path, container, stream
        self.frames, self.size, self.stride, self.sar = frames, size, stride, sar
        self.orientation: Orientation | None = None
        self.times: list[float | None] = []
        self.held: list = []  # av.VideoFrame (unconverted) or np.ndarray (converted)
        self.held_bytes = 0
        self.eager = False  # convert every frame as it comes (memory budget reached)

    def read(self) -> tuple[np.ndarray, list[str]]:
        wanted = None
        if self.stride is not None:
            wanted = set(range(0, self.frames * self.stride, self.stride))
        count = 0
        for frame in self._decoded():
            if count == 0:
                self._first(frame)
            self.times.append(frame.time)
            if wanted is None:
                self._hold(frame)
            elif count in wanted:
                self.held.append(self._convert(frame))
            count += 1
            if wanted is not None and count > max(wanted):
                break
        if count == 0:
            raise VideoError(self.path, "zero decodable frames: the video stream holds no "
                                        "frame the decoder can output")
        notes: list[str] = []
        if self.stride is not None:
            indices, repeated = sample_indices(len(self.held), self.frames, 1)
            if repeated:
                notes.append(repeat_note(count, self.frames, repeated, self.stride))
            return self._stack(indices), notes
        times, end, why = self._timeline(count)
        self._check_complete(count, times, end)
        if why and count >= self.frames:
            notes.append(f"{why}: sampled by frame index")
        indices, repeated = sample_indices(count, self.frames, times=times, end=end)
        if repeated:
            notes.append(repeat_note(count, self.frames, repeated))
        return self._stack(indices), notes

    # decoding -------------------------------------------------------------------------------
    def _decoded(self):
        import av

        count = 0
        try:
            for packet in self.container.demux(self.stream):
                for frame in packet.decode():
                    count += 1
                    yield frame
        except av.error.FFmpegError as error:
            reason = _ffmpeg_reason(error)
            if count == 0:
                raise VideoError(self.path, f"zero decodable frames: decoding failed at once "
                                            f"({reason})") from None
            raise VideoError(self.path, f"truncated or corrupt: decoding failed after {count} "
                                        f"frames ({reason})") from None

    def _first(self, frame) -> None:
        _check_side(self.path, frame.width, frame.height, self.sar)
        self.orientation = _orientation(self.path, frame, self.stream)

    def _hold(self, frame) -> None:
        if self.eager:
            self.held.append(self._convert(frame))
            return
        self.held.append(frame)
        self.held_bytes += sum(plane.buffer_size for plane in frame.planes)
        if self.held_bytes > HOLD_BYTES:  # long or large video: convert from here on
            self.held = [self._convert(f) for f in self.held]
            self.eager = True

    def _convert(self, frame) -> np.ndarray:
        try:
            return square(frame, self.size, self.sar, self.orientation)
        except ValueError as error:  # PyAV/swscale refusing a pixel format or size
            raise VideoError(self.path, f"cannot convert {frame.format.name} frames to RGB "
                                        f"({_ffmpeg_reason(error)})") from None

    def _stack(self, indices: np.ndarray) -> np.ndarray:
        out = np.empty((len(indices), self.size, self.size, 3), np.uint8)
        converted: dict[int, np.ndarray] = {}
        for row, index in enumerate(indices):
            index = int(index)
            if index not in converted:
                item = self.held[index]
                converted[index] = item if isinstance(item, np.ndarray) else self._convert(item)
            out[row] = converted[index]
        return out

    # time line and truncation ---------------------------------------------------------------
    def _timeline(self, count: int) -> tuple[np.ndarray | None, float | None, str | None]:
        """(presentation times, end of the last frame, None), or (None, None, why) when the
        frames must be sampled by index."""
        if count == 1:
            return None, None, None
        if any(t is None for t in self.times):
            return None, None, "frames without timestamps"
        times = np.asarray(self.times, dtype=np.float64)
        if not np.all(np.diff(times) > 0):
            return None, None, "timestamps that do not increase"
        return times, float(times[-1] + (times[-1] - times[-2])), None

    def _check_complete(self, count: int, times: np.ndarray | None, end: float | None) -> None:
        """VideoError when the decoded frames stop well short of what the file declares."""
        rate = float(self.stream.average_rate or self.stream.guessed_rate or 0) or None
        if times is not None:
            covered, interval = end - times[0], (end - times[0]) / count
        elif rate:
            covered, interval = count / rate, 1 / rate
        else:
            covered = interval = None
        declared = _declared_seconds(self.container, self.stream)
        if declared and covered is not None and covered < declared - max(0.1 * declared,
                                                                          2 * interval):
            raise VideoError(self.path, f"truncated: {count} frames decode, covering "
                                        f"{covered:.2f} s of the {declared:.2f} s the file "
                                        "declares")
        declared_frames = self.stream.frames if self.container.format.name == "avi" else 0
        if declared_frames and count < 0.9 * declared_frames:
            raise VideoError(self.path, f"truncated: {count} of the {declared_frames} frames "
                                        "its header counts decode")


# geometry -----------------------------------------------------------------------------------
def square(frame, size: int, sar: float = 1.0,
           orientation: Orientation | None = None) -> np.ndarray:
    """uint8 ``[size, size, 3]`` RGB: ``frame`` (an ``av.VideoFrame``) scaled so that its
    shorter displayed side is ``size``, centre-cropped, then turned upright."""
    width, height = frame.width * sar, frame.height
    scale = size / min(width, height)
    target_w = max(size, round(width * scale))
    target_h = max(size, round(height * scale))
    rgb = _reformatter().reformat(frame, width=target_w, height=target_h, format="rgb24",
                                  interpolation=INTERPOLATION, threads=1).to_ndarray()
    top, left = (target_h - size) // 2, (target_w - size) // 2
    image = rgb[top:top + size, left:left + size]
    return np.ascontiguousarray((orientation or UPRIGHT).apply(image))


def _reformatter():
    """This thread's swscale wrapper: it keeps its scaler between frames of the same size and
    format (a new one per frame, as ``frame.reformat`` makes, costs about a millisecond)."""
    reformatter = getattr(_local, "reformatter", None)
    if reformatter is None:
        from av.video.reformatter import VideoReformatter

        reformatter = _local.reformatter = VideoReformatter()
    return reformatter


def square_array(image: np.ndarray, size: int) -> np.ndarray:
    """`square` for a uint8 ``[H, W, 3]`` RGB array (frames that come decoded, e.g. TFDS)."""
    import av

    return square(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"), size)


def _aspect(stream) -> float:
    ratio = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    return float(ratio) if ratio and ratio > 0 else 1.0


def _check_side(path: Path, width: int, height: int, sar: float) -> None:
    shorter = min(width * sar, height)
    if shorter < MIN_SIDE:
        raise VideoError(path, f"{width}x{height} frames are too small: the shorter side "
                               f"must be at least {MIN_SIDE} pixels")


def _orientation(path: Path, frame, stream) -> Orientation:
    """The orientation the display matrix (or an old ``rotate`` tag) asks for."""
    raw = None
    for side in frame.side_data:
        if side.type.name == "DISPLAYMATRIX":
            raw = bytes(side)
    if raw is not None:
        if len(raw) != 36:
            raise VideoError(path, f"unreadable display matrix ({len(raw)} bytes instead of "
                                   "36): cannot tell how to turn the frames upright")
        a, b, _, c, d = np.frombuffer(raw, dtype=np.int32)[:5].tolist()
        if a == 0 and d == 0 and b != 0 and c != 0:  # quarter turn (x' = c*y, y' = b*x)
            return Orientation(True, b < 0, c < 0)
        if b == 0 and c == 0 and a != 0 and d != 0:  # upright, half turn or mirrored
            return Orientation(False, d < 0, a < 0)
        raise VideoError(path, f"rotated by {frame.rotation:g} degrees: only quarter turns "
                               "can be turned upright")
    tag = _tag(stream, "rotate")
    if tag is None:
        return UPRIGHT
    try:
        degrees = float(tag) % 360
    except ValueError:
        raise VideoError(path, f"unreadable rotate tag {tag!r}") from None
    if degrees not in _CLOCKWISE:
        raise VideoError(path, f"rotate tag of {degrees:g} degrees: only quarter turns can be "
                               "turned upright")
    return _CLOCKWISE[int(degrees)]


# opening ------------------------------------------------------------------------------------
def _video_stream(path: Path, container):
    """The first video stream that is not cover art; VideoError when there is none."""
    import av

    fmt = container.format.name
    if fmt == "image2" or fmt.endswith("_pipe"):
        raise VideoError(path, f"a still image ({fmt}), not a video")
    attached = av.stream.Disposition.attached_pic
    videos = [s for s in container.streams.video if not s.disposition & attached]
    if videos:
        return videos[0]
    has_audio = bool(container.streams.audio)
    if container.streams.video:
        what = "audio only" if has_audio else "no video"
        raise VideoError(path, f"{what}: its only picture is cover art, there is no video "
                               "stream")
    if has_audio:
        raise VideoError(path, f"audio only: no video stream ({len(container.streams.audio)} "
                               "audio stream(s))")
    kind = _container_kind(path) if not container.streams else None
    if kind:  # e.g. an mp4 cut before its index: it opens, with nothing in it
        raise VideoError(path, f"truncated or corrupt {kind} file (no stream found)")
    raise VideoError(path, "no video stream")


def _open_problem(path: Path, error) -> str:
    """The problem to report for a file FFmpeg cannot open: truncated when its first bytes
    are those of a video container, else not a video."""
    kind, reason = _container_kind(path), _ffmpeg_reason(error)
    if kind:
        return f"truncated or corrupt {kind} file ({reason})"
    return f"not a video file FFmpeg can open ({reason})"


def _container_kind(path: Path) -> str | None:
    """The video container the first bytes of ``path`` announce, or None."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "MP4/MOV"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska/WebM"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    return None


def _frames(count: int) -> str:
    return f"{count} frame" + ("" if count == 1 else "s")


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _ffmpeg_reason(error) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _tag(stream, name: str) -> str | None:
    """A stream metadata tag, whatever its case (Matroska writes tags in capitals)."""
    for key, value in stream.metadata.items():
        if key.lower() == name:
            return value
    return None


_DURATION_TAG = re.compile(r"^(\d+):(\d+):(\d+(?:\.\d*)?)$")


def _declared_seconds(container, stream) -> float | None:
    """The video stream's declared duration in seconds, or None when it declares none."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = _tag(stream, "duration")
    match = _DURATION_TAG.match(tag.strip()) if tag else None
    if match:
        return int(match[1]) * 3600 + int(match[2]) * 60 + float(match[3])
    if len(container.streams) == 1 and container.duration:
        return container.duration / 1_000_000
    return None
