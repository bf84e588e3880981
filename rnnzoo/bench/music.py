"""``rnnzoo bench music``: the music presets' test figures, on-device generation, speed.

1. JSB chorales, the factorized ``music-jsb-gru`` and the autoregressive ``music-jsb-gru-ar``
   and ``music-jsb-lstm-ar`` (keys drawn in order; each left out with a note when the zoo does
   not have it): test NLL (nats
   per step) and frame accuracy of the Keras sequence model and of the float32 and int8 TFLite
   *step* models run step by step (the on-device form). Targets: NLL <= 8.5 and int8 within
   2 % of Keras (factorized); NLL <= 5.7 and int8 within 1 % (autoregressive).
2. JSB samples: 100 chorales of 64 frames from scratch (seeds 0-99, temperature 1) of each JSB
   preset (Keras, and int8 TFLite), described by `tasks.music.roll_stats.roll_statistics`
   (notes per frame, triads and seventh chords, pitch range) beside the test chorales; frames
   per second of generation on one thread for Keras (a child process with one TensorFlow
   thread), float32 and int8 TFLite; whether float32 TFLite draws the same frames as Keras.
3. ``music-melody-nottingham`` and ``music-piano``: test pitch NLL / accuracy, step and
   duration MAE of Keras and of the float32 and int8 TFLite step models (each head of the
   note models has its own int8 output scale); target: int8 pitch NLL within 1 % of Keras.
4. Generation (melody preset, 128 notes from scratch, seed 0): notes per second of the Keras
   stepper and of the float32 / int8 TFLite step models on one thread; whether float32
   TFLite gives the same pitches as Keras and its largest step/duration difference; whether
   the int8 run writes a MIDI file that reads back.
5. Training throughput: optimizer steps per second and frames / notes per second of the JSB
   GRU and the melody LSTM (batch of the presets' training runs).

TFLite files come from `export` (step models, ``convert_variants``); the figures that need them
say so when the export package cannot make them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JSB, JSB_AR, JSB_LSTM_AR = "music-jsb-gru", "music-jsb-gru-ar", "music-jsb-lstm-ar"
JSB_RNN_NADE = "music-jsb-lstm-rnn-nade"
AUTOREGRESSIVE = {"jsb_ar": JSB_AR, "jsb_lstm_ar": JSB_LSTM_AR,  # result key: preset
                  "jsb_rnn_nade": JSB_RNN_NADE}
MELODY, PIANO = "music-melody-nottingham", "music-piano"
# Keras test NLL target, int8 relative delta allowed
JSB_TARGETS = {JSB: (8.5, 0.02), JSB_AR: (5.7, 0.01), JSB_LSTM_AR: (5.7, 0.01),
               JSB_RNN_NADE: (5.7, 0.01)}
JSB_TARGET, INT8_TOLERANCE = JSB_TARGETS[JSB]
NOTES_INT8_TOLERANCE = 0.01  # int8 pitch NLL relative to Keras, note presets
GENERATED_NOTES = 128
SAMPLED_CHORALES, SAMPLED_FRAMES = 100, 64


def _load(name: str, data: str | None = None):
    import tasks
    import zoo
    from rnnzoo.commands.common import preset_dataset

    preset = zoo.load(name)
    task = tasks.get_task(preset.card["task"])
    return preset, task, preset_dataset(preset, task, data, "test")


def export_steps(preset, task, folder: Path, quantize=("fp32", "int8"),
                 data: str | None = None) -> dict[str, Path]:
    """TFLite step models of ``preset`` (via `export`, one converter process), by quantize
    mode; int8 is calibrated on the task's representative training windows (of ``data``, else
    the card's dataset)."""
    import export
    from rnnzoo.commands.common import preset_data

    samples = task.representative(preset_data(preset, task, data), 100,
                                  **preset.card.get("data_options", {}))
    targets = {export.Variant(kind="step", quantize=mode):
               folder / f"{preset.name}-step-{mode}.tflite" for mode in quantize}
    folder.mkdir(parents=True, exist_ok=True)
    export.convert_variants(preset.model, targets, representative=samples, name=preset.name)
    return {variant.quantize: path for variant, path in targets.items()}


