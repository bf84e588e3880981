"""Reading one image file with Pillow: any mode to 8-bit RGB, upright, optionally square.

`read_image(path, size=None)` (and `decode_image(data, ...)` for encoded bytes, as TFDS keeps
them) returns uint8 ``[H, W, 3]`` RGB.

Modes, all to 8-bit RGB:

* ``RGB``: as stored. ICC colour profiles are not applied (colours are taken as sRGB).
* ``L`` (grayscale) and ``1`` (bilevel): the gray value in all three channels.
* ``LA``, ``RGBA``, ``PA``, ``RGBa`` and images with a transparent colour (``tRNS``):
  composited over white (`BACKGROUND`), as a web page shows them. Dropping alpha instead
  would show whatever colour the encoder left under transparent pixels (often black).
* ``P`` (palette): through its palette (and its transparency, as above).
* ``CMYK`` (print JPEGs, TIFFs): Pillow's conversion ``R = 255 - min(255, C + K)`` and so on,
  with no colour profile (Adobe's inverted CMYK JPEGs are read right side up by Pillow).
* ``I;16`` / ``I;16B`` / ``I;16L`` (16-bit grayscale PNG, TIFF) and ``I`` (32-bit integer):
  values taken as 0-65535 and scaled to 0-255 (``round(v / 257)``, outside values clipped);
  no contrast stretch, so 12-bit data looks dark. 16-bit RGB(A) PNGs Pillow reads as 8-bit.
* ``F`` (32-bit float): values taken as 0-255, rounded and clipped.
* anything else Pillow converts to RGB (``YCbCr``); a mode it cannot convert (``LAB``) is
  refused.

Multi-frame files (GIF, APNG, TIFF pages): the first frame. Orientation: the EXIF
``Orientation`` tag (phone photos) is applied: the eight quarter-turn and mirror cases; an
EXIF block Pillow cannot parse is ignored (the image is used as stored).

Size: an image over `MAX_PIXELS` (89,478,485, about 9,460 x 9,460: Pillow's own
decompression-bomb limit; a 50 MP phone photo passes, a 108 MP one must be scaled down first)
is refused before it is decoded, as is anything Pillow calls a decompression bomb. JPEGs are
decoded at a reduced scale (1/2, 1/4 or 1/8, in the DCT: Pillow's ``draft``) when that still
leaves at least the pixels needed, so a large photo costs little. Without ``size``, an image
whose longer side exceeds `MAX_SIDE` (2048) is scaled down to it (aspect kept): the working
size. With ``size``, the centre square (side = the shorter side) is scaled to ``size x size``
in one resampling: the edges of a non-square image are cut off, nothing is letterboxed.
Shrinking averages areas (Pillow's BOX filter, like the video decoder's area filter);
enlarging is bicubic.

Bad files raise `ImageError` ("<path>: <problem>", one line; an `RnnzooError` and
`ValueError`): missing (`MissingImageError`, also a `FileNotFoundError`), a folder, empty, not
an image (a format Pillow does not know), a known format with a broken header, zero width or
height, too large, truncated or corrupt data (the whole image is decoded, so a cut-off file
is found), a mode that cannot be converted.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tasks.common.input_files import check_input_file
from zoo.errors import RnnzooError

# width * height above this is refused before decoding: Pillow's own decompression-bomb
# limit (it warns above it and refuses twice as much), so no image we read makes it warn
MAX_PIXELS = 89_478_485
MAX_SIDE = 2048  # without ``size``, the longer side is scaled down to this
BACKGROUND = (255, 255, 255)  # what transparent pixels become
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"),
               (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


class ImageError(RnnzooError, ValueError):
    """An image that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class MissingImageError(ImageError, FileNotFoundError):
    """An image file that does not exist (also a `FileNotFoundError`, like the other
    readers' missing files)."""


def read_image(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    """uint8 ``[H, W, 3]`` RGB of the image file at ``path``; with ``size``, the centre
    square scaled to ``[size, size, 3]`` (see the module docstring)."""
    _check_size(size)
    try:
        path = check_input_file(path, "image", ImageError)
    except FileNotFoundError:
        raise MissingImageError(path, "no such image file") from None
    with open(path, "rb") as handle:
        return _read(handle, str(path), size)


def decode_image(data: bytes, *, size: int | None = None, name: str = "<image bytes>"
                 ) -> np.ndarray:
    """`read_image` for an encoded image in memory; ``name`` stands for the file in errors."""
    _check_size(size)
    if not data:
        raise ImageError(name, "empty (0 bytes)")
    return _read(io.BytesIO(bytes(data)), name, size)


def _check_size(size: int | None) -> None:
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer))
                             or size < 1):
        raise ValueError(f"size must be a positive integer or None, got {size!r}")


