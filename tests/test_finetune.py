"""Fine-tuning that keeps the pretrained layers (tasks.common.finetune): discriminative rates
per layer, gradual unfreezing through `fit` and ``rnnzoo train --from``, and the concat
pooling of the sentiment classifier (each direction's final state), on tiny shapes."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from rnnzoo.cli import main
from tasks.common.finetune import PRETRAINED, LayerSchedule
from tasks.common.fit import fit
from tasks.common.optimizer import GlobalClipAdam
from zoo.text import MaskedPooling


def tiny_model() -> keras.Model:
    inputs = keras.Input((4,))
    x = keras.layers.Dense(5, activation="tanh", name="bottom")(inputs)
    x = keras.layers.Dense(5, activation="tanh", name="top")(x)
    return keras.Model(inputs, keras.layers.Dense(1, name="head")(x))


def tiny_data(n: int = 24, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x.sum(axis=1, keepdims=True) > 0).astype("float32")


def test_discriminative_rates_scale_the_first_adam_step_per_layer():
    # Adam's first update moves every weight with a non-zero gradient by the learning rate
    # (m / sqrt(v) = +-1): so each layer's largest move is its rate, to 1e-3 relative
    model = tiny_model()
    optimizer = GlobalClipAdam(learning_rate=0.01, global_clipnorm=None, epsilon=1e-12)
    model.compile(optimizer=optimizer, loss="mse")
    x, y = tiny_data()
    model(x[:1])
    optimizer.build(model.trainable_variables)
    schedule = LayerSchedule(rate_decay=0.5, layers=("top", "bottom"))
    optimizer.set_layer_rates(schedule.rates(model, steps_per_epoch=10))
    before = {layer.name: layer.get_weights()[0] for layer in model.layers[1:]}
    model.train_on_batch(x, y)
    moved = {layer.name: np.abs(layer.get_weights()[0] - before[layer.name]).max()
             for layer in model.layers[1:]}
    np.testing.assert_allclose(
        [moved["head"], moved["top"], moved["bottom"]], [0.01, 0.005, 0.0025], rtol=1e-3)


def test_set_layer_rates_names_a_variable_it_does_not_have():
    model = tiny_model()
    optimizer = GlobalClipAdam(learning_rate=0.01)
    model.compile(optimizer=optimizer, loss="mse")
    optimizer.build(model.trainable_variables)
    with pytest.raises(ValueError, match="no trainable variable nowhere/kernel"):
        optimizer.set_layer_rates({"nowhere/kernel": (0, 1.0)})
    with pytest.raises(ValueError, match="no layer 'absent'"):
        LayerSchedule(freeze_epochs=1, layers=("absent",)).rates(model, 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"freeze_epochs": -1}, "freeze_epochs"), ({"rate_decay": 0.0}, "decay"),
    ({"rate_decay": 1.5}, "decay")])
def test_bad_schedules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LayerSchedule(**kwargs)


class EpochWeights(keras.callbacks.Callback):
    """The kernels of every layer at the end of each epoch."""

    def __init__(self):
        super().__init__()
        self.kernels: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        self.kernels.append({layer.name: layer.get_weights()[0].copy()
                             for layer in self.model.layers[1:]})


def pretrained_builder():
    """A builder of copies of one tiny model marked as taken from a pretrained preset (as
    transfer_weights leaves it), and the first kernel of each of its layers."""
    start = tiny_model()
    initial = {layer.name: layer.get_weights()[0].copy() for layer in start.layers[1:]}

    def build():
        model = tiny_model()
        model.set_weights(start.get_weights())
        setattr(model, PRETRAINED, ("bottom", "top"))
        return model

    return build, initial


def test_gradual_unfreezing_thaws_one_layer_per_epoch_from_the_top(tmp_path):
    x, y = tiny_data(24)
    build, initial = pretrained_builder()

    record = EpochWeights()
    fit(build, tf.data.Dataset.from_tensor_slices((x, y)), None, out_dir=tmp_path / "run",
        loss="mse", epochs=3, batch_size=8, learning_rate=0.05, schedule="constant",
        early_stopping_patience=None, tensorboard=False, verbose=0, callbacks=[record],
        layer_schedule=LayerSchedule(freeze_epochs=1))
    still = [{name: np.array_equal(kernels[name], initial[name]) for name in initial}
             for kernels in record.kernels]
    assert still == [{"head": False, "top": True, "bottom": True},
                     {"head": False, "top": False, "bottom": True},
                     {"head": False, "top": False, "bottom": False}]


WORDS = ["<pad>", "<start>", "<end>", "<unk>", "good", "bad", "film", "a"]


def test_concat_pooling_takes_each_directions_final_state():
    rng = np.random.default_rng(1)
    sequence = rng.uniform(-1, 1, (2, 5, 4)).astype("float32")  # 2 forward + 2 backward
    ids = np.array([[5, 6, 7, 0, 0], [5, 6, 7, 4, 4]], np.int32)
    pooled = np.asarray(MaskedPooling(last=True)([sequence, ids]))
    assert pooled.shape == (2, 12)
    np.testing.assert_allclose(pooled[0, :2], sequence[0, 2, :2])  # last real step
    np.testing.assert_allclose(pooled[1, :2], sequence[1, 4, :2])
    np.testing.assert_allclose(pooled[:, 2:4], sequence[:, 0, 2:])  # step 0, backward
    np.testing.assert_allclose(pooled[:, 4:], np.asarray(MaskedPooling()([sequence, ids])),
                               rtol=1e-6)
    changed = sequence.copy()
    changed[0, 3:] = 0.5  # padding steps do not count
    np.testing.assert_allclose(np.asarray(MaskedPooling(last=True)([changed, ids]))[0],
                               pooled[0], rtol=1e-6)
    layer = MaskedPooling.from_config(MaskedPooling(last=True).get_config())
    assert layer.last


def test_classifier_with_concat_pooling_builds_and_refuses_unknown_pooling():
    model = zoo.build("sentiment-bigru", vocabulary=WORDS, max_length=6, embedding_dim=4,
                      units=3, pooling="last_mean_max")
    assert model.get_layer("sentiment").kernel.shape == (18, 2)
    assert model(np.array([[4, 6, 0, 0, 0, 0]], np.int32)).shape == (1, 2)
    with pytest.raises(ValueError, match="unknown pooling 'first'"):
        zoo.build("sentiment-bigru", vocabulary=WORDS, pooling="first")


def sentiment_folder(folder):
    """SST-2-shaped files whose label is the sentiment word among random fillers, and the
    same training sentences as unlabeled text."""
    rng = np.random.default_rng(0)
    fillers = [f"w{i}" for i in range(20)]
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train.tsv", 160), ("dev.tsv", 40), ("test.tsv", 40)):
        lines = []
        for _ in range(n):
            label = int(rng.integers(2))
            words = list(rng.choice(fillers, size=int(rng.integers(3, 7))))
            words.insert(int(rng.integers(len(words) + 1)), "great" if label else "awful")
            lines.append(f"{' '.join(words)} .\t{label}")
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = (folder / "train.tsv").read_text().splitlines()
    (folder / "unlabeled.txt").write_text("\n".join(x.split("\t")[0] for x in lines) + "\n")
    return folder


def test_train_from_a_language_model_keeps_frozen_layers_and_checks_options(tmp_path,
                                                                            capsys):
    data = sentiment_folder(tmp_path / "data")
    tiny = ["--units", "4", "--embedding-dim", "4", "--max-length", "10", "--quiet",
            "--batch-size", "16"]
    assert main(["train", "wordlm", "--data", str(data / "unlabeled.txt"), "--out",
                 str(tmp_path / "lm"), "--epochs", "1", "--min-count", "1",
                 "--output-vocabulary", "12", *tiny]) == 0
    # frozen for longer than the run: the embedding and encoder stay the language model's
    assert main(["train", "sentiment", "--data", str(data), "--from", str(tmp_path / "lm"),
                 "--out", str(tmp_path / "clf"), "--epochs", "2", "--freeze-epochs", "3",
                 "--layer-rate-decay", "0.5", "--pooling", "last_mean_max", "--quiet",
                 "--batch-size", "16", "--learning-rate", "0.01"]) == 0
    err = capsys.readouterr().err
    assert "encoder from epoch 4 at 0.5x, embedding from epoch 5 at 0.25x" in err
    lm, clf = zoo.load(tmp_path / "lm"), zoo.load(tmp_path / "clf")
    assert clf.config["config"]["pooling"] == "last_mean_max"
    for name in ("embedding", "encoder"):
        for a, b in zip(clf.model.get_layer(name).get_weights(),
                        lm.model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert np.abs(clf.model.get_layer("sentiment").get_weights()[0]).max() > 0
    # without --from a preset of another task the options are refused, one line, exit 2
    for bad in (["--freeze-epochs", "1"], ["--layer-rate-decay", "0.5"]):
        assert main(["train", "sentiment", "--data", str(data), "--out",
                     str(tmp_path / "bad"), *bad, "--quiet"]) == 2
        assert "apply to the layers taken from --from" in capsys.readouterr().err
    assert main(["train", "sentiment", "--data", str(data), "--out", str(tmp_path / "bad"),
                 "--from", str(tmp_path / "lm"), "--layer-rate-decay", "2",
                 "--quiet"]) == 2
    assert "--layer-rate-decay must be in (0, 1], got 2" in capsys.readouterr().err


def test_a_resumed_run_takes_the_stage_from_the_step_count(tmp_path):
    x, y = tiny_data(24)
    build, initial = pretrained_builder()

    def session(epochs: int, resume: bool) -> keras.Model:
        return fit(build, tf.data.Dataset.from_tensor_slices((x, y)), None,
                   out_dir=tmp_path / "run", loss="mse", epochs=epochs, batch_size=8,
                   learning_rate=0.05, schedule="constant", early_stopping_patience=None,
                   tensorboard=False, verbose=0, resume=resume,
                   layer_schedule=LayerSchedule(freeze_epochs=1)).model

    first = session(1, False)  # epoch 1: only the head
    assert np.array_equal(first.get_layer("top").get_weights()[0], initial["top"])
    second = session(2, True)  # epoch 2 after a resume: the top layer thaws, not the bottom
    assert not np.array_equal(second.get_layer("top").get_weights()[0], initial["top"])
    assert np.array_equal(second.get_layer("bottom").get_weights()[0], initial["bottom"])
