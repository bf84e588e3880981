"""``rnnzoo predict`` for music presets: options and the run (through `generate`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasks.music.generation import generate


def _common(parser: argparse.ArgumentParser, what: str, default_length: int) -> None:
    parser.add_argument("--primer", metavar="MIDI",
                        help="MIDI file to continue (or give it as INPUT); none: from scratch")
    parser.add_argument("--length", type=int, default=default_length,
                        help=f"{what} to generate (default: {default_length})")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature; lower is more conservative (default: 1.0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--out", metavar="MIDI", default="generated.mid",
                        help="MIDI file to write: primer + continuation (default: generated.mid)")
    parser.add_argument(
        "--plot", metavar="PNG", help="also draw a piano roll of primer and continuation"
    )
    parser.add_argument("--tflite", metavar="FILE",
                        help="sample with this exported TFLite step model instead of Keras")


def add_note_options(parser: argparse.ArgumentParser) -> None:
    """Options of note-sequence presets (music-melody, music-piano)."""
    _common(parser, "notes", 128)
    parser.add_argument("--top-k", type=int, default=0,
                        help="sample among the k most likely pitches only; 0: all (default: 0)")
    parser.add_argument("--track", type=int, default=None,
                        help="melody track of the primer (index among its non-drum tracks); "
                             "default: the documented choice (a named or clear top line)")


def add_pianoroll_options(parser: argparse.ArgumentParser) -> None:
    """Options of piano-roll presets (music-jsb)."""
    _common(parser, "quarter-note frames", 64)


def _primer(args: argparse.Namespace) -> str | None:
    inputs = list(getattr(args, "inputs", []) or [])
    if args.primer and inputs:
        raise ValueError("give the primer either as INPUT or with --primer, not both")
    if len(inputs) > 1:
        raise ValueError(f"one primer MIDI file at most, got {len(inputs)}")
    return args.primer or (inputs[0] if inputs else None)


def _run(preset, args: argparse.Namespace, **extra) -> dict:
    primer = _primer(args)
    result = generate(preset, primer=primer, length=args.length, temperature=args.temperature,
                      seed=args.seed, out=args.out, plot=args.plot, tflite=args.tflite, **extra)
    unit = "frames" if result["task"] == "music-jsb" else "notes"
    primer_count = 0 if result["primer"] is None else len(result["primer"])
    summary = {"midi": str(result["midi"]), "plot": str(result["plot"]) if result["plot"] else None,
               "primer": primer, f"primer_{unit}": primer_count,
               f"generated_{unit}": len(result["generated"]),
               f"{unit}_per_second": round(result["notes_per_second"], 1),
               "backend": "tflite" if args.tflite else "keras", "seed": args.seed,
               "temperature": args.temperature}
    if not getattr(args, "json", False):
        source = f"after {primer_count} {unit} of {Path(primer).name}" if primer else "from scratch"
        print(f"wrote {result['midi']}: {len(result['generated'])} {unit} {source} "
              f"({summary[f'{unit}_per_second']:g} {unit}/s, {summary['backend']})")
        if result["plot"]:
            print(f"wrote {result['plot']}")
    return summary


def predict_notes(preset, args: argparse.Namespace) -> dict:
    """Generate notes with a music-melody or music-piano preset."""
    return _run(preset, args, top_k=args.top_k or None, track=args.track)


def predict_pianoroll(preset, args: argparse.Namespace) -> dict:
    """Generate quarter-note frames with a music-jsb preset."""
    return _run(preset, args)
