"""The video builders (zoo.video): shapes, streaming step files, and that recurrence matters."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import export
import zoo

LABELS = ["left", "right"]
FRAMES, SIZE = 8, 16


def _moving_squares(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clips of a bright square crossing the frame left to right (label 0) or right to left
    (label 1): both directions show the same set of frames, in opposite orders, so only a
    model that reads the order can tell them apart."""
    clips = np.zeros((count, FRAMES, SIZE, SIZE, 3), np.float32)
    labels = rng.integers(0, 2, count)
    for i, label in enumerate(labels):
        row = rng.integers(0, SIZE - 4)
        clips[i] += rng.uniform(0, 40)  # background level
        for t in range(FRAMES):
            step = t if label == 0 else FRAMES - 1 - t
            col = step * (SIZE - 4) // (FRAMES - 1)
            clips[i, t, row:row + 4, col:col + 4] = 255.0
    clips += rng.normal(0, 5, clips.shape)
    return np.clip(clips, 0, 255), labels.astype(np.int32)


@pytest.mark.parametrize("name", ["video-lrcn", "video-convlstm", "video-frame-average"])
def test_builders_classify_clips_of_frames(name):
    model = zoo.build(name, labels=["a", "b", "c"], frames=FRAMES, size=SIZE, filters=[4, 4])
    probabilities = model.predict_on_batch(np.zeros((2, FRAMES, SIZE, SIZE, 3), np.float32))
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.inputs[0].name == "frames"


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="at least two distinct"):
        zoo.build("video-lrcn", labels=["only"])
    with pytest.raises(ValueError, match="at least 16 pixels"):
        zoo.build("video-lrcn", labels=LABELS, size=8)
    with pytest.raises(ValueError, match="positive number of frames"):
        zoo.build("video-lrcn", labels=LABELS, frames=None)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["video-lrcn", "video-convlstm"])
def test_step_tflite_fed_frame_by_frame_gives_the_clip_models_output(name, tmp_path):
    """Streaming on device: one frame and the state in, probabilities and the new state out;
    after the last frame the float32 step file gives the clip model's output (1e-4)."""
    keras.utils.set_random_seed(0)
    model = zoo.build(name, labels=["a", "b", "c"], frames=FRAMES, size=SIZE, filters=[4, 8])
    clips = np.random.default_rng(0).uniform(0, 255, (3, FRAMES, SIZE, SIZE, 3))
    clips = clips.astype(np.float32)
    artifact = export.to_tflite(model, tmp_path / "step.tflite", kind="step")
    runner = export.TFLiteRunner(artifact.path)
    for clip, expected in zip(clips, model.predict_on_batch(clips)):
        states = runner.zero_states(1)
        for frame in clip:
            outputs = runner.invoke({"frames": frame[None], **states})
            states = {n: outputs[n] for n in runner.states}
        np.testing.assert_allclose(outputs["actions"][0], expected, atol=1e-4)


@pytest.mark.slow
def test_recurrence_reads_the_order_the_frame_average_cannot():
    """Trained the same way on clips that differ only in the order of their frames, the LRCN
    reaches >= 90 % on new clips while the frame-averaging model with the same CNN stays
    within 15 points of chance (50 %)."""
    rng = np.random.default_rng(0)
    x, y = _moving_squares(160, rng)
    x_test, y_test = _moving_squares(100, rng)
    scores = {}
    for name in ("video-lrcn", "video-frame-average"):
        keras.utils.set_random_seed(0)
        model = zoo.build(name, labels=LABELS, frames=FRAMES, size=SIZE, filters=[8, 8],
                          dropout=0.0, **({"units": 16} if name == "video-lrcn" else {}))
        model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=25, batch_size=16, verbose=0)
        predicted = model.predict_on_batch(x_test).argmax(axis=1)
        scores[name] = float(np.mean(predicted == y_test))
    assert scores["video-lrcn"] >= 0.90, scores
    assert abs(scores["video-frame-average"] - 0.5) <= 0.15, scores


def test_flattened_frame_codes_keep_where_a_feature_is():
    """frame_pooling="flatten" (LRCN's fc6): the same blob in the left or the right half of
    the frame gives different codes."""
    import keras

    from zoo.video import _frame_encoder

    keras.utils.set_random_seed(0)
    left, right = np.zeros((1, SIZE, SIZE, 3), np.float32), np.zeros((1, SIZE, SIZE, 3),
                                                                    np.float32)
    left[0, 6:10, 2:6], right[0, 6:10, SIZE - 6:SIZE - 2] = 255.0, 255.0
    flat = _frame_encoder(SIZE, [4, 4], 0.0, "flatten", 8)
    assert flat.output.shape[-1] == 8
    assert np.abs(flat.predict_on_batch(left) - flat.predict_on_batch(right)).max() > 1e-3
    with pytest.raises(ValueError, match="frame pooling"):
        _frame_encoder(SIZE, [4], 0.0, "median")


