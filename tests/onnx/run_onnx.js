// run_onnx.js: the onnxruntime referee of recur's ONNX export (issue 9).
//   node run_onnx.js MODEL.onnx INPUT.npy EXPECTED.npy [TOL]
//   node run_onnx.js --probe      (exit 0 when onnxruntime-node loads, 77 when it does not)
// Runs MODEL.onnx in onnxruntime (onnxruntime-node, CPU) on INPUT.npy (int32/int64 token ids
// or float32, C order, little-endian) and compares its output `y` with EXPECTED.npy (float32,
// what `recur run` wrote): exit 0 and the largest difference when every value is within TOL
// (default 1e-5) of the expected one, exit 1 naming the first one that is not.
'use strict';
const fs = require('fs');
const path = require('path');
// onnxruntime-node from $RECUR_ORT_DIR, else this directory's node_modules, else Node's search.
function loadOrt() {
  const dirs = [process.env.RECUR_ORT_DIR, path.join(__dirname, 'node_modules')];
  for (const d of dirs)
    if (d && fs.existsSync(path.join(d, 'onnxruntime-node'))) return require(path.join(d, 'onnxruntime-node'));
  return require('onnxruntime-node');
}
let ort;
try { ort = loadOrt(); } catch (e) {
  console.error('onnxruntime-node is not installed (npm install onnxruntime-node in tests/onnx)');
  process.exit(77);
}
if (process.argv[2] === '--probe') process.exit(0);

// Parses a version 1-3 .npy file: {dtype, shape, data (a typed array)}.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(file + ': not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(file + ': Fortran order');
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim())
    .map((s) => parseInt(s, 10));
  const body = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length);
  const types = {'<f4': Float32Array, '<i4': Int32Array, '<i8': BigInt64Array};
  if (!types[descr]) throw new Error(file + ': dtype ' + descr + ' is not handled');
  return {dtype: descr, shape, data: new types[descr](body.slice(0))};
}

async function main() {
  const [model, input, expected, tolArg] = process.argv.slice(2);
  const tol = tolArg ? parseFloat(tolArg) : 1e-5;
  const x = readNpy(input), want = readNpy(expected);
  const session = await ort.InferenceSession.create(model);
  let feed;
  if (x.dtype === '<f4') {
    feed = new ort.Tensor('float32', x.data, x.shape);
  } else {
    const ids = BigInt64Array.from(x.data, (v) => BigInt(v));
    feed = new ort.Tensor('int64', ids, x.shape);
  }
  const out = await session.run({[session.inputNames[0]]: feed});
  const y = out.y;
  if (y.dims.join(',') !== want.shape.join(',')) {
    console.error(`${model}: output shape [${y.dims}] differs from recur's [${want.shape}]`);
    process.exit(1);
  }
  let worst = 0;
  for (let i = 0; i < y.data.length; i++) {
    const diff = Math.abs(y.data[i] - want.data[i]);
    if (!(diff <= tol)) {
      console.error(`${model}: y[${i}] = ${y.data[i]}, recur ran ${want.data[i]} (tol ${tol})`);
      process.exit(1);
    }
    worst = Math.max(worst, diff);
  }
  console.log(`${path.basename(model)}: ${y.data.length} values, max |diff| ${worst.toExponential(2)}`);
}

main().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
