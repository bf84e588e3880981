"""Running exported TFLite files with the ai-edge-litert interpreter, as an app would.

`TFLiteRunner` wraps one ``.tflite`` file: ``predict`` maps a numpy batch of whole sequences
to the model's outputs (so a task metric can score it like the Keras model), running a step
model step by step from zero states, and ``latency_ms`` times batch-1 calls on one thread.
A file that keeps state in variable tensors across ``invoke()`` calls (the fused LSTM op,
`export.fused_lstm`) has them reset before each sequence. Inputs and outputs with int8 tensors
are quantized and dequantized with the file's own scales
(the states of an int8-io step model go back through float between steps, because the
scale of a state output may differ from that of the state input).

A file that the runtime's default XNNPACK delegate cannot prepare or run (it happens to some
float16 files with WHILE loops: "Node 18 (WHILE) failed to invoke") is loaded again without
the default delegates (``OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES``, TFLite's own
kernels) and the call retried; ``TFLiteRunner.note`` then says so, for reports.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from export import tflite_file
from zoo.quiet import quiet_stderr

_quiet_done = False


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Hide the runtime's one-time "Created TensorFlow Lite XNNPACK delegate" notice."""
    global _quiet_done
    if _quiet_done:
        yield
        return
    _quiet_done = True
    with quiet_stderr():
        yield


