// Pixels <-> tensors by the rule every edge-sr app shares (apps/README.md, "The pixel <-> tensor rule").
// Pixels are 8-bit RGBA (canvas ImageData order, alpha ignored), row-major, sRGB values as stored.

const INTEGER_TYPES = {
  int8: { array: Int8Array, min: -128, max: 127 },
  uint8: { array: Uint8Array, min: 0, max: 255 },
};

/** Round half away from zero (TFLite's quantisation rounding). */
export function roundHalfAway(value) {
  return Math.sign(value) * Math.floor(Math.abs(value) + 0.5);
}

/**
 * RGBA pixels (Uint8ClampedArray, width*height*4) -> the model's input tensor data.
 * Float inputs: low + (high - low) * p / 255 in the contract's layout (NCHW planes or NHWC interleave),
 * Float32Array.  Integer inputs: quantised with the contract's scale and zero point.
 */
export function pixelsToTensor(rgba, width, height, facts) {
  const [low, high] = facts.range;
  const plane = width * height;
  const values = new Float32Array(plane * 3);
  const nchw = facts.layout === 'NCHW';
  for (let i = 0; i < plane; i += 1) {
    for (let c = 0; c < 3; c += 1) {
      const x = low + ((high - low) * rgba[i * 4 + c]) / 255;
      values[nchw ? c * plane + i : i * 3 + c] = x;
    }
  }
  if (facts.quantization === null) return values;
  const kind = INTEGER_TYPES[facts.dtype];
  if (!kind) throw new Error(`input dtype ${facts.dtype}: expected float32, int8 or uint8`);
  const { scale, zero_point: zeroPoint } = facts.quantization;
  const quantised = new kind.array(values.length);
  for (let i = 0; i < values.length; i += 1) {
    quantised[i] = Math.min(kind.max, Math.max(kind.min, roundHalfAway(values[i] / scale) + zeroPoint));
  }
  return quantised;
}

/**
 * The model's output tensor data (layout per contract, float or integer) -> NCHW Float32Array of
 * real values (integer outputs dequantised: (q - zero_point) * scale), not clamped.
 */
export function outputToFloatNCHW(data, height, width, facts) {
  const plane = width * height;
  const out = new Float32Array(plane * 3);
  const scale = facts.quantization?.scale ?? 1;
  const zeroPoint = facts.quantization?.zero_point ?? 0;
  const nchw = facts.layout === 'NCHW';
  for (let i = 0; i < plane; i += 1) {
    for (let c = 0; c < 3; c += 1) {
      const raw = Number(data[nchw ? c * plane + i : i * 3 + c]);
      out[c * plane + i] = facts.quantization === null ? raw : (raw - zeroPoint) * scale;
    }
  }
  return out;
}

/** NCHW float values in the contract's `range` -> RGBA pixels: clamp, x255, round half up, alpha 255. */
export function floatNCHWToPixels(values, width, height, range) {
  const [low, high] = range;
  const plane = width * height;
  const rgba = new Uint8ClampedArray(plane * 4);
  for (let i = 0; i < plane; i += 1) {
    for (let c = 0; c < 3; c += 1) {
      const unit = Math.min(1, Math.max(0, (values[c * plane + i] - low) / (high - low)));
      rgba[i * 4 + c] = Math.floor(unit * 255 + 0.5);
    }
    rgba[i * 4 + 3] = 255;
  }
  return rgba;
}

/** RGBA pixels -> RGBA pixels of a sub-rectangle (replicating edge pixels beyond the image). */
export function cropReplicate(rgba, width, height, top, left, cropHeight, cropWidth) {
  const out = new Uint8ClampedArray(cropWidth * cropHeight * 4);
  for (let y = 0; y < cropHeight; y += 1) {
    const sy = Math.min(height - 1, top + y);
    for (let x = 0; x < cropWidth; x += 1) {
      const sx = Math.min(width - 1, left + x);
      const from = (sy * width + sx) * 4;
      const to = (y * cropWidth + x) * 4;
      out[to] = rgba[from]; out[to + 1] = rgba[from + 1]; out[to + 2] = rgba[from + 2]; out[to + 3] = 255;
    }
  }
  return out;
}
