"""Tests of zoo.diagnostics: total dLoss/dh_t through the recurrence, and the plot."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.diagnostics import _patched_call, gradient_norms, plot_gradient_norms
from zoo.layers import recurrent, recurrent_stack

B, T, D, U = 3, 6, 2, 4


@pytest.fixture
def gen():
    keras.utils.set_random_seed(4321)
    return np.random.default_rng(4321)


def _model(layer, steps=T, out=1, name="diag"):
    inputs = keras.Input((steps, D))
    return keras.Model(inputs, keras.layers.Dense(out, name="head")(layer(inputs)), name=name)


def _direct_norms(model, layer, x, y):
    """dL/d(layer output) via the layer's normal call: the direct path only."""
    head = model.get_layer("head")
    with tf.GradientTape() as tape:
        h = layer(x)
        tape.watch(h)
        loss = tf.reduce_mean(tf.square(head(h) - y))
    g = tape.gradient(loss, h).numpy()
    return np.linalg.norm(g, axis=-1).sum(axis=0)  # summed over the batch, as documented


def test_last_state_model_last_step_is_direct_gradient(gen):
    x = gen.normal(size=(B, T, D)).astype("float32")
    y = gen.normal(size=(B, 1)).astype("float32")
    rnn = recurrent("simple", U, name="rnn")
    model = _model(rnn)
    norms = gradient_norms(model, (x, y))
    assert norms.shape == (T,) and norms.dtype == np.float64
    np.testing.assert_allclose(norms[-1], _direct_norms(model, rnn, x, y), rtol=1e-5)
    assert np.all(norms[:-1] > 0)  # earlier h_t reach the loss only through the recurrence
    assert "call" not in vars(rnn)  # the layer's own call is restored
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model(x)))


def test_linear_rnn_matches_numpy_backward_recursion(float64, gen):
    x = gen.normal(size=(B, T, D))
    y = gen.normal(size=(B, T, 2))
    rnn = recurrent("simple", U, activation="linear", return_sequences=True, name="rnn")
    model = _model(rnn, out=2)
    w = 0.9 * np.linalg.qr(gen.normal(size=(U, U)))[0] + 0.2 * gen.normal(size=(U, U))
    kernel = gen.normal(size=(D, U))
    bias = gen.normal(size=(U,))
    rnn.set_weights([kernel, w, bias])
    v, c = model.get_layer("head").get_weights()

    h, hs = np.zeros((B, U)), []
    for t in range(T):
        h = x[:, t] @ kernel + h @ w + bias  # Keras' row convention: h_t = x_t K + h_{t-1} W + b
        hs.append(h)
    pred = np.stack(hs, 1) @ v + c
    dpred = 2.0 * (pred - y) / pred.size  # mean squared error
    direct = dpred @ v.T  # [B, T, U]
    g = np.zeros((B, U))
    total = np.zeros((B, T, U))
    for t in reversed(range(T)):
        g = direct[:, t] + g @ w.T  # dL/dh_t = direct_t + dL/dh_{t+1} W^T
        total[:, t] = g
    want = np.linalg.norm(total, axis=-1).sum(0)

    norms = gradient_norms(model, (x, y))
    np.testing.assert_allclose(norms, want, rtol=1e-9)
    np.testing.assert_allclose(norms[-1], np.linalg.norm(direct[:, -1], axis=-1).sum(), rtol=1e-9)
    assert not np.allclose(norms[:-1], np.linalg.norm(direct, axis=-1).sum(0)[:-1], rtol=1e-3)


def test_batch_reduction_is_mean_of_per_example_norms(gen):
    x = gen.normal(size=(1, T, D)).astype("float32")
    y = gen.normal(size=(1, 1)).astype("float32")
    model = _model(recurrent("gru", U))
    single = gradient_norms(model, (x, y))
    doubled = gradient_norms(model, (np.repeat(x, 2, 0), np.repeat(y, 2, 0)))
    np.testing.assert_allclose(doubled, single, rtol=1e-5)