def _try_export(preset, task, folder: Path,
                data: str | None = None) -> tuple[dict[str, Path], str | None]:
    try:
        return export_steps(preset, task, folder, data=data), None
    except Exception as error:  # noqa: BLE001 - reported in the result, not fatal
        return {}, f"{type(error).__name__}: {error}"


def _missing(name: str) -> str | None:
    """Why preset ``name`` cannot be benchmarked (None when it loads)."""
    import zoo
    from zoo.errors import RnnzooError

    try:
        zoo.load(name)
    except (RnnzooError, FileNotFoundError, ValueError) as error:
        return f"{name}: not benchmarked, the preset is not available ({error})"
    return None


def jsb_preset(name: str, quick: bool, folder: Path, *, target: float, tolerance: float,
               data: str | None = None, sample: bool = True) -> dict:
    """Test figures of one JSB preset (Keras, float32 and int8 TFLite step files) and, with
    ``sample``, its generated chorales (`jsb_generation`)."""
    from tasks.music.sampling import stepwise_model_fn
    from tasks.music.tflite_sampler import TFLiteStepper

    preset, task, test = _load(name, data)
    if quick:
        test = test.take(8)
    rows = {"keras": task.metric(preset.model.predict_on_batch, test)}
    files, problem = _try_export(preset, task, folder, data)
    for mode, path in files.items():
        start = time.perf_counter()
        rows[f"tflite_{mode}_step"] = task.metric(stepwise_model_fn(TFLiteStepper(path)), test)
        rows[f"tflite_{mode}_step"]["seconds"] = time.perf_counter() - start
        rows[f"tflite_{mode}_step"]["bytes"] = path.stat().st_size
    keras_nll = rows["keras"]["nll"]
    greedy = greedy_frame_accuracy(preset.model, test)
    if greedy is not None:
        rows["keras"]["frame_accuracy_greedy"] = greedy
    result = {"preset": name, "builder": preset.builder,
              "parameters": int(preset.model.count_params()), "figures": rows,
              "subset": "first 8 test chorales (quick)" if quick else None,
              "target_nll": target, "int8_tolerance": tolerance,
              "keras_meets_target": keras_nll <= target}
    if "tflite_int8_step" in rows:
        delta = rows["tflite_int8_step"]["nll"] / keras_nll - 1
        result.update(int8_relative_delta=delta, int8_within_tolerance=abs(delta) <= tolerance)
    if problem:
        result["tflite_problem"] = problem
    if sample:
        result["generation"] = jsb_generation(preset, files, quick, folder)
    return result


def greedy_frame_accuracy(model, dataset) -> float | None:
    """Frame accuracy of an autoregressive model whose frames are chosen key by key (each key
    on where its logit given the keys already chosen is positive), not given the true lower
    keys as in the task metric; None for a model without a key loop."""
    import keras
    import numpy as np

    from tasks.music.pianoroll import frame_metrics
    from tasks.music.sampling import KerasStepper
    from zoo.music import FRAME, PREVIOUS_FRAME

    stepper = KerasStepper(model)
    keys = stepper.keys
    if keys is None:
        return None
    # the logits for an all-zero frame and (rnn-nade) the key layer's hidden input
    probe = keras.Model(model.inputs, [model.output, stepper.key_layer.input[0]])
    chosen, targets, weights = [], [], []
    for inputs, target, weight in dataset.batch(16).as_numpy_iterator():
        zero, hidden = probe.predict_on_batch({PREVIOUS_FRAME: inputs[PREVIOUS_FRAME],
                                               FRAME: np.zeros_like(target)})
        frames = np.zeros_like(target)
        for b, t in zip(*np.nonzero(weight > 0)):
            frames[b, t] = keys.greedy(zero[b, t], hidden[b, t])
        chosen.append(np.where(frames > 0, 1.0, -1.0))  # logits whose sign is the choice
        targets.append(target)
        weights.append(weight)
    return frame_metrics(np.concatenate(chosen), np.concatenate(targets),
                         np.concatenate(weights))["frame_accuracy"]


