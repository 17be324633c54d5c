// Runs the web demo's platform-free code under Node for the Python tests (tests/test_apps.py):
//   node core-probe.mjs views CONTRACT.json...   -> one parsed contract view (JSON) per line
//   node core-probe.mjs tiles CASES.json         -> tile plans for [[height, width, tile_h, tile_w, overlap], ...]
//   node core-probe.mjs pixels                   -> pixel <-> tensor round trips for every layout and dtype
//   node core-probe.mjs run MODEL.onnx INPUT.f32 H W LEVEL OUTPUT.f32
//                                                -> onnxruntime-web's WebAssembly kernels under Node on an
//                                                   NCHW float32 input (the page's runtime without the page)
// A contract that does not parse prints {"error": "..."} on its line.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { contractView } from '../js/contract.js';
import { floatNCHWToPixels, outputToFloatNCHW, pixelsToTensor } from '../js/tensor.js';
import { tilePlan } from '../js/tiling.js';

const [command, ...args] = process.argv.slice(2);
if (command === 'views') {
  for (const file of args) {
    try {
      console.log(JSON.stringify(contractView(JSON.parse(readFileSync(file, 'utf8')), basename(file))));
    } catch (error) {
      console.log(JSON.stringify({ error: error.message }));
    }
  }
} else if (command === 'tiles') {
  const cases = JSON.parse(readFileSync(args[0], 'utf8'));
  console.log(JSON.stringify(cases.map(([h, w, th, tw, overlap]) => tilePlan(h, w, [th, tw], overlap))));
} else if (command === 'pixels') {
  // Every 8-bit value in every channel, through each input kind and back.
  const width = 256; const height = 3;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y += 1) for (let x = 0; x < width; x += 1) {
    for (let c = 0; c < 3; c += 1) rgba[(y * width + x) * 4 + c] = (x + 85 * c + 7 * y) % 256;
    rgba[(y * width + x) * 4 + 3] = 255;
  }
  const kinds = [
    { layout: 'NCHW', dtype: 'float32', range: [0, 1], quantization: null },
    { layout: 'NHWC', dtype: 'float32', range: [0, 1], quantization: null },
    { layout: 'NCHW', dtype: 'int8', range: [0, 1], quantization: { scale: 1 / 255, zero_point: -128 } },
    { layout: 'NHWC', dtype: 'uint8', range: [0, 1], quantization: { scale: 1 / 255, zero_point: 0 } },
  ];
  const report = kinds.map((facts) => {
    const tensor = pixelsToTensor(rgba, width, height, facts);
    const back = floatNCHWToPixels(outputToFloatNCHW(tensor, height, width, facts), width, height, facts.range);
    let mismatches = 0;
    for (let i = 0; i < rgba.length; i += 1) if (back[i] !== rgba[i]) mismatches += 1;
    return { ...facts, mismatches, first: Array.from(tensor.slice(0, 4)), type: tensor.constructor.name };
  });
  console.log(JSON.stringify(report));
} else if (command === 'run') {
  const [model, input, height, width, level, output] = args;
  const ort = await import('../node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(model)), { executionProviders: ['wasm'], graphOptimizationLevel: level });
  const data = new Float32Array(readFileSync(input).buffer.slice(0));
  const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, Number(height), Number(width)]) });
  const values = result[session.outputNames[0]].data;
  writeFileSync(output, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  console.log(JSON.stringify({ dims: result[session.outputNames[0]].dims }));
} else {
  console.error(`usage: core-probe.mjs views|tiles|pixels|run ...; found ${command}`);
  process.exit(2);
}
