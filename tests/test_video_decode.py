"""Reading one video file (tasks.video.decode): sampling, geometry, rotation and every kind of
bad input, on tiny clips written into tmp_path.

The helpers that write clips (grey levels that encode the frame index, rotated, variable
frame rate, odd-sized, audio-only, garbage) are imported by test_video_dataset.py too.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tasks.video.decode import MIN_SIDE, VideoError, read_clip, sample_indices
from tasks.video.encode import write_video

EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi")


def grey(index: int) -> int:
    """The grey level that encodes frame ``index`` (12 levels apart: far above codec error)."""
    return 10 + 12 * index


def index_frames(count: int, width: int = 32, height: int = 24) -> np.ndarray:
    """``count`` flat grey frames whose level encodes their index."""
    return np.stack([np.full((height, width, 3), grey(i), np.uint8) for i in range(count)])


def indices_of(clip: np.ndarray) -> np.ndarray:
    """The frame indices encoded in a decoded clip's grey levels (as floats)."""
    return (clip.reshape(len(clip), -1).mean(axis=1) - 10) / 12


def write_index_clip(path, count: int = 20, width: int = 32, height: int = 24, fps=12.0):
    return write_video(path, index_frames(count, width, height), fps=fps)


def write_custom(path, frames: np.ndarray, *, codec="libx264", pix_fmt="yuv420p", rate=12,
                 pts_ms=None, rotation=None, hflip=False, sar=None, tags=None, options=None):
    """Write ``frames`` with PyAV and the settings write_video does not offer: explicit
    timestamps in milliseconds (variable frame rate), a display rotation, a sample aspect
    ratio, stream metadata tags, other pixel formats."""
    import av

    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if pts_ms is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None or hflip:
            stream.set_display_rotation(rotation or 0, hflip=hflip)
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = Fraction(sar)
        for key, value in (tags or {}).items():
            stream.metadata[key] = value
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio_only(path):
    """A real AAC audio file (one second of a tone) with no video stream."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
        frame = av.AudioFrame.from_ndarray(tone.astype(np.float32)[None], format="fltp",
                                           layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_garbage_packets(path, codec="libx264", pix_fmt="yuv420p", count=6):
    """A well-formed container whose video packets are random bytes (nothing decodes)."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=12)
        stream.width, stream.height, stream.pix_fmt = 32, 24, pix_fmt
        for i in range(count):
            packet = av.Packet(rng.bytes(300))
            packet.stream, packet.pts, packet.dts = stream, i, i
            packet.time_base = Fraction(1, 12)
            container.mux(packet)
    return path


