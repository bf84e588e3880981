"""Translation (task ``translation``): an attention encoder-decoder over subword ids.

``translation-attention``: a bidirectional GRU (or LSTM) encoder reads the source sentence
(a forward layer, and a second forward layer over the sentence's real steps reversed,
`ReversePadded`); its final states (both directions joined, through ``tanh(Dense)``) start
a GRU (or LSTM) decoder that reads the target so far; at every target position the decoder
output attends over the encoder outputs (Luong "general" scores ``h . W m``, or Bahdanau
additive scores ``v . tanh(W_q h + W_k m)``) with padded source positions masked out;
``tanh(Dense([h; context]))``, a projection to the embedding width, and the *tied* embedding
matrix (one table for source words, target words and the output layer: a joint subword
vocabulary) give the next-token probabilities. Attention after the recurrent layer
(Luong-style) keeps the decoder a plain Keras GRU/LSTM (cuDNN-eligible,
`zoo.layers.recurrent`).

Inputs: ``source``, ``[max_source_length]`` subword ids padded with 0 (a fixed length, so
that the exported encoder has one shape; longer sentences are cut by the data loader, which
says so), and ``tokens``: the target so far (``<start>`` first, 0 pads). Output
``[len(tokens), vocabulary_size]``: the probability of every next token.

`translation_parts` splits a trained model into the encoder (source in; ``memory`` (the
encoder outputs), ``keys`` (their projection for the scores), ``source_mask`` (1.0 real,
0.0 padding) and the decoder's initial state out) and the decoder step (one token, the state
and that context in; ``probabilities``, the new state and ``attention`` over the source out).
"""

from __future__ import annotations

import keras

from zoo.attention import AdditiveScores, DropMask, LuongScores, MaskedSoftmax, PaddingMask
from zoo.checks import check_fraction
from zoo.layers import gather_rows, recurrent
from zoo.registry import register

SPECIAL_TOKENS = ("<pad>", "<start>", "<end>", "<unk>")  # ids 0, 1, 2, 3
PAD, START, END, UNKNOWN = range(4)
KINDS = ("gru", "lstm")
ATTENTIONS = ("luong", "bahdanau")
CONTEXT = ("memory", "keys", "source_mask")


@keras.saving.register_keras_serializable(package="rnnzoo")
class TiedEmbedding(keras.layers.Layer):
    """A token embedding that is also the output layer (Press & Wolf 2017): called on ids it
    returns their vectors; called with ``project=True`` on vectors ``[..., output_dim]`` it
    returns ``softmax(x E^T + b)`` over the ``input_dim`` tokens."""

    def __init__(self, input_dim: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)

    def build(self, input_shape):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          name="embeddings", initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(self.input_dim,), name="bias", initializer="zeros")

    def call(self, inputs, project: bool = False):
        if project:
            logits = keras.ops.matmul(inputs, keras.ops.transpose(self.embeddings)) + self.bias
            return keras.ops.softmax(logits, axis=-1)
        return gather_rows(self.embeddings, inputs)

    def compute_output_spec(self, inputs, project: bool = False):
        if project:
            return keras.KerasTensor((*inputs.shape[:-1], self.input_dim), dtype=self.compute_dtype)
        return keras.KerasTensor((*inputs.shape, self.output_dim), dtype=self.compute_dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim}


