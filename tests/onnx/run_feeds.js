// run_feeds.js: runs an ONNX model in onnxruntime on named inputs and saves every output.
//   node run_feeds.js MODEL.onnx OUTDIR NAME=FILE.npy ...
// Feeds each graph input NAME from FILE.npy (float32, int32 or int64, C order) and writes each
// graph output as OUTDIR/<output name>.npy (float32). Used to make the references of the
// imported ONNX node fixtures (tests/fixtures/onnx/nodes/make_nodes.py) and, when
// onnxruntime-node is installed, to re-check them live (tests/cli/onnx_import.sh).
'use strict';
const fs = require('fs');
const path = require('path');

// onnxruntime-node as run_onnx.js finds it ($RECUR_ORT_DIR, this directory, Node's search).
function loadOrt() {
  const dirs = [process.env.RECUR_ORT_DIR, path.join(__dirname, 'node_modules')];
  for (const d of dirs)
    if (d && fs.existsSync(path.join(d, 'onnxruntime-node'))) return require(path.join(d, 'onnxruntime-node'));
  return require('onnxruntime-node');
}

// Parses a version 1-3 .npy file: {dtype, shape, data}.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(file + ': not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim())
    .map((s) => parseInt(s, 10));
  const body = buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length);
  const types = {'<f4': ['float32', Float32Array], '<i4': ['int32', Int32Array],
                 '<i8': ['int64', BigInt64Array]};
  if (!types[descr] || /'fortran_order':\s*True/.test(header))
    throw new Error(file + ': not a C-order float32/int32/int64 array');
  return new ort.Tensor(types[descr][0], new types[descr][1](body.slice(0)), shape);
}

// Writes a float32 tensor as a version 1 .npy file.
function writeNpy(file, t) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.dims.join(', ')}${t.dims.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1, pre[7] = 0, pre.writeUInt16LE(header.length, 8);
  const data = Buffer.from(Float32Array.from(t.data).buffer);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), data]));
}

let ort;
async function main() {
  ort = loadOrt();
  const [model, outdir, ...feeds] = process.argv.slice(2);
  const feed = {};
  for (const f of feeds) {
    const eq = f.indexOf('=');
    feed[f.slice(0, eq)] = readNpy(f.slice(eq + 1));
  }
  const session = await ort.InferenceSession.create(model);
  const out = await session.run(feed);
  for (const name of session.outputNames) writeNpy(path.join(outdir, name + '.npy'), out[name]);
}

main().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
