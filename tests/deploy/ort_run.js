// Runs an exported ONNX model in ONNX Runtime (npm's onnxruntime-node) for the ONNX
// export tests and the speed comparison: one batch read from a raw float32 file, or
// timed repeated runs. Prints one JSON object on stdout.
//
//   node ort_run.js run <model.onnx> <input.f32> <N,C,H,W> <out-dir> [--optimization=disabled,all] [--threads=1]
//     writes every graph output to <out-dir>/<level>/<output name>.bin (raw, little-endian)
//     and prints {"outputs": {"<level>": [{"name", "type", "dims"}, ...]}}
//   node ort_run.js bench <model.onnx> <C,H,W> [--batches=1,64] [--threads=1,2] [--seconds=3]
//       [--optimization=all]
//     prints {"onnxruntime": version, "runs": [{"batch", "threads", "optimization", "runs",
//     "latency_ms": {"mean", "p50", "p90", "p99", "min"}, "images_per_s"}, ...]}
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

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function bench(ort, args, options) {
  if (args.length !== 2) {
    fail('usage: bench <model.onnx> <C,H,W> [--batches=1,64] [--threads=1,2] [--seconds=3] [--optimization=all]');
  }
  const [model, shapeText] = args;
  const image = intList(shapeText, 'the image shape');
  const seconds = Number(options.seconds || '3');
  const runs = [];
  for (const level of levels(options.optimization || 'all')) {
    for (const threads of intList(options.threads || '1,2', '--threads')) {
      const session = await ort.InferenceSession.create(model, sessionOptions(level, threads));
      for (const batch of intList(options.batches || '1,64', '--batches')) {
        const dims = [batch, ...image];
        const data = Float32Array.from({length: dims.reduce((a, b) => a * b, 1)}, (_, i) => Math.sin(i));
        const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, dims)};
        for (let w = 0; w < 5; ++w) {
          await session.run(feeds);
        }
        const times = [];
        const start = process.hrtime.bigint();
        while (times.length < 10 || Number(process.hrtime.bigint() - start) < seconds * 1e9) {
          const t0 = process.hrtime.bigint();
          await session.run(feeds);
          times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        const sorted = [...times].sort((a, b) => a - b);
        const mean = times.reduce((a, b) => a + b, 0) / times.length;
        runs.push({
          batch, threads, optimization: level, runs: times.length,
          latency_ms: {mean, p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9),
                       p99: percentile(sorted, 0.99), min: sorted[0]},
          images_per_s: (batch * 1000) / mean,
        });
      }
    }
  }
  process.stdout.write(JSON.stringify({onnxruntime: ort.env.versions.node || ort.env.versions.common, runs}) + '\n');
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
