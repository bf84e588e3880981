"""zoo.word_dropout.WordDropout: ids become <unk> at the stated rate in training, padding
never; the identity at inference; serializable with safe_mode."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.word_dropout import WordDropout

UNK = 3


def _ids(rows: int = 64, length: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    ids = rng.integers(4, 1000, size=(rows, length)).astype("int32")
    ids[:, length // 2:] = 0  # right padding on the second half
    return ids


def test_training_replaces_the_stated_share_of_real_ids_by_unk_and_never_padding():
    ids = _ids()
    out = keras.ops.convert_to_numpy(WordDropout(0.25, UNK, seed=1)(ids, training=True))
    real = ids != 0
    changed = out != ids
    assert np.all(out[changed] == UNK)
    assert not np.any(changed & ~real)  # padding stays padding
    share = changed[real].mean()  # 6,400 real ids: the binomial sd of the share is 0.005
    assert 0.23 <= share <= 0.27


def test_inference_and_rate_zero_are_the_identity():
    ids = _ids()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(WordDropout(0.5, UNK)(ids)), ids)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(WordDropout(0.0, UNK)(ids, training=True)), ids)


@pytest.mark.parametrize(("rate", "unknown_id"), [(1.0, UNK), (-0.1, UNK), (0.1, 0)])
def test_bad_settings_are_refused(rate, unknown_id):
    with pytest.raises(ValueError, match="WordDropout"):
        WordDropout(rate, unknown_id)


def test_a_model_with_it_saves_and_loads_in_safe_mode(tmp_path):
    inputs = keras.Input((6,), dtype="int32")
    x = WordDropout(0.3, UNK, name="word_dropout")(inputs)
    x = keras.layers.Embedding(20, 4)(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling1D()(x))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    layer = loaded.get_layer("word_dropout")
    assert (layer.rate, layer.unknown_id) == (0.3, UNK)
    ids = np.array([[4, 5, 6, 0, 0, 0]], "int32")
    np.testing.assert_allclose(loaded.predict(ids, verbose=0), model.predict(ids, verbose=0))