def write_truncated(path, source, fraction=0.5):
    """The first ``fraction`` of the bytes of ``source``."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def halves(width=64, height=32) -> np.ndarray:
    """Six frames: left half red, right half blue."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:, : width // 2, 0] = 255
    image[:, width // 2:, 2] = 255
    return np.stack([image] * 6)


def red_minus_blue(image: np.ndarray) -> float:
    return float(image[..., 0].mean()) - float(image[..., 2].mean())


# sampling -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", EXTENSIONS)
def test_uniform_sampling_in_every_container(tmp_path, ext):
    path = write_index_clip(tmp_path / f"clip{ext}", count=20)
    clip, notes = read_clip(path, frames=8, size=16)
    assert clip.shape == (8, 16, 16, 3) and clip.dtype == np.uint8
    assert notes == []
    # segment centres: floor((i + 0.5) * 20 / 8)
    np.testing.assert_allclose(indices_of(clip), [1, 3, 6, 8, 11, 13, 16, 18], atol=0.3)


def test_uniform_takes_every_frame_when_counts_match(tmp_path):
    path = write_index_clip(tmp_path / "clip.mp4", count=10)
    clip, _ = read_clip(path, frames=10, size=16)
    np.testing.assert_allclose(indices_of(clip), np.arange(10), atol=0.3)


def test_stride_sampling(tmp_path):
    path = write_index_clip(tmp_path / "clip.mkv", count=20)
    clip, notes = read_clip(path, frames=5, size=16, stride=3)
    np.testing.assert_allclose(indices_of(clip), [0, 3, 6, 9, 12], atol=0.3)
    assert notes == []


def test_stride_past_the_end_repeats_the_last_sample(tmp_path):
    path = write_index_clip(tmp_path / "clip.mkv", count=20)
    clip, notes = read_clip(path, frames=8, size=16, stride=4)
    np.testing.assert_allclose(indices_of(clip), [0, 4, 8, 12, 16, 16, 16, 16], atol=0.3)
    assert len(notes) == 1 and "repeated the last frame 3 times" in notes[0]
    assert "stride 4" in notes[0]


def test_fewer_frames_than_asked_repeats_the_last_frame(tmp_path):
    path = write_index_clip(tmp_path / "short.webm", count=6)
    clip, notes = read_clip(path, frames=10, size=16)
    np.testing.assert_allclose(indices_of(clip), [0, 1, 2, 3, 4, 5, 5, 5, 5, 5], atol=0.3)
    assert notes == ["only 6 frames, 10 asked: repeated the last frame 4 times"]


def test_one_frame_clip(tmp_path):
    path = write_index_clip(tmp_path / "one.mp4", count=1)
    clip, notes = read_clip(path, frames=4, size=16)
    assert clip.shape == (4, 16, 16, 3)
    np.testing.assert_allclose(indices_of(clip), [0, 0, 0, 0], atol=0.3)
    assert notes == ["only 1 frame, 4 asked: repeated the last frame 3 times"]


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_variable_frame_rate_is_sampled_evenly_in_time(tmp_path, ext):
    # six frames in the first 0.1 s, then six frames 0.3 s apart (the last lasts 0.3 s too)
    pts_ms = [0, 20, 40, 60, 80, 100, 300, 600, 900, 1200, 1500, 1800]
    frames = np.stack([np.full((24, 32, 3), 10 + 20 * i, np.uint8) for i in range(12)])
    path = write_custom(tmp_path / f"vfr{ext}", frames, rate=50, pts_ms=pts_ms)
    clip, notes = read_clip(path, frames=6, size=16)
    # centres (i + 0.5) * 2.1 s / 6 = 0.175, 0.525, ... 1.925 s: the frames then on screen
    found = (clip.reshape(6, -1).mean(axis=1) - 10) / 20
    np.testing.assert_allclose(found, [5, 6, 7, 9, 10, 11], atol=0.3)
    assert notes == []


def test_frames_without_timestamps_are_sampled_by_index(tmp_path):
    import av

    path = tmp_path / "raw.h264"  # an H.264 elementary stream: no container, no timestamps
    with av.open(str(path), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for image in index_frames(20):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    clip, notes = read_clip(path, frames=8, size=16)
    np.testing.assert_allclose(indices_of(clip), [1, 3, 6, 8, 11, 13, 16, 18], atol=0.3)
    assert notes == ["frames without timestamps: sampled by frame index"]


def test_long_videos_are_converted_as_they_decode(tmp_path, monkeypatch):
    import tasks.video.decode as decode

    path = write_index_clip(tmp_path / "clip.mkv", count=20)
    held, _ = read_clip(path, frames=8, size=16)
    monkeypatch.setattr(decode, "HOLD_BYTES", 3000)  # a memory budget of about one frame
    eager, _ = read_clip(path, frames=8, size=16)
    np.testing.assert_array_equal(held, eager)


def test_sample_indices_rules():
    np.testing.assert_array_equal(sample_indices(20, 8)[0], [1, 3, 6, 8, 11, 13, 16, 18])
    np.testing.assert_array_equal(sample_indices(3, 5)[0], [0, 1, 2, 2, 2])
    assert sample_indices(3, 5)[1] == 2
    np.testing.assert_array_equal(sample_indices(10, 3, stride=4)[0], [0, 4, 8])
    np.testing.assert_array_equal(sample_indices(10, 4, stride=4)[0], [0, 4, 8, 8])
    # uneven times: the frame on screen at each centre
    times = np.array([0.0, 0.1, 1.0, 2.0])
    np.testing.assert_array_equal(sample_indices(4, 2, times=times, end=3.0)[0], [1, 3])


# geometry -----------------------------------------------------------------------------------
def test_resize_shorter_side_then_centre_crop(tmp_path):
    # 64x32: three vertical bands red | green | blue, 16, 32 and 16 pixels wide
    image = np.zeros((32, 64, 3), np.uint8)
    image[:, :16, 0] = image[:, 16:48, 1] = image[:, 48:, 2] = 255
    path = write_video(tmp_path / "bands.avi", np.stack([image] * 4))
    clip, _ = read_clip(path, frames=2, size=16)
    # the shorter side (32) becomes 16 and the centre 16x16 of the 32x16 frame is the green band
    assert clip[..., 1].mean() > 200 and clip[..., 0].mean() < 40 and clip[..., 2].mean() < 40


def test_odd_size(tmp_path):
    frames = index_frames(8, width=33, height=25)
    path = write_custom(tmp_path / "odd.mp4", frames, pix_fmt="yuv444p")
    clip, notes = read_clip(path, frames=4, size=20)
    assert clip.shape == (4, 20, 20, 3) and notes == []
    np.testing.assert_allclose(indices_of(clip), [1, 3, 5, 7], atol=0.3)


def test_upscaling_a_small_clip(tmp_path):
    path = write_index_clip(tmp_path / "small.mp4", count=4, width=MIN_SIDE + 4,
                            height=MIN_SIDE)
    clip, _ = read_clip(path, frames=4, size=64)
    assert clip.shape == (4, 64, 64, 3)


def test_tiny_clip_is_refused(tmp_path):
    path = write_index_clip(tmp_path / "tiny.avi", count=4, width=12, height=8)
    with pytest.raises(VideoError, match=r"tiny\.avi: 12x8 frames are too small: the shorter "
                                         rf"side must be at least {MIN_SIDE} pixels"):
        read_clip(path, frames=4, size=16)


def test_sample_aspect_ratio_is_honoured(tmp_path):
    # 32x32 stored pixels twice as wide as high: displayed 64x32, so the centre crop keeps
    # the middle half of the stored width (red outer quarters are cut away)
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :8, 0] = image[:, 24:, 0] = 255
    image[:, 8:24, 2] = 255
    path = write_custom(tmp_path / "sar.mkv", np.stack([image] * 3), sar=2)
    clip, _ = read_clip(path, frames=2, size=16)
    assert red_minus_blue(clip) < -200


# rotation -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".webm"])
def test_rotated_file_is_turned_upright(tmp_path, ext):
    # counter-clockwise quarter turn: the right half (blue) goes to the top
    path = write_custom(tmp_path / f"rot{ext}", halves(),
                        codec="libvpx-vp9" if ext == ".webm" else "libx264", rotation=90)
    clip, notes = read_clip(path, frames=2, size=16)
    assert notes == []
    assert red_minus_blue(clip[:, :6]) < -150  # top: blue
    assert red_minus_blue(clip[:, -6:]) > 150  # bottom: red


def test_clockwise_rotation_and_mirroring(tmp_path):
    clockwise = write_custom(tmp_path / "cw.mp4", halves(), rotation=-90)
    clip, _ = read_clip(clockwise, frames=2, size=16)
    assert red_minus_blue(clip[:, :6]) > 150 and red_minus_blue(clip[:, -6:]) < -150
    mirrored = write_custom(tmp_path / "mirror.mkv", halves(), hflip=True)
    clip, _ = read_clip(mirrored, frames=2, size=16)
    assert red_minus_blue(clip[:, :, :6]) < -150 and red_minus_blue(clip[:, :, -6:]) > 150
    upright = write_video(tmp_path / "upright.mkv", halves())
    clip, _ = read_clip(upright, frames=2, size=16)
    assert red_minus_blue(clip[:, :, :6]) > 150 and red_minus_blue(clip[:, :, -6:]) < -150


def test_old_rotate_tag_is_honoured(tmp_path):
    # the old "rotate" tag counts clockwise: the left half (red) goes to the top
    path = write_custom(tmp_path / "tag.mkv", halves(), tags={"rotate": "90"})
    clip, _ = read_clip(path, frames=2, size=16)
    assert red_minus_blue(clip[:, :6]) > 150 and red_minus_blue(clip[:, -6:]) < -150


def test_rotation_that_is_not_a_quarter_turn_is_refused(tmp_path):
    path = write_custom(tmp_path / "tilted.mp4", halves(), rotation=45)
    with pytest.raises(VideoError, match=r"tilted\.mp4: rotated by 45 degrees: only quarter "
                                         "turns can be turned upright"):
        read_clip(path, frames=2, size=16)


# bad input ----------------------------------------------------------------------------------
def _one_line(error: pytest.ExceptionInfo, path) -> str:
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert error.value.path == str(path)
    return message


def test_random_bytes_are_not_a_video(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(VideoError) as error:
        read_clip(path)
    assert "not a video file FFmpeg can open" in _one_line(error, path)
    assert isinstance(error.value, ValueError)


def test_empty_file_folder_and_missing_file(tmp_path):
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"empty\.mkv: empty file \(0 bytes\)"):
        read_clip(empty)
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(VideoError, match="is a folder"):
        read_clip(tmp_path / "folder.mp4")
    with pytest.raises(FileNotFoundError, match=r"missing\.mp4: no such video file"):
        read_clip(tmp_path / "missing.mp4")


def test_still_image_is_not_a_video(tmp_path):
    import av

    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = 32, 24, "rgb24"
    frame = av.VideoFrame.from_ndarray(index_frames(1)[0], format="rgb24")
    data = b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])
    path = tmp_path / "picture.mp4"
    path.write_bytes(data)
    with pytest.raises(VideoError) as error:
        read_clip(path)
    assert "a still image (png_pipe), not a video" in _one_line(error, path)


