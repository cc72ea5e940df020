#!/usr/bin/env node
'use strict';
/*
 * Times ONNX Runtime (its CPU execution provider, from the onnxruntime-node
 * package) on ONNX models end to end, for the comparison with
 * `colconv-bench --model` and `bench/vs_torch.py --model`, and writes the
 * times in colconv-bench's JSON schema ("networks" entries, path
 * "onnxruntime"; bench/README.md).
 *
 *   cd bench && npm install --ignore-scripts    # ONNX Runtime 1.30 (package.json)
 *   node bench/vs_ort.js MODEL.onnx [...] [--threads 1,2] [--batch 1] [--reps 15]
 *                        [--warmup 3] [--json FILE]
 *
 * Each model, for each thread count: a session with intraOpNumThreads = the
 * count, interOpNumThreads 1, sequential execution, every graph
 * optimisation; a random input (uniform [0, 1), the declared shape with the
 * symbolic batch set to --batch); --warmup untimed runs, then --reps timed
 * ones (median, min, max). When NAME.x.npy and NAME.y.npy lie beside
 * NAME.onnx (tools/make_onnx_models.py writes them), ONNX Runtime's output
 * for x is also compared with y (PyTorch's) and the largest difference
 * printed: a check that the file means what PyTorch meant.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

function usage(message) {
  if (message) console.error('vs_ort.js: ' + message);
  console.error('usage: node bench/vs_ort.js MODEL.onnx [MODEL.onnx ...] [--threads N[,N...]] ' +
                '[--batch N] [--reps N] [--warmup N] [--json FILE]');
  process.exit(2);
}

function positive(text, name, min) {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > 4096) usage('bad ' + name + ' \'' + text + '\'');
  return v;
}

function parseArgs(argv) {
  const a = { models: [], threads: [os.cpus().length], batch: 1, reps: 15, warmup: 3,
              json: 'colconv-report/ort.json' };
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i];
    if (opt === '--help' || opt === '-h') usage();
    if (!opt.startsWith('--')) { a.models.push(opt); continue; }
    const value = argv[++i];
    if (value === undefined) usage('missing value after ' + opt);
    if (opt === '--threads') a.threads = value.split(',').map((t) => positive(t, '--threads', 1));
    else if (opt === '--batch') a.batch = positive(value, '--batch', 1);
    else if (opt === '--reps') a.reps = positive(value, '--reps', 1);
    else if (opt === '--warmup') a.warmup = positive(value, '--warmup', 0);
    else if (opt === '--json') a.json = value;
    else usage('unknown option ' + opt);
  }
  if (a.models.length === 0) usage('no model given');
  for (const m of a.models) if (!m.endsWith('.onnx') || !fs.existsSync(m)) usage('no model ' + m);
  return a;
}

/* numpy.save's float32 files: magic, version, header dict, data (npy.h). */
function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(file + ': not .npy');
  const v1 = b[6] === 1;
  const len = v1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (v1 ? 10 : 12) + len;
  const header = b.toString('latin1', v1 ? 10 : 12, start);
  if (!header.includes("'<f4'") || header.includes('True')) throw new Error(file + ': not <f4, C order');
  const dims = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').filter((d) => d.trim() !== '');
  const shape = dims.map((d) => parseInt(d, 10));
  const count = shape.reduce((p, d) => p * d, 1);
  if (b.length - start !== 4 * count) throw new Error(file + ': data does not match the shape');
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = b.readFloatLE(start + 4 * i);
  return { shape, data };
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

function inputShape(session, batch) {
  const meta = session.inputMetadata[0];
  return meta.shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? batch : 1));
}

async function time(ort, session, shape, reps, warmup) {
  const count = shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(count);
  let state = 2024;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = (state >>> 8) / 16777216;
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((x, y) => x - y);
  return { median: median(ms), min: ms[0], max: ms[ms.length - 1], reps: ms.length };
}

/* Largest |ORT - PyTorch| on the committed input, and the tolerance the
 * golden tests use, 1e-4 * max(1, max |PyTorch|); null without the files. */
async function check(ort, session, model) {
  const base = model.slice(0, -'.onnx'.length);
  if (!fs.existsSync(base + '.x.npy') || !fs.existsSync(base + '.y.npy')) return null;
  const x = readNpy(base + '.x.npy');
  const y = readNpy(base + '.y.npy');
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
  const out = (await session.run(feeds))[session.outputNames[0]].data;
  let diff = out.length === y.data.length ? 0 : Infinity;
  let peak = 1;
  for (let i = 0; i < y.data.length && diff !== Infinity; i++) {
    const d = Math.abs(out[i] - y.data[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    peak = Math.max(peak, Math.abs(y.data[i]));
  }
  return { diff, tolerance: 1e-4 * peak };
}

function cpuModel() {
  const cpus = os.cpus();
  return cpus.length ? cpus[0].model : 'unknown';
}

function entry(model, threads, batch, shape, t) {
  return {
    net: path.basename(model), source: 'onnx', layer: '(network)',
    desc: 'mb' + batch + 'ic' + shape[1] + 'ih' + (shape[2] || 1) + 'iw' + (shape[3] || 1),
    path: 'onnxruntime', threads, batch, layout: 'nchw',
    ms_median: t.median, ms_min: t.min, ms_max: t.max, reps: t.reps,
    images_per_s: batch / (t.median * 1e-3), status: 'ok', error: '',
  };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    console.error('vs_ort.js: onnxruntime-node not found: cd bench && npm install --ignore-scripts');
    process.exit(2);
  }
  const networks = [];
  console.log('%s %s %s %s %s', 'model'.padEnd(24), 'thr'.padStart(3), 'ort ms'.padStart(10),
              '[min - max]'.padStart(22), 'check vs PyTorch');
  for (const model of a.models) {
    for (const threads of a.threads) {
      const session = await ort.InferenceSession.create(model, {
        intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      const shape = inputShape(session, a.batch);
      const t = await time(ort, session, shape, a.reps, a.warmup);
      const c = await check(ort, session, model);
      const verdict = c === null ? '-' : 'max diff ' + c.diff.toExponential(2) +
        (c.diff <= c.tolerance ? ' ok' : ' OVER ' + c.tolerance.toExponential(2));
      console.log('%s %s %s %s %s', path.basename(model).padEnd(24), String(threads).padStart(3),
                  t.median.toFixed(3).padStart(10),
                  ('[' + t.min.toFixed(3) + ' - ' + t.max.toFixed(3) + ']').padStart(22), verdict);
      networks.push(entry(model, threads, a.batch, shape, t));
      if (session.release) await session.release();
    }
  }
  const report = {
    schema: 'colconv-bench-report/1', tool: 'vs_ort.js',
    env: {
      cpu_model: cpuModel(), cores: os.cpus().length, threads: a.threads,
      onnxruntime_version: ort.env.versions.common, node: process.version,
      date: new Date().toISOString().replace('T', ' ').replace(/\..*/, ' UTC'),
      load_average: os.loadavg()[0],
    },
    layers: [], networks,
  };
  if (path.dirname(a.json)) fs.mkdirSync(path.dirname(a.json), { recursive: true });
  fs.writeFileSync(a.json, JSON.stringify(report, null, 1) + '\n');
  console.log('Report: ' + a.json);
}

main().catch((e) => {
  console.error('vs_ort.js: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
