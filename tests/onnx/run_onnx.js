// run_onnx.js: the onnxruntime referee of recur's ONNX export (issue 9).
//   node run_onnx.js MODEL.onnx INPUT.npy EXPECTED.npy|- [TOL] [--feed S.safetensors]
//                    [--write OUT.safetensors] [--states-out S2.safetensors] [--step]
//   node run_onnx.js --make-states MODEL.onnx INPUT.npy SEED S.safetensors
//   node run_onnx.js --probe      (exit 0 when onnxruntime-node loads, 77 when it does not)
// Runs MODEL.onnx in onnxruntime (onnxruntime-node, CPU) on INPUT.npy (int32/int64 token ids
// or float32, C order, little-endian), fed to the first graph input, and compares its output
// `y` with EXPECTED.npy (float32, what `recur run` wrote; "-": no comparison): exit 0 and the
// largest difference when every value is within TOL (default 1e-5) of the expected one, exit 1
// naming the first one that is not.
//   --feed: every tensor of S (float32 safetensors) is fed to the graph input of its name (the
//     state inputs of `recur convert --states`, named as `recur run --state-in`'s tensors);
//   --write: every graph output into OUT under its ONNX name;
//   --states-out: the final-state outputs "final.NAME" into S2 as "NAME" (a `recur run
//     --state-in` file, comparable with `recur run --state-out`'s);
//   --step: runs the model one time step at a time (INPUT[t:t+1]), each step fed the previous
//     step's final states ("final.NAME" -> "NAME"); y is the steps' y concatenated on the time
//     axis (a y without one, after a pool, is not compared), the final states the last step's.
//   --make-states: writes S with a uniform(-1, 1) tensor (seeded) for every graph input but the
//     first, shaped as the model declares it with its symbolic dimension B = INPUT's axis 1.
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

// Reads a float32 safetensors file: {name: {shape, data (Float32Array)}}.
function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${file}: tensor ${name} is ${t.dtype}, not F32`);
    const [b, e] = t.data_offsets;
    const bytes = buf.subarray(8 + n + b, 8 + n + e);
    out[name] = {shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset,
      bytes.byteOffset + bytes.length))};
  }
  return out;
}

// Writes {name: {shape, data}} (float32) as a safetensors file, names in the given order.
function writeSafetensors(file, tensors) {
  const header = {};
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = {dtype: 'F32', shape: t.shape, data_offsets: [at, at + 4 * t.data.length]};
    at += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const body = Buffer.concat(Object.values(tensors).map((t) =>
    Buffer.from(t.data.buffer, t.data.byteOffset, 4 * t.data.length)));
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(json), body]));
}

// The onnxruntime tensor of rows [t0, t1) of the time axis (axis 0) of npy array x.
function inputTensor(x, t0, t1) {
  const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = x.data.subarray(t0 * per, t1 * per);
  const shape = [t1 - t0, ...x.shape.slice(1)];
  if (x.dtype === '<f4') return new ort.Tensor('float32', Float32Array.from(data), shape);
  return new ort.Tensor('int64', BigInt64Array.from(data, (v) => BigInt(v)), shape);
}

// A small seeded generator (mulberry32) for --make-states: uniform in [-1, 1).
function uniform(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return 2 * (((t ^ (t >>> 14)) >>> 0) / 4294967296) - 1;
  };
}

// --make-states MODEL INPUT SEED OUT: random initial states for every input but the first.
async function makeStates(model, input, seed, outFile) {
  const session = await ort.InferenceSession.create(model);
  const B = readNpy(input).shape[1], next = uniform(parseInt(seed, 10));
  const states = {};
  for (const m of session.inputMetadata.slice(1)) {
    const shape = m.shape.map((d) => (typeof d === 'number' ? d : B));
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => next());
    states[m.name] = {shape, data};
  }
  writeSafetensors(outFile, states);
  console.log(`${path.basename(outFile)}: ${Object.keys(states).length} states`);
}

// The options after the positional arguments.
function parseOptions(args) {
  const o = {feed: null, write: null, statesOut: null, step: false, pos: []};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--feed') o.feed = args[++i];
    else if (args[i] === '--write') o.write = args[++i];
    else if (args[i] === '--states-out') o.statesOut = args[++i];
    else if (args[i] === '--step') o.step = true;
    else if (args[i].startsWith('--')) throw new Error('unknown option ' + args[i]);
    else o.pos.push(args[i]);
  }
  return o;
}

// Runs the session over x (whole, or a step at a time) from the fed states: every output, y
// concatenated over the steps when stepping.
async function runAll(session, x, feedFile, step) {
  const feed = {};
  if (feedFile)
    for (const [name, t] of Object.entries(readSafetensors(feedFile)))
      feed[name] = new ort.Tensor('float32', t.data, t.shape);
  const T = x.shape[0];
  if (!step) return session.run({...feed, [session.inputNames[0]]: inputTensor(x, 0, T)});
  const ys = [];
  let out;
  for (let t = 0; t < T; t++) {
    out = await session.run({...feed, [session.inputNames[0]]: inputTensor(x, t, t + 1)});
    for (const name of session.outputNames)
      if (name.startsWith('final.')) feed[name.slice(6)] = out[name];
    ys.push(out.y);
  }
  if (out.y.dims.length !== 3) return {...out, y: null};   // pooled: only the states step
  const per = out.y.data.length, y = new Float32Array(per * T);
  ys.forEach((v, t) => y.set(v.data, t * per));
  return {...out, y: new ort.Tensor('float32', y, [T, ...out.y.dims.slice(1)])};
}

// Compares y with the expected array; exits 1 on the first value outside tol.
function compare(model, y, want, tol) {
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
  return worst;
}

async function main() {
  if (process.argv[2] === '--make-states') return makeStates(...process.argv.slice(3, 7));
  const o = parseOptions(process.argv.slice(2));
  const [model, input, expected, tolArg] = o.pos;
  const tol = tolArg ? parseFloat(tolArg) : 1e-5;
  const x = readNpy(input);
  const session = await ort.InferenceSession.create(model);
  const out = await runAll(session, x, o.feed, o.step);
  // the outputs whose names pass keep, renamed by rename
  const tensors = (keep, rename) => Object.fromEntries(session.outputNames.filter(keep).map((n) =>
    [rename(n), {shape: out[n].dims, data: out[n].data}]));
  if (o.write) writeSafetensors(o.write, tensors((n) => out[n] !== null, (n) => n));
  if (o.statesOut)
    writeSafetensors(o.statesOut, tensors((n) => n.startsWith('final.'), (n) => n.slice(6)));
  const what = `${path.basename(model)}${o.step ? ` (${x.shape[0]} steps)` : ''}`;
  if (expected === '-' || (o.step && !out.y)) {
    console.log(`${what}: y not compared${o.step && !out.y ? ' (no time axis to step)' : ''}`);
    return;
  }
  const worst = compare(model, out.y, readNpy(expected), tol);
  console.log(`${what}: ${out.y.data.length} values, max |diff| ${worst.toExponential(2)}`);
}

main().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
