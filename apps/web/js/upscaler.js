// One upscale of an RGBA image through an artifact, tile by tile, with pre / run / post timed
// separately.  `run(tensorData, dims)` is the runtime (onnxruntime-web here); everything about the
// model comes from the contract view.

import { inputDims } from './contract.js';
import { cropReplicate, floatNCHWToPixels, outputToFloatNCHW, pixelsToTensor } from './tensor.js';
import { chooseTile, tilePlan } from './tiling.js';

const now = () => performance.now();

/**
 * Upscale `image` ({rgba: Uint8ClampedArray, width, height}, 8-bit sRGB RGBA) with `run`.
 * Returns {rgba, width, height, float (NCHW Float32Array of raw outputs, or null), stages
 * {pre, run, post} ms, tiles, tile}.  `keepFloat` keeps the float output (for checks).
 */
export async function upscaleImage(view, run, image, { maxTile = 0, keepFloat = false } = {}) {
  const { width, height } = image;
  const scale = view.scale;
  const outW = width * scale;
  const outH = height * scale;
  const float = keepFloat ? new Float32Array(outW * outH * 3) : null;
  const rgba = new Uint8ClampedArray(outW * outH * 4);
  const stages = { pre: 0, run: 0, post: 0 };
  const choice = chooseTile(view, height, width, maxTile);
  const minSide = view.shape_policy.kind === 'dynamic' ? Math.max(view.shape_policy.min_size, view.min_input_size) : 0;
  // The whole image is one "tile" (padded up to the artifact's minimum size when smaller).
  const tile = choice.tile ?? [Math.max(height, minSide), Math.max(width, minSide)];
  const paddedH = Math.max(height, tile[0]);
  const paddedW = Math.max(width, tile[1]);
  const plan = paddedH === tile[0] && paddedW === tile[1]
    ? [{ top: 0, left: 0, keep: [0, 0, tile[0], tile[1]] }]
    : tilePlan(paddedH, paddedW, tile, view.tiling.overlap);
  for (const piece of plan) {
    let tick = now();
    const pixels = cropReplicate(image.rgba, width, height, piece.top, piece.left, tile[0], tile[1]);
    const data = pixelsToTensor(pixels, tile[1], tile[0], view.input);
    const dims = inputDims(view, tile[0], tile[1]);
    stages.pre += now() - tick;

    tick = now();
    const output = await run(data, dims);
    stages.run += now() - tick;

    tick = now();
    const tileOutW = tile[1] * scale;
    const tileOutH = tile[0] * scale;
    const values = outputToFloatNCHW(output, tileOutH, tileOutW, view.output);
    const [keepTop, keepLeft, keepBottom, keepRight] = piece.keep;
    const top = (piece.top + keepTop) * scale;
    const left = (piece.left + keepLeft) * scale;
    const bottom = Math.min((piece.top + keepBottom) * scale, outH);
    const right = Math.min((piece.left + keepRight) * scale, outW);
    if (bottom > top && right > left) {
      const keptW = right - left;
      const keptH = bottom - top;
      const kept = new Float32Array(keptW * keptH * 3);
      for (let c = 0; c < 3; c += 1) {
        for (let y = 0; y < keptH; y += 1) {
          const from = c * tileOutH * tileOutW + (keepTop * scale + y) * tileOutW + keepLeft * scale;
          kept.set(values.subarray(from, from + keptW), c * keptH * keptW + y * keptW);
          if (float) float.set(values.subarray(from, from + keptW), c * outH * outW + (top + y) * outW + left);
        }
      }
      const keptPixels = floatNCHWToPixels(kept, keptW, keptH, view.output.range);
      for (let y = 0; y < keptH; y += 1) {
        rgba.set(keptPixels.subarray(y * keptW * 4, (y + 1) * keptW * 4), ((top + y) * outW + left) * 4);
      }
    }
    stages.post += now() - tick;
  }
  return { rgba, width: outW, height: outH, float, stages, tiles: plan.length, tile };
}

/** Compare the golden window of an NCHW float output with the golden .npy values (max |diff| raw, PSNR clamped). */
export function compareGolden(view, float, outW, outH, golden) {
  const [top, left, height, width] = view.golden.window;
  const [low, high] = view.output.range;
  const clamp = (v) => Math.min(high, Math.max(low, v));
  let maxAbs = 0;
  let squared = 0;
  for (let c = 0; c < 3; c += 1) {
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) {
        const ours = float[c * outH * outW + (top + y) * outW + left + x];
        const theirs = golden.data[c * height * width + y * width + x];
        const diff = Math.abs(ours - theirs);
        maxAbs = Math.max(maxAbs, diff);
        // PSNR as the converters' verification computes it: both clamped to the range, peak = its width.
        const clamped = (clamp(ours) - clamp(theirs)) / (high - low);
        squared += clamped * clamped;
      }
    }
  }
  const mse = squared / (3 * height * width);
  const psnr = mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
  if (view.tolerance === null) return { passed: null, max_abs_diff: maxAbs, psnr_db: Number.isFinite(psnr) ? psnr : null, tolerance: null };
  const { max_abs_diff: maxAllowed, min_psnr_db: minPsnr } = view.tolerance;
  const passed = (maxAllowed === null || maxAbs <= maxAllowed) && (minPsnr === null || psnr >= minPsnr);
  return { passed, max_abs_diff: maxAbs, psnr_db: Number.isFinite(psnr) ? psnr : null, tolerance: view.tolerance };
}
