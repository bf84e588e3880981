"""A subword vocabulary (SentencePiece unigram or BPE) learned from training text only.

`Subwords.learn` trains a SentencePiece model (Kudo & Richardson 2018) on an iterable of
sentences, in memory (no files, nothing downloaded): the ``unigram`` language model (default)
or ``bpe`` merges, ``size`` pieces in all. Settings that make it lossless and predictable:

* ids: ``<pad>`` 0, ``<start>`` 1, ``<end>`` 2, ``<unk>`` 3, as `tasks.common.vocabulary`;
* no normalization (rule ``identity``) and byte fallback: a character the pieces do not
  cover becomes its UTF-8 bytes, so `decode` of `encode` gives the sentence back (runs of
  white space become one space, and leading or trailing white space goes); nothing is
  ``<unk>``;
* one thread and the whole input: the same sentences give the same model.

A joint vocabulary (source and target sentences learned together) lets a translation model
share one embedding for both sides and its output layer.

The model travels as bytes (the serialized SentencePiece model: the ``.model`` file,
`save`/`load`) or as base64 text inside a JSON config (`to_text`/`from_text`); bad bytes
raise `SubwordError` naming where they came from.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from tasks.common.input_files import check_input_file
from zoo.errors import RnnzooError

PAD_ID, START_ID, END_ID, UNK_ID = 0, 1, 2, 3
MODELS = ("unigram", "bpe")
SPECIAL_PIECES = {"pad": "<pad>", "bos": "<start>", "eos": "<end>", "unk": "<unk>"}
MIN_SIZE = 300  # the four specials, 256 bytes and some pieces


class SubwordError(RnnzooError, ValueError):
    """A subword model that cannot be learned or read: ``<where>: <problem>``."""

    def __init__(self, where: str | os.PathLike, problem: str):
        super().__init__(f"{where}: {problem}")


def _processor(data: bytes, where: str):
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(data)
    except (RuntimeError, OSError, TypeError) as error:
        raise SubwordError(where, f"not a SentencePiece model ({error})") from None
    specials = [processor.id_to_piece(i) for i in range(min(4, processor.get_piece_size()))]
    if specials != list(SPECIAL_PIECES.values()):
        raise SubwordError(where, f"a SentencePiece model whose first pieces are {specials}, "
                                  f"expected {list(SPECIAL_PIECES.values())}")
    return processor


class Subwords:
    """Sentences <-> subword ids (see the module docstring). ``data``: the serialized model."""

    def __init__(self, data: bytes, *, where: str = "subword model"):
        self.data = bytes(data)
        self._sp = _processor(self.data, where)

    # learning -----------------------------------------------------------------------------
    @classmethod
    def learn(cls, sentences: Iterable[str], *, size: int = 4000,
              model: str = "unigram") -> Subwords:
        """Learn ``size`` pieces (at most: a small corpus may give fewer) of ``model``
        (``unigram`` or ``bpe``) from ``sentences``."""
        import sentencepiece as spm

        if model not in MODELS:
            raise ValueError(f"subword model must be one of {', '.join(MODELS)}, got {model!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < MIN_SIZE:
            raise ValueError(f"subword vocabulary size must be an integer >= {MIN_SIZE}, got "
                             f"{size!r}")
        texts = [s for s in sentences if s.strip()]
        if not texts:
            raise SubwordError("subwords", "no training sentences to learn them from")
        writer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(texts), model_writer=writer, vocab_size=size,
                model_type=model, hard_vocab_limit=False, character_coverage=1.0,
                byte_fallback=True, normalization_rule_name="identity", num_threads=1,
                pad_id=PAD_ID, bos_id=START_ID, eos_id=END_ID, unk_id=UNK_ID,
                **{f"{k}_piece": v for k, v in SPECIAL_PIECES.items()},
                max_sentence_length=1 << 16, minloglevel=2)
        except RuntimeError as error:
            raise SubwordError("subwords", f"cannot learn {size} {model} pieces from "
                                           f"{len(texts):,} sentences: {error}") from None
        return cls(writer.getvalue(), where=f"learned {model} model")

    # lookups ------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """The number of ids."""
        return self._sp.get_piece_size()

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Subwords) and self.data == other.data

    def __hash__(self) -> int:
        return hash(self.data)

    @property
    def model(self) -> str:
        """``unigram`` or ``bpe``."""
        from sentencepiece import sentencepiece_model_pb2 as pb

        proto = pb.ModelProto()
        proto.ParseFromString(self.data)
        return pb.TrainerSpec.ModelType.Name(proto.trainer_spec.model_type).lower()

    def pieces(self, ids: Sequence[int]) -> list[str]:
        """The pieces of ``ids`` (``▁`` marks the start of a word)."""
        return [self._sp.id_to_piece(int(i)) for i in ids]

    # text <-> ids -------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """The ids of ``text`` (no ``<start>``/``<end>``)."""
        return list(self._sp.encode(text))

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` up to the first ``<end>``, ``<pad>`` and ``<start>`` left
        out; ids outside the vocabulary raise ValueError."""
        kept = []
        for i in ids:
            i = int(i)
            if not 0 <= i < self.size:
                raise ValueError(f"subword id {i} is outside this vocabulary (0-{self.size - 1})")
            if i == END_ID:
                break
            if i not in (PAD_ID, START_ID):
                kept.append(i)
        return self._sp.decode(kept)

    # storage ------------------------------------------------------------------------------
    def to_text(self) -> str:
        """The model as base64 text (for a JSON config)."""
        return base64.b64encode(self.data).decode("ascii")

    @classmethod
    def from_text(cls, text: str, *, where: str = "subword model") -> Subwords:
        """The model of `to_text`'s ``text``."""
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, AttributeError):
            raise SubwordError(where, "not base64 text of a SentencePiece model") from None
        return cls(data, where=where)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the ``.model`` file (atomically)."""
        path = Path(path)
        temporary = path.with_name(".partial-" + path.name)
        temporary.write_bytes(self.data)
        os.replace(temporary, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Subwords:
        """The model in the ``.model`` file at ``path``."""
        path = check_input_file(path, "subword model", SubwordError)
        return cls(path.read_bytes(), where=str(path))
