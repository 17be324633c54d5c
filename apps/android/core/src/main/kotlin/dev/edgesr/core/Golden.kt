package dev.edgesr.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.abs
import kotlin.math.log10

/** A float32 array read from a `.npy` file: C-order [data] of [shape]. */
class NpyArray(val shape: List<Int>, val data: FloatArray)

/**
 * Reads a NumPy `.npy` holding little-endian float32 (`'<f4'`), C order, format version 1, 2 or 3.
 * Throws [IllegalArgumentException] saying what is wrong (magic, dtype, order, size).
 */
fun readNpyFloat32(bytes: ByteArray, source: String = "npy"): NpyArray {
    val magic = byteArrayOf(0x93.toByte(), 'N'.code.toByte(), 'U'.code.toByte(), 'M'.code.toByte(), 'P'.code.toByte(), 'Y'.code.toByte())
    require(bytes.size >= 10 && bytes.copyOfRange(0, 6).contentEquals(magic)) { "$source: not a .npy file (bad magic)" }
    val major = bytes[6].toInt()
    val buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
    // v1 stores the header length in 2 bytes, v2/v3 in 4 (v3 only changes the header's text encoding).
    val (headerLength, headerStart) = when (major) {
        1 -> (buffer.getShort(8).toInt() and 0xFFFF) to 10
        2, 3 -> buffer.getInt(8) to 12
        else -> throw IllegalArgumentException("$source: unsupported .npy version $major")
    }
    require(headerStart + headerLength <= bytes.size) { "$source: header runs past the end of the file" }
    val header = String(bytes, headerStart, headerLength, Charsets.UTF_8)
    val descr = Regex("""'descr'\s*:\s*'([^']*)'""").find(header)?.groupValues?.get(1)
    require(descr == "<f4") { "$source: expected dtype '<f4' (little-endian float32), found ${descr ?: "none"}" }
    val fortran = Regex("""'fortran_order'\s*:\s*(True|False)""").find(header)?.groupValues?.get(1)
    require(fortran == "False") { "$source: expected C order (fortran_order False), found ${fortran ?: "none"}" }
    val shapeText = Regex("""'shape'\s*:\s*\(([^)]*)\)""").find(header)?.groupValues?.get(1)
        ?: throw IllegalArgumentException("$source: no shape in the header")
    val shape = shapeText.split(',').map { it.trim() }.filter { it.isNotEmpty() }.map { it.toInt() }
    val count = shape.fold(1) { acc, n -> acc * n }
    val dataStart = headerStart + headerLength
    require(bytes.size - dataStart == count * 4) { "$source: shape $shape needs ${count * 4} bytes of data, found ${bytes.size - dataStart}" }
    val data = FloatArray(count)
    buffer.position(dataStart)
    buffer.asFloatBuffer().get(data)
    return NpyArray(shape, data)
}

/** Outcome of the golden self-check; [psnrDb] is null when the window matches exactly (infinite PSNR). */
data class GoldenResult(val passed: Boolean?, val maxAbsDiff: Double, val psnrDb: Double?, val tolerance: String?) {
    fun toMap(): Map<String, Any?> = linkedMapOf("passed" to passed, "max_abs_diff" to maxAbsDiff, "psnr_db" to psnrDb)
}

/**
 * Compares the golden window of a full output with the expected `.npy`.
 *
 * [output]: float32 NCHW, 3 × [outputHeight] × [outputWidth], dequantised and unclamped
 * (from [Upscaler.upscaleToFloat]).  [expected]: shape [1, 3, window height, window width].
 * PSNR uses the output range (high − low) as the peak.  `passed` follows the contract's
 * tolerance: max_abs_diff ≤ limit, or PSNR ≥ min_psnr_db; null when the contract has none.
 */
fun checkGolden(contract: ModelContract, output: FloatArray, outputHeight: Int, outputWidth: Int, expected: NpyArray): GoldenResult {
    val g = contract.golden
    require(expected.shape == listOf(1, 3, g.height, g.width)) { "golden ${g.output}: expected shape [1, 3, ${g.height}, ${g.width}], found ${expected.shape}" }
    require(g.top + g.height <= outputHeight && g.left + g.width <= outputWidth) {
        "golden window ${g.width}x${g.height} at (${g.top}, ${g.left}) lies outside the ${outputWidth}x$outputHeight output"
    }
    var maxDiff = 0.0
    var squared = 0.0
    for (c in 0 until 3) for (y in 0 until g.height) for (x in 0 until g.width) {
        val actual = output[(c * outputHeight + g.top + y) * outputWidth + g.left + x].toDouble()
        val diff = actual - expected.data[(c * g.height + y) * g.width + x]
        maxDiff = maxOf(maxDiff, abs(diff))
        squared += diff * diff
    }
    val mse = squared / (3.0 * g.height * g.width)
    val peak = contract.output.rangeHigh - contract.output.rangeLow
    val psnr = if (mse == 0.0) null else 10.0 * log10(peak * peak / mse)
    val tolerance = contract.tolerance
    val passed = when {
        tolerance == null -> null
        tolerance.maxAbsDiff != null -> maxDiff <= tolerance.maxAbsDiff
        tolerance.minPsnrDb != null -> psnr == null || psnr >= tolerance.minPsnrDb
        else -> null
    }
    return GoldenResult(passed, maxDiff, psnr, tolerance?.name)
}
