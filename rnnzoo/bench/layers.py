"""Forward + backward time per batch of the zoo's recurrent layers."""

from __future__ import annotations

from rnnzoo.bench import median_seconds

KINDS = ("simple", "lstm", "gru")
UNITS = (128, 256)
BATCH, LENGTH, FEATURES = 64, 100, 32


def _forward_backward(layer, x):
    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, training=True)))
        return tape.gradient(loss, layer.trainable_variables)

    return step


def run(quick: bool = False) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from zoo.layers import recurrent

    repeats = 3 if quick else 15
    keras.utils.set_random_seed(0)
    x = tf.constant(np.random.default_rng(0).standard_normal((BATCH, LENGTH, FEATURES)),
                    dtype=tf.float32)
    rows = []
    for kind in KINDS:
        for units in UNITS:
            layer = recurrent(kind, units, return_sequences=True)
            layer.build(x.shape)
            step = _forward_backward(layer, x)
            seconds = median_seconds(lambda step=step: [g.numpy() for g in step()], repeats)
            rows.append(
                {
                    "kind": kind,
                    "units": units,
                    "ms_per_batch": seconds * 1e3,
                    "parameters": int(sum(np.prod(v.shape) for v in layer.trainable_variables)),
                }
            )
    return {"settings": {"batch": BATCH, "length": LENGTH, "features": FEATURES,
                         "repeats": repeats, "statistic": "median"},
            "results": rows}


def table(result: dict) -> str:
    s = result["settings"]
    lines = [f"layers: forward+backward per batch, batch {s['batch']}, T={s['length']}, "
             f"{s['features']} input features, median of {s['repeats']}",
             f"{'kind':<8}{'units':>6}{'params':>10}{'ms/batch':>10}"]
    for row in result["results"]:
        lines.append(f"{row['kind']:<8}{row['units']:>6}{row['parameters']:>10,}{row['ms_per_batch']:>10.1f}")
    return "\n".join(lines)
