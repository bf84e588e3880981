"""Caption BLEU (tasks/captioning/bleu.py): sacrebleu's corpus BLEU over greedy captions."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.captioning.bleu import (
    beam_captions,
    caption_metric,
    corpus_bleu,
    greedy_captions,
    ids_text,
    images_and_references,
)


def test_identical_captions_score_one_and_unrelated_ones_near_zero():
    refs = [["a red circle left of a blue square", "a blue square right of a red circle"],
            ["two green triangles"]]
    perfect = corpus_bleu(["a blue square right of a red circle", "two green triangles"], refs)
    assert perfect == pytest.approx({"bleu1": 1.0, "bleu2": 1.0, "bleu3": 1.0, "bleu4": 1.0})
    wrong = corpus_bleu(["yellow star", "purple cross above"], refs)
    assert wrong["bleu1"] == 0.0 and wrong["bleu4"] < 0.01


def test_unknown_words_never_match():
    assert ids_text([1, 5, 3, 7, 2, 9], "<unk-hyp>") == "5 <unk-hyp> 7"
    refs = [[ids_text([5, 3, 7, 2], "<unk-ref>")]]
    assert corpus_bleu([ids_text([5, 3, 7], "<unk-hyp>")], refs)["bleu1"] == pytest.approx(2 / 3)


def test_examples_of_one_image_are_grouped():
    image_a, image_b = np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8)
    data = [({"image": image_a, "tokens": np.array([1, 4, 0])}, np.array([4, 2, 0])),
            ({"image": image_a, "tokens": np.array([1, 5, 0])}, np.array([5, 2, 0])),
            ({"image": image_b, "tokens": np.array([1, 6, 0])}, np.array([6, 2, 0]))]
    inputs, references = images_and_references(data)
    assert inputs["image"].shape == (2, 2, 2, 3) and "tokens" not in inputs
    assert references == [["4", "5"], ["6"]]


def test_greedy_captions_feed_the_prefix_back_and_stop_at_end():
    """A fake model that says "next id = last id + 1" and <end> after id 6."""

    def model_fn(batch):
        tokens = batch["tokens"]
        probabilities = np.zeros((*tokens.shape, 8))
        nxt = np.where(tokens >= 6, 2, np.maximum(tokens + 1, 4))
        np.put_along_axis(probabilities, nxt[..., None], 1.0, axis=-1)
        return probabilities

    captions = greedy_captions(model_fn, {"image": np.zeros((3, 2, 2, 3))}, max_length=10)
    assert captions == [[4, 5, 6]] * 3
    truncated = greedy_captions(model_fn, {"image": np.zeros((1, 2, 2, 3))}, max_length=2)
    assert truncated == [[4, 5]]
    data = [({"image": np.zeros((2, 2, 3)), "tokens": np.array([1, 4, 5, 6, 0])},
             np.array([4, 5, 6, 2, 0]))]
    scores = caption_metric(model_fn, data)
    assert scores["bleu1"] == pytest.approx(1.0) and scores["bleu3"] == pytest.approx(1.0)
    assert scores["images"] == 1 and scores["captions"] == 1


def test_beam_captions_find_a_better_caption_than_greedy():
    """After <start> the model prefers 4 (0.6) over 5 (0.4); but after 4 every word is equally
    likely (0.25 each of 4 ids) while after 5 <end> is certain: the whole caption "5" (0.4)
    beats "4 x" (0.6 * 0.25 = 0.15), which greedy cannot see."""

    def model_fn(batch):
        tokens = batch["tokens"]
        probabilities = np.zeros((*tokens.shape, 8))
        last = tokens[..., -1:]
        after_start = np.array([0, 0, 0, 0, 0.6, 0.4, 0, 0])
        after_four = np.array([0, 0, 0.25, 0, 0.25, 0, 0.25, 0.25])
        after_other = np.array([0, 0, 1.0, 0, 0, 0, 0, 0])
        probabilities[..., -1:, :] = np.where(last[..., None] == 1, after_start,
                                              np.where(last[..., None] == 4, after_four,
                                                       after_other))
        return probabilities

    images = {"image": np.zeros((2, 2, 2, 3))}
    assert greedy_captions(model_fn, images, max_length=5)[0][0] == 4
    assert beam_captions(model_fn, images, max_length=5, width=2, alpha=0.0) == [[5], [5]]
    data = [({"image": np.zeros((2, 2, 3)), "tokens": np.array([1, 5, 0])}, np.array([5, 2, 0]))]
    assert caption_metric(model_fn, data, beam=2, alpha=0.0)["bleu1"] == pytest.approx(1.0)
    assert caption_metric(model_fn, data)["bleu1"] < 1.0
