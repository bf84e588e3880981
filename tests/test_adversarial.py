"""Adversarial training on word embeddings (`tasks.common.adversarial`): the perturbation's
size, support and direction, the training step's two losses, `fit` and ``rnnzoo train
--adversarial`` returning and saving the plain model, bad settings refused."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from rnnzoo.cli import main
from tasks.common.adversarial import AdversarialEmbeddings
from tasks.common.fit import fit
from tests.test_sentiment_task import synthetic_sst

WORDS = ["<pad>", "<start>", "<end>", "<unk>"] + [f"w{i}" for i in range(20)]


def classifier(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = zoo.build("sentiment-bigru", vocabulary=WORDS, max_length=6, embedding_dim=4,
                      units=3, dropout=0.0, embedding_dropout=0.0)
    head = model.get_layer("sentiment")  # zeros as built: no gradient reaches the embeddings
    kernel, bias = head.get_weights()
    head.set_weights([np.random.default_rng(seed).normal(0, 1, kernel.shape), bias])
    return model


def batch(n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, len(WORDS), (n, 6)).astype(np.int32)
    for row, length in zip(ids, rng.integers(2, 7, n)):
        row[length:] = 0
    return tf.constant(ids), rng.integers(0, 2, n).astype(np.int32)


def loss_at(wrapper: AdversarialEmbeddings, ids, labels, embeddings) -> float:
    predicted = wrapper._read([ids, embeddings], training=False)
    return float(keras.losses.sparse_categorical_crossentropy(labels, predicted).numpy().mean())


def test_the_perturbation_has_the_stated_size_and_spares_the_padding():
    wrapper = AdversarialEmbeddings(classifier(), 0.2)
    ids, _ = batch()
    embeddings = wrapper._embed(ids)
    gradient = tf.random.normal(embeddings.shape, seed=1)
    change = wrapper.perturbation(ids, embeddings, gradient).numpy()
    real = (ids.numpy() != 0)[..., None]
    assert np.all(change[~np.broadcast_to(real, change.shape)] == 0)
    size = np.linalg.norm((embeddings.numpy() * real).reshape(len(ids), -1), axis=1)
    np.testing.assert_allclose(np.linalg.norm(change.reshape(len(ids), -1), axis=1),
                               0.2 * size, rtol=1e-5)


def test_the_perturbation_raises_the_loss_more_than_its_opposite():
    wrapper = AdversarialEmbeddings(classifier(), 0.05)
    ids, labels = batch(16)
    embeddings = wrapper._embed(ids)
    with tf.GradientTape() as tape:
        tape.watch(embeddings)
        predicted = wrapper._read([ids, embeddings], training=False)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, predicted))
    change = wrapper.perturbation(ids, embeddings, tape.gradient(loss, embeddings))
    clean = loss_at(wrapper, ids, labels, embeddings)
    assert loss_at(wrapper, ids, labels, embeddings + change) > clean
    assert loss_at(wrapper, ids, labels, embeddings - change) < clean


def train_steps(model: keras.Model, steps: int = 3) -> list[np.ndarray]:
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    ids, labels = batch(16)
    for _ in range(steps):
        model.train_on_batch(ids, labels)
    inner = model.inner if isinstance(model, AdversarialEmbeddings) else model
    return inner.get_weights()


def test_the_step_trains_on_the_clean_and_the_adversarial_loss():
    """With SGD, a vanishing radius gives twice the plain step (the two losses coincide), and
    a real one a different step: the adversarial loss is in the update."""
    plain = train_steps(classifier())
    doubled_model = classifier()
    doubled_model.compile(optimizer=keras.optimizers.SGD(1.0),
                          loss="sparse_categorical_crossentropy")
    ids, labels = batch(16)
    for _ in range(3):
        doubled_model.train_on_batch(ids, labels)
    doubled = doubled_model.get_weights()
    tiny = train_steps(AdversarialEmbeddings(classifier(), 1e-6))
    real = train_steps(AdversarialEmbeddings(classifier(), 0.5))
    for a, b in zip(tiny, doubled):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert max(np.abs(a - b).max() for a, b in zip(tiny, plain)) > 1e-3
    assert max(np.abs(a - b).max() for a, b in zip(real, doubled)) > 1e-4


def test_fit_returns_the_plain_model(tmp_path):
    ids, labels = batch(64)
    data = tf.data.Dataset.from_tensor_slices((ids.numpy(), labels))
    result = fit(classifier, data, data, out_dir=tmp_path / "run",
                 loss="sparse_categorical_crossentropy", epochs=2, batch_size=16,
                 verbose=0, tensorboard=False, adversarial=0.1)
    assert not isinstance(result.model, AdversarialEmbeddings)
    assert result.model.name == "sentiment_bigru"
    assert result.optimizer_steps == 8
    # ``loss`` is the clean loss (as ``val_loss``); the perturbed one is logged beside it and,
    # the perturbation going up the gradient, is the larger
    assert len(result.history["adversarial_loss"]) == 2
    assert all(a > c for a, c in zip(result.history["adversarial_loss"],
                                      result.history["loss"]))


@pytest.mark.parametrize("epsilon", [0.0, -0.1, 1.5])
def test_a_radius_outside_0_1_is_refused(epsilon):
    with pytest.raises(ValueError, match="adversarial radius"):
        AdversarialEmbeddings(classifier(), epsilon)


def test_a_model_without_an_embedding_layer_is_refused():
    ids = keras.Input((6,), dtype="int32")
    model = keras.Model(ids, keras.layers.Dense(2)(keras.ops.cast(ids, "float32")))
    with pytest.raises(ValueError, match="no layer named 'embedding'"):
        AdversarialEmbeddings(model, 0.1)


def test_train_records_the_radius_and_saves_a_loadable_classifier(tmp_path):
    sst = synthetic_sst(tmp_path / "sst2")
    run = tmp_path / "run"
    assert main(["train", "sentiment", "--data", str(sst), "--out", str(run), "--epochs", "4",
                 "--batch-size", "16", "--learning-rate", "1e-2", "--units", "8",
                 "--embedding-dim", "8", "--max-length", "12", "--min-count", "1",
                 "--adversarial", "0.1", "--quiet"]) == 0
    preset = zoo.load(run)
    assert preset.card["training"]["adversarial"] == 0.1
    assert preset.model.name == "sentiment_bilstm"  # the task's default kind
    # chance is 0.5 (balanced labels); the sentiment word decides: demand 0.9
    assert preset.card["metrics"]["keras"]["accuracy"] >= 0.9
