"""Hide what native libraries (TensorFlow, the TFLite runtime) print straight to stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file for the duration of the block.

    Native code writes to the descriptor directly, so ``sys.stderr`` redirection cannot catch
    it. If the block raises, the captured text is written back to stderr before the error
    propagates, so nothing needed for a diagnosis is lost. ``RNNZOO_DEBUG=1`` turns it off.
    """
    if os.environ.get("RNNZOO_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