def test_audio_only_file(tmp_path):
    path = write_audio_only(tmp_path / "speech.mp4")
    with pytest.raises(VideoError) as error:
        read_clip(path)
    assert "audio only: no video stream" in _one_line(error, path)


@pytest.mark.parametrize("ext", [".mkv", ".webm", ".avi"])
def test_truncated_file_is_refused(tmp_path, ext):
    source = write_index_clip(tmp_path / f"full{ext}", count=20)
    path = write_truncated(tmp_path / f"cut{ext}", source, 0.5)
    with pytest.raises(VideoError) as error:
        read_clip(path, frames=4, size=16)
    assert "truncated" in _one_line(error, path)


def test_truncated_mp4_without_its_index(tmp_path):
    # write_video's mp4 keeps its index (moov) at the end: cut, the file does not open
    source = write_index_clip(tmp_path / "full.mp4", count=20)
    path = write_truncated(tmp_path / "cut.mp4", source, 0.6)
    with pytest.raises(VideoError) as error:
        read_clip(path)
    assert "truncated or corrupt MP4/MOV file" in _one_line(error, path)


def test_truncated_faststart_mp4(tmp_path):
    # index first (faststart): the file opens and its frames stop before the declared end
    frames = np.random.default_rng(0).integers(0, 255, (20, 24, 32, 3), dtype=np.uint8)
    source = write_custom(tmp_path / "full.mp4", frames, options={"movflags": "faststart"})
    read_clip(source, frames=4, size=16)
    path = write_truncated(tmp_path / "cut.mp4", source, 0.5)
    with pytest.raises(VideoError) as error:
        read_clip(path, frames=4, size=16)
    assert "truncated" in _one_line(error, path)