@keras.saving.register_keras_serializable(package="rnnzoo")
class ReversePadded(keras.layers.Layer):
    """Reverses the real steps of each sequence, leaving the padding at the end: called on
    ``[x [batch, T, ...], ids [batch, T]]`` (padding where ``ids == 0``, at the end). Reading
    the reversed sequence forwards is the backward direction of a bidirectional encoder
    (Keras' own ``go_backwards`` with a mask loses the alignment in an unrolled graph, which
    is how the exported encoder is made); the indices are integers, so int8 files keep
    them exact."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        x, ids = inputs
        valid = keras.ops.cast(keras.ops.not_equal(ids, 0), "int32")
        lengths = keras.ops.sum(valid, axis=1, keepdims=True)
        steps = keras.ops.expand_dims(keras.ops.arange(keras.ops.shape(ids)[1], dtype="int32"),
                                      0)
        index = keras.ops.where(steps < lengths, lengths - 1 - steps, steps)
        index = keras.ops.repeat(keras.ops.expand_dims(index, -1), x.shape[-1], axis=-1)
        return keras.ops.take_along_axis(x, index, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def _state_names(kind: str) -> tuple[str, ...]:
    return ("state_h_0", "state_c_0") if kind == "lstm" else ("state_h_0",)


def _check(vocabulary_size: int, max_source_length: int, kind: str, attention: str,
           dropout: float, sizes: dict) -> None:
    if vocabulary_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocabulary_size must exceed the {len(SPECIAL_TOKENS)} special "
                         f"tokens, got {vocabulary_size}")
    if max_source_length < 1:
        raise ValueError(f"max_source_length must be positive, got {max_source_length}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, got {attention!r}")
    check_fraction(dropout, "dropout")
    bad = [f"{k}={v}" for k, v in sizes.items() if v < 1]
    if bad:
        raise ValueError(f"sizes must be positive: {', '.join(bad)}")


def _attend(output, keys, memory, source_mask, layer: dict):
    """Scores of the decoder ``output`` over ``keys``, masked weights, context, the
    attentional vector and the next-token probabilities (the model's layers in ``layer``)."""
    query = layer["attention_query"](output) if "attention_query" in layer else output
    weights = layer["attention"]([layer["attention_scores"]([query, keys]), source_mask])
    context = layer["context"]([weights, memory])
    joined = layer["output_and_context"]([output, context])
    x = layer["attentional"](joined)
    if "attentional_dropout" in layer:
        x = layer["attentional_dropout"](x)
    probabilities = layer["embedding"](layer["output_projection"](x), project=True)
    return probabilities, weights


def translation_parts(model: keras.Model) -> dict[str, keras.Model]:
    """The ``encoder`` and ``decoder`` (one step) models of a trained
    ``translation-attention`` model, sharing its layers and weights.

    * encoder: ``source`` ``[max_source_length]`` -> ``memory`` ``[S, 2 encoder_units]``,
      ``keys`` ``[S, key width]``, ``source_mask`` ``[S]`` and the initial ``state_h_0``
      (and ``state_c_0`` for LSTM).
    * decoder: ``token`` ``[1]`` (int32), the states, ``memory``, ``keys``,
      ``source_mask`` -> ``probabilities`` ``[vocabulary]``, the new states (feed them back)
      and ``attention`` ``[S]`` (the weights over the source).
    """
    layer = {lay.name: lay for lay in model.layers}
    needed = ("embedding", "encoder_forward", "encoder_backward", "decoder", "attention_keys",
              "attention_scores", "attention", "context", "attentional", "output_projection",
              "source_mask", "init_h")
    missing = [n for n in needed if n not in layer]
    if missing:
        raise ValueError(f"{model.name}: not a translation-attention model (no layers "
                         f"{', '.join(missing)})")
    sources = [t for t in model.inputs if t.name == "source"]
    if len(sources) != 1:
        raise ValueError(f"{model.name}: not a translation-attention model (no 'source' input)")
    kind = "lstm" if "init_c" in layer else "gru"
    names = _state_names(kind)
    memory_node = layer["attention_keys"].input
    keys_node, mask_node = layer["attention_keys"].output, layer["source_mask"].output
    states = {names[0]: layer["init_h"].output}
    if kind == "lstm":
        states[names[1]] = layer["init_c"].output
    encoder = keras.Model(sources[0], {"memory": memory_node, "keys": keys_node,
                                       "source_mask": mask_node, **states},
                          name="translation_encoder")

    units = layer["decoder"].cell.units
    length, width = memory_node.shape[1:]
    token = keras.Input(shape=(1,), dtype="int32", name="token")
    state_inputs = [keras.Input(shape=(units,), name=n) for n in names]
    memory = keras.Input(shape=(length, width), name="memory")
    keys = keras.Input(shape=(length, keys_node.shape[-1]), name="keys")
    source_mask = keras.Input(shape=(length,), name="source_mask")
    embedding = layer["embedding"]
    word = keras.layers.Reshape((embedding.output_dim,), name="word")(embedding(token))
    output, new_states = layer["decoder"].cell(word, list(state_inputs))
    step_output = keras.layers.Reshape((1, units), name="as_sequence")(output)
    probabilities, weights = _attend(step_output, keys, memory, source_mask, layer)
    decoder = keras.Model(
        {"token": token, **dict(zip(names, state_inputs)), "memory": memory, "keys": keys,
         "source_mask": source_mask},
        {"probabilities": keras.layers.Reshape((embedding.input_dim,),
                                               name="probabilities")(probabilities),
         **dict(zip(names, new_states)),
         "attention": keras.layers.Reshape((length,), name="attention_weights")(weights)},
        name="translation_decoder_step")
    return {"encoder": encoder, "decoder": decoder, "sequence_input": "tokens",
            "step_input": "token", "output": "probabilities"}


@register("translation-attention", task="translation", parts=translation_parts)
def translation_attention(vocabulary_size: int = 300, subwords: str = "",
                          max_source_length: int = 40, kind: str = "gru",
                          embedding_dim: int = 128, encoder_units: int = 128,
                          decoder_units: int = 256, attention: str = "luong",
                          attention_units: int = 128, dropout: float = 0.2) -> keras.Model:
    """Attention encoder-decoder over a joint subword vocabulary of ``vocabulary_size`` ids
    (`SPECIAL_TOKENS` first): embeddings of ``embedding_dim`` (tied with the output layer), a
    bidirectional ``kind`` (gru, lstm) encoder of ``encoder_units`` per direction over
    ``max_source_length`` ids, a ``kind`` decoder of ``decoder_units``, ``luong`` or
    ``bahdanau`` attention (``attention_units``: the width of Bahdanau's projections),
    ``dropout`` on the embeddings and before the output. ``subwords``: the tokenizer
    (`tasks.common.subwords.Subwords.to_text`), kept with the model so that a preset
    translates text; the graph does not read it."""
    _check(vocabulary_size, max_source_length, kind, attention, dropout,
           {"embedding_dim": embedding_dim, "encoder_units": encoder_units,
            "decoder_units": decoder_units, "attention_units": attention_units})
    del subwords  # carried in the config only
    source = keras.Input(shape=(max_source_length,), dtype="int32", name="source")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    embedding = TiedEmbedding(vocabulary_size, embedding_dim, name="embedding")

    def drop(name: str) -> keras.layers.Layer:
        return keras.layers.Dropout(dropout, name=name)

    x = embedding(source)
    if dropout:
        x = drop("source_dropout")(x)
    padding = PaddingMask(name="source_padding")(source)
    source_mask = PaddingMask(as_float=True, name="source_mask")(source)
    # bidirectional: a forward layer, and a forward layer over the reversed real steps
    forward = recurrent(kind, encoder_units, return_sequences=True, return_state=True,
                        name="encoder_forward")
    backward = recurrent(kind, encoder_units, return_sequences=True, return_state=True,
                         name="encoder_backward")
    ahead, *ahead_states = forward(x, mask=padding)
    reversed_x = ReversePadded(name="reverse_source")([x, source])
    behind, *behind_states = backward(reversed_x, mask=padding)
    behind = ReversePadded(name="reverse_backward")([behind, source])
    memory = keras.layers.Concatenate(name="encoder_outputs")([ahead, behind])
    memory = DropMask(name="memory")(memory)  # the scores take the mask as an input
    final_h = keras.layers.Concatenate(name="final_h")([ahead_states[0], behind_states[0]])
    if kind == "lstm":  # h, c of each direction
        final_c = keras.layers.Concatenate(name="final_c")([ahead_states[1], behind_states[1]])
    initial = [keras.layers.Dense(decoder_units, activation="tanh", name="init_h")(final_h)]
    if kind == "lstm":
        initial.append(keras.layers.Dense(decoder_units, activation="tanh",
                                          name="init_c")(final_c))

    layer = {"embedding": embedding}
    if attention == "luong":
        key_width, layer["attention_scores"] = decoder_units, LuongScores(name="attention_scores")
    else:
        key_width = attention_units
        layer["attention_query"] = keras.layers.Dense(attention_units, use_bias=False,
                                                      name="attention_query")
        layer["attention_scores"] = AdditiveScores(name="attention_scores")
    keys = keras.layers.Dense(key_width, use_bias=False, name="attention_keys")(memory)
    layer.update({
        "attention": MaskedSoftmax(name="attention"),
        "context": keras.layers.Dot(axes=(2, 1), name="context"),
        "output_and_context": keras.layers.Concatenate(name="output_and_context"),
        "attentional": keras.layers.Dense(decoder_units, activation="tanh", name="attentional"),
        "output_projection": keras.layers.Dense(embedding_dim, name="output_projection")})
    if dropout:
        layer["attentional_dropout"] = drop("attentional_dropout")

    y = embedding(tokens)
    if dropout:
        y = drop("target_dropout")(y)
    decoder = recurrent(kind, decoder_units, return_sequences=True, name="decoder")
    outputs = decoder(y, initial_state=initial)  # right padding: real steps come first
    probabilities, _ = _attend(outputs, keys, memory, source_mask, layer)
    return keras.Model({"source": source, "tokens": tokens}, probabilities,
                       name="translation_attention")
