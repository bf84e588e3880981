"""Reading one image (tasks.captioning.images): every mode to RGB, EXIF orientation, sizes,
and every kind of bad file, on tiny images written into tmp_path. The writers of bad files
are imported by test_captioning_data.py too."""

from __future__ import annotations

import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tasks.captioning import images
from tasks.captioning.images import ImageError, MissingImageError, decode_image, read_image


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that claims ``width x height`` pixels in a few bytes (no image data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def write_truncated(path: Path, fmt: str = "JPEG") -> Path:
    """An image file cut in half (the header survives)."""
    Image.fromarray(noise(60, 80)).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def one_line(error: Exception, path: Path | str) -> str:
    message = str(error)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


# ------------------------------------------------------------------------------ modes

def test_rgb_png_is_returned_as_stored(tmp_path):
    pixels = noise(7, 9)
    Image.fromarray(pixels).save(tmp_path / "x.png")
    out = read_image(tmp_path / "x.png")
    assert out.dtype == np.uint8 and out.shape == (7, 9, 3) and out.flags.writeable
    np.testing.assert_array_equal(out, pixels)


def test_grayscale_bilevel_and_16_bit_become_gray_rgb(tmp_path):
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    Image.fromarray(gray, "L").save(tmp_path / "l.png")
    np.testing.assert_array_equal(read_image(tmp_path / "l.png"), np.repeat(gray[..., None], 3, -1))
    Image.new("1", (4, 3), 1).save(tmp_path / "b.png")
    assert (read_image(tmp_path / "b.png") == 255).all()
    sixteen = np.array([[0, 257, 65535, 32896]], np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "i16.png")
    assert Image.open(tmp_path / "i16.png").mode == "I;16"
    np.testing.assert_array_equal(read_image(tmp_path / "i16.png")[..., 0], [[0, 1, 255, 128]])
    Image.fromarray(sixteen.astype(np.int32), "I").save(tmp_path / "i32.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "i32.tif")[..., 0], [[0, 1, 255, 128]])
    Image.fromarray(np.array([[-5.0, 12.4, 300.0]], np.float32), "F").save(tmp_path / "f.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif")[..., 0], [[0, 12, 255]])


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # invisible red
    rgba.putpixel((1, 1), (0, 255, 0, 255))
    rgba.putpixel((2, 2), (0, 0, 0, 128))
    rgba.save(tmp_path / "rgba.png")
    out = read_image(tmp_path / "rgba.png")
    assert out[0, 0].tolist() == [255, 255, 255] and out[1, 1].tolist() == [0, 255, 0]
    assert 120 <= out[2, 2, 0] <= 135  # half-transparent black over white: mid gray
    Image.new("LA", (3, 3), (0, 0)).save(tmp_path / "la.png")
    assert (read_image(tmp_path / "la.png") == 255).all()
    keyed = Image.new("RGB", (3, 3), (10, 20, 30))  # a transparent colour (PNG tRNS)
    keyed.putpixel((0, 0), (1, 2, 3))
    keyed.save(tmp_path / "keyed.png", transparency=(1, 2, 3))
    out = read_image(tmp_path / "keyed.png")
    assert out[0, 0].tolist() == [255, 255, 255] and out[1, 1].tolist() == [10, 20, 30]


def test_palette_images_through_their_palette_and_transparency_first_frame(tmp_path):
    palette = Image.new("P", (5, 5), 0)
    palette.putpalette([200, 10, 10, 10, 10, 200] + [0] * 762)
    palette.putpixel((0, 0), 1)
    palette.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    assert out[0, 0].tolist() == [10, 10, 200] and out[3, 3].tolist() == [200, 10, 10]
    palette.save(tmp_path / "t.gif", transparency=1)
    out = read_image(tmp_path / "t.gif")
    assert out[0, 0].tolist() == [255, 255, 255] and out[3, 3].tolist() == [200, 10, 10]
    frames = [Image.new("P", (4, 4), i) for i in range(3)]  # animated: the first frame
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    frames[1].save(tmp_path / "a.gif", save_all=True, append_images=[frames[2], frames[0]])
    assert read_image(tmp_path / "a.gif")[0, 0].tolist() == [255, 0, 0]


def test_cmyk_jpeg_and_tiff_become_rgb(tmp_path):
    red = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    for name in ("cmyk.jpg", "cmyk.tif"):
        red.save(tmp_path / name)
        assert Image.open(tmp_path / name).mode == "CMYK"
        out = read_image(tmp_path / name).astype(int)
        assert np.abs(out[8, 8] - [255, 0, 0]).max() <= 3, out[8, 8]


@pytest.mark.parametrize("orientation, shape, white", [
    (1, (20, 60), (slice(None), slice(0, 10))),  # as stored: white on the left
    (3, (20, 60), (slice(None), slice(50, 60))),  # 180 degrees: on the right
    (6, (60, 20), (slice(0, 10), slice(None))),  # 90 clockwise: on top
    (8, (60, 20), (slice(50, 60), slice(None))),  # 90 counter-clockwise: at the bottom
    (2, (20, 60), (slice(None), slice(50, 60))),  # mirrored
])
def test_exif_orientation_is_applied(tmp_path, orientation, shape, white):
    image = Image.new("RGB", (60, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 10, 20))
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "r.jpg")
    assert out.shape[:2] == shape
    assert out[white].mean() > 240 and out.mean() < 0.25 * 255


