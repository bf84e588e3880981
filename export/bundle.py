"""`export_model`: every requested artifact of one model in one export folder, verified.

Layout of the folder (written aside and renamed into place, so a failure leaves nothing)::

    savedmodel/                 serving_default + step signatures
    sequence.<q>.tflite         q in fp32, fp16, dynamic, int8 (+ .int8io with int8 tensors),
                                int16x8 (16-bit activations, int8 weights; when asked for)
    step.<q>.tflite             single-step models (unidirectional recurrent models)
                                (a model with parts, `export.parts`: encoder.<q>.tflite and
                                decoder.<q>.tflite instead, see `export.parts_bundle`)
    assets/                     the preset's labels, vocabularies, feature settings
    metadata.json               what an app needs: task and data settings, input spec and
                                states of every file, assets list, layer_data (float
                                parameters a sampler needs beside the graph, if any)
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

from export.artifact import (
    ARTIFACT_KINDS,
    CALIBRATED,
    DEFAULT_QUANTIZE,
    FORMATS,
    LSTM_OPS,
    QUANTIZE,
    Artifact,
    Variant,
    quantize_mode,
)
from export.files import atomic_folder
from export.fused_lstm import FusedLSTMError
from export.parts import parts_of
from export.plan import ModelFacts, model_facts, refuse_fused
from export.report import write_report
from export.savedmodel import to_savedmodel
from export.tflite import convert_variants
from export.verification import verify

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


def _words(values: Iterable[str], allowed: tuple[str, ...], what: str) -> list[str]:
    values = list(dict.fromkeys(values))
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise ValueError(f"unknown {what} {', '.join(unknown) or '(none)'}; expected "
                         f"{', '.join(allowed)}")
    return values


def common_metadata(label: str, metadata: dict | None) -> dict:
    """The facts every file of an export carries: format, model, versions, the caller's."""
    import tensorflow as tf

    from zoo import __version__

    return {"format_version": METADATA_VERSION, "model": label, "rnnzoo_version": __version__,
            "tensorflow_version": tf.__version__, "keras_version": keras.__version__,
            **(metadata or {})}


def write_metadata(folder: Path, common: dict, *, formats: list[str], artifacts: list[Artifact],
                   assets: str | os.PathLike | None, notes: list[str], **extra) -> dict:
    """Copy ``assets`` into ``folder/assets`` and write ``metadata.json`` (``common``, the
    assets list, the SavedModel folder, every TFLite file's metadata, ``notes`` and
    ``extra``); returns what was written."""
    if assets and Path(assets).is_dir():
        shutil.copytree(assets, folder / ASSETS_DIR)
    else:
        (folder / ASSETS_DIR).mkdir()
    document = {**common, **extra,
                "assets": sorted(p.relative_to(folder / ASSETS_DIR).as_posix()
                                 for p in (folder / ASSETS_DIR).rglob("*") if p.is_file()),
                "savedmodel": SAVEDMODEL_DIR if "savedmodel" in formats else None,
                "files": {a.path.name: a.metadata for a in artifacts if a.format == "tflite"},
                "notes": notes}
    (folder / METADATA_FILE).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def _variants(facts: ModelFacts, quantize: list[str], kinds: list[str], io_dtype: str,
              batch_size: int | None, notes: list[str], lstm_op: str = "loop") -> list[Variant]:
    """The TFLite files to make; what the model cannot have is left out with a note."""
    if "step" in kinds and facts.step is None:
        kinds = [k for k in kinds if k != "step"]
        notes.append(f"no step model: {facts.step_error}")
    variants = []
    for kind in kinds:
        for mode in quantize:
            loops = (kind == "sequence" and lstm_op != "fused"
                     and (mode in CALIBRATED or batch_size is None))
            if loops and facts.recurrent and facts.step is None and facts.length is None:
                notes.append(f"no sequence.{mode} file: without a step form it would be an "
                             "unrolled graph of one fixed length, and the model's time axis "
                             "is open (export.to_tflite(..., length=N) makes one)")
                continue
            variants.append(Variant(kind=kind, quantize=mode,
                                    io_dtype=io_dtype if mode == "int8" else "float32"))
    return variants