def _read(handle: BinaryIO, name: str, size: int | None) -> np.ndarray:
    image = _open(handle, name)
    with image:
        width, height = image.size
        if width == 0 or height == 0:
            raise ImageError(name, f"zero size ({width}x{height})")
        if width * height > MAX_PIXELS:
            raise ImageError(name, f"too large: {width}x{height} = {width * height:,} pixels, "
                                   f"over the {MAX_PIXELS:,} read (MAX_PIXELS); scale it "
                                   "down first")
        scale = _scale(width, height, size)
        if image.format == "JPEG" and scale < 1:
            image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
        try:
            image.load()  # decodes everything: a truncated or corrupt file fails here
        except MemoryError:
            raise ImageError(name, "too large to decode in memory") from None
        except Exception as error:  # noqa: BLE001 - any decoder failure is a corrupt file
            raise ImageError(name, f"truncated or corrupt ({_reason(error)})") from None
        image = _upright(image)
        image = _rgb(image, name)
        image = _resized(image, size)
        return np.array(image, dtype=np.uint8)


def _open(handle: BinaryIO, name: str) -> Image.Image:
    try:
        return Image.open(handle)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # (the warning arrives as an exception where warnings are made errors)
        found = re.search(r"\((\d+) pixels\)", str(error))
        pixels = f"{int(found.group(1)):,} pixels" if found else "a decompression bomb"
        raise ImageError(name, f"too large: {pixels}, over the {MAX_PIXELS:,} read "
                               "(MAX_PIXELS); scale it down first") from None
    except UnidentifiedImageError:
        raise ImageError(name, _unidentified(handle)) from None
    except Exception as error:  # noqa: BLE001 - any parser failure is a broken header
        raise ImageError(name, f"corrupt image header ({_reason(error)})") from None


def _unidentified(handle: BinaryIO) -> str:
    """Why Pillow could not identify the file: a known format's header that is broken (zero
    size named), or not an image at all."""
    handle.seek(0)
    head = handle.read(32)
    kind = next((k for signature, k in _SIGNATURES if head.startswith(signature)), None)
    if kind is None:
        return "not an image (no format Pillow reads)"
    if kind == "PNG" and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        if width == 0 or height == 0:
            return f"zero size ({width}x{height} in its PNG header)"
    if kind == "GIF" and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        if width == 0 or height == 0:
            return f"zero size ({width}x{height} in its GIF header)"
    return f"corrupt {kind} header (Pillow cannot read it)"


def _reason(error: Exception) -> str:
    return str(error).strip() or type(error).__name__


def _scale(width: int, height: int, size: int | None) -> float:
    """How much the image will be scaled by (<= 1 shrinks)."""
    if size is not None:
        return size / min(width, height)
    return min(1.0, MAX_SIDE / max(width, height))


def _upright(image: Image.Image) -> Image.Image:
    """``image`` turned by its EXIF orientation (unchanged if it has none or it is broken)."""
    try:
        turned = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken EXIF block: use the image as stored
        return image
    return turned if turned is not None else image


def _rgb(image: Image.Image, name: str) -> Image.Image:
    """``image`` as 8-bit RGB (see the module docstring for each mode)."""
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        values = np.asarray(image).astype(np.int64)
        gray = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=-1), "RGB")
    if mode == "F":
        gray = np.clip(np.rint(np.nan_to_num(np.asarray(image))), 0, 255).astype(np.uint8)
        return Image.fromarray(np.repeat(gray[..., None], 3, axis=-1), "RGB")
    if mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in _ALPHA:
        rgba = image.convert("RGBA")
        out = Image.new("RGB", rgba.size, BACKGROUND)
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    if mode == "RGB":
        return image
    try:
        return image.convert("RGB")
    except (ValueError, OSError):
        raise ImageError(name, f"colour mode {mode} cannot be converted to RGB") from None


def _resized(image: Image.Image, size: int | None) -> Image.Image:
    """The working size (``size`` None) or the centre square scaled to ``size``."""
    width, height = image.size
    if size is None:
        scale = _scale(width, height, None)
        if scale >= 1:
            return image
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
        return image.resize(target, Image.Resampling.BOX)
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    resample = Image.Resampling.BOX if side > size else Image.Resampling.BICUBIC
    return image.resize((size, size), resample, box=(left, top, left + side, top + side))
