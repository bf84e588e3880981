"""`export_parts`: the export folder of a model with parts (`export.parts`), verified.

Layout (written aside and renamed into place, like `export.bundle`)::

    savedmodel/                 signatures serving_default (the whole model, teacher-forced),
                                encoder and decoder
    encoder.<q>.tflite          q in fp32, fp16, dynamic, int8 (dynamic batch)
    decoder.<q>.tflite          one decoder step
    assets/, metadata.json, report.json

The report has an entry per file (bytes, batch-1 latency of one call: one image or one
decoder step) and, per quantize mode, a ``parts`` entry that runs the encoder and decoder
files together (`export.parts.PartsRunner`) through the task's metric, with the largest
difference from the Keras model's output (teacher-forced) on the sample inputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from export import tflite_file
from export.artifact import CALIBRATED, PART_KINDS, Artifact, Variant
from export.bundle import REPORT_FILE, SAVEDMODEL_DIR, common_metadata, write_metadata
from export.files import atomic_folder, folder_bytes
from export.parts import Parts, PartsRunner, calibration, valid_steps
from export.report import write_report
from export.runner import TFLiteRunner
from export.signatures import SEQUENCE_SIGNATURE, sequence_function
from export.step import input_names
from export.tflite import convert_variants
from export.verification import _add_size_ratios, _SavedModelFns, _Scorer


def _savedmodel(model: keras.Model, parts: Parts, folder: Path) -> Path:
    module = tf.Module()
    module.model, module.encoder, module.decoder = model, parts.encoder, parts.decoder
    signatures = {SEQUENCE_SIGNATURE: sequence_function(model).get_concrete_function(),
                  "encoder": sequence_function(parts.encoder).get_concrete_function(),
                  "decoder": sequence_function(parts.decoder).get_concrete_function()}
    tf.saved_model.save(module, str(folder), signatures=signatures)
    return folder


def _convert(parts: Parts, temp: Path, quantize: list[str], representative, *,
             metadata: dict, allow_flex: bool, per_channel: bool,
             float_cell_state: bool = False) -> list[Artifact]:
    samples = None
    if any(q in CALIBRATED for q in quantize):
        if representative is None:
            raise ValueError("int8 and int16x8 need representative data (whole-model input "
                             "samples)")
        samples = dict(zip(PART_KINDS, calibration(parts, representative)))
    artifacts = []
    for kind, model in (("encoder", parts.encoder), ("decoder", parts.decoder)):
        targets = {Variant(kind=kind, quantize=q): temp / f"{kind}.{q}.tflite" for q in quantize}
        # an image encoder's conv filters differ too much in scale for one int8 scale each
        channels = per_channel or kind == "encoder"
        artifacts += convert_variants(
            model, targets, representative=samples[kind] if samples else None,
            allow_flex=allow_flex, batch_size=None, per_channel=channels,
            float_cell_state=float_cell_state,
            metadata={**metadata, "parts": _parts_metadata(parts)})
    return artifacts


def _parts_metadata(parts: Parts) -> dict:
    return {"sequence_input": parts.sequence_input, "step_input": parts.step_input,
            "output": parts.output, "states": parts.states, "context": parts.context}


def runner_for_files(encoder: str | os.PathLike, decoder: str | os.PathLike, *,
                     threads: int = 1) -> PartsRunner:
    """A `PartsRunner` of an exported encoder and decoder file pair."""
    encoder_file = TFLiteRunner(encoder, num_threads=threads)
    decoder_file = TFLiteRunner(decoder, num_threads=threads)
    info = decoder_file.metadata.get("parts")
    if not info:
        raise ValueError(f"{decoder}: no parts metadata (export it with 'rnnzoo export')")
    return PartsRunner(encoder_file.invoke, decoder_file.invoke, **{
        k: info[k] for k in ("sequence_input", "step_input", "output", "states", "context")})


def _file_entry(scorer: _Scorer, artifact: Artifact, example: dict, latency: bool) -> dict:
    data = artifact.path.read_bytes()
    notes, timing = [], None
    if latency:
        try:
            runner = TFLiteRunner(data, num_threads=1)
            timing = runner.latency_ms({n: example[n] for n in runner.inputs})
            if runner.note:
                notes.append(runner.note)
        except Exception as error:  # noqa: BLE001 - reported in the entry
            notes.append(f"latency not measured: {type(error).__name__}: {error}")
    return scorer.entry(artifact, artifact.kind, None, len(data), timing,
                        tflite_file.op_summary(data), notes)


def export_parts(model: keras.Model, parts: Parts, out: str | os.PathLike, *,
                 formats: Iterable[str], quantize: list[str], representative=None,
                 dataset: Iterable | None = None, metric: Callable | None = None,
                 metric_name: str | None = None, metadata: dict | None = None,
                 assets: str | os.PathLike | None = None, allow_flex: bool = False,
                 per_channel: bool = False, float_cell_state: bool = False,
                 overwrite: bool = False, name: str | None = None,
                 latency: bool = True, folder_metadata: dict | None = None) -> dict:
    """Export ``model`` as its ``parts`` into the folder ``out`` (see the module docstring);
    arguments as `export.export_model`. Returns the report, or without ``dataset`` and
    ``metric`` the metadata written."""
    label = name or model.name
    formats = list(formats)
    common = common_metadata(label, metadata)
    with atomic_folder(out, overwrite=overwrite) as temp:
        artifacts: list[Artifact] = []
        if "savedmodel" in formats:
            artifacts.append(Artifact(path=_savedmodel(model, parts, temp / SAVEDMODEL_DIR),
                                      format="savedmodel"))
        if "tflite" in formats:
            artifacts += _convert(parts, temp, quantize, representative, metadata=common,
                                  allow_flex=allow_flex, per_channel=per_channel,
                                  float_cell_state=float_cell_state)
        document = write_metadata(temp, common, formats=formats, artifacts=artifacts,
                                  assets=assets, notes=[], parts=_parts_metadata(parts),
                                  **(folder_metadata or {}))
        if dataset is None or metric is None:
            return document
        report = _verify(model, parts, artifacts, dataset, metric, metric_name, temp, label,
                         latency)
        write_report(report, temp / REPORT_FILE)
    return report


def _verify(model, parts: Parts, artifacts: list[Artifact], dataset, metric, metric_name,
            base: Path, label: str, latency: bool) -> dict:
    scorer = _Scorer(model, dataset, metric, metric_name, 16, base)
    sample = scorer.sample_inputs
    runner = PartsRunner.from_parts(parts)
    runner_keras_reference = np.asarray(model.predict_on_batch(sample))
    first = {k: np.asarray(v)[:1] for k, v in sample.items()}
    encoded = runner.encode({k: v for k, v in first.items() if k != parts.sequence_input})
    examples = {"encoder": {k: v for k, v in first.items() if k != parts.sequence_input},
                "decoder": {parts.step_input: first[parts.sequence_input][:, :1].astype(np.int32),
                            **encoded}}
    entries, notes = [], []
    for artifact in artifacts:
        if artifact.format == "savedmodel":
            fns = _SavedModelFns(artifact.path, input_names(model), scorer.outputs)
            entries.append(scorer.entry(artifact, "sequence", fns.sequence,
                                        folder_bytes(artifact.path), None, None, []))
        else:
            entries.append(_file_entry(scorer, artifact, examples[artifact.kind], latency))
    files = {(a.kind, a.quantize): a for a in artifacts if a.format == "tflite"}
    for quantize in dict.fromkeys(q for _, q in files):
        pair = files.get(("encoder", quantize)), files.get(("decoder", quantize))
        if None in pair:
            continue
        both = Artifact(path=Path(f"{pair[0].path.name}+{pair[1].path.name}"), format="tflite",
                        kind="parts", quantize=quantize)
        predict = runner_for_files(*(a.path for a in pair))
        size = sum(a.path.stat().st_size for a in pair)
        entry = scorer.entry(both, "parts", predict, size, None, None, [])
        if entry["max_abs_diff"] is not None:  # outputs at padded steps mean nothing
            valid = valid_steps(sample[parts.sequence_input])
            reference = runner_keras_reference[valid]
            entry["max_abs_diff"] = float(np.max(np.abs(predict(sample)[valid] - reference)))
        entries.append(entry)
    _add_size_ratios(entries)
    notes.append("parts: the encoder and decoder files run together (the decoder step by step, "
                 "teacher-forced); their latencies: one image, one step")
    if not latency:
        notes.append("latencies not measured (turned off)")
    return {"model": label, "metric": scorer.metric_key,
            "samples": int(scorer.reference.shape[0]), "threads": 1,
            "keras": {"metric": {"name": scorer.metric_key, "value": scorer.keras_value},
                      "threads": 1},
            "artifacts": entries, "notes": notes}


