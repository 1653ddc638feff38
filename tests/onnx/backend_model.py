"""backend_model.py DIR OUT: one ONNX backend node test (Debian's libonnx-testdata, DIR =
.../data/node/test_lstm_defaults) as recur imports and runs it, written to the directory OUT:
  model.onnx  the graph with its weight inputs (W, R, B, P) folded into initializers; X and,
              when the node has them, sequence_lens, initial_h and initial_c stay graph inputs
              (recur takes them at run time); every output is kept (Y, Y_h, Y_c);
  x.npy       X, time-major as `recur run` reads it (a layout=1 X is transposed);
  y.npy       output_0 as recur writes it (float32; Y as [T, B, H], or Y_h as [B, H]: the
              imported model ends in pool(last));
  lengths.npy sequence_lens (int32 [B]), for `recur run --lengths`, when the node has it;
  state.safetensors  initial_h/initial_c as LABEL.h0/LABEL.c0 [D, B, H] for --state-in (a
              missing one as zeros: recur needs every state), when the node has either;
  final.safetensors  Y_h/Y_c under the same names, what `recur run --state-out` must write;
  label       LABEL: recur's label for the node (its name's first path component, else L1).
/usr/bin/python3 with python3-onnx; used by tests/cli/onnx_import.sh."""
import glob
import json
import os
import re
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def save_safetensors(path, tensors):
    header, blob = {}, b""
    for name, t in tensors.items():
        raw = np.ascontiguousarray(t, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    text = json.dumps(header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as fh:
        t.ParseFromString(fh.read())
    return numpy_helper.to_array(t)


def label_of(node):
    m = re.match(r"/?([A-Za-z][A-Za-z0-9_]*)(/|$)", node.name)
    return m.group(1) if m else "L1"


def main():
    d, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    m = onnx.load(os.path.join(d, "model.onnx"))
    g, node = m.graph, m.graph.node[0]
    data = [load_pb(f) for f in sorted(glob.glob(os.path.join(d, "test_data_set_0", "input_*.pb")))]
    value = dict(zip([i.name for i in g.input], data))
    runtime = {k: node.input[k] for k in (4, 5, 6) if k < len(node.input) and node.input[k]}
    keep = [i for i in g.input if i.name == node.input[0] or i.name in runtime.values()]
    for i in g.input:
        if i not in keep:
            g.initializer.append(numpy_helper.from_array(value[i.name], i.name))
    del g.input[:]
    g.input.extend(keep)
    onnx.save(m, os.path.join(out, "model.onnx"))
    layout = [a.i for a in node.attribute if a.name == "layout"]
    batch_major = bool(layout and layout[0])
    hidden = [a.i for a in node.attribute if a.name == "hidden_size"][0]
    label = label_of(node)
    with open(os.path.join(out, "label"), "w") as f:
        f.write(label + "\n")
    x = value[node.input[0]].astype(np.float32)
    if batch_major:         # layout=1: X [B, T, I]; recur runs time-major
        x = x.transpose(1, 0, 2)
    np.save(os.path.join(out, "x.npy"), np.ascontiguousarray(x))
    outs = {o.name: load_pb(os.path.join(d, "test_data_set_0", "output_%d.pb" % k)).astype(np.float32)
            for k, o in enumerate(g.output)}
    states = lambda a: a.transpose(1, 0, 2) if batch_major else a   # [D, B, H]
    if 4 in runtime:
        np.save(os.path.join(out, "lengths.npy"), value[runtime[4]].astype(np.int32))
    if 5 in runtime or 6 in runtime:
        b, dirs = x.shape[1], 2 if any(a.name == "direction" and a.s == b"bidirectional"
                                       for a in node.attribute) else 1
        st = {}
        for k, s in ((5, "h"), (6, "c")):
            if k in runtime:
                st["%s.%s0" % (label, s)] = states(value[runtime[k]].astype(np.float32))
            elif s == "h" or node.op_type == "LSTM":
                st["%s.%s0" % (label, s)] = np.zeros((dirs, b, hidden), np.float32)
        save_safetensors(os.path.join(out, "state.safetensors"), st)
    final = {}
    for k, s in ((1, "h"), (2, "c")):
        if k < len(node.output) and node.output[k] in outs:
            final["%s.%s0" % (label, s)] = states(outs[node.output[k]])
    if final:
        save_safetensors(os.path.join(out, "final.safetensors"), final)
    y = outs[g.output[0].name]
    if batch_major and y.ndim == 4:         # Y [B, T, 1, H]: recur's [T, B, H]
        y = y.transpose(1, 0, 2, 3)[:, :, 0]
    elif batch_major and y.ndim == 3:       # Y_h [B, 1, H]
        y = y[:, 0]
    elif y.ndim == 4 and y.shape[1] == 1:   # Y [T, 1, B, H]: recur's [T, B, H]
        y = y[:, 0]
    elif y.ndim == 3 and y.shape[0] == 1:   # Y_h [1, B, H]: recur's pool(last), [B, H]
        y = y[0]
    np.save(os.path.join(out, "y.npy"), np.ascontiguousarray(y))


if __name__ == "__main__":
    main()