def test_clip_augment_transforms_every_frame_of_a_clip_alike():
    """Training only: mirror (flip=1, no zoom) is exact; a zoom box is shared by the frames of
    a clip (identical frames stay identical) and differs between clips; inference is the
    identity."""
    from zoo.video import ClipAugment

    rng = np.random.default_rng(0)
    clips = rng.uniform(0, 255, (2, 1, SIZE, SIZE, 3)).astype(np.float32)
    mirror = ClipAugment(flip=1.0, min_scale=1.0)(clips, training=True)
    np.testing.assert_allclose(np.asarray(mirror), clips[:, :, :, ::-1], atol=1e-3)
    same = np.repeat(clips[:1], 2, axis=0).repeat(FRAMES, axis=1)
    zoomed = np.asarray(ClipAugment(flip=0.5, min_scale=0.5, seed=3)(same, training=True))
    np.testing.assert_allclose(zoomed, zoomed[:, :1].repeat(FRAMES, axis=1), atol=1e-4)
    assert np.abs(zoomed[0] - zoomed[1]).max() > 1.0, "two clips got the same box"
    assert np.abs(zoomed[0] - same[0]).max() > 1.0, "the clip was not transformed"
    np.testing.assert_array_equal(np.asarray(ClipAugment()(same, training=False)), same)


@pytest.mark.slow
def test_augmented_lrcn_streams_and_reloads(tmp_path):
    """The augmentation layer is left out of the step file, and the model saves and loads
    with safe_mode (the streaming test's 1e-4 holds with it in the model)."""
    keras.utils.set_random_seed(0)
    model = zoo.build("video-lrcn", labels=["a", "b"], frames=FRAMES, size=SIZE, filters=[4],
                      augment={"min_scale": 0.9})
    clip = np.random.default_rng(1).uniform(0, 255, (1, FRAMES, SIZE, SIZE, 3))
    clip = clip.astype(np.float32)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict_on_batch(clip), model.predict_on_batch(clip),
                               atol=1e-6)
    runner = export.TFLiteRunner(export.to_tflite(model, tmp_path / "s.tflite",
                                                  kind="step").path)
    states = runner.zero_states(1)
    for frame in clip[0]:
        outputs = runner.invoke({"frames": frame[None], **states})
        states = {n: outputs[n] for n in runner.states}
    np.testing.assert_allclose(outputs["actions"][0], model.predict_on_batch(clip)[0],
                               atol=1e-4)


def test_frame_difference_adds_each_frames_change_from_the_last():
    from zoo.video import FrameDifference

    clips = np.random.default_rng(2).uniform(0, 255, (2, 4, 5, 5, 3)).astype(np.float32)
    out = keras.ops.convert_to_numpy(FrameDifference()(clips))
    assert out.shape == (2, 4, 5, 5, 6)
    np.testing.assert_array_equal(out[..., :3], clips)
    assert not out[:, 0, ..., 3:].any()  # no previous frame: no motion
    np.testing.assert_allclose(out[:, 1:, ..., 3:], clips[:, 1:] - clips[:, :-1], atol=1e-4)


@pytest.mark.slow
def test_motion_lrcn_streams_with_the_previous_frame_as_state(tmp_path):
    """--motion: the step file carries the previous frame as a state; fed frame by frame it
    gives the clip model's output (float32, 1e-4); the model reloads with safe_mode."""
    keras.utils.set_random_seed(0)
    model = zoo.build("video-lrcn", labels=["a", "b", "c"], frames=FRAMES, size=SIZE,
                      filters=[4, 8], motion=True)
    clips = np.random.default_rng(3).uniform(0, 255, (2, FRAMES, SIZE, SIZE, 3))
    clips = clips.astype(np.float32)
    expected = model.predict_on_batch(clips)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict_on_batch(clips), expected, atol=1e-6)
    runner = export.TFLiteRunner(export.to_tflite(model, tmp_path / "s.tflite",
                                                  kind="step").path)
    assert any(list(shape) == [SIZE, SIZE, 3] for shape in
               (runner.zero_states(1)[n].shape[1:] for n in runner.states))
    for clip, want in zip(clips, expected):
        states = runner.zero_states(1)
        for frame in clip:
            outputs = runner.invoke({"frames": frame[None], **states})
            states = {n: outputs[n] for n in runner.states}
        np.testing.assert_allclose(outputs["actions"][0], want, atol=1e-4)
