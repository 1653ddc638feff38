"""backend_model.py DIR OUT.onnx OUT_INPUT.npy OUT_EXPECTED.npy: one ONNX backend node test
(Debian's libonnx-testdata, DIR = .../data/node/test_lstm_defaults) as recur imports it: the
graph inputs after the first (W, R, B, ...) become initializers with their test values, the
first input X is saved as the input (time-major, as recur runs it: a layout=1 X is transposed)
and output_0 as the expected output (float32, with the direction axis of Y or Y_h dropped and
time-major, as recur writes them); the graph keeps output_0 only.
/usr/bin/python3 with python3-onnx; used by tests/cli/onnx_import.sh."""
import glob
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main():
    d, out, x_out, y_out = sys.argv[1:5]
    m = onnx.load(os.path.join(d, "model.onnx"))
    data = sorted(glob.glob(os.path.join(d, "test_data_set_0", "input_*.pb")))
    tensors = []
    for f in data:
        t = onnx.TensorProto()
        with open(f, "rb") as fh:
            t.ParseFromString(fh.read())
        tensors.append(t)
    g = m.graph
    names = [i.name for i in g.input]
    for name, t in zip(names[1:], tensors[1:]):
        t.name = name
        g.initializer.append(t)
    keep = g.input[0]
    del g.input[:]
    g.input.append(keep)
    del g.output[1:]        # output_0 is compared (Y, or Y_h when it is the only output)
    onnx.save(m, out)
    layout = [a.i for a in g.node[0].attribute if a.name == "layout"]
    batch_major = bool(layout and layout[0])
    x = numpy_helper.to_array(tensors[0]).astype(np.float32)
    if batch_major:         # layout=1: X [B, T, I]; recur runs time-major
        x = x.transpose(1, 0, 2)
    np.save(x_out, np.ascontiguousarray(x))
    t = onnx.TensorProto()
    with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "rb") as fh:
        t.ParseFromString(fh.read())
    y = numpy_helper.to_array(t).astype(np.float32)
    if batch_major and y.ndim == 4:         # Y [B, T, 1, H]: recur's [T, B, H]
        y = y.transpose(1, 0, 2, 3)[:, :, 0]
    elif batch_major and y.ndim == 3:       # Y_h [B, 1, H]
        y = y[:, 0]
    elif y.ndim == 4 and y.shape[1] == 1:   # Y [T, 1, B, H]: recur's [T, B, H]
        y = y[:, 0]
    elif y.ndim == 3 and y.shape[0] == 1:   # Y_h [1, B, H]: recur's pool(last), [B, H]
        y = y[0]
    np.save(y_out, np.ascontiguousarray(y))


if __name__ == "__main__":
    main()