def export_model(model: keras.Model, out: str | os.PathLike, *,
                 formats: Iterable[str] = FORMATS, quantize: Iterable[str] = DEFAULT_QUANTIZE,
                 kinds: Iterable[str] = ARTIFACT_KINDS, io_dtype: str = "float32",
                 representative: Iterable | None = None, dataset: Iterable | None = None,
                 metric: Callable | None = None, metric_name: str | None = None,
                 metadata: dict | None = None, assets: str | os.PathLike | None = None,
                 allow_flex: bool = False, batch_size: int | None = 1,
                 overwrite: bool = False, name: str | None = None,
                 latency: bool = True, per_channel: bool = False,
                 float_layers: list[str] | None = None, lstm_op: str = "loop",
                 float_cell_state: bool = False,
                 folder_metadata: dict | None = None) -> dict:
    """Export ``model`` into the folder ``out``, verify every artifact, write the report.

    Args:
        model: the Keras model (a preset's ``model``).
        out: the export folder to create (written aside, renamed into place at the end).
        formats: ``savedmodel`` and/or ``tflite``.
        quantize: TFLite variants: ``fp32`` (or ``none``), ``fp16``, ``dynamic``, ``int8``,
            ``int16x8`` (16-bit activations, int8 weights; made only when named).
        kinds: ``sequence`` and/or ``step`` TFLite files; step files (and int8 sequence files
            of models with an open time axis) are left out, with a note, for models without a
            step form.
        io_dtype: ``int8`` gives the int8 files int8 input and output tensors.
        representative: int8 and int16x8 calibration samples (see `export.to_tflite`).
        dataset: unbatched ``(inputs, targets)`` pairs every artifact is verified on.
        metric: ``metric(model_fn, dataset)``, a task's metric; ``metric_name`` picks the
            figure the report leads with.
        metadata: JSON-able facts for apps (task, data options, ...), stored in
            ``metadata.json`` and inside every ``.tflite``.
        folder_metadata: JSON-able facts stored in ``metadata.json`` only (provenance that
            every file need not carry, such as a preset's builder config, whose vocabulary
            alone can be 80 KB).
        assets: a folder copied to ``assets/`` (small text assets also go inside each file).
        overwrite: replace an existing export folder (never anything else).
        name: the model's name in errors and the report (default: ``model.name``).
        latency: measure one-thread batch-1 latencies.
        allow_flex, batch_size, per_channel, float_layers, float_cell_state: as
            `export.to_tflite`.
        lstm_op: ``"fused"`` makes every TFLite sequence file with TFLite's fused
            ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op for each LSTM layer (`export.fused_lstm`; no
            WHILE loop; the file keeps its state in TFLite variables, which the runner and
            the report reset before each sequence); ``"loop"`` (default) as before.

    Returns:
        The report (see `export.report`), or without ``dataset`` and ``metric`` the metadata
        written to ``metadata.json``.

    Raises:
        FileExistsError: ``out`` exists and ``overwrite`` is not set (or it is not an export).
        ConversionError: a conversion failed; nothing is left behind.
        ValueError: unknown formats, modes or kinds, or bad representative data.

    Example::

        preset = zoo.load("adding-lstm")
        task = tasks.get_task("adding")
        report = export.export_model(
            preset.model, "export/adding-lstm", quantize=["fp32", "int8"],
            representative=task.representative(None, 100, length=100),
            dataset=task.load(None, "validation", length=100).take(200),
            metric=task.metric, metric_name="mse")
        print(export.format_table(report))
    """
    formats = _words(formats, FORMATS, "format")
    quantize = _words([quantize_mode(q) for q in quantize], QUANTIZE, "quantize mode")
    kinds = _words(kinds, ARTIFACT_KINDS, "kind")
    lstm_op = _words([lstm_op], LSTM_OPS, "lstm op")[0]
    parts = parts_of(model)
    if parts is not None and lstm_op != "loop":
        raise FusedLSTMError(f"model {name or model.name!r} is exported in parts (an encoder "
                             "and a decoder step); lstm_op='fused' is for sequence models")
    if parts is not None:  # an encoder and a decoder step instead of sequence/step files
        from export.parts_bundle import export_parts

        return export_parts(model, parts, out, formats=formats, quantize=quantize,
                            representative=representative, dataset=dataset, metric=metric,
                            metric_name=metric_name, metadata=metadata, assets=assets,
                            allow_flex=allow_flex, per_channel=per_channel,
                            float_cell_state=float_cell_state, overwrite=overwrite,
                            name=name, latency=latency,
                            folder_metadata=folder_metadata)
    facts = model_facts(model, name=name, float_layers=float_layers)
    notes: list[str] = []
    variants = (_variants(facts, quantize, kinds, io_dtype, batch_size, notes, lstm_op)
                if "tflite" in formats else [])
    if lstm_op == "fused" and any(v.kind != "step" for v in variants):
        refuse_fused(facts, variants, batch_size)  # before the slow work
    common = common_metadata(facts.label, metadata)
    with atomic_folder(out, overwrite=overwrite) as temp:
        artifacts: list[Artifact] = []
        if "savedmodel" in formats:
            path = to_savedmodel(model, temp / SAVEDMODEL_DIR, facts=facts)
            artifacts.append(Artifact(path=path, format="savedmodel"))
        if variants:
            artifacts += convert_variants(
                model, {v: temp / v.filename for v in variants}, representative=representative,
                allow_flex=allow_flex, batch_size=batch_size,
                metadata={**common, "assets": _text_assets(Path(assets) if assets else None)},
                per_channel=per_channel, facts=facts, lstm_op=lstm_op,
                float_cell_state=float_cell_state)
        layers = {"layer_data": facts.layer_data} if facts.layer_data else {}
        document = write_metadata(temp, common, formats=formats, artifacts=artifacts,
                                  assets=assets, notes=notes, **layers,
                                  **(folder_metadata or {}))
        if dataset is None or metric is None:
            return document
        report = verify(artifacts, model, dataset, metric, metric_name=metric_name,
                        base=temp, name=facts.label, latency=latency, facts=facts)
        report["notes"] = notes + report["notes"]
        write_report(report, temp / REPORT_FILE)
    return report
