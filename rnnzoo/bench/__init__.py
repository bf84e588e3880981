"""Named benchmarks: each module has ``run(quick) -> dict`` and ``table(result) -> str``."""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from types import ModuleType

from zoo.errors import UnknownNameError

BENCHMARKS: dict[str, tuple[str, str]] = {
    "train-throughput": ("rnnzoo.bench.train_throughput",
                         "adding LSTM training steps/s, tf.data pipeline vs tensors in memory"),
    "layers": ("rnnzoo.bench.layers",
               "forward+backward ms per batch of simple/LSTM/GRU layers"),
    "export": ("rnnzoo.bench.export",
               "every shipped preset (--presets a,b for some): fp32/fp16/dynamic/int8/int16x8 "
               "TFLite sequence and step files, bytes, metric, one-thread latency, recommended "
               "variant, pass/miss against the export targets; adding LSTM/GRU/RNN with their "
               "SavedModel"),
    "speech": ("rnnzoo.bench.speech",
               "speech presets: accuracy/WER for Keras, float and int8 TFLite; RTF; training "
               "throughput; peak memory"),
    "speech-loso": ("rnnzoo.bench.speech_loso",
                    "spoken digits, leave-one-speaker-out accuracy (5 trainings)"),
    "music": ("rnnzoo.bench.music",
              "music presets: JSB test NLL for Keras, float and int8 TFLite step models "
              "(factorized and autoregressive keys); JSB sample statistics and frames/s; melody "
              "and piano pitch NLL/accuracy; generation notes/s; training throughput"),
    "captioning": ("rnnzoo.bench.captioning",
                   "captioning presets: BLEU for Keras, float32 and int8 TFLite encoder/decoder "
                   "pairs; latency per caption; encoder images/s; training throughput"),
    "forecasting": ("rnnzoo.bench.forecasting",
                    "time series: test MASE per series (model, seasonal-naive, linear), PM2.5 "
                    "24 h MAE for Keras, float32 and int8 TFLite, latency per forecast, "
                    "training throughput"),
    "translation": ("rnnzoo.bench.translation",
                    "translation presets: BLEU (greedy and beam) for Keras, float32 and int8 "
                    "TFLite encoder/decoder pairs, latency per sentence, training tokens/s"),
    "text-sentiment": ("rnnzoo.bench.text_sentiment",
                       "sentiment-sst2: SST-2 test accuracy for Keras, float32 and int8 TFLite, "
                       "latency per example, training tokens/s, dev accuracy with and without "
                       "LM pretraining"),
    "text-ner": ("rnnzoo.bench.text_ner",
                 "named entities (CoNLL-2003): test F1 for Keras, float32 and int8 TFLite, "
                 "latency per sentence, training tokens/s"),
    "text-textgen": ("rnnzoo.bench.text_textgen",
                     "character LSTM on tinyshakespeare: validation nats/char for Keras, float32 "
                     "and int8 TFLite step files; generation characters/s on one thread; "
                     "training characters/s"),
    "text": ("rnnzoo.bench.text",
             "the text tasks in one run: text-sentiment, text-ner and text-textgen"),
    "video": ("rnnzoo.bench.video",
              "video actions: LRCN preset accuracy (Keras, float32/int8 TFLite clip and step "
              "files, motion-only pairs), ConvLSTM and frame-average beside it, latency, "
              "decode and training throughput"),
}


def get_benchmark(name: str) -> ModuleType:
    """The module of benchmark ``name``."""
    if name not in BENCHMARKS:
        raise UnknownNameError("benchmark", name, BENCHMARKS)
    return importlib.import_module(BENCHMARKS[name][0])


def machine_info() -> dict:
    """Versions and machine facts recorded with every benchmark result."""
    import keras
    import tensorflow as tf

    return {"platform": platform.platform(), "processor": platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "gpus": len(tf.config.list_physical_devices("GPU"))}


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def skipped(error: BaseException, prefix: str = "") -> dict:
    """A benchmark row that could not run (a preset not shipped, its data absent): the reason,
    kept short enough for a table."""
    return {"skipped": f"{prefix}{type(error).__name__}: {error}"[:300]}
