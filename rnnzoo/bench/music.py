"""``rnnzoo bench music``: the music presets' test figures, on-device generation, speed.

1. JSB chorales (``music-jsb-gru``): test NLL (nats per step) and frame accuracy of the Keras
   sequence model and of the float32 and int8 TFLite *step* models run step by step (the
   on-device form); targets NLL <= 8.5 and int8 within 2 % of Keras.
2. ``music-melody-nottingham`` and ``music-piano``: test pitch NLL / accuracy, step and
   duration MAE (Keras).
3. Generation (melody preset, 128 notes from scratch, seed 0): notes per second of the Keras
   stepper and of the float32 / int8 TFLite step models on one thread; whether float32
   TFLite gives the same pitches as Keras and its largest step/duration difference; whether
   the int8 run writes a MIDI file that reads back.
4. Training throughput: optimizer steps per second and frames / notes per second of the JSB
   GRU and the melody LSTM (batch of the presets' training runs).

TFLite files come from `export` (step models, ``convert_variants``); the figures that need them
say so when the export package cannot make them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

JSB, MELODY, PIANO = "music-jsb-gru", "music-melody-nottingham", "music-piano"
JSB_TARGET, INT8_TOLERANCE = 8.5, 0.02
GENERATED_NOTES = 128


def _load(name: str):
    import tasks
    import zoo
    from rnnzoo.commands.common import preset_dataset

    preset = zoo.load(name)
    task = tasks.get_task(preset.card["task"])
    return preset, task, preset_dataset(preset, task, None, "test")


def export_steps(preset, task, folder: Path, quantize=("fp32", "int8")) -> dict[str, Path]:
    """TFLite step models of ``preset`` (via `export`, one converter process), by quantize
    mode; int8 is calibrated on the task's representative training windows."""
    import export
    from rnnzoo.commands.common import preset_data

    samples = task.representative(preset_data(preset, task, None), 100,
                                  **preset.card.get("data_options", {}))
    targets = {export.Variant(kind="step", quantize=mode):
               folder / f"{preset.name}-step-{mode}.tflite" for mode in quantize}
    folder.mkdir(parents=True, exist_ok=True)
    export.convert_variants(preset.model, targets, representative=samples, name=preset.name)
    return {variant.quantize: path for variant, path in targets.items()}


def _try_export(preset, task, folder: Path) -> tuple[dict[str, Path], str | None]:
    try:
        return export_steps(preset, task, folder), None
    except Exception as error:  # noqa: BLE001 - reported in the result, not fatal
        return {}, f"{type(error).__name__}: {error}"


def _jsb(quick: bool, folder: Path) -> dict:
    from tasks.music.sampling import stepwise_model_fn
    from tasks.music.tflite_sampler import TFLiteStepper

    preset, task, data = _load(JSB)
    if quick:
        data = data.take(8)
    rows = {"keras": task.metric(preset.model.predict_on_batch, data)}
    files, problem = _try_export(preset, task, folder)
    for mode, path in files.items():
        start = time.perf_counter()
        rows[f"tflite_{mode}_step"] = task.metric(stepwise_model_fn(TFLiteStepper(path)), data)
        rows[f"tflite_{mode}_step"]["seconds"] = time.perf_counter() - start
        rows[f"tflite_{mode}_step"]["bytes"] = path.stat().st_size
    keras_nll = rows["keras"]["nll"]
    result = {"preset": JSB, "parameters": int(preset.model.count_params()), "figures": rows,
              "subset": "first 8 test chorales (quick)" if quick else None,
              "target_nll": JSB_TARGET, "keras_meets_target": keras_nll <= JSB_TARGET}
    if "tflite_int8_step" in rows:
        delta = rows["tflite_int8_step"]["nll"] / keras_nll - 1
        result.update(int8_relative_delta=delta, int8_within_2pct=abs(delta) <= INT8_TOLERANCE)
    if problem:
        result["tflite_problem"] = problem
    return result


def _notes(name: str, quick: bool) -> dict:
    preset, task, data = _load(name)
    if quick:
        data = data.take(4)
    return {"preset": name, "parameters": int(preset.model.count_params()),
            "figures": {"keras": task.metric(preset.model.predict_on_batch, data)}}