def _keras_speed(preset, frames: int, folder: Path) -> tuple[float | None, str | None]:
    """Keras generation frames/s on one TensorFlow thread, in a child process."""
    folder.mkdir(parents=True, exist_ok=True)
    job = folder / "job.json"
    job.write_text(json.dumps({"preset": str(preset.path), "frames": frames, "threads": 1,
                               "output": str(folder / "result")}), encoding="utf-8")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    process = subprocess.run([sys.executable, "-m", "rnnzoo.bench.music_worker", str(job)],
                             capture_output=True, env=env, check=False, timeout=600)
    result_file = folder / "result.json"
    if not result_file.is_file():
        tail = process.stderr.decode(errors="replace").strip().splitlines()[-1:]
        return None, f"the Keras speed process exited with {process.returncode} {tail}"
    result = json.loads(result_file.read_text(encoding="utf-8"))
    return result.get("frames_per_second"), result.get("message")


def jsb_generation(preset, files: dict[str, Path], quick: bool, folder: Path) -> dict:
    """Chorales generated from scratch by ``preset`` (Keras, and int8 TFLite when ``files``
    has it) and their `roll_statistics`; generation frames/s on one thread."""
    import numpy as np

    from tasks.music.roll_stats import roll_statistics
    from tasks.music.sampling import KerasStepper, generate_frames
    from tasks.music.tflite_sampler import TFLiteStepper

    count, length = (10, 16) if quick else (SAMPLED_CHORALES, SAMPLED_FRAMES)
    stepper = KerasStepper(preset.model)
    rolls = [generate_frames(stepper, length=length, seed=seed) for seed in range(count)]
    speed, problem = _keras_speed(preset, length, folder / "keras-speed")
    result = {"chorales": count, "frames": length, "temperature": 1.0, "threads": 1,
              "statistics": {"keras": roll_statistics(rolls)},
              "frames_per_second": {"keras": speed}}
    if problem:
        result["keras_speed_problem"] = problem

    def timed(lite) -> float:
        generate_frames(lite, length=4, seed=1)
        start = time.perf_counter()
        generate_frames(lite, length=length, seed=0)
        return length / (time.perf_counter() - start)

    if "fp32" in files:
        lite = TFLiteStepper(files["fp32"], threads=1)
        result["frames_per_second"]["tflite_float32"] = timed(lite)
        result["float32_same_frames"] = all(
            np.array_equal(generate_frames(lite, length=length, seed=seed), rolls[seed])
            for seed in range(min(count, 5)))
    if "int8" in files:
        lite = TFLiteStepper(files["int8"], threads=1)
        result["frames_per_second"]["tflite_int8"] = timed(lite)
        int8_rolls = [generate_frames(lite, length=length, seed=seed) for seed in range(count)]
        result["statistics"]["tflite_int8"] = roll_statistics(int8_rolls)
        result["int8_key_agreement"] = float(np.mean(np.concatenate(int8_rolls)
                                                     == np.concatenate(rolls)))
    return result


def _test_statistics(quick: bool) -> dict:
    import tasks
    import zoo
    from rnnzoo.commands.common import preset_data
    from tasks.music.pianoroll import read_chorales
    from tasks.music.roll_stats import roll_statistics

    preset = zoo.load(JSB)
    rolls = read_chorales(preset_data(preset, tasks.get_task("music-jsb"), None), "test")
    return {"chorales": len(rolls[:10] if quick else rolls),
            **roll_statistics(rolls[:10] if quick else rolls)}


def _jsb(quick: bool, folder: Path) -> dict:
    target, tolerance = JSB_TARGETS[JSB]
    return jsb_preset(JSB, quick, folder, target=target, tolerance=tolerance)


def _jsb_ar(name: str, quick: bool, folder: Path) -> dict:
    problem = _missing(name)
    if problem:
        return {"preset": name, "skipped": problem}
    target, tolerance = JSB_TARGETS[name]
    return jsb_preset(name, quick, folder, target=target, tolerance=tolerance)


