"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
# The data root as rnnzoo finds it (tasks.common.data_paths): $RNNZOO_DATA, else ../shared/data.
SHARED_DATA = Path(os.environ.get("RNNZOO_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the real datasets at {SHARED_DATA} (absent in this checkout)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the preset download cache of every test away from the user's ~/.cache."""
    monkeypatch.setenv("RNNZOO_HOME", str(tmp_path_factory.getbasetemp() / "rnnzoo-home"))


@pytest.fixture
def float64():
    """Run a test with Keras' float type and dtype policy set to float64, then restore them."""
    import keras

    old_floatx, old_policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old_policy)
        keras.config.set_floatx(old_floatx)


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    """The session's RNNZOO_HOME (as `_isolated_cache`), for module-scoped fixtures too."""
    path = tmp_path_factory.getbasetemp() / "rnnzoo-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RNNZOO_HOME", str(path))
        yield path
