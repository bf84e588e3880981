"""The issues' own ``rnnzoo predict`` examples on the shipped text presets: what a new user
types first, on the committed weights (no data folder needed)."""

from __future__ import annotations

import pytest

from rnnzoo.cli import main


def predict(capsys, *argv: str) -> str:
    code = main(["predict", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


@pytest.mark.slow
def test_sentiment_labels_a_clear_review_each_way_with_its_probability(capsys):
    out = predict(capsys, "sentiment-sst2", "a gripping, funny film",
                  "a dull, lifeless and boring mess")
    first, second = [line.split("\t") for line in out.splitlines()]
    assert first[0] == "positive" and 0.5 < float(first[1]) <= 1
    assert second[0] == "negative" and 0.5 < float(second[1]) <= 1


@pytest.mark.slow
def test_ner_prints_the_person_and_the_place_with_their_spans(capsys):
    text = "John lives in New York"
    out = predict(capsys, "ner-conll2003", text)
    spans = {tuple(line.split("\t")) for line in out.splitlines()}
    assert ("0-4", "PER", "John") in spans and ("14-22", "LOC", "New York") in spans
    assert text[14:22] == "New York"


@pytest.mark.slow
def test_textgen_continues_the_prompt_with_the_asked_length(capsys):
    out = predict(capsys, "textgen-shakespeare", "--prompt", "ROMEO:", "--length", "80",
                  "--seed", "1")
    assert out.startswith("ROMEO:") and len(out) == len("ROMEO:") + 80 + 1  # print's "\n"


@pytest.mark.slow
def test_translation_gives_german_for_the_issues_sentence(capsys):
    out = predict(capsys, "translate-en-de-multi30k", "A man is riding a bike.")
    words = set(out.lower().replace(".", " ").split())
    assert {"ein", "mann"} <= words, out
