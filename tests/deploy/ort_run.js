// Runs an exported ONNX model in ONNX Runtime (npm's onnxruntime-node) for the ONNX
// export tests and the speed comparison: one batch read from a raw float32 file, or
// timed repeated runs. Prints one JSON object on stdout.
//
//   node ort_run.js run <model.onnx> <input.f32> <N,C,H,W> <out-dir> [--optimization=disabled,all] [--threads=1]
//     writes every graph output to <out-dir>/<level>/<output name>.bin (raw, little-endian)
//     and prints {"outputs": {"<level>": [{"name", "type", "dims"}, ...]}}
//   node ort_run.js bench <model.onnx> [--batches=1,64] [--threads=1,2] [--runs=N] [--warmup=3]
//       [--optimization=all]
//     times runs of images of the model's input shape as `ewgs bench infer` does (N = 0: 200
//     at batch 1, else 20)
//     and prints {"onnxruntime": version, "results": [{"contender", "batch", "threads",
//     "runs", "p50_ms", "p90_ms", "p99_ms", "min_ms", "images_per_s"}, ...]}
'use strict';

const fs = require('fs');
const path = require('path');

function fail(message) {
  process.stderr.write(`ort_run.js: ${message}\n`);
  process.exit(2);
}

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    fail(`cannot load onnxruntime-node (${e.message.split('\n')[0]}); install it with scripts/install-ort.sh ` +
         'and put its node_modules on NODE_PATH');
  }
}

/// Positional arguments and --key=value options.
function parseArgs(argv) {
  const positional = [];
  const options = {};
  for (const a of argv) {
    const m = /^--([a-z_]+)=(.*)$/.exec(a);
    if (m) {
      options[m[1]] = m[2];
    } else if (a.startsWith('--')) {
      fail(`option ${a} needs a value (--key=value)`);
    } else {
      positional.push(a);
    }
  }
  return {positional, options};
}

function intList(text, what) {
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) {
    fail(`${what} must be positive integers separated by commas, got '${text}'`);
  }
  return values;
}

function levels(text) {
  const known = ['disabled', 'basic', 'extended', 'all'];
  const values = text.split(',');
  for (const v of values) {
    if (!known.includes(v)) {
      fail(`optimization level '${v}' is not one of ${known.join(', ')}`);
    }
  }
  return values;
}

function sessionOptions(level, threads) {
  return {graphOptimizationLevel: level, intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential'};
}

async function run(ort, args, options) {
  if (args.length !== 4) {
    fail('usage: run <model.onnx> <input.f32> <N,C,H,W> <out-dir> [--optimization=...] [--threads=N]');
  }
  const [model, inputPath, shapeText, outDir] = args;
  const dims = intList(shapeText, 'the input shape');
  if (dims.length !== 4) {
    fail(`the input shape must be N,C,H,W, got '${shapeText}'`);
  }
  const bytes = fs.readFileSync(inputPath);
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * 4) {
    fail(`${inputPath} holds ${bytes.length} bytes; shape ${dims.join('x')} needs ${count * 4}`);
  }
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, count);
  const threads = intList(options.threads || '1', '--threads')[0];
  const result = {};
  for (const level of levels(options.optimization || 'disabled')) {
    const session = await ort.InferenceSession.create(model, sessionOptions(level, threads));
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, dims)};
    const outputs = await session.run(feeds);
    const dir = path.join(outDir, level);
    fs.mkdirSync(dir, {recursive: true});
    result[level] = session.outputNames.map((name) => {
      const t = outputs[name];
      fs.writeFileSync(path.join(dir, `${name}.bin`), Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      return {name, type: t.type, dims: t.dims};
    });
  }
  process.stdout.write(JSON.stringify({outputs: result}) + '\n');
}

/// As `ewgs bench infer`: the value at rank round(p (n - 1)) of the sorted times, and the median.
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)))];
}

function median(sorted) {
  const n = sorted.length;
  return n % 2 === 1 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

async function bench(ort, args, options) {
  if (args.length !== 1) {
    fail('usage: bench <model.onnx> [--batches=1,64] [--threads=1,2] [--runs=N] [--warmup=3] [--optimization=all]');
  }
  const [model] = args;
  const warmup = Number(options.warmup || '3');
  const results = [];
  for (const level of levels(options.optimization || 'all')) {
    for (const threads of intList(options.threads || '1,2', '--threads')) {
      const session = await ort.InferenceSession.create(model, sessionOptions(level, threads));
      const image = session.inputMetadata[0].shape.slice(1); // (batch, C, H, W)
      for (const batch of intList(options.batches || '1,64', '--batches')) {
        const runs = Number(options.runs || '0') || (batch === 1 ? 200 : 20);
        const dims = [batch, ...image];
        const data = Float32Array.from({length: dims.reduce((a, b) => a * b, 1)}, (_, i) => Math.sin(i));
        const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, dims)};
        const ms = [];
        for (let i = 0; i < warmup + runs; ++i) {
          const start = process.hrtime.bigint();
          await session.run(feeds);
          if (i >= warmup) {
            ms.push(Number(process.hrtime.bigint() - start) / 1e6);
          }
        }
        ms.sort((a, b) => a - b);
        const p50 = median(ms);
        results.push({
          contender: `onnxruntime_${level}`, batch, threads, runs, p50_ms: p50, p90_ms: percentile(ms, 0.9),
          p99_ms: percentile(ms, 0.99), min_ms: ms[0], images_per_s: (batch / p50) * 1000,
        });
      }
    }
  }
  process.stdout.write(JSON.stringify({onnxruntime: ort.env.versions.node || ort.env.versions.common, results}) + '\n');
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const {positional, options} = parseArgs(rest);
  if (command !== 'run' && command !== 'bench') {
    fail('usage: node ort_run.js run|bench ... (see the header of this file)');
  }
  const ort = loadOrt();
  await (command === 'run' ? run : bench)(ort, positional, options);
}

main().catch((e) => fail(e.stack || String(e)));
