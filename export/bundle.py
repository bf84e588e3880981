"""`export_model`: every requested artifact of one model in one export folder, verified.

Layout of the folder (written aside and renamed into place, so a failure leaves nothing)::

    savedmodel/                 serving_default + step signatures
    sequence.<q>.tflite         q in fp32, fp16, dynamic, int8 (+ .int8io with int8 tensors)
    step.<q>.tflite             single-step models (unidirectional recurrent models)
    assets/                     the preset's labels, vocabularies, feature settings
    metadata.json               what an app needs: task and data settings, input spec and
                                states of every file, assets list
    report.json                 `export.verify`'s report (when data and a metric are given)

Every ``.tflite`` also carries the same metadata (and small text assets) inside it
(`export.tflite_file.add_metadata`), so the file alone is enough for an app.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import keras

from export.artifact import Artifact, Variant
from export.files import atomic_folder
from export.report import write_report
from export.savedmodel import to_savedmodel
from export.step import StepModelError, step_model
from export.tflite import convert_variants
from export.verify import verify

FORMATS = ("savedmodel", "tflite")
METADATA_FILE = "metadata.json"
REPORT_FILE = "report.json"
SAVEDMODEL_DIR = "savedmodel"
ASSETS_DIR = "assets"
METADATA_VERSION = 1
_EMBED_LIMIT = 256 * 1024  # text assets up to this size (in all) go inside each .tflite too


def _text_assets(folder: Path | None) -> dict[str, str]:
    if folder is None or not Path(folder).is_dir():
        return {}
    texts, total = {}, 0
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        total += len(text)
        if total > _EMBED_LIMIT:
            break
        texts[path.relative_to(folder).as_posix()] = text
    return texts


def export_model(model: keras.Model, out: str | os.PathLike, *,
                 formats: Iterable[str] = FORMATS,
                 quantize: Iterable[str] = ("none", "fp16", "dynamic", "int8"),
                 kinds: Iterable[str] = ("sequence", "step"), io_dtype: str = "float32",
                 representative: Iterable | None = None, dataset: Iterable | None = None,
                 metric: Callable | None = None, metric_name: str | None = None,
                 metadata: dict | None = None, assets: str | os.PathLike | None = None,
                 allow_flex: bool = False, batch_size: int | None = 1,
                 overwrite: bool = False, name: str | None = None,
                 latency: bool = True, per_channel: bool = False,
                 float_layers: list[str] | None = None) -> dict:
    """Export ``model`` into the folder ``out`` and return the report (or, without ``dataset``
    and ``metric``, the metadata).

    ``formats``: savedmodel and/or tflite. ``quantize``/``kinds``: the TFLite variants (step
    variants are skipped, with a note, for models without a step form). ``io_dtype`` applies
    to int8 variants. ``metadata``: JSON-able facts for apps (task, data options, ...), stored
    in metadata.json and in every .tflite. ``assets``: a folder copied to ``assets/``.
    An existing ``out`` is refused unless ``overwrite``. Other arguments as `export.to_tflite`
    and `export.verify`.
    """
    from zoo import __version__

    formats, quantize, kinds = list(formats), list(quantize), list(kinds)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown format {', '.join(unknown) or '(none)'}; expected "
                         f"{', '.join(FORMATS)}")
    label = name or model.name
    notes: list[str] = []
    if "step" in kinds:
        try:
            step_model(model)
        except StepModelError as error:
            kinds = [k for k in kinds if k != "step"]
            notes.append(f"no step model: {error}")
    variants = [Variant(kind=k, quantize=q, io_dtype=io_dtype if q == "int8" else "float32")
                for k in kinds for q in quantize] if "tflite" in formats else []
    import tensorflow as tf

    common = {"format_version": METADATA_VERSION, "model": label, "rnnzoo_version": __version__,
              "tensorflow_version": tf.__version__, "keras_version": keras.__version__,
              **(metadata or {})}
    texts = _text_assets(Path(assets) if assets else None)
    with atomic_folder(out, overwrite=overwrite) as temp:
        artifacts: list[Artifact] = []
        if "savedmodel" in formats:
            path = to_savedmodel(model, temp / SAVEDMODEL_DIR)
            artifacts.append(Artifact(path=path, format="savedmodel"))
        if variants:
            artifacts += convert_variants(
                model, {v: temp / v.filename for v in variants}, representative=representative,
                allow_flex=allow_flex, batch_size=batch_size,
                metadata={**common, "assets": texts}, name=label, per_channel=per_channel,
                float_layers=float_layers)
        if assets and Path(assets).is_dir():
            shutil.copytree(assets, temp / ASSETS_DIR)
        else:
            (temp / ASSETS_DIR).mkdir()
        from export.tflite_file import read_metadata

        files = {a.path.name: read_metadata(a.path.read_bytes())["file"]
                 for a in artifacts if a.format == "tflite"}
        document = {**common,
                    "assets": sorted(p.relative_to(temp / ASSETS_DIR).as_posix()
                                     for p in (temp / ASSETS_DIR).rglob("*") if p.is_file()),
                    "savedmodel": SAVEDMODEL_DIR if "savedmodel" in formats else None,
                    "files": files, "notes": notes}
        (temp / METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        if dataset is None or metric is None:
            return document
        report = verify(artifacts, model, dataset, metric, metric_name=metric_name,
                        base=temp, name=label, latency=latency)
        report["notes"] = notes + report["notes"]
        write_report(report, temp / REPORT_FILE)
    return report