def _generation(quick: bool, folder: Path) -> dict:
    import numpy as np

    from tasks.music.midi import array_to_midi, read_midi
    from tasks.music.sampling import KerasStepper, generate_notes
    from tasks.music.tflite_sampler import TFLiteStepper

    preset, task, _ = _load(MELODY)
    length = 32 if quick else GENERATED_NOTES
    runs = {}

    def timed(stepper):
        generate_notes(stepper, length=4, seed=1)  # warm-up (tracing, allocation)
        start = time.perf_counter()
        notes = generate_notes(stepper, length=length, seed=0, temperature=1.0)
        return notes, length / (time.perf_counter() - start)

    keras_notes, runs["keras"] = timed(KerasStepper(preset.model))
    result = {"preset": MELODY, "notes": length, "threads": 1, "notes_per_second": runs}
    files, problem = _try_export(preset, task, folder)
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
    return {"builder": builder, "batch": batch, "length": int(x.shape[1]),
            "parameters": int(model.count_params()), "steps_per_second": steps / seconds,
            "time_steps_per_second": steps * batch * weights / seconds}


def _training(quick: bool) -> dict:
    from rnnzoo.commands.common import preset_data
    from tasks.music.notes import chunks, read_pieces
    from tasks.music.pianoroll import padded_examples, read_chorales

    steps = 5 if quick else 40
    jsb, jsb_task, _ = _load(JSB)
    rolls = read_chorales(preset_data(jsb, jsb_task, None), "train")
    x, y, w = padded_examples(rolls)
    result = {"jsb": _throughput(jsb.builder, jsb.config["config"], x, y, w, jsb_task.loss,
                                 4, steps)}
    melody, melody_task, _ = _load(MELODY)
    pieces = read_pieces(preset_data(melody, melody_task, None), "train", mode="melody",
                         limit=80)
    x, y, w = chunks(pieces, 64, 32)
    result["melody"] = _throughput(melody.builder, melody.config["config"], x, y, w,
                                   melody_task.loss, 64, steps)
    return result


def run(quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="rnnzoo-bench-music-") as temp:
        folder = Path(temp)
        return {"settings": {"quick": quick, "generated_notes": 32 if quick else GENERATED_NOTES,
                             "tflite_threads": 1},
                "jsb": _jsb(quick, folder / "jsb"),
                "melody": _notes(MELODY, quick),
                "piano": _notes(PIANO, quick),
                "generation": _generation(quick, folder / "melody"),
                "training": _training(quick)}


def _fmt(value, spec: str = ".4g") -> str:
    return "-" if value is None else format(value, spec)


def table(result: dict) -> str:
    jsb = result["jsb"]
    lines = [f"music: JSB chorales test ({jsb['preset']}, {jsb['parameters']:,} parameters); "
             f"target NLL <= {jsb['target_nll']}, int8 within 2 %",
             f"{'model':<22}{'NLL nats/step':>15}{'frame acc':>11}{'bytes':>10}"]
    if jsb.get("subset"):
        lines.insert(1, f"on the {jsb['subset']}: not the test figure")
    for name, row in jsb["figures"].items():
        lines.append(f"{name:<22}{row['nll']:>15.4f}{row['frame_accuracy']:>11.4f}"
                     f"{_fmt(row.get('bytes'), ',d'):>10}")
    if "int8_relative_delta" in jsb:
        lines.append(f"int8 vs Keras: {100 * jsb['int8_relative_delta']:+.2f} % "
                     f"({'within' if jsb['int8_within_2pct'] else 'OUTSIDE'} 2 %)")
    if jsb.get("tflite_problem"):
        lines.append(f"TFLite step models: not made ({jsb['tflite_problem']})")
    lines.append(f"Keras NLL {'meets' if jsb['keras_meets_target'] else 'MISSES'} the target")
    lines.append("")
    lines.append(f"{'note model (test)':<26}{'pitch NLL':>10}{'pitch acc':>10}{'step MAE':>10}"
                 f"{'dur MAE':>10}{'notes':>8}")
    for key in ("melody", "piano"):
        row = result[key]["figures"]["keras"]
        lines.append(f"{result[key]['preset']:<26}{row['pitch_nll']:>10.4f}"
                     f"{row['pitch_accuracy']:>10.4f}{row['step_mae']:>10.4f}"
                     f"{row['duration_mae']:>10.4f}{row['notes']:>8}")
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
