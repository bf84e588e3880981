"""Music: polyphonic piano rolls (JSB chorales) and note sequences (melodies, piano).

Tasks: ``music-jsb`` (`tasks.music.jsb`), ``music-melody`` (`tasks.music.melody`),
``music-piano`` (`tasks.music.piano`). Python entry for generation: `generate`.
"""

from __future__ import annotations


def __getattr__(name: str):
    # Lazy: importing tasks.music must not pull in TensorFlow for one attribute lookup.
    if name == "generate":
        from tasks.music.generation import generate

        return generate
    raise AttributeError(f"module 'tasks.music' has no attribute {name!r}")


__all__ = ["generate"]