def _to_tensor(value: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    floating = np.issubdtype(np.asarray(value).dtype, np.floating)
    if dtype in (np.int8, np.uint8, np.int16) and floating:
        scale, zero = detail["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(value / scale + zero), info.min, info.max).astype(dtype)
    return np.asarray(value, dtype=dtype)


def _from_tensor(value: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] in (np.int8, np.uint8, np.int16):
        scale, zero = detail["quantization"]
        if scale:
            return ((value.astype(np.float32) - zero) * scale).astype(np.float32)
    return value


class TFLiteRunner:
    """One TFLite file, loaded into an interpreter with ``num_threads`` threads.

    Attributes: ``kind`` (``sequence`` or ``step``), ``inputs``/``outputs`` (signature names),
    ``states`` (state names of a step model), ``sequence_outputs``, ``metadata`` (the file's
    ``rnnzoo`` metadata, or {}), ``note`` (why the file runs without the default delegate, or
    None).
    """

    def __init__(self, model: str | os.PathLike | bytes, *, num_threads: int = 1):
        data = model if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()
        if data[4:8] != b"TFL3":
            where = "the model bytes" if isinstance(model, (bytes, bytearray)) else str(model)
            raise ValueError(f"{where}: not a TFLite model (no TFL3 identifier)")
        self.metadata = tflite_file.read_metadata(bytes(data)) or {}
        self._data, self._threads = bytes(data), num_threads
        self.note: str | None = None  # set when the default delegate had to be left out
        try:
            self._load(default_delegates=True)
        except RuntimeError as error:
            self._without_default_delegates(error)
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1:
            raise ValueError(f"expected one signature, found {sorted(signatures)}")
        self.signature = next(iter(signatures))
        self._refresh()
        info = self.metadata.get("file", {})
        if info.get("kind"):
            self.kind = info["kind"]
            self.states = [n for n in info.get("states", {}) if n in self._in] \
                if self.kind == "step" else []
        else:  # a file made elsewhere: state inputs go by the export's naming
            self.states = [n for n in self._in if n.startswith("state_")]
            self.kind = "step" if self.states else "sequence"
        ordered = [n for n in info.get("model_inputs", []) if n in self._in]
        self.inputs = ordered + [n for n in self._in if n not in ordered and n not in self.states]
        self.outputs = [n for n in (info.get("model_outputs") or self._out) if n in self._out]
        self.outputs += [n for n in self._out if n not in self.outputs and n not in self.states]
        self.sequence_outputs = set(info.get("sequence_outputs", []))
        # state kept in variable tensors across invoke() calls (the fused LSTM op)
        self.variable_state = (bool(info.get("variable_state")) if info.get("kind")
                               else tflite_file.has_variables(bytes(data)))
        self._signature_shapes = {n: d["shape_signature"] for n, d in self._in.items()}

    def _load(self, *, default_delegates: bool) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = (OpResolverType.AUTO if default_delegates
                    else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        with _quiet_stderr():
            self.interpreter = Interpreter(model_content=self._data, num_threads=self._threads,
                                           experimental_op_resolver_type=resolver)
            self.interpreter.allocate_tensors()

    def _without_default_delegates(self, error: RuntimeError) -> None:
        """Reload without the default (XNNPACK) delegate after ``error``; raise ``error`` if
        that was already the case."""
        if self.note is not None:
            raise error
        self.note = ("the default XNNPACK delegate failed on this file ("
                     f"{' '.join(str(error).split())[:200]}); run with TFLite's builtin kernels "
                     "without the default delegate (BUILTIN_WITHOUT_DEFAULT_DELEGATES)")
        try:
            self._load(default_delegates=False)
        except RuntimeError:
            self.note = None
            raise error from None

    def _refresh(self) -> None:
        # A SignatureRunner holds a reference that makes allocate_tensors() refuse to run, so
        # none is kept: only its tensor details.
        runner = self.interpreter.get_signature_runner(self.signature)
        self._in = runner.get_input_details()
        self._out = runner.get_output_details()

    def _fit_shapes(self, feed: dict[str, np.ndarray]) -> None:
        """Resize inputs whose signature has a dynamic axis to the shapes fed."""
        changed = False
        for name, value in feed.items():
            signature = self._signature_shapes[name]
            if any(d < 0 for d in signature) and tuple(self._in[name]["shape"]) != value.shape:
                self.interpreter.resize_tensor_input(self._in[name]["index"], value.shape)
                changed = True
        if changed:
            self.interpreter.allocate_tensors()
            self._refresh()

    def invoke(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One call: float (or integer) inputs by name -> float outputs by name."""
        feed = {n: np.asarray(v) for n, v in feed.items()}
        try:
            self._set_and_invoke(feed)
        except RuntimeError as error:  # the default delegate may fail only when invoked
            self._without_default_delegates(error)
            self._refresh()
            self._set_and_invoke(feed)
        return {n: _from_tensor(self.interpreter.get_tensor(d["index"]), d)
                for n, d in self._out.items()}

    def _set_and_invoke(self, feed: dict[str, np.ndarray]) -> None:
        self._fit_shapes(feed)
        for name, value in feed.items():
            detail = self._in[name]
            self.interpreter.set_tensor(detail["index"], _to_tensor(value, detail))
        self.interpreter.invoke()

    def reset(self) -> None:
        """Zero the state a file keeps in variable tensors (``variable_state``: the fused LSTM
        op's), as before each sequence; nothing for other files."""
        if self.variable_state:
            self.interpreter.reset_all_variables()

    def _batch_of(self, name: str) -> int | None:
        first = self._signature_shapes[name][0]
        return None if first < 0 else int(first)

    def zero_states(self, batch: int = 1) -> dict[str, np.ndarray]:
        return {n: np.zeros((batch, *self._in[n]["shape"][1:]), np.float32) for n in self.states}

    def run_sequence(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs for one batch of whole sequences (the file's batch size, or any if dynamic)."""
        if self.kind != "step":  # a sequence file, or a part (encoder, decoder) run whole
            self.reset()
            outputs = self.invoke(inputs)
            return {n: outputs[n] for n in self.outputs}
        first = inputs[self.inputs[0]]
        states = self.zero_states(first.shape[0])
        per_step: dict[str, list] = {n: [] for n in self.outputs}
        outputs = {}
        for t in range(first.shape[1]):
            outputs = self.invoke({**{n: inputs[n][:, t] for n in self.inputs}, **states})
            states = {n: outputs[n] for n in self.states}
            for n in self.sequence_outputs & set(self.outputs):
                per_step[n].append(outputs[n])
        return {n: np.stack(per_step[n], axis=1) if n in self.sequence_outputs else outputs[n]
                for n in self.outputs}

    def predict(self, inputs: Any) -> Any:
        """Outputs for a numpy batch of whole sequences (like ``keras.Model.predict_on_batch``):
        one array for single-output models, else a dict by output name."""
        feed = self._as_feed(inputs)
        size = next(iter(feed.values())).shape[0]
        batch = self._batch_of(self.inputs[0])
        chunk = size if batch is None else batch
        if batch is not None and size % batch:
            raise ValueError(f"batch of {size} does not divide into the file's batch size {batch}")
        parts = [self.run_sequence({n: v[i:i + chunk] for n, v in feed.items()})
                 for i in range(0, size, chunk)]
        merged = {n: np.concatenate([p[n] for p in parts]) for n in self.outputs}
        return merged[self.outputs[0]] if len(self.outputs) == 1 else merged

    def _as_feed(self, inputs: Any) -> dict[str, np.ndarray]:
        if isinstance(inputs, dict):
            return {n: np.asarray(inputs[n]) for n in self.inputs}
        if isinstance(inputs, (list, tuple)):
            return {n: np.asarray(v) for n, v in zip(self.inputs, inputs)}
        return {self.inputs[0]: np.asarray(inputs)}

    def latency_ms(self, example: Any, *, min_seconds: float = 0.3, min_repeats: int = 20,
                   max_repeats: int = 2000) -> float:
        """Median milliseconds of one batch-1 call: a whole sequence (sequence models) or one
        step with its input and states set and outputs read (step models); the state reset
        before a sequence of a ``variable_state`` file is part of the call."""
        feed = {n: v[:1] for n, v in self._as_feed(example).items()}
        if self.kind == "step":
            feed = {**{n: v[:, 0] for n, v in feed.items()}, **self.zero_states(1)}

        def call():
            if self.kind != "step":
                self.reset()
            return self.invoke(feed)

        return median_ms(call, min_seconds=min_seconds,
                         min_repeats=min_repeats, max_repeats=max_repeats)


def median_ms(fn, *, min_seconds: float = 0.3, min_repeats: int = 20, max_repeats: int = 2000,
              warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds, over at least ``min_repeats`` calls and
    ``min_seconds`` (at most ``max_repeats`` calls), after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_repeats and (len(times) < min_repeats
                                        or time.perf_counter() - start < min_seconds):
        begin = time.perf_counter()
        fn()
        times.append(time.perf_counter() - begin)
    return statistics.median(times) * 1e3