def _notes(name: str, quick: bool, folder: Path, exported: dict | None = None) -> dict:
    """Test figures of a note preset: Keras, and its float32 and int8 TFLite step files run
    step by step; whether int8 keeps the pitch NLL within `NOTES_INT8_TOLERANCE`.
    ``exported``: filled with the loaded preset, its files and any export problem (for
    `_generation`, which reuses them)."""
    from tasks.music.sampling import stepwise_model_fn
    from tasks.music.tflite_sampler import TFLiteStepper

    preset, task, data = _load(name)
    if quick:
        data = data.take(4)
    rows = {"keras": task.metric(preset.model.predict_on_batch, data)}
    files, problem = _try_export(preset, task, folder)
    if exported is not None:
        exported.update(preset=preset, files=files, problem=problem)
    for mode, path in files.items():
        rows[f"tflite_{mode}_step"] = task.metric(stepwise_model_fn(TFLiteStepper(path)), data)
        rows[f"tflite_{mode}_step"]["bytes"] = path.stat().st_size
    result = {"preset": name, "parameters": int(preset.model.count_params()), "figures": rows,
              "int8_tolerance": NOTES_INT8_TOLERANCE}
    if "tflite_int8_step" in rows:
        delta = rows["tflite_int8_step"]["pitch_nll"] / rows["keras"]["pitch_nll"] - 1
        result.update(int8_relative_delta=delta,
                      int8_within_tolerance=abs(delta) <= NOTES_INT8_TOLERANCE)
    if problem:
        result["tflite_problem"] = problem
    return result


def _generation(quick: bool, folder: Path, exported: dict) -> dict:
    """Melody generation speed and agreement: Keras, and the step files `_notes` exported
    (``exported``: its preset, files and problem)."""
    import numpy as np

    from tasks.music.midi import array_to_midi, read_midi
    from tasks.music.sampling import KerasStepper, generate_notes
    from tasks.music.tflite_sampler import TFLiteStepper

    preset, files, problem = exported["preset"], exported["files"], exported["problem"]
    length = 32 if quick else GENERATED_NOTES
    runs = {}

    def timed(stepper):
        generate_notes(stepper, length=4, seed=1)  # warm-up (tracing, allocation)
        start = time.perf_counter()
        notes = generate_notes(stepper, length=length, seed=0, temperature=1.0)
        return notes, length / (time.perf_counter() - start)

    keras_notes, runs["keras"] = timed(KerasStepper(preset.model))
    result = {"preset": MELODY, "notes": length, "threads": 1, "notes_per_second": runs}
    if problem:
        result["tflite_problem"] = problem
    if "fp32" in files:
        float_notes, runs["tflite_float32"] = timed(TFLiteStepper(files["fp32"], threads=1))
        result["float32_same_pitches"] = bool(np.array_equal(float_notes[:, 0],
                                                             keras_notes[:, 0]))
        result["float32_max_timing_diff"] = float(
            np.abs(float_notes[:, 1:] - keras_notes[:, 1:]).max())
    if "int8" in files:
        int8_notes, runs["tflite_int8"] = timed(TFLiteStepper(files["int8"], threads=1))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "int8.mid"
        array_to_midi(int8_notes, path)
        midi = read_midi(path)
        result["int8_midi_notes"] = len(midi.instruments[0].notes)
        result["int8_pitch_agreement"] = float(np.mean(int8_notes[:, 0] == keras_notes[:, 0]))
    return result


def _throughput(builder: str, config: dict, x, y, w, loss, batch: int, steps: int) -> dict:
    import keras
    import tensorflow as tf

    import zoo

    keras.utils.set_random_seed(0)
    model = zoo.build(builder, **config)
    model.compile(keras.optimizers.Adam(1e-3, global_clipnorm=1.0), loss=loss)
    data = tf.data.Dataset.from_tensor_slices((x, y, w)).repeat().batch(batch)
    model.fit(data, steps_per_epoch=2, epochs=1, verbose=0, shuffle=False)  # compile the step
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - start
    weights = float(w[:batch].sum()) / batch  # real (unpadded) time steps per example
    length = int(next(iter(x.values())).shape[1] if isinstance(x, dict) else x.shape[1])
    return {"builder": builder, "batch": batch, "length": length,
            "parameters": int(model.count_params()), "steps_per_second": steps / seconds,
            "time_steps_per_second": steps * batch * weights / seconds}


def _training(quick: bool) -> dict:
    from rnnzoo.commands.common import preset_data
    from tasks.music.notes import chunks, note_targets, read_pieces
    from tasks.music.pianoroll import padded_examples, read_chorales
    from zoo.music import FRAME, PREVIOUS_FRAME

    steps = 5 if quick else 40
    jsb, jsb_task, _ = _load(JSB)
    rolls = read_chorales(preset_data(jsb, jsb_task, None), "train")
    x, y, w = padded_examples(rolls)
    result = {"jsb": _throughput(jsb.builder, jsb.config["config"], x, y, w, jsb_task.loss,
                                 4, steps)}
    if _missing(JSB_AR) is None:  # the same chorales, with the frame as a second input
        ar, _, _ = _load(JSB_AR)
        result["jsb_ar"] = _throughput(ar.builder, ar.config["config"],
                                       {PREVIOUS_FRAME: x, FRAME: y}, y, w, jsb_task.loss, 8,
                                       steps)
    melody, melody_task, _ = _load(MELODY)
    pieces = read_pieces(preset_data(melody, melody_task, None), "train", mode="melody",
                         limit=80)
    x, y, w = chunks(pieces, 64, 32)
    result["melody"] = _throughput(melody.builder, melody.config["config"], x, note_targets(y),
                                   w, melody_task.loss, 64, steps)
    return result


