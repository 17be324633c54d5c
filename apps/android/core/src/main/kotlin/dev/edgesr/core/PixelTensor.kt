package dev.edgesr.core

import kotlin.math.abs
import kotlin.math.floor

/**
 * An 8-bit RGB image as Android's `Bitmap.getPixels` gives it: one ARGB int per pixel,
 * row-major (index = y × width + x).  Alpha is ignored everywhere.
 */
class RgbImage(val width: Int, val height: Int, val argb: IntArray) {
    init {
        require(width > 0 && height > 0) { "image must be at least 1x1, got ${width}x$height" }
        require(argb.size == width * height) { "expected ${width * height} pixels for ${width}x$height, got ${argb.size}" }
    }

    companion object {
        /** Packs r, g, b (0..255) into an opaque ARGB int. */
        fun pack(r: Int, g: Int, b: Int): Int = (0xFF shl 24) or (r shl 16) or (g shl 8) or b
    }
}

/**
 * One tensor going into or coming out of a model: batch 1, 3 colour channels, [height] × [width]
 * pixels in [layout] order.  Exactly one of [floats] (dtype float32) or [bytes] (int8 / uint8,
 * raw bytes: int8 is the signed value, uint8 is `value and 0xFF`) is set.
 */
class TensorData private constructor(
    val layout: Layout,
    val dtype: DType,
    val height: Int,
    val width: Int,
    val floats: FloatArray?,
    val bytes: ByteArray?,
) {
    /** Shape in [layout] order: [1, 3, H, W] or [1, H, W, 3]. */
    val shape: LongArray
        get() = if (layout == Layout.NCHW) longArrayOf(1, 3, height.toLong(), width.toLong())
        else longArrayOf(1, height.toLong(), width.toLong(), 3)

    val elementCount: Int get() = 3 * height * width

    companion object {
        fun ofFloats(layout: Layout, height: Int, width: Int, data: FloatArray): TensorData {
            require(data.size == 3 * height * width) { "float tensor 3x${height}x$width needs ${3 * height * width} values, got ${data.size}" }
            return TensorData(layout, DType.FLOAT32, height, width, data, null)
        }

        fun ofBytes(layout: Layout, dtype: DType, height: Int, width: Int, data: ByteArray): TensorData {
            require(dtype.isInteger) { "ofBytes needs int8 or uint8, got $dtype" }
            require(data.size == 3 * height * width) { "$dtype tensor 3x${height}x$width needs ${3 * height * width} values, got ${data.size}" }
            return TensorData(layout, dtype, height, width, null, data)
        }
    }
}

/** Index of channel [c] of pixel ([y], [x]) in a 3 × [height] × [width] tensor of [layout]. */
fun tensorIndex(layout: Layout, height: Int, width: Int, c: Int, y: Int, x: Int): Int =
    if (layout == Layout.NCHW) (c * height + y) * width + x else (y * width + x) * 3 + c

/** Round half away from zero, as TFLite's quantiser does (Kotlin's roundToInt rounds half up). */
fun roundHalfAwayFromZero(value: Double): Long {
    val magnitude = floor(abs(value) + 0.5).toLong()
    return if (value < 0) -magnitude else magnitude
}

/** q = clamp(round(x / scale) + zeroPoint, dtype.min, dtype.max), round half away from zero. */
fun quantize(x: Double, quant: Quantization, dtype: DType): Int {
    val q = roundHalfAwayFromZero(x / quant.scale) + quant.zeroPoint
    return q.coerceIn(dtype.min.toLong(), dtype.max.toLong()).toInt()
}

/** x = (q − zeroPoint) × scale. */
fun dequantize(q: Int, quant: Quantization): Double = (q - quant.zeroPoint) * quant.scale

/**
 * Pixel 0..255 from a float tensor value: round(255 × clamp((x − low)/(high − low), 0, 1)),
 * round half up — the same as `edge_sr.metrics.to_uint8` / `floor(v × 255 + 0.5)`.
 */
fun floatToPixel(x: Double, low: Double, high: Double): Int {
    val unit = ((x - low) / (high - low)).coerceIn(0.0, 1.0)
    return floor(unit * 255.0 + 0.5).toInt()
}

