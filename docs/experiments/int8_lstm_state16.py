"""Experiment (issue 14, part 2): an int8 LSTM step loop that carries gates and cell at 16 bits.

Not part of the package: a measured prototype for the adding-lstm preset (one LSTM layer and a
Dense head), written op by op as TFLite builtin ops and run in `export.step_loop`'s WHILE loop.
Recipe, per gate k of i, f, g, o (each with its own weight scale):

    zx_k = FULLY_CONNECTED(x int16, Wx_k int8, b_k int32) -> int16     (the input part, cheap)
    zh_k = FULLY_CONNECTED(h int8,  Wh_k int8)            -> int8      (the recurrent part)
    z_k  = ADD(zx_k, QUANTIZE(zh_k) int16)                -> int16
    a_k  = LOGISTIC / TANH(z_k)                           -> int16 (scale 1/32768)
    c'   = ADD(MUL(a_f, c), MUL(a_i, a_g)) int16;  h' = MUL(a_o, TANH(c')) int16
    y    = FULLY_CONNECTED(QUANTIZE(h') int8, Wd int8, bd int32) -> int8

Ranges: min/max of the float model over whole calibration sequences (200 training sequences).
Run from the repository root::

    PYTHONPATH=. python docs/experiments/int8_lstm_state16.py
"""

from __future__ import annotations

import numpy as np
from tensorflow.lite.python import schema_py_generated as fb
from tensorflow.lite.tools import flatbuffer_utils

import export
import tasks
import zoo
from export.step_loop import _Graph, _tensor_map, loop_over_steps

I8, I16, I32, F32 = (fb.TensorType.INT8, fb.TensorType.INT16, fb.TensorType.INT32,
                     fb.TensorType.FLOAT32)
GATES = "ifgo"


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def calibrate(weights, sequences: np.ndarray) -> dict:
    """{name: (min, max)} of every quantized tensor, over all steps of ``sequences``."""
    wx, wh, b, wd, bd = weights
    ranges: dict = {}

    def note(name, value):
        lo, hi = ranges.get(name, (np.inf, -np.inf))
        ranges[name] = (min(lo, value.min()), max(hi, value.max()))

    h = np.zeros((len(sequences), wh.shape[0]))
    c = np.zeros_like(h)
    for t in range(sequences.shape[1]):
        x = sequences[:, t]
        zx, zh = x @ wx + b, h @ wh
        note("x", x)
        for k, a, bb in zip(GATES, np.split(zx, 4, 1), np.split(zh, 4, 1)):
            note("zx" + k, a)
            note("zh" + k, bb)
            note("z" + k, a + bb)
        zi, zf, zg, zo = np.split(zx + zh, 4, 1)
        c = _sigmoid(zf) * c + _sigmoid(zi) * np.tanh(zg)
        h = _sigmoid(zo) * np.tanh(c)
        note("c", c)
        note("h", h)
        note("y", h @ wd + bd)
    return ranges


