"""export.loop_passes: the WHILE loops rnnzoo writes, tidied.

Tiny adding models (T=6, 8 units): their step files (float32 and int8) are looped with
`export.step_loop.loop_over_steps` and then tidied. In float32 the rewrites (the head run once
after the loop, duplicate results read from the final state) must not change a single output
beyond float rounding (1e-6), and neither may carrying the int8 states as int8 (the step
model's own QUANTIZE ops still set each input's scale).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.python.schema_py_generated import BuiltinOperator

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


def _per_step_model() -> keras.Model:
    """A GRU returning sequences and a Dense head on every step."""
    keras.utils.set_random_seed(6)
    x = keras.Input((T, 2), name="sequence")
    h = keras.layers.GRU(8, return_sequences=True, name="gru")(x)
    return keras.Model(x, keras.layers.Dense(2, activation="tanh", name="y")(h))


@pytest.fixture(scope="module")
def step_files(tmp_path_factory) -> dict:
    """{(kind, quantize): (keras model, step file bytes)} for SimpleRNN and LSTM models and
    the per-step GRU ("per_step")."""
    root = tmp_path_factory.mktemp("loop_passes")
    files = {}
    for kind in ("simple", "lstm", "per_step"):
        model = _per_step_model() if kind == "per_step" else _model(kind)
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


def _loop_variable_types(data: bytes) -> list[str]:
    """The types of the main subgraph's WHILE op inputs."""
    from export.tflite_file import type_name

    model = read(data)
    main = model.subgraphs[0]
    loop = next(op for op in main.operators
                if builtin_code(model, op) == BuiltinOperator.WHILE)
    return [type_name(main.tensors[t].type) for t in loop.inputs]


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
def test_int8_loops_carry_int8_states_with_the_same_outputs(step_files, kind):
    _, step = step_files[kind, "int8"]
    before = _looped(step, kind)
    after, changes = _tidied(before, integer=True)
    states = 2 if kind == "lstm" else 1
    assert changes.integer == states + 1 and changes.hoisted == 1  # states and the result
    assert changes.describe("int8") == (f"{states + 1} loop variable(s) stay int8 across "
                                        "steps; 1 last-step head(s) run once after the loop")
    # the states cross the loop boundary as int8 (counter and input sequence excepted), and
    # the head runs once after the loop, dequantized once
    assert _loop_variable_types(after)[2:] == ["INT8"] * states
    main = _ops(after)[0]
    assert main[main.index("WHILE") + 1:] == ["FULLY_CONNECTED", "DEQUANTIZE"]
    assert len(after) < len(before)
    xs = _adding_inputs(64, seed=3)
    np.testing.assert_allclose(_run(after, xs), _run(before, xs), atol=1e-6)


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


def test_int8_per_step_outputs_are_collected_as_int8(step_files):
    model, step = step_files["per_step", "int8"]
    before = loop_over_steps(step, length=T, input_name="sequence", state_names=["state_h_0"],
                             sequence_outputs=["y"])
    after, changes = _tidied(before, integer=True)
    assert changes.integer == 2 and changes.hoisted == 0  # the state and the sequence
    main, _, body = _ops(after)
    # the outputs are collected as int8 (at most the state is dequantized, at the top of the
    # step, where the step model quantizes it with another scale)
    assert "DYNAMIC_UPDATE_SLICE" in body and body.count("DEQUANTIZE") <= 1
    assert _loop_variable_types(after)[2:] == ["INT8", "INT8"]  # the state, the outputs
    assert main[main.index("WHILE") + 1:] == ["DEQUANTIZE"]  # once, for the whole sequence
    xs = _adding_inputs(32, seed=5)

    def run(data):
        runner = Interpreter(model_content=data, num_threads=1).get_signature_runner()
        return np.concatenate([runner(sequence=x[None])["y"] for x in xs])

    got = run(after)
    assert got.shape == (32, T, 2)
    np.testing.assert_allclose(got, run(before), atol=1e-6)
    assert np.abs(got - np.asarray(model(xs))).max() < 0.1


def test_the_export_note_names_the_integer_type_the_states_keep():
    from export.loop_passes import LoopChanges

    assert LoopChanges(integer=2).describe("int16x8") == \
        "2 loop variable(s) stay int16 across steps"
    assert LoopChanges(duplicates=1).describe("int8") == \
        "1 last-step result(s) read from the final state"
    assert not LoopChanges()
