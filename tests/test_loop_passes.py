"""export.loop_passes: the WHILE loops rnnzoo writes, tidied.

Tiny adding models (T=6, 8 units): their step files (float32 and int8) are looped with
`export.step_loop.loop_over_steps` and then tidied. In float32 the rewrites (the head run once
after the loop, duplicate results read from the final state) must not change a single output
beyond float rounding (1e-6); in int8 the states are carried as int8 and must stay as close to
Keras as the untidied loop is (mean absolute error at most 10 % higher, plus one output step).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import zoo
from export.artifact import Variant
from export.loop_passes import tidy_loops
from export.step_loop import loop_over_steps
from export.tflite import convert_variants
from export.tflite_file import builtin_code, read, write

T = 6


def _model(kind: str) -> keras.Model:
    keras.utils.set_random_seed(5)
    return zoo.build(f"adding-{kind}", length=T, units=8)


def _adding_inputs(n: int, seed: int) -> np.ndarray:
    """Adding-problem sequences: a value and a marker on two of the steps."""
    rng = np.random.default_rng(seed)
    xs = np.zeros((n, T, 2), np.float32)
    xs[..., 0] = rng.random((n, T))
    for x in xs:
        x[rng.choice(T, 2, replace=False), 1] = 1.0
    return xs


@pytest.fixture(scope="module")
def step_files(tmp_path_factory) -> dict:
    """{(kind, quantize): (keras model, step file bytes)} for SimpleRNN and LSTM models."""
    root = tmp_path_factory.mktemp("loop_passes")
    files = {}
    for kind in ("simple", "lstm"):
        model = _model(kind)
        targets = {Variant("step", q): root / kind / f"step.{q}.tflite" for q in ("fp32", "int8")}
        convert_variants(model, targets, name=kind,
                         representative=[x[None] for x in _adding_inputs(32, seed=1)])
        for variant, path in targets.items():
            files[kind, variant.quantize] = (model, path.read_bytes())
    return files


def _looped(step: bytes, kind: str) -> bytes:
    states = ["state_h_0"] + (["state_c_0"] if kind == "lstm" else [])
    return loop_over_steps(step, length=T, input_name="sequence", state_names=states)


def _tidied(data: bytes, integer: bool) -> tuple[bytes, object]:
    model = read(data)
    changes = tidy_loops(model, integer=integer)
    return write(model), changes


def _run(data: bytes, xs: np.ndarray) -> np.ndarray:
    runner = Interpreter(model_content=data, num_threads=1).get_signature_runner()
    return np.concatenate([runner(sequence=x[None])["sum"] for x in xs])


def _ops(data: bytes) -> list[list[str]]:
    """The op names of each subgraph."""
    from export.tflite_file import _OP_NAMES

    model = read(data)
    return [[_OP_NAMES[builtin_code(model, op)] for op in graph.operators]
            for graph in model.subgraphs]


@pytest.mark.parametrize("kind", ["simple", "lstm"])
def test_float_loops_run_the_head_once_with_the_same_outputs(step_files, kind):
    _, step = step_files[kind, "fp32"]
    before = _looped(step, kind)
    after, changes = _tidied(before, integer=False)
    assert changes.hoisted == 1 and changes.integer == 0
    main, _, body = _ops(after)
    # the head (one FULLY_CONNECTED) left the body for main, after the WHILE op
    assert body.count("FULLY_CONNECTED") == _ops(before)[2].count("FULLY_CONNECTED") - 1
    assert main[main.index("WHILE") + 1:] == ["FULLY_CONNECTED"]
    xs = _adding_inputs(16, seed=2)
    np.testing.assert_allclose(_run(after, xs), _run(before, xs), atol=1e-6)


@pytest.mark.parametrize("kind", ["simple", "lstm"])
def test_int8_loops_carry_int8_states_and_stay_as_close_to_keras(step_files, kind):
    model, step = step_files[kind, "int8"]
    before = _looped(step, kind)
    after, changes = _tidied(before, integer=True)
    states = 2 if kind == "lstm" else 1
    assert changes.integer == states + 1 and changes.hoisted == 1  # states and the result
    _, _, body = _ops(after)
    # no state crosses the loop boundary as a float any more: the only QUANTIZE is the input's
    assert "DEQUANTIZE" not in body and body.count("QUANTIZE") == 1
    assert len(after) < len(before)
    xs = _adding_inputs(64, seed=3)
    reference = np.asarray(model(xs))
    error_before = np.abs(_run(before, xs) - reference).mean()
    error_after = np.abs(_run(after, xs) - reference).mean()
    step_size = read(after).subgraphs[0].tensors[0].quantization  # input: float, no scale
    assert step_size is None or step_size.scale is None
    assert error_after <= 1.1 * error_before + 0.01, (error_before, error_after)


def test_a_result_that_is_the_last_state_is_read_from_the_final_state(step_files):
    """A step model whose output is its next state (a layer returning its last output)."""
    _, step = step_files["simple", "fp32"]
    model = read(step)
    graph = model.subgraphs[0]
    signature = model.signatureDefs[0]
    state_out = next(m for m in signature.outputs if m.name in (b"state_h_0", "state_h_0"))
    last = next(m for m in signature.outputs if m.name in (b"sum", "sum"))
    last.tensorIndex = state_out.tensorIndex  # "sum" now names the state itself
    graph.outputs = [state_out.tensorIndex]
    data = loop_over_steps(write(model), length=T, input_name="sequence",
                           state_names=["state_h_0"])
    after, changes = _tidied(data, integer=False)
    assert changes.duplicates == 1
    assert len(read(after).subgraphs[0].operators[-1].outputs) == len(
        read(data).subgraphs[0].operators[-1].outputs) - 1  # one loop variable fewer
    xs = _adding_inputs(8, seed=4)
    np.testing.assert_allclose(_run(after, xs), _run(data, xs), atol=1e-6)
