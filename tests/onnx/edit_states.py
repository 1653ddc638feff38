"""Breaks the --states pattern of an ONNX file recur exported (tests/cli/onnx_import.sh checks
the import refuses it): `rows` makes the last stacked level's initial c read row 0 (the first
level's row) instead of its own; `order` concatenates the first final states in the wrong order.
Usage: edit_states.py IN.onnx OUT.onnx rows|order"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper

m = onnx.load(sys.argv[1])
g = m.graph
if sys.argv[3] == "rows":
    rows = [t for t in g.initializer if ".rows_" in t.name]
    rows[-1].CopyFrom(numpy_helper.from_array(np.array([0], np.int64), rows[-1].name))
else:
    n = [n for n in g.node if n.op_type == "Concat"][0]
    n.input[0], n.input[1] = n.input[1], n.input[0]
onnx.save(m, sys.argv[2])