# ------------------------------------------------------------------------------ sizes

def test_size_scales_the_centre_square(tmp_path):
    image = np.zeros((20, 60, 3), np.uint8)
    image[:, 20:40] = (0, 200, 0)  # the centre square is green
    image[:, :20] = (255, 0, 0)
    Image.fromarray(image).save(tmp_path / "wide.png")
    small = read_image(tmp_path / "wide.png", size=10)
    assert small.shape == (10, 10, 3)
    np.testing.assert_array_equal(small, np.broadcast_to([0, 200, 0], (10, 10, 3)))
    large = read_image(tmp_path / "wide.png", size=40)  # enlarged: bicubic
    assert large.shape == (40, 40, 3) and np.abs(large[5:-5, 5:-5].astype(int)
                                                 - [0, 200, 0]).max() <= 2
    tall = np.zeros((30, 10, 3), np.uint8)
    tall[10:20] = 90
    Image.fromarray(tall).save(tmp_path / "tall.png")
    assert (read_image(tmp_path / "tall.png", size=5) == 90).all()
    with pytest.raises(ValueError, match="size must be a positive integer"):
        read_image(tmp_path / "tall.png", size=0)


def test_large_images_shrink_to_the_working_size(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_SIDE", 50)
    Image.fromarray(noise(80, 200)).save(tmp_path / "big.png")
    assert read_image(tmp_path / "big.png").shape == (20, 50, 3)
    Image.fromarray(noise(30, 40)).save(tmp_path / "small.png")
    assert read_image(tmp_path / "small.png").shape == (30, 40, 3)


def test_large_jpegs_decode_at_a_reduced_scale_with_the_same_picture(tmp_path):
    yy, xx = np.mgrid[0:600, 0:800]
    smooth = np.stack([xx * 255 // 800, yy * 255 // 600, (xx + yy) * 255 // 1400], -1)
    Image.fromarray(smooth.astype(np.uint8)).save(tmp_path / "big.jpg", quality=95)
    Image.fromarray(smooth.astype(np.uint8)).save(tmp_path / "big.png")
    drafted = read_image(tmp_path / "big.jpg", size=64).astype(int)
    full = read_image(tmp_path / "big.png", size=64).astype(int)
    assert drafted.shape == (64, 64, 3) and np.abs(drafted - full).mean() < 3


def test_decode_image_from_bytes(tmp_path):
    Image.fromarray(noise(8, 8)).save(tmp_path / "x.png")
    np.testing.assert_array_equal(decode_image((tmp_path / "x.png").read_bytes()),
                                  read_image(tmp_path / "x.png"))
    with pytest.raises(ImageError, match=r"^example 7: not an image"):
        decode_image(b"plain text", name="example 7")
    with pytest.raises(ImageError, match=r"^<image bytes>: empty"):
        decode_image(b"")


# ------------------------------------------------------------------------------ bad files

def test_missing_folder_and_empty(tmp_path):
    with pytest.raises(MissingImageError) as info:
        read_image(tmp_path / "none.jpg")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ImageError)
    assert one_line(info.value, tmp_path / "none.jpg").endswith("no such image file")
    with pytest.raises(ImageError, match="is a folder, not an image file"):
        read_image(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty file \(0 bytes\)"):
        read_image(tmp_path / "empty.png")


@pytest.mark.parametrize("make, problem", [
    (lambda p: p.write_text("these are not the pixels you are looking for"),
     r"not an image \(no format Pillow reads\)"),
    (lambda p: write_truncated(p, "JPEG"), r"truncated or corrupt \(image file is truncated"),
    (lambda p: write_truncated(p, "PNG"), r"truncated or corrupt \(image file is truncated"),
    (lambda p: p.write_bytes(b"\xff\xd8\xff\xe0" + bytes(40)),
     r"corrupt JPEG header \(Pillow cannot read it\)"),
    (lambda p: png_header_only(p, 0, 12), r"zero size \(0x12 in its PNG header\)"),
    (lambda p: png_header_only(p, 10000, 9000),
     r"too large: (10000x9000 = )?90,000,000 pixels, over the 89,478,485 read \(MAX_PIXELS\)"),
    (lambda p: png_header_only(p, 20000, 20000),  # Pillow's DecompressionBombError
     r"too large: 400,000,000 pixels, over the 89,478,485 read"),
])
def test_bad_files_raise_one_line_naming_the_file(tmp_path, make, problem):
    path = tmp_path / "photo.jpg"  # the name says JPEG whatever the bytes are
    make(path)
    with pytest.raises(ImageError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # Pillow's, from 89 MP
        read_image(path, size=32)
    assert re.search(problem, one_line(info.value, path)), str(info.value)


def test_the_pixel_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    Image.fromarray(noise(40, 50)).save(tmp_path / "x.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 1999)
    with pytest.raises(ImageError, match=r"too large: 50x40 = 2,000 pixels, over the 1,999"):
        read_image(tmp_path / "x.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 2000)
    assert read_image(tmp_path / "x.png").shape == (40, 50, 3)