def run(quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-music-") as temp:
        folder = Path(temp)
        result = {"settings": {"quick": quick,
                               "generated_notes": 32 if quick else GENERATED_NOTES,
                               "sampled_chorales": 10 if quick else SAMPLED_CHORALES,
                               "sampled_frames": 16 if quick else SAMPLED_FRAMES,
                               "tflite_threads": 1},
                  "jsb": _jsb(quick, folder / "jsb"),
                  **{key: _jsb_ar(name, quick, folder / key)
                     for key, name in AUTOREGRESSIVE.items()},
                  "jsb_test_statistics": _test_statistics(quick)}
        melody_export: dict = {}  # exported once, scored by _notes, sampled by _generation
        result["melody"] = _notes(MELODY, quick, folder / "melody-notes", melody_export)
        result["piano"] = _notes(PIANO, quick, folder / "piano-notes")
        result["generation"] = _generation(quick, folder / "melody", melody_export)
        result["training"] = _training(quick)
        return result


def _fmt(value, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def jsb_table(jsb: dict) -> list[str]:
    """Lines of one JSB preset's test figures (`jsb_preset`)."""
    if jsb.get("skipped"):
        return [f"music: JSB chorales test: {jsb['skipped']}"]
    pct = 100 * jsb["int8_tolerance"]
    lines = [f"music: JSB chorales test ({jsb['preset']}, {jsb['builder']}, "
             f"{jsb['parameters']:,} parameters); target NLL <= {jsb['target_nll']}, int8 "
             f"within {pct:g} %",
             f"{'model':<22}{'NLL nats/step':>15}{'frame acc':>11}{'bytes':>10}"]
    if jsb.get("subset"):
        lines.insert(1, f"on the {jsb['subset']}: not the test figure")
    for name, row in jsb["figures"].items():
        lines.append(f"{name:<22}{row['nll']:>15.4f}{row['frame_accuracy']:>11.4f}"
                     f"{_fmt(row.get('bytes'), ',d'):>10}")
    greedy = jsb["figures"]["keras"].get("frame_accuracy_greedy")
    if greedy is not None:
        lines.append(f"frame accuracy above: each key given the true keys below it; with the "
                     f"keys chosen in order (greedy), Keras: {greedy:.4f}")
    if "int8_relative_delta" in jsb:
        lines.append(f"int8 vs Keras: {100 * jsb['int8_relative_delta']:+.2f} % "
                     f"({'within' if jsb['int8_within_tolerance'] else 'OUTSIDE'} {pct:g} %)")
    if jsb.get("tflite_problem"):
        lines.append(f"TFLite step models: not made ({jsb['tflite_problem']})")
    lines.append(f"Keras NLL {'meets' if jsb['keras_meets_target'] else 'MISSES'} the target")
    return lines


def samples_table(test: dict | None, presets: list[dict]) -> list[str]:
    """Lines comparing the generated chorales of JSB presets with the test chorales."""
    generated = [p for p in presets if "generation" in p]
    if not generated:
        return []
    gen = generated[0]["generation"]
    counts = list((test or gen["statistics"]["keras"])["notes_per_frame"])
    lines = [f"JSB samples: {gen['chorales']} chorales x {gen['frames']} frames from scratch, "
             f"T={gen['temperature']:g}; share of frames by notes sounding (%), share of "
             "sounding frames that are triads / seventh chords (%), mean pitch range",
             f"{'source':<34}" + "".join(f"{c:>5}" for c in counts)
             + f"{'mean':>6}{'triad':>7}{'7th':>6}{'range':>7}"]

    def row(label: str, stats: dict) -> str:
        return (f"{label:<34}" + "".join(f"{100 * v:>5.0f}"
                                         for v in stats["notes_per_frame"].values())
                + f"{stats['mean_notes_per_frame']:>6.2f}{100 * stats['triad_share']:>7.1f}"
                + f"{100 * stats['seventh_share']:>6.1f}{stats['pitch_range']:>7.1f}")

    if test:
        lines.append(row(f"test chorales ({test['chorales']})", test))
    for preset in generated:
        for backend, stats in preset["generation"]["statistics"].items():
            lines.append(row(f"{preset['preset']} {backend}", stats))
    lines.append("")
    lines.append("JSB generation, frames/s on 1 thread (same frames: float32 TFLite = Keras):")
    for preset in generated:
        g = preset["generation"]
        speeds = ", ".join(f"{k} {_fmt(v, '.0f')}" for k, v in g["frames_per_second"].items())
        extra = ""
        if "float32_same_frames" in g:
            extra += f"; same frames {g['float32_same_frames']}"
        if "int8_key_agreement" in g:
            extra += f"; int8 keys as Keras {100 * g['int8_key_agreement']:.1f} %"
        lines.append(f"  {preset['preset']}: {speeds}{extra}")
        if g.get("keras_speed_problem"):
            lines.append(f"  Keras speed: {g['keras_speed_problem']}")
    return lines


def notes_table(notes: dict) -> list[str]:
    """Lines of one note preset's test figures (`_notes`)."""
    lines = [f"{notes['preset']} test ({notes['parameters']:,} parameters)",
             f"{'model':<22}{'pitch NLL':>10}{'pitch acc':>10}{'step MAE':>10}"
             f"{'dur MAE':>10}{'notes':>8}{'bytes':>10}"]
    for name, row in notes["figures"].items():
        lines.append(f"{name:<22}{row['pitch_nll']:>10.4f}{row['pitch_accuracy']:>10.4f}"
                     f"{row['step_mae']:>10.4f}{row['duration_mae']:>10.4f}{row['notes']:>8}"
                     f"{_fmt(row.get('bytes'), ',d'):>10}")
    if "int8_relative_delta" in notes:
        pct = 100 * notes["int8_tolerance"]
        lines.append(f"int8 pitch NLL vs Keras: {100 * notes['int8_relative_delta']:+.2f} % "
                     f"({'within' if notes['int8_within_tolerance'] else 'OUTSIDE'} {pct:g} %)")
    if notes.get("tflite_problem"):
        lines.append(f"TFLite step models: not made ({notes['tflite_problem']})")
    return lines


def table(result: dict) -> str:
    lines = jsb_table(result["jsb"])
    presets = [result["jsb"]]
    for key in AUTOREGRESSIVE:
        if key in result:
            lines += [""] + jsb_table(result[key])
            presets.append(result[key])
    sample_lines = samples_table(result.get("jsb_test_statistics"), presets)
    if sample_lines:
        lines += [""] + sample_lines
    for key in ("melody", "piano"):
        lines += [""] + notes_table(result[key])
    gen = result["generation"]
    lines.append("")
    lines.append(f"generation ({gen['preset']}, {gen['notes']} notes from scratch, 1 thread): "
                 + ", ".join(f"{k} {v:.0f} notes/s" for k, v in gen["notes_per_second"].items()))
    if "float32_same_pitches" in gen:
        lines.append(f"float32 TFLite vs Keras: same pitches {gen['float32_same_pitches']}, "
                     f"max step/duration difference {gen['float32_max_timing_diff']:.2e} s")
    if "int8_midi_notes" in gen:
        lines.append(f"int8 TFLite: valid MIDI with {gen['int8_midi_notes']} notes; pitch "
                     f"agreement with Keras {100 * gen['int8_pitch_agreement']:.0f} %")
    if gen.get("tflite_problem"):
        lines.append(f"TFLite generation: not run ({gen['tflite_problem']})")
    lines.append("")
    lines.append(f"{'training':<10}{'builder':<22}{'batch':>6}{'T':>5}{'steps/s':>9}"
                 f"{'time steps/s':>14}")
    for key, row in result["training"].items():
        lines.append(f"{key:<10}{row['builder']:<22}{row['batch']:>6}{row['length']:>5}"
                     f"{row['steps_per_second']:>9.2f}{row['time_steps_per_second']:>14.0f}")
    return "\n".join(lines)