/**
 * Converts pixels to a model's input tensor and a model's output tensor back to pixels, following
 * the pixel ↔ tensor rule of apps/README.md for the [input] / [output] specs of a contract.
 */
class PixelCodec(private val input: TensorSpec, private val output: TensorSpec) {

    init {
        require(!input.image && !output.image) { "image I/O artifacts (CoreML) take images, not tensors" }
    }

    /**
     * Cuts the [height] × [width] window at ([top], [left]) out of [image] and encodes it as the
     * model input: RGB, layout and dtype of the contract's input, float value
     * `low + (high − low) × p / 255`, quantised for integer inputs.  Coordinates past the right or
     * bottom edge repeat the last row / column (replicate padding, as `F.pad(mode="replicate")`).
     */
    fun encode(image: RgbImage, top: Int, left: Int, height: Int, width: Int): TensorData {
        val low = input.rangeLow
        val span = input.rangeHigh - input.rangeLow
        val n = 3 * height * width
        val floats = if (input.dtype == DType.FLOAT32) FloatArray(n) else null
        val bytes = if (input.dtype.isInteger) ByteArray(n) else null
        val quant = input.quantization
        for (y in 0 until height) {
            val sourceRow = minOf(top + y, image.height - 1) * image.width
            for (x in 0 until width) {
                val pixel = image.argb[sourceRow + minOf(left + x, image.width - 1)]
                for (c in 0 until 3) {
                    val p = (pixel shr (16 - 8 * c)) and 0xFF // c = 0 red, 1 green, 2 blue
                    val index = tensorIndex(input.layout, height, width, c, y, x)
                    if (floats != null) {
                        floats[index] = (low + span * p / 255.0).toFloat()
                    } else {
                        // Quantise the float32 value the network would have seen, as TFLite does.
                        val real = (low + span * p / 255.0).toFloat().toDouble()
                        bytes!![index] = quantize(real, quant!!, input.dtype).toByte()
                    }
                }
            }
        }
        return if (floats != null) TensorData.ofFloats(input.layout, height, width, floats)
        else TensorData.ofBytes(input.layout, input.dtype, height, width, bytes!!)
    }

    /** The real (dequantised, unclamped) value at element [index] of an output tensor. */
    fun realValue(tensor: TensorData, index: Int): Double {
        tensor.floats?.let { return it[index].toDouble() }
        val raw = tensor.bytes!![index].toInt()
        val q = if (tensor.dtype == DType.UINT8) raw and 0xFF else raw
        return dequantize(q, output.quantization!!)
    }

    /** Pixel (0..255) of channel [c] at ([y], [x]) of an output [tensor]: dequantise, clamp to range, round half up. */
    fun outputPixel(tensor: TensorData, c: Int, y: Int, x: Int): Int =
        floatToPixel(realValue(tensor, tensorIndex(tensor.layout, tensor.height, tensor.width, c, y, x)), output.rangeLow, output.rangeHigh)

    /**
     * Writes the [height] × [width] region of the output [tensor] starting at ([fromTop], [fromLeft])
     * into [target] (ARGB, row-major, [targetWidth] wide) at ([toTop], [toLeft]), as opaque pixels.
     */
    fun decodeInto(
        tensor: TensorData, fromTop: Int, fromLeft: Int, height: Int, width: Int,
        target: IntArray, targetWidth: Int, toTop: Int, toLeft: Int,
    ) {
        for (y in 0 until height) {
            for (x in 0 until width) {
                val r = outputPixel(tensor, 0, fromTop + y, fromLeft + x)
                val g = outputPixel(tensor, 1, fromTop + y, fromLeft + x)
                val b = outputPixel(tensor, 2, fromTop + y, fromLeft + x)
                target[(toTop + y) * targetWidth + toLeft + x] = RgbImage.pack(r, g, b)
            }
        }
    }

    /** The whole output [tensor] as an image (for tests and single-tile runs). */
    fun decode(tensor: TensorData): RgbImage {
        val pixels = IntArray(tensor.height * tensor.width)
        decodeInto(tensor, 0, 0, tensor.height, tensor.width, pixels, tensor.width, 0, 0)
        return RgbImage(tensor.width, tensor.height, pixels)
    }
}