def step_file(weights, ranges: dict) -> bytes:
    """The TFLite step model (inputs sequence, state_h_0, state_c_0; float at the boundary)."""
    wx, wh, b, wd, bd = weights
    units, features = wh.shape[0], wx.shape[0]
    model = fb.ModelT()
    model.version, model.buffers, model.operatorCodes = 3, [fb.BufferT()], []
    model.subgraphs = [fb.SubGraphT()]
    g = _Graph(model, model.subgraphs[0])

    def params(scale, zero=0):
        q = fb.QuantizationParametersT()
        q.scale, q.zeroPoint = [float(scale)], [int(zero)]
        return q

    def int8(name):  # asymmetric, the range widened to hold 0
        lo, hi = min(ranges[name][0], 0.0), max(ranges[name][1], 0.0)
        scale = (hi - lo) / 255
        return params(scale, np.round(-128 - lo / scale))

    def int16(name):  # symmetric
        return params(max(abs(v) for v in ranges[name]) / 32767)

    def tensor(name, shape, dtype, q=None, data=None):
        index = g.tensor(name, shape, dtype, data=data)
        g.sg.tensors[index].quantization = q
        return index

    def op(code, inputs, outputs, options=None):
        kinds = {fb.AddOptionsT: fb.BuiltinOptions.AddOptions,
                 fb.MulOptionsT: fb.BuiltinOptions.MulOptions,
                 fb.FullyConnectedOptionsT: fb.BuiltinOptions.FullyConnectedOptions}
        g.op(code, inputs, outputs, kinds.get(type(options), 0), options)

    def add16(a, b_, out):
        options = fb.AddOptionsT()
        options.potScaleInt16 = False  # general int16 scales
        op(fb.BuiltinOperator.ADD, [a, b_], [out], options)

    unit = params(1 / 32768)
    x_f = tensor("sequence", [1, features], F32)
    h_f = tensor("state_h_0", [1, units], F32)
    c_f = tensor("state_c_0", [1, units], F32)
    x16 = tensor("x16", [1, features], I16, int16("x"))
    h8 = tensor("h8", [1, units], I8, int8("h"))
    c16 = tensor("c16", [1, units], I16, int16("c"))
    for source, target in ((x_f, x16), (h_f, h8), (c_f, c16)):
        op(fb.BuiltinOperator.QUANTIZE, [source], [target])
    gates = {}
    for k, wx_k, wh_k, b_k in zip(GATES, np.split(wx, 4, 1), np.split(wh, 4, 1), np.split(b, 4)):
        sx, sh = np.abs(wx_k).max() / 127, np.abs(wh_k).max() / 127
        sb = g.sg.tensors[x16].quantization.scale[0] * sx
        w = tensor(f"wx_{k}", [units, features], I8, params(sx),
                   np.round(wx_k.T / sx).astype(np.int8))
        bias = tensor(f"b_{k}", [units], I32, params(sb), np.round(b_k / sb).astype(np.int32))
        zx = tensor(f"zx_{k}", [1, units], I16, int16("zx" + k))
        op(fb.BuiltinOperator.FULLY_CONNECTED, [x16, w, bias], [zx], fb.FullyConnectedOptionsT())
        w = tensor(f"wh_{k}", [units, units], I8, params(sh),
                   np.round(wh_k.T / sh).astype(np.int8))
        zh8 = tensor(f"zh8_{k}", [1, units], I8, int8("zh" + k))
        op(fb.BuiltinOperator.FULLY_CONNECTED, [h8, w, -1], [zh8], fb.FullyConnectedOptionsT())
        zh = tensor(f"zh_{k}", [1, units], I16, int16("zh" + k))
        op(fb.BuiltinOperator.QUANTIZE, [zh8], [zh])
        z = tensor(f"z_{k}", [1, units], I16, int16("z" + k))
        add16(zx, zh, z)
        gates[k] = tensor(f"a_{k}", [1, units], I16, unit)
        op(fb.BuiltinOperator.TANH if k == "g" else fb.BuiltinOperator.LOGISTIC, [z], [gates[k]])
    fc = tensor("fc", [1, units], I16, int16("c"))
    op(fb.BuiltinOperator.MUL, [gates["f"], c16], [fc], fb.MulOptionsT())
    ig = tensor("ig", [1, units], I16, unit)
    op(fb.BuiltinOperator.MUL, [gates["i"], gates["g"]], [ig], fb.MulOptionsT())
    c_new = tensor("c_new", [1, units], I16, int16("c"))
    add16(fc, ig, c_new)
    tanh_c = tensor("tanh_c", [1, units], I16, unit)
    op(fb.BuiltinOperator.TANH, [c_new], [tanh_c])
    h16 = tensor("h16", [1, units], I16, unit)
    op(fb.BuiltinOperator.MUL, [gates["o"], tanh_c], [h16], fb.MulOptionsT())
    head_in = tensor("head_in", [1, units], I8, int8("h"))
    op(fb.BuiltinOperator.QUANTIZE, [h16], [head_in])
    sd = np.abs(wd).max() / 127
    sb = g.sg.tensors[head_in].quantization.scale[0] * sd
    w = tensor("wd", [1, units], I8, params(sd), np.round(wd.T / sd).astype(np.int8))
    bias = tensor("bd", [1], I32, params(sb), np.round(bd / sb).astype(np.int32))
    y8 = tensor("y8", [1, 1], I8, int8("y"))
    op(fb.BuiltinOperator.FULLY_CONNECTED, [head_in, w, bias], [y8], fb.FullyConnectedOptionsT())
    outputs = {"state_c_0": c_new, "state_h_0": h16, "sum": y8}
    for name, index in outputs.items():
        outputs[name] = tensor(f"{name}_out", [1, 1 if name == "sum" else units], F32)
        op(fb.BuiltinOperator.DEQUANTIZE, [index], [outputs[name]])
    g.sg.inputs, g.sg.outputs, g.sg.name = [x_f, h_f, c_f], list(outputs.values()), "main"
    signature = fb.SignatureDefT()
    signature.signatureKey, signature.subgraphIndex = "serving_default", 0
    signature.inputs = [_tensor_map(n, i) for n, i in
                        (("sequence", x_f), ("state_h_0", h_f), ("state_c_0", c_f))]
    signature.outputs = [_tensor_map(n, i) for n, i in outputs.items()]
    model.signatureDefs = [signature]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def main() -> None:
    preset, task = zoo.load("adding-lstm"), tasks.get_task("adding")
    lstm, head = preset.model.get_layer("lstm"), preset.model.get_layer("sum")
    weights = [np.asarray(w, np.float64) for w in lstm.get_weights() + head.get_weights()]
    sequences = np.stack([np.asarray(r)[0] for r in task.representative(None, 200, length=100)])
    step = step_file(weights, calibrate(weights, sequences.astype(np.float64)))
    path = "/tmp/adding-lstm.int8-state16.tflite"
    with open(path, "wb") as out:
        out.write(loop_over_steps(step, length=100, input_name="sequence",
                                  state_names=["state_h_0", "state_c_0"]))
    data = list(task.load(None, "validation", length=100).take(1000).as_numpy_iterator())
    xs = np.stack([x for x, _ in data])
    ys = np.stack([y for _, y in data]).reshape(-1)
    runner = export.TFLiteRunner(path)
    got = np.asarray(runner.predict(xs)).reshape(-1)
    print(f"{path}: mse {np.mean((got - ys) ** 2):.6g}, "
          f"ms {runner.latency_ms(xs[:1]):.3f} per sequence (1 thread, batch 1)")


if __name__ == "__main__":
    main()