def test_truncated_file_in_stride_mode_before_the_damage(tmp_path):
    # stride sampling stops decoding after its last frame: damage further on goes unseen
    frames = np.random.default_rng(0).integers(0, 255, (20, 24, 32, 3), dtype=np.uint8)
    source = write_video(tmp_path / "full.mkv", frames)
    path = write_truncated(tmp_path / "cut.mkv", source, 0.6)
    clip, notes = read_clip(path, frames=3, size=16, stride=2)
    assert clip.shape == (3, 16, 16, 3) and notes == []
    with pytest.raises(VideoError, match="truncated"):
        read_clip(path, frames=3, size=16)


@pytest.mark.parametrize("name,codec,pix_fmt", [("garbage.mkv", "libx264", "yuv420p"),
                                                ("garbage.avi", "mjpeg", "yuvj420p")])
def test_zero_decodable_frames(tmp_path, name, codec, pix_fmt):
    path = write_garbage_packets(tmp_path / name, codec, pix_fmt)
    with pytest.raises(VideoError) as error:
        read_clip(path)
    assert "zero decodable frames" in _one_line(error, path)


@pytest.mark.parametrize("options", [{"frames": 0}, {"size": -1}, {"stride": 0},
                                     {"frames": 2.5}, {"size": True}])
def test_bad_options(tmp_path, options):
    path = write_index_clip(tmp_path / "clip.mp4", count=4)
    with pytest.raises(ValueError, match="must be a positive integer"):
        read_clip(path, **options)
