"""Tests of zoo.layers: recurrent() against numpy by hand, BPTT, and RecurrentStack."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.layers import RecurrentStack, recurrent, recurrent_stack

B, T, D, U = 2, 4, 3, 5  # batch, steps, input features, units


@pytest.fixture
def rng():
    keras.utils.set_random_seed(1234)
    return np.random.default_rng(1234)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _randomize(layer, rng, scale=0.5):
    """Give every weight of a built layer random values (so biases are not all zero)."""
    layer.set_weights(
        [rng.normal(scale=scale, size=w.shape).astype(w.dtype) for w in layer.get_weights()]
    )


# --- recurrent(): the formulas by hand -------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_simple_rnn_matches_numpy_and_softmax_readout(rng, activation):
    x = rng.normal(size=(B, T, D)).astype("float32")
    inputs = keras.Input((T, D))
    rnn = recurrent("simple", U, activation=activation, return_sequences=True, name="rnn")
    readout = keras.layers.Dense(3, activation="softmax", name="readout")
    model = keras.Model(inputs, [rnn(inputs), readout(rnn.output)])
    _randomize(rnn, rng)
    _randomize(readout, rng)
    kernel_u, kernel_w, bias = rnn.get_weights()  # U: input->hidden, W: hidden->hidden, b
    assert kernel_u.shape == (D, U) and kernel_w.shape == (U, U) and bias.shape == (U,)
    v, c = readout.get_weights()
    f = np.tanh if activation == "tanh" else (lambda z: np.maximum(z, 0.0))

    h = np.zeros((B, U))
    hs, ys = [], []
    for t in range(T):
        h = f(h @ kernel_w + x[:, t] @ kernel_u + bias)  # h_t = f(W h_{t-1} + U x_t + b)
        logits = h @ v + c
        e = np.exp(logits - logits.max(-1, keepdims=True))
        hs.append(h)
        ys.append(e / e.sum(-1, keepdims=True))  # y_t = softmax(V h_t + c)
    got_h, got_y = model(x)
    np.testing.assert_allclose(np.asarray(got_h), np.stack(hs, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(got_y), np.stack(ys, 1), rtol=1e-5, atol=1e-5)


def test_lstm_matches_numpy(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = recurrent("lstm", U, return_sequences=True, return_state=True)
    layer(x)
    _randomize(layer, rng)
    kernel, rec, bias = layer.get_weights()
    assert kernel.shape == (D, 4 * U) and rec.shape == (U, 4 * U) and bias.shape == (4 * U,)
    h = np.zeros((B, U))
    c = np.zeros((B, U))
    hs = []
    for t in range(T):
        z = x[:, t] @ kernel + h @ rec + bias
        i, f, g, o = (z[:, k * U:(k + 1) * U] for k in range(4))  # Keras order: i, f, c, o
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        hs.append(h)
    seq, h_last, c_last = layer(x)
    np.testing.assert_allclose(np.asarray(seq), np.stack(hs, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h_last), h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(c_last), c, rtol=1e-5, atol=1e-5)


def test_gru_reset_after_matches_numpy(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = recurrent("gru", U, return_sequences=True)
    layer(x)
    _randomize(layer, rng)
    kernel, rec, bias = layer.get_weights()
    assert bias.shape == (2, 3 * U)  # reset_after=True: input bias and recurrent bias
    b_in, b_rec = bias
    h = np.zeros((B, U))
    hs = []
    for t in range(T):
        xz = x[:, t] @ kernel + b_in
        hz = h @ rec + b_rec
        z = _sigmoid(xz[:, :U] + hz[:, :U])  # Keras order: z, r, h
        r = _sigmoid(xz[:, U:2 * U] + hz[:, U:2 * U])
        cand = np.tanh(xz[:, 2 * U:] + r * hz[:, 2 * U:])  # reset applied after the matmul
        h = z * h + (1.0 - z) * cand
        hs.append(h)
    np.testing.assert_allclose(np.asarray(layer(x)), np.stack(hs, 1), rtol=1e-5, atol=1e-5)


# --- recurrent(): options ---------------------------------------------------------------


def test_bidirectional_merge_modes(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    concat = recurrent("gru", U, bidirectional=True, return_sequences=True)
    out = np.asarray(concat(x))
    assert out.shape == (B, T, 2 * U)
    fw, bw = out[..., :U], out[..., U:]
    # forward half = a plain GRU with the forward weights; backward half = the same on the
    # reversed sequence, flipped back to input order
    plain = recurrent("gru", U, return_sequences=True)
    plain(x)
    plain.set_weights(concat.forward_layer.get_weights())
    np.testing.assert_allclose(fw, np.asarray(plain(x)), rtol=1e-5, atol=1e-6)
    plain.set_weights(concat.backward_layer.get_weights())
    np.testing.assert_allclose(bw, np.asarray(plain(x[:, ::-1]))[:, ::-1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(fw, bw)
    expected = {"sum": fw + bw, "ave": (fw + bw) / 2, "mul": fw * bw}
    for mode, want in expected.items():
        layer = recurrent("gru", U, bidirectional=True, merge_mode=mode, return_sequences=True)
        layer(x)
        layer.set_weights(concat.get_weights())
        got = np.asarray(layer(x))
        assert got.shape == (B, T, U)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    last = recurrent("gru", U, bidirectional=True, merge_mode="sum")
    assert tuple(last(x).shape) == (B, U)


@pytest.mark.parametrize(
    "kind,bidirectional,n_states",
    [
        ("simple", False, 1),
        ("gru", False, 1),
        ("lstm", False, 2),
        ("lstm", True, 4),
        ("gru", True, 2),
    ],
)
def test_return_state_count(rng, kind, bidirectional, n_states):
    x = rng.normal(size=(B, T, D)).astype("float32")
    out = recurrent(kind, U, bidirectional=bidirectional, return_state=True)(x)
    assert len(out) == 1 + n_states
    for state in out[1:]:
        assert tuple(state.shape) == (B, U)


def test_stateful_keeps_state_across_calls(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = recurrent("gru", U, stateful=True)
    first = np.asarray(layer(x))
    second = np.asarray(layer(x))
    assert not np.allclose(first, second)
    layer.reset_states()
    np.testing.assert_allclose(np.asarray(layer(x)), first, rtol=1e-6)
    fresh = recurrent("gru", U)
    fresh(x)
    fresh.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(fresh(x)), first, rtol=1e-6)


def test_dropout_only_in_training(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = recurrent("lstm", U, dropout=0.5)
    infer_a = np.asarray(layer(x, training=False))
    infer_b = np.asarray(layer(x, training=False))
    np.testing.assert_array_equal(infer_a, infer_b)
    train = np.asarray(layer(x, training=True))
    assert not np.allclose(train, infer_a)
    assert layer.cell.recurrent_dropout == 0.0  # dropout on inputs only (cuDNN-eligible)


@pytest.mark.parametrize(
    "call",
    [
        lambda: recurrent("rnn", 4),
        lambda: recurrent("lstm", 0),
        lambda: recurrent("lstm", -3),
        lambda: recurrent("gru", 4, bidirectional=True, merge_mode="max"),
        lambda: recurrent("gru", 4, dropout=1.0),
        lambda: recurrent_stack("rnn", [4]),
        lambda: recurrent_stack("lstm", []),
        lambda: recurrent_stack("lstm", [4, 0]),
        lambda: recurrent_stack("lstm", 4),
        lambda: recurrent_stack("lstm", [4, 2.5]),
        lambda: recurrent_stack("lstm", [4], bidirectional=True, merge_mode=None),
        lambda: recurrent_stack("lstm", [4], dropout=-0.1),
    ],
)
def test_bad_arguments_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


# --- BPTT against finite differences ------------------------------------------------------


def test_bptt_gradients_match_finite_differences(float64):
    gen = np.random.default_rng(7)
    x = gen.normal(size=(2, 5, 3))
    target = gen.normal(size=(2, 5, 4))
    layer = recurrent("simple", 4, return_sequences=True)
    layer(x)
    assert layer.cell.kernel.dtype == "float64"
    layer.set_weights([gen.normal(scale=0.6, size=w.shape) for w in layer.get_weights()])

    def loss_value():
        return tf.reduce_mean((layer(x) - target) ** 2)

    variables = [layer.cell.kernel, layer.cell.recurrent_kernel, layer.cell.bias]
    with tf.GradientTape() as tape:
        loss = loss_value()
    grads = [np.asarray(g) for g in tape.gradient(loss, variables)]

    eps = 1e-6
    for var, grad in zip(variables, grads):
        base = var.numpy().copy()
        numeric = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            bumped = base.copy()
            bumped[idx] += eps
            var.assign(bumped)
            plus = float(loss_value())
            bumped[idx] -= 2 * eps
            var.assign(bumped)
            minus = float(loss_value())
            numeric[idx] = (plus - minus) / (2 * eps)
        var.assign(base)
        assert np.abs(grad).max() > 1e-3
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-9)


# --- RecurrentStack -------------------------------------------------------------------------


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("residual", [False, True])
def test_stack_output_shapes(rng, residual, layer_norm, bidirectional, return_sequences):
    x = rng.normal(size=(B, T, D)).astype("float32")
    stack = recurrent_stack(
        "gru", [4, 4, 6], residual=residual, layer_norm=layer_norm,
        bidirectional=bidirectional, return_sequences=return_sequences,
    )
    width = 12 if bidirectional else 6
    want = (B, T, width) if return_sequences else (B, width)
    assert tuple(stack(x).shape) == want
    assert tuple(stack.compute_output_shape((B, T, D))) == want
    assert len(stack.layers) == 3
    assert len(stack.norms) == (3 if layer_norm else 0)
    assert [lay.return_sequences for lay in stack.layers] == [True, True, return_sequences]
    symbolic = stack(keras.Input((T, D)))
    assert tuple(symbolic.shape[1:]) == want[1:]


def test_stack_residual_and_norm_semantics(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    stack = recurrent_stack("lstm", [4, 4], residual=True, layer_norm=True, return_sequences=True)
    out = np.asarray(stack(x))
    first, second = stack.layers
    n0, n1 = stack.norms
    # layer 0: width 3 -> 4, residual skipped; layer 1: 4 -> 4, residual added; norm after each
    h0 = n0(first(x))
    want = n1(h0 + second(h0))
    np.testing.assert_allclose(out, np.asarray(want), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-5)  # layer-normalized output
    np.testing.assert_allclose(np.asarray(stack.call_from(h0, 1)), out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(stack.call_from(x, 0)), out, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(stack.call_from(h0, 2)), np.asarray(h0))
    plain = recurrent_stack("lstm", [4, 4], return_sequences=True)
    plain(x)
    plain.set_weights(stack.get_weights()[: len(plain.get_weights())])
    assert not np.allclose(np.asarray(plain(x)), out)
    for bad in (-1, 3, 1.5):
        with pytest.raises(ValueError):
            stack.call_from(x, bad)


def test_stack_mask_passes_through(rng):
    x = rng.normal(size=(1, T, D)).astype("float32")
    padded = np.concatenate([x, np.zeros((1, 2, D), "float32")], axis=1)
    inputs = keras.Input((None, D))
    masked = keras.layers.Masking(0.0)(inputs)
    stack = recurrent_stack("gru", [4, 4], residual=True, layer_norm=True)
    model = keras.Model(inputs, stack(masked))
    np.testing.assert_allclose(
        np.asarray(model(padded)), np.asarray(model(x)), rtol=1e-5, atol=1e-6
    )
    assert stack.compute_mask(x, tf.constant([[True] * T])) is None


def test_stack_save_and_load_keras_file(rng, tmp_path):
    x = rng.normal(size=(B, T, D)).astype("float32")

    def build():
        inputs = keras.Input((T, D))
        stack = recurrent_stack(
            "lstm", [4, 4], residual=True, layer_norm=True, bidirectional=True,
            merge_mode="sum", return_sequences=True, dropout=0.1, name="stack",
        )
        return keras.Model(inputs, keras.layers.Dense(2)(stack(inputs)))

    model = build()
    _randomize(model.get_layer("stack"), rng, scale=0.3)  # LayerNorm gamma/beta too
    path = tmp_path / "stack.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.get_layer("stack"), RecurrentStack)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    assert not np.allclose(np.asarray(build()(x)), np.asarray(model(x)))  # weights really loaded


def test_stack_config_round_trip():
    stack = recurrent_stack(
        "simple", [3, 5], residual=True, layer_norm=True, bidirectional=True, merge_mode="ave",
        return_sequences=True, dropout=0.25, activation="relu", name="s",
    )
    config = stack.get_config()
    assert (
        config["units"] == [3, 5]
        and config["merge_mode"] == "ave"
        and config["activation"] == "relu"
    )
    again = RecurrentStack.from_config(config)
    assert again.get_config() == config
    serialized = keras.saving.serialize_keras_object(stack)
    assert serialized["registered_name"] == "rnnzoo>RecurrentStack"
    restored = keras.saving.deserialize_keras_object(serialized, safe_mode=True)
    assert isinstance(restored, RecurrentStack) and restored.get_config() == config
    assert restored.layers[1].forward_layer.cell.activation is keras.activations.relu


@pytest.mark.parametrize("bidirectional", [False, True])
def test_stack_keeps_cudnn_eligible_defaults(bidirectional):
    for kind in ("lstm", "gru"):
        stack = recurrent_stack(kind, [4, 4], bidirectional=bidirectional, dropout=0.2)
        for layer in stack.layers:
            inner = layer.forward_layer if bidirectional else layer
            cfg = inner.get_config()
            assert cfg["activation"] == "tanh"
            assert cfg["recurrent_activation"] == "sigmoid"
            assert cfg["recurrent_dropout"] == 0.0
            assert cfg["unroll"] is False
            assert cfg["use_bias"] is True
            assert inner.use_cudnn == "auto"
            if kind == "gru":
                assert cfg["reset_after"] is True
            if bidirectional:
                assert layer.backward_layer.get_config()["recurrent_activation"] == "sigmoid"


def test_stack_dtype_reaches_inner_layers(rng):
    x = rng.normal(size=(B, T, D))
    stack = RecurrentStack("gru", [4, 4], bidirectional=True, layer_norm=True, dtype="float64")
    out = stack(x)
    assert out.dtype == "float64"
    assert {w.dtype for w in stack.weights} == {"float64"}
    again = RecurrentStack.from_config(stack.get_config())
    again(x)
    assert {w.dtype for w in again.weights} == {"float64"}
