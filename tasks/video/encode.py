"""Writing frames as a real video file with PyAV (the generator and the tests use it).

The container and codec follow the file's extension: ``.mp4`` and ``.mkv`` H.264 (libx264,
yuv420p), ``.webm`` VP9, ``.avi`` Motion JPEG. H.264 and VP9 need even frame sizes (yuv420p);
odd sizes are refused with an error naming the file.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

# extension -> (codec, pixel format, encoder options)
CODECS = {
    ".mp4": ("libx264", "yuv420p", {"preset": "veryfast", "crf": "20"}),
    ".mkv": ("libx264", "yuv420p", {"preset": "veryfast", "crf": "20"}),
    ".webm": ("libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8", "crf": "32",
                                        "b": "0"}),
    ".avi": ("mjpeg", "yuvj420p", {"q": "4"}),
}


def write_video(path: str | os.PathLike, frames: np.ndarray, *, fps: float = 12.0) -> Path:
    """Write ``frames`` (uint8 ``[T, H, W, 3]`` RGB) to ``path``; the extension picks the
    container and codec (`CODECS`). Returns the path."""
    path = Path(path)
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise ValueError(f"{path}: frames must be uint8 [T, H, W, 3] with T >= 1, got "
                         f"{frames.dtype} {frames.shape}")
    suffix = path.suffix.lower()
    if suffix not in CODECS:
        raise ValueError(f"{path}: unknown video extension {suffix!r}; expected one of "
                         f"{', '.join(CODECS)}")
    codec, pix_fmt, options = CODECS[suffix]
    height, width = frames.shape[1:3]
    if pix_fmt.endswith("420p") and (height % 2 or width % 2):
        raise ValueError(f"{path}: {width}x{height} frames: {codec} needs even sizes")
    import av  # PyAV

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000),
                                      options=dict(options))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
