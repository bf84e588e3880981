"""``rnnzoo predict`` for textgen presets: continue a prompt, print the text."""

from __future__ import annotations

import argparse
import sys
import time

from tasks.common.characters import CHAR_UNK_ID, CharVocabulary
from tasks.common.text_lines import read_text
from tasks.textgen.sampling import KerasStepper, generate_ids

VOCABULARY_ASSET = "characters.json"


def add_predict_options(parser: argparse.ArgumentParser) -> None:
    """Options of ``rnnzoo predict`` for textgen presets."""
    parser.add_argument("--prompt", default="\n",
                        help="text to continue (or give a UTF-8 text file as INPUT); default: "
                             "a line break, i.e. from the start of a line")
    parser.add_argument("--length", type=int, default=400,
                        help="characters to generate (default: 400)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature; lower is more conservative (default: 1.0)")
    parser.add_argument("--top-k", type=int, default=0,
                        help="sample among the k most likely characters only; 0: all "
                             "(default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--tflite", metavar="FILE",
                        help="sample with this exported TFLite step file (rnnzoo export "
                             "writes step.fp32.tflite, step.int8.tflite) instead of Keras")


def preset_vocabulary(preset) -> CharVocabulary:
    """A textgen preset's vocabulary: its ``assets/characters.json``, else its config."""
    path = preset.assets / VOCABULARY_ASSET
    if path.is_file():
        return CharVocabulary.load(path)
    return CharVocabulary(preset.config["config"]["characters"])


def _prompt(args: argparse.Namespace) -> str:
    inputs = list(getattr(args, "inputs", []) or [])
    if len(inputs) > 1:
        raise ValueError(f"one prompt file at most, got {len(inputs)}")
    return read_text(inputs[0], "prompt") if inputs else args.prompt


def predict(preset, args: argparse.Namespace) -> dict:
    """Generate ``--length`` characters after the prompt and print prompt + continuation."""
    vocabulary = preset_vocabulary(preset)
    if args.tflite:
        from tasks.textgen.tflite_sampler import TFLiteStepper, file_vocabulary

        stepper = TFLiteStepper(args.tflite)
        vocabulary = file_vocabulary(args.tflite) or vocabulary  # the file's own, if stored
    else:
        stepper = KerasStepper(preset.model)
    prompt = _prompt(args)
    ids = vocabulary.encode(prompt)
    unknown = ids.count(CHAR_UNK_ID)
    start = time.perf_counter()
    generated = vocabulary.decode(generate_ids(
        stepper, ids, length=args.length, temperature=args.temperature,
        top_k=args.top_k or None, seed=args.seed))
    seconds = time.perf_counter() - start
    if unknown and not getattr(args, "json", False):
        print(f"note: {unknown} character(s) of the prompt are not in the vocabulary "
              "(fed as <unk>)", file=sys.stderr)
    if not getattr(args, "json", False):
        print(prompt + generated)
    return {"prompt": prompt, "generated": generated, "seed": args.seed,
            "temperature": args.temperature, "top_k": args.top_k,
            "backend": "tflite" if args.tflite else "keras",
            "characters_per_second": round(args.length / seconds, 1),
            "unknown_prompt_characters": unknown}
