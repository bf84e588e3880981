"""The bundled photos of the ImageNet tests (tests/data/images, licences in its README) and
the classes they show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

IMAGES = Path(__file__).parent / "data" / "images"
DOGS = range(151, 269)  # ImageNet classes 151-268 are dog breeds
CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
TROLLEYBUS = 874
GROUPS = {"poodle": DOGS, "cat": CATS, "trolleybus": [TROLLEYBUS]}


def photo(name: str) -> np.ndarray:
    """A bundled photo as a batch of one, float32 pixel values 0-255."""
    return np.asarray(Image.open(IMAGES / f"{name}.jpg").convert("RGB"), np.float32)[None]
