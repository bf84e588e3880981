"""Speech tasks: spoken digits, yes/no and connected digits (CTC), characters (CTC)."""

from tasks.speech.transcribe import transcribe

__all__ = ["transcribe"]
