"""The tokenizer assets of a word-level text preset: ``vocabulary.txt`` and ``tokenizer.json``.

TFLite's builtin ops have no regular-expression tokenizer (see docs/design-notes.md), so an
exported text model takes token ids; these two files travel with the preset into the export's
``assets/`` (and, being small text, into each ``.tflite``'s metadata), and
`tasks.common.reference_tokenizer` (standard library only) maps text to the model's input.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

MAPPING = "rnnzoo-words-v1"


def tokenizer_assets(vocabulary: Sequence[str], punctuation: str, max_length: int, *,
                     labels: Sequence[str] | None = None) -> dict[str, str]:
    """``{"vocabulary.txt": one token per line (line number = id), "tokenizer.json":
    the settings}``, for `zoo.save`'s ``assets``."""
    settings = {
        "mapping": MAPPING,
        "vocabulary": "vocabulary.txt",
        "normalization": "NFKC; U+2019 U+2018 U+02BC -> '; U+2010 U+2011 -> -; str.lower",
        "tokens": "runs of letters/digits with single inner ' or -; punctuation "
                  + ("one token per mark" if punctuation == "split" else "dropped"),
        "punctuation": punctuation,
        "special": {"<pad>": 0, "<start>": 1, "<end>": 2, "<unk>": 3},
        "unknown_id": 3, "pad_id": 0, "padding": "right", "max_length": int(max_length),
        "truncation": f"the first {int(max_length)} tokens are kept",
        "reference": "tasks/common/reference_tokenizer.py (standard library only)",
        **({"labels": list(labels)} if labels else {}),
    }
    return {"vocabulary.txt": "".join(f"{t}\n" for t in vocabulary),
            "tokenizer.json": json.dumps(settings, indent=1, ensure_ascii=False) + "\n"}
