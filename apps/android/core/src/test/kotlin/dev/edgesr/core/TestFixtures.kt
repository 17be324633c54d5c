package dev.edgesr.core

import kotlin.random.Random

/**
 * A complete contract as JSON, shaped like the converters write them, for tests that need
 * one with particular I/O.  [dtype] int8/uint8 adds scale 1/255 and zero point −128 / 0.
 */
fun contractJson(
    layout: String = "NCHW",
    dtype: String = "float32",
    kind: String = "fixed",
    sizes: List<List<Int>> = listOf(listOf(32, 32)),
    overlap: Int = 5,
    scale: Int = 2,
    range: List<Double> = listOf(0.0, 1.0),
    schema: String = "edge-sr/model-contract",
    schemaVersion: Int = 1,
): String {
    val quant = when (dtype) {
        "int8" -> mapOf("scale" to 1.0 / 255.0, "zero_point" to -128)
        "uint8" -> mapOf("scale" to 1.0 / 255.0, "zero_point" to 0)
        else -> null
    }
    fun tensor(name: String, clamped: Boolean?) = linkedMapOf<String, Any?>(
        "name" to name, "layout" to layout, "dtype" to dtype, "range" to range, "colour_space" to "RGB",
        "shape" to if (layout == "NCHW") listOf(1, 3, -1, -1) else listOf(1, -1, -1, 3), "quantization" to quant,
    ).also { if (clamped != null) it["clamped"] = clamped }
    val policy = linkedMapOf<String, Any?>("kind" to kind, "sizes" to sizes)
    if (kind == "dynamic") { policy["min_size"] = 16; policy["max_size"] = 64 }
    return Json.write(
        linkedMapOf(
            "schema" to schema, "schema_version" to schemaVersion,
            "artifact" to mapOf("file" to "test.$dtype.bin", "format" to "tflite", "sha256" to "00ff", "bytes" to 1),
            "target" to "tflite",
            "model" to mapOf("arch" to "span", "zoo_name" to null, "min_input_size" to 1),
            "input" to tensor("lr", null), "output" to tensor("sr", false),
            "scale" to scale,
            "tiling" to mapOf("receptive_radius" to overlap, "overlap" to overlap, "exact" to true),
            "shape_policy" to policy,
            "precision" to if (dtype == "float32") "fp32" else "int8",
            "golden" to mapOf("input" to "g.png", "output" to "g.npy", "output_window" to mapOf("top" to 1, "left" to 2, "height" to 3, "width" to 4)),
            "verification" to mapOf("tolerance" to mapOf("name" to "convert-fp32", "max_abs_diff" to 1e-4)),
        ),
    )
}

fun contract(
    layout: String = "NCHW", dtype: String = "float32", kind: String = "fixed",
    sizes: List<List<Int>> = listOf(listOf(32, 32)), overlap: Int = 5, scale: Int = 2,
): ModelContract = ModelContract.parse(contractJson(layout, dtype, kind, sizes, overlap, scale), "test.contract.json")

/** A deterministic image whose pixels differ in every channel. */
fun randomImage(width: Int, height: Int, seed: Int = width * 1000 + height): RgbImage {
    val random = Random(seed)
    return RgbImage(width, height, IntArray(width * height) { RgbImage.pack(random.nextInt(256), random.nextInt(256), random.nextInt(256)) })
}

/**
 * A fake network for the contract's I/O: upscales by nearest neighbour, copying each input
 * element (float or integer) to [scale]² output positions, in the same layout and dtype.
 * Pipeline output must then equal the nearest-neighbour upscale of the original image exactly.
 */
class NearestNeighbourRunner(private val scale: Int) : SrRunner {
    var calls = 0

    override fun run(input: TensorData): TensorData {
        calls++
        val height = input.height * scale
        val width = input.width * scale
        val floats = input.floats?.let { FloatArray(3 * height * width) }
        val bytes = input.bytes?.let { ByteArray(3 * height * width) }
        for (c in 0 until 3) for (y in 0 until height) for (x in 0 until width) {
            val from = tensorIndex(input.layout, input.height, input.width, c, y / scale, x / scale)
            val to = tensorIndex(input.layout, height, width, c, y, x)
            if (floats != null) floats[to] = input.floats!![from] else bytes!![to] = input.bytes!![from]
        }
        return if (floats != null) TensorData.ofFloats(input.layout, height, width, floats)
        else TensorData.ofBytes(input.layout, input.dtype, height, width, bytes!!)
    }
}

/** Nearest-neighbour upscale of [image] by [scale]: what [NearestNeighbourRunner] through the pipeline must give. */
fun nearestNeighbour(image: RgbImage, scale: Int): RgbImage {
    val width = image.width * scale
    val height = image.height * scale
    return RgbImage(width, height, IntArray(width * height) { i -> image.argb[(i / width / scale) * image.width + (i % width) / scale] })
}
