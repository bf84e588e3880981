"""Training throughput of the adding-problem LSTM: tf.data pipeline vs tensors in memory.

Both loops call the same compiled train step (Adam, global-norm clipping, MSE), so the ratio
of their speeds is the cost of the input pipeline.
"""

from __future__ import annotations

import time

BATCH, LENGTH, UNITS = 64, 100, 128


def _train_step(model, optimizer):
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.MeanSquaredError()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    return step


def _interleaved_rates(step, sources: dict, steps: int, warmup: int, rounds: int = 5) -> dict:
    """Steps per second of each input source, timed in alternating rounds.

    Alternating the sources spreads any change in machine load over both, so their ratio
    measures the input pipeline rather than the moment each was timed.
    """
    iterators = {name: iter(batches) for name, batches in sources.items()}
    for iterator in iterators.values():
        for _ in range(warmup):
            step(*next(iterator))
    seconds = dict.fromkeys(sources, 0.0)
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for name, iterator in iterators.items():
            start = time.perf_counter()
            for _ in range(per_round):
                loss = step(*next(iterator))
            loss.numpy()
            seconds[name] += time.perf_counter() - start
    return {name: per_round * rounds / total for name, total in seconds.items()}


def run(quick: bool = False) -> dict:
    import keras
    import tensorflow as tf

    import zoo
    from tasks.adding.data import generate

    steps, warmup = (10, 3) if quick else (100, 10)
    n = BATCH * (steps + warmup)
    inputs, targets = generate(n, LENGTH, seed=0)
    keras.utils.set_random_seed(0)
    model = zoo.build("adding-lstm", length=LENGTH, units=UNITS)
    optimizer = keras.optimizers.Adam(1e-3, global_clipnorm=1.0)
    step = _train_step(model, optimizer)

    pipeline = (tf.data.Dataset.from_tensor_slices((inputs, targets))
                .shuffle(n, seed=0).batch(BATCH, drop_remainder=True)
                .prefetch(tf.data.AUTOTUNE))
    in_memory = [(tf.constant(inputs[i:i + BATCH]), tf.constant(targets[i:i + BATCH]))
                 for i in range(0, n, BATCH)]
    rates = _interleaved_rates(step, {"in_memory": in_memory, "tf_data": pipeline}, steps, warmup)
    results = {name: {"steps_per_second": rate, "examples_per_second": rate * BATCH}
               for name, rate in rates.items()}
    return {
        "settings": {"model": "adding-lstm", "batch": BATCH, "length": LENGTH, "units": UNITS,
                     "steps_measured": steps, "warmup_steps": warmup,
                     "timing": "5 alternating rounds per source"},
        "results": results,
        "pipeline_over_in_memory": results["tf_data"]["steps_per_second"]
        / results["in_memory"]["steps_per_second"],
    }


def table(result: dict) -> str:
    s = result["settings"]
    lines = [f"train-throughput: {s['model']}, batch {s['batch']}, T={s['length']}, "
             f"units {s['units']}, {s['steps_measured']} steps",
             f"{'input':<12}{'steps/s':>10}{'examples/s':>13}"]
    for name, row in result["results"].items():
        lines.append(f"{name:<12}{row['steps_per_second']:>10.2f}{row['examples_per_second']:>13.1f}")
    lines.append(f"tf.data / in-memory speed ratio: {result['pipeline_over_in_memory']:.3f}")
    return "\n".join(lines)