def _vanishing_ratio(kind, steps=50):
    gen = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    x = gen.normal(size=(4, steps, D)).astype("float32")
    y = gen.normal(size=(4, 1)).astype("float32")
    rnn = recurrent(kind, U, name="rnn")
    model = _model(rnn, steps=steps)
    kernel, rec, bias = rnn.get_weights()
    rec = 0.3 * np.tile(np.eye(U), (1, rec.shape[1] // U))  # small recurrent weights
    rnn.set_weights([0.5 * gen.normal(size=kernel.shape), rec, bias])
    if kind == "lstm":
        np.testing.assert_array_equal(bias[U:2 * U], 1.0)  # forget-gate bias 1 (Keras default)
    norms = gradient_norms(model, (x, y))
    assert norms.shape == (steps,)
    return norms[0] / norms[-1]


def test_vanishing_gradient_simple_rnn_versus_lstm():
    simple = _vanishing_ratio("simple")
    lstm = _vanishing_ratio("lstm")
    assert simple < 1e-3
    # per-step decay: bounded by ||W|| = 0.3 for tanh; near sigma(1) = 0.73 for the LSTM,
    # whose cell state is carried by the forget gate
    assert simple ** (1 / 49) < 0.3
    assert lstm ** (1 / 49) > 0.6
    assert lstm > 1e10 * simple


def test_return_sequences_bidirectional_and_stack_last_step(gen):
    x = gen.normal(size=(B, T, D)).astype("float32")
    y_seq = gen.normal(size=(B, T, 1)).astype("float32")
    y_last = gen.normal(size=(B, 1)).astype("float32")

    seq = recurrent("lstm", U, return_sequences=True, name="lstm")
    model = _model(seq)
    norms = gradient_norms(model, (x, y_seq))
    direct = _direct_norms(model, seq, x, y_seq)
    np.testing.assert_allclose(norms[-1], direct[-1], rtol=1e-5)
    assert not np.allclose(norms[:-1], direct[:-1], rtol=1e-3)  # the recurrence adds paths

    # Bidirectional, last state, concat: the forward h_T is the first half of the output
    bi = recurrent("gru", U, bidirectional=True, name="bi")
    model = _model(bi)
    head = model.get_layer("head")
    with tf.GradientTape() as tape:
        out = bi(x)
        tape.watch(out)
        loss = tf.reduce_mean(tf.square(head(out) - y_last))
    g = tape.gradient(loss, out).numpy()[:, :U]
    norms = gradient_norms(model, (x, y_last), layer="bi")
    assert norms.shape == (T,)
    np.testing.assert_allclose(norms[-1], np.linalg.norm(g, axis=-1).sum(), rtol=1e-5)

    # Bidirectional, sequences, sum: forward h_T gets the output's gradient at step T
    bi_sum = recurrent("simple", U, bidirectional=True, merge_mode="sum", return_sequences=True)
    model = _model(bi_sum)
    direct = _direct_norms(model, bi_sum, x, y_seq)
    np.testing.assert_allclose(gradient_norms(model, (x, y_seq))[-1], direct[-1], rtol=1e-5)

    # RecurrentStack: h_t of the first inner layer, continued with call_from(., 1)
    stack = recurrent_stack("gru", [U, U], residual=True, layer_norm=True, name="stack")
    model = _model(stack)
    head = model.get_layer("head")
    with tf.GradientTape() as tape:
        h = stack.layers[0](x)
        tape.watch(h)
        out = stack.call_from(stack.finish_layer(0, x, h), 1)
        loss = tf.reduce_mean(tf.square(head(out) - y_last))
    direct = np.linalg.norm(tape.gradient(loss, h).numpy(), axis=-1).sum(0)
    norms = gradient_norms(model, (x, y_last))
    np.testing.assert_allclose(norms[-1], direct[-1], rtol=1e-5)
    assert not np.allclose(norms[:-1], direct[:-1], rtol=1e-3)


def test_stack_of_bidirectional_and_nested_model(gen):
    x = gen.normal(size=(B, T, D)).astype("float32")
    y = gen.normal(size=(B, 1)).astype("float32")
    inner = keras.Sequential(
        [
            keras.Input((T, D)),
            recurrent_stack("lstm", [U, U], bidirectional=True, merge_mode="ave"),
        ],
        name="encoder",
    )
    inputs = keras.Input((T, D))
    model = keras.Model(inputs, keras.layers.Dense(1)(inner(inputs)), name="outer")
    norms = gradient_norms(model, (x, y))
    assert norms.shape == (T,) and np.all(np.isfinite(norms)) and np.all(norms > 0)


def test_hand_unroll_reproduces_layer_outputs(gen):
    x = gen.normal(size=(B, T, D)).astype("float32")
    x[0, -2:] = 0.0  # padded tail for the masked cases
    cases = [
        recurrent("lstm", U, return_sequences=True, return_state=True),
        recurrent("gru", U, bidirectional=True, merge_mode="mul", return_sequences=True),
        recurrent("lstm", U, bidirectional=True, return_state=True),
        keras.layers.SimpleRNN(U, go_backwards=True, return_sequences=True),
    ]
    for masking in (False, True):
        for layer in cases:
            inputs = keras.Input((T, D))
            hidden = keras.layers.Masking(0.0)(inputs) if masking else inputs
            model = keras.Model(inputs, layer(hidden))
            want = model(x)
            record = []
            with tf.GradientTape() as tape:
                layer.call = _patched_call(layer, tape, record)
                try:
                    got = model(x)
                finally:
                    del layer.call
            assert len(record) == T
            for a, b in zip(tf.nest.flatten(got), tf.nest.flatten(want)):
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_masked_steps_get_zero_and_valid_steps_match_unpadded(gen):
    x = gen.normal(size=(1, T, D)).astype("float32")
    y = gen.normal(size=(1, 1)).astype("float32")
    padded = np.concatenate([x, np.zeros((1, 3, D), "float32")], axis=1)
    inputs = keras.Input((None, D))
    model = keras.Model(
        inputs, keras.layers.Dense(1)(recurrent("lstm", U)(keras.layers.Masking(0.0)(inputs)))
    )
    norms = gradient_norms(model, (padded, y))
    np.testing.assert_array_equal(norms[T:], 0.0)
    np.testing.assert_allclose(norms[:T], gradient_norms(model, (x, y)), rtol=1e-5)


def test_layer_selection_and_loss_choice(gen):
    x = gen.normal(size=(B, T, D)).astype("float32")
    y = gen.normal(size=(B, 1)).astype("float32")
    inputs = keras.Input((T, D))
    first = recurrent("gru", U, return_sequences=True, name="first")(inputs)
    second = recurrent("lstm", U, name="second")(first)
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(second), name="two")
    default = gradient_norms(model, (x, y))
    np.testing.assert_allclose(gradient_norms(model, (x, y), layer="first"), default)
    by_object = gradient_norms(model, (x, y), layer=model.get_layer("second"))
    np.testing.assert_allclose(gradient_norms(model, (x, y), layer="second"), by_object)
    assert not np.allclose(default, by_object)

    mse = gradient_norms(model, (x, y), loss="mse")
    np.testing.assert_allclose(default, mse)  # uncompiled: mean squared error
    model.compile(loss="mae")
    compiled = gradient_norms(model, (x, y))
    np.testing.assert_allclose(compiled, gradient_norms(model, (x, y), loss="mae"), rtol=1e-6)
    assert not np.allclose(compiled, mse)
    np.testing.assert_allclose(gradient_norms(model, (x, y), loss="mse"), mse, rtol=1e-6)


def test_errors_name_the_model(gen):
    x = gen.normal(size=(B, T, D)).astype("float32")
    y = gen.normal(size=(B, 1)).astype("float32")
    model = _model(recurrent("gru", U, name="rnn"), name="mymodel")
    with pytest.raises(ValueError, match="mymodel.*nope"):
        gradient_norms(model, (x, y), layer="nope")
    with pytest.raises(ValueError, match="head.*mymodel.*not a recurrent"):
        gradient_norms(model, (x, y), layer="head")
    inputs = keras.Input((T, D))
    dense_only = keras.Model(
        inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)), name="flat"
    )
    with pytest.raises(ValueError, match="flat.*no recurrent layer"):
        gradient_norms(dense_only, (x, y))
    with pytest.raises(ValueError):
        gradient_norms(model, x)


def test_plot_writes_png(tmp_path, gen):
    norms = np.exp(-np.arange(20.0))
    norms[0] = 0.0  # a zero norm must not break the log axis
    path = plot_gradient_norms(norms, tmp_path / "plots" / "norms.png", title="test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    for bad in ([], [[1.0, 2.0]], [1.0, np.nan]):
        with pytest.raises(ValueError):
            plot_gradient_norms(bad, tmp_path / "bad.png")
