"""CTC: loss, greedy and beam decoding, WER/CER, the sequence tasks' data, streaming, predict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnzoo.cli import main
from tasks.speech import ctc
from tasks.speech.synthetic import write_fsdd, write_yesno

LABELS = ["no", "yes"]
TINY = ["--units", "16", "--conv-filters", "16", "--n-mels", "20", "--batch-size", "4",
        "--learning-rate", "0.01", "--clipnorm", "0", "--no-spec-augment", "--no-wave-augment",
        "--quiet"]


def _logits(paths: list[list[int]], classes: int = 3) -> np.ndarray:
    out = np.full((len(paths), len(paths[0]), classes), -5.0, np.float32)
    for b, path in enumerate(paths):
        for t, k in enumerate(path):
            out[b, t, k] = 5.0
    return out


def test_encode_decode_and_greedy():
    row = ctc.encode(["yes", "no", "yes"], LABELS, 5)
    assert row.tolist() == [2, 1, 2, 0, 0]
    assert ctc.decode_ids(row, LABELS, " ") == "yes no yes"
    with pytest.raises(ValueError, match="maybe"):
        ctc.encode(["maybe"], LABELS, 5)
    logits = _logits([[0, 2, 2, 0, 1, 1, 0, 2], [1, 0, 1, 1, 2, 0, 0, 0]])
    assert ctc.greedy(logits) == [[2, 1, 2], [1, 1, 2]]
    assert ctc.beam_search(logits, 4) == [[2, 1, 2], [1, 1, 2]]
    for width in (0, 4):  # no frames yet (a stream before its first chunk)
        assert ctc.transcribe_logits(np.zeros((0, 3), np.float32), LABELS, " ", width) == ""


def test_beam_search_beats_greedy_when_paths_add_up():
    # Frame-wise best is blank,blank (p=.36) but "a" has .64 summed over its paths.
    probs = np.array([[[0.6, 0.4], [0.6, 0.4]]], np.float32)
    logits = np.log(probs)
    assert ctc.greedy(logits) == [[]]
    assert ctc.beam_search(logits, 4) == [[1]]


def test_error_rates_use_jiwer():
    rates = ctc.error_rates(["1 2 3 4", "5 6"], ["1 2 4", "5 6"])
    assert rates["wer"] == pytest.approx(1 / 6)
    assert ctc.error_rates(["abc"], ["abd"])["cer"] == pytest.approx(1 / 3)


def test_ctc_loss_is_low_for_the_right_labels():
    import tensorflow as tf

    logits = _logits([[0, 2, 0, 1, 1, 0]])
    loss = ctc.CTCLoss()
    right = float(loss(tf.constant([[2, 1, 0]]), logits))
    wrong = float(loss(tf.constant([[1, 2, 0]]), logits))
    assert right < 0.1 < 10 < wrong


# ---------------------------------------------------------------------------------------------
# data


def test_connected_digits_are_built_from_their_split(tmp_path):
    from tasks.speech import connected, fsdd

    folder = write_fsdd(tmp_path, digits=10, speakers=2, takes=12)
    waves, clips, _ = fsdd.load_split(folder, "test")
    assert {c.index for c in clips} == set(range(5))
    utterances, words = connected.generate(waves, clips, 50, seed=3, max_seconds=6.0)
    again, same_words = connected.generate(waves, clips, 50, seed=3, max_seconds=6.0)
    assert words == same_words and all(np.array_equal(a, b) for a, b in zip(utterances, again))
    assert {len(w) for w in words} <= set(range(2, 8)) and len({len(w) for w in words}) > 3
    assert all(u.size <= 48000 for u in utterances)
    data = connected.load(str(folder), "test", size=20)
    x, y = next(iter(data.as_numpy_iterator()))
    assert x.shape == (48000,) and y.shape == (7,) and 2 <= int((y > 0).sum()) <= 7


def test_yesno_split_and_labels(tmp_path):
    from tasks.speech import yesno

    folder = write_yesno(tmp_path, files=40, words=8)
    (folder / "README").write_text("not audio")
    names = [p.name for p in yesno.files(folder)]
    assert names == sorted(names) and len(names) == 40
    train, test = yesno.split_files(folder, "train"), yesno.split_files(folder, "test")
    assert len(train) == 25 and len(test) == 9 and not set(train) & set(test)
    validation = yesno.split_files(folder, "validation")
    assert len(validation) == 6 and not set(validation) & set(train)
    assert yesno.split_files(folder, "train+validation") == yesno.files(folder)[:31]
    x, y = next(iter(yesno.load(str(folder), "test").as_numpy_iterator()))
    words = test[0].stem.split("_")
    assert ctc.decode_ids(y, yesno.LABELS, " ") == " ".join(yesno.LABELS[int(w)] for w in words)


def test_chars_text_normalization():
    from tasks.speech.chars import normalize

    assert normalize("Printing, then, for our purpose -- may be 'art'.") == \
        "printing then for our purpose may be 'art'"


# ---------------------------------------------------------------------------------------------
# streaming


def _random_ctc(kind: str):
    import keras

    import zoo

    model = zoo.build("speech-ctc", kind=kind, units=[8, 8], conv_filters=[8, 8], n_mels=16,
                      max_seconds=2.0, spec_augment={"max_time": 2}, wave_augment={})
    rng = np.random.default_rng(0)
    for layer in model.layers:  # moving statistics that make the normalization matter
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights(
                [
                    gamma * rng.uniform(0.5, 2, gamma.shape),
                    rng.normal(0, 1, beta.shape),
                    rng.normal(-5, 1, beta.shape),
                    rng.uniform(1, 4, beta.shape),
                ]
            )
    return model


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_streaming_equals_offline(kind):
    from tasks.speech.streaming import Streamer
    from zoo.audio_frontend import num_frames

    model = _random_ctc(kind)
    audio = np.random.default_rng(1).normal(0, 0.1, 12345).astype(np.float32)
    offline = model.predict_on_batch(np.pad(audio, (0, 16000 - audio.size))[None])[0]
    frames = num_frames(audio.size, 256, 160)
    streamer = Streamer(model, chunk_ms=100)
    assert streamer.frames_per_chunk == 5
    rng, start = np.random.default_rng(2), 0
    while start < audio.size:  # arbitrary pieces: the remainder waits for a whole chunk
        size = int(rng.integers(1, 1500))
        streamer.push(audio[start : start + size])
        start += size
    streamer.finish()
    assert streamer.logits.shape == (frames, 11)
    assert np.std(offline[:frames]) > 0.01
    np.testing.assert_allclose(streamer.logits, offline[:frames], atol=1e-4)
    # control: without the carried state the outputs differ
    chunk = streamer.chunk
    zero = [np.zeros(tuple(t.shape), np.float32) for t in chunk.inputs[1:]]
    zero[0] = audio[160:256][None]
    second = chunk.predict_on_batch([audio[256:1056][None], *zero])[0][0]
    assert np.max(np.abs(second - offline[5:10])) > 1e-3


def test_chunk_model_refuses_bidirectional():
    import zoo
    from zoo.speech import chunk_model

    model = zoo.build("speech-ctc", bidirectional=True, normalize="utterance", units=[4],
                      conv_filters=[4], n_mels=8)
    with pytest.raises(ValueError, match="causal"):
        chunk_model(model, 5)
    with pytest.raises(ValueError, match="causal front end"):
        zoo.build("speech-ctc", bidirectional=False, normalize="utterance")


# ---------------------------------------------------------------------------------------------
# end to end on synthetic yesno


@pytest.fixture(scope="module")
def yesno_run(tmp_path_factory) -> tuple[Path, Path]:
    folder = write_yesno(tmp_path_factory.mktemp("yesno"), files=36, words=6)
    out = tmp_path_factory.mktemp("run") / "yesno"
    assert main(["train", "speech-yesno", "--data", str(folder), *TINY, "--no-bidirectional",
                 "--epochs", "4", "--recomposed", "8", "--out", str(out)]) == 0
    return folder, out


def test_yesno_train_evaluate_predict_stream(yesno_run, capsys):
    import tasks.speech
    import zoo

    folder, run = yesno_run
    history = json.loads((run / "summary.json").read_text())["history"]["loss"]
    assert history[-1] < history[0]
    capsys.readouterr()
    assert main(["evaluate", str(run), "--split", "test", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert {"wer", "cer", "wer_beam", "cer_beam", "sentence_accuracy"} <= set(metrics)
    clip = str(yesno_run[0] / sorted(p.name for p in folder.glob("*.wav"))[-1])
    preset = zoo.load(run)
    text = tasks.speech.transcribe(preset, clip)
    assert set(text.split()) <= {"yes", "no"}
    assert main(["predict", str(run), clip, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"input": clip, "transcript": text}]
    assert main(["predict", str(run), clip, "--stream"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == f"{clip}: {text}"  # streaming gives the offline transcript
    assert all(line.startswith("  [") for line in printed[:-1])
    long = np.random.default_rng(0).normal(0, 0.1, 9 * 8000).astype(np.float32)
    assert isinstance(tasks.speech.transcribe(preset, long), str)  # streamed: longer than 7.5 s


def test_yesno_recompose_puts_words_anywhere():
    from tasks.speech import yesno

    segments = [(np.full(4000, 0.1, np.float32), "no"), (np.full(2000, 0.2, np.float32), "yes")]
    pauses = [np.full(1000, 0.01, np.float32), np.full(700, 0.02, np.float32)]
    waves, words = yesno.recompose(segments, 20, seed=1, pauses=pauses)
    assert len(waves) == 20 and all(len(w) == 8 for w in words)
    assert {w[0] for w in words} == {"yes", "no"}  # a "yes" can open an utterance now
    openings = []
    for wave, labels in zip(waves, words):
        opening = int(np.argmax(wave > 0.05))  # where the first word starts
        assert yesno.OPENING[0] * 8000 <= opening <= yesno.OPENING[1] * 8000
        assert set(np.unique(wave[:opening])) <= {np.float32(0.01), np.float32(0.02)}
        closing = wave.size - opening - sum(4000 if w == "no" else 2000 for w in labels)
        assert yesno.CLOSING[0] * 8000 <= closing <= yesno.CLOSING[1] * 8000
        assert wave.size <= 7.5 * 8000
        openings.append(opening)
    assert len(set(openings)) > 10  # the opening silence varies: its length is no cue
    with pytest.raises(ValueError, match="no word segments"):
        yesno.recompose([], 1)
    with pytest.raises(ValueError, match="rarely fit"):  # 8 words of 1 s never fit in 7.5 s
        yesno.recompose([(np.zeros(8000, np.float32), "no")], 3)


def test_yesno_word_segments_follow_the_file_labels(tmp_path, capsys):
    from tasks.speech import yesno
    from tasks.speech.audio import load_audio

    folder = write_yesno(tmp_path, files=4, words=8, gap=(0.2, 0.3))
    paths = yesno.files(folder)
    waves = [load_audio(p, 8000) for p in paths]
    words = [[yesno.LABELS[int(v)] for v in p.stem.split("_")] for p in paths]
    waves[1] = waves[1][: waves[1].size // 2]  # half a file: 8 words cannot be found
    segments, pauses = yesno.word_segments(waves, words, [p.name for p in paths])
    assert [w for _, w in segments] == words[0] + words[2] + words[3]
    assert paths[1].name in capsys.readouterr().err  # the left-out file is named
    assert len(pauses) == 3 * 9
    with pytest.raises(ValueError, match="no words to recompose"):
        yesno._recomposed(waves[1:2], words[1:2], [paths[1].name], 5, seed=0)
    assert yesno._recomposed(waves[1:2], words[1:2], ["x"], 5, seed=0, required=False) == ([], [])


def test_yesno_validation_adds_recomposed_utterances_of_its_own_files(tmp_path, monkeypatch):
    from tasks.speech import yesno

    folder = write_yesno(tmp_path, files=40, words=8)
    calls = []

    def fake(waves, words, names, n, seed, required=True):
        calls.append((len(waves), n, seed))
        return [w.copy() for w in waves[:2]], [list(reversed(ws)) for ws in words[:2]]

    monkeypatch.setattr(yesno, "_recomposed", fake)
    validation = list(yesno.load(str(folder), "validation").as_numpy_iterator())
    assert len(validation) == 6 + 2 and calls == [(6, yesno.VALIDATION_RECOMPOSED, 1)]
    assert len(list(yesno.load(str(folder), "test").as_numpy_iterator())) == 9
    assert len(calls) == 1  # the test split is the files alone
    train = list(yesno.load(str(folder), "train", recomposed=5, all_files=True)
                 .as_numpy_iterator())
    assert len(train) == 31 + 2 and calls[-1] == (31, 5, 0)
