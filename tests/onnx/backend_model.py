"""backend_model.py DIR OUT.onnx OUT_INPUT.npy OUT_EXPECTED.npy: one ONNX backend node test
(Debian's libonnx-testdata, DIR = .../data/node/test_lstm_defaults) as recur imports it: the
graph inputs after the first (W, R, B, ...) become initializers with their test values, the
first input X is saved as the input and output_0 as the expected output (float32, with the
direction axis of Y or Y_h dropped, as recur writes them).
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
    onnx.save(m, out)
    np.save(x_out, numpy_helper.to_array(tensors[0]).astype(np.float32))
    t = onnx.TensorProto()
    with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "rb") as fh:
        t.ParseFromString(fh.read())
    y = numpy_helper.to_array(t).astype(np.float32)
    if y.ndim == 4 and y.shape[1] == 1:     # Y [T, 1, B, H]: recur's [T, B, H]
        y = y[:, 0]
    elif y.ndim == 3 and y.shape[0] == 1:   # Y_h [1, B, H]: recur's pool(last), [B, H]
        y = y[0]
    np.save(y_out, np.ascontiguousarray(y))


if __name__ == "__main__":
    main()
