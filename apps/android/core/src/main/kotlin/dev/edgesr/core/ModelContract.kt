package dev.edgesr.core

import java.io.File

/** A contract or manifest the app cannot use; the message names the file, the field, what was expected and what was found. */
class ContractError(message: String) : Exception(message)

/** Tensor memory order: NCHW = channel planes, NHWC = interleaved RGB per pixel. */
enum class Layout { NCHW, NHWC }

/** Element type of a model input or output tensor, with the integer range of the integer types. */
enum class DType(val jsonName: String, val min: Int, val max: Int) {
    FLOAT32("float32", 0, 0),
    INT8("int8", -128, 127),
    UINT8("uint8", 0, 255);

    val isInteger: Boolean get() = this != FLOAT32
}

/** Affine quantisation of an integer tensor: real = (q − zeroPoint) × scale. */
data class Quantization(val scale: Double, val zeroPoint: Int)

/**
 * What the contract says about one tensor (`input` or `output`).
 *
 * [rangeLow]/[rangeHigh]: the float values pixel 0 and pixel 255 map to (RGB, 8-bit).
 * [shape] is in [layout] order, -1 where the size is dynamic.  [quantization] is non-null
 * exactly for integer I/O.  [clamped] is null when the contract does not say (inputs).
 * [image] is true for CoreML image I/O (not runnable on Android).
 */
data class TensorSpec(
    val name: String,
    val layout: Layout,
    val dtype: DType,
    val rangeLow: Double,
    val rangeHigh: Double,
    val shape: List<Int>,
    val quantization: Quantization?,
    val clamped: Boolean?,
    val image: Boolean,
)

/** Which tile sizes an artifact accepts. `sizes` are [H, W]; min/max only for dynamic. */
data class ShapePolicy(val kind: String, val sizes: List<Pair<Int, Int>>, val minSize: Int?, val maxSize: Int?) {
    val isDynamic: Boolean get() = kind == "dynamic"
}

/** The golden self-check: run [input] (PNG), compare [window] (top, left, height, width) of the output with [output] (.npy). */
data class Golden(val input: String, val output: String, val top: Int, val left: Int, val height: Int, val width: Int)

/** How close the golden must be: [maxAbsDiff] (fp32) or [minPsnrDb] (fp16/int8), the other null. */
data class Tolerance(val name: String, val maxAbsDiff: Double?, val minPsnrDb: Double?)

/**
 * The fields of `<artifact>.contract.json` (schema `edge-sr/model-contract` v1) that the app
 * reads — exactly the table "What every app reads" of apps/README.md.  Everything the app
 * knows about a model comes from here.
 */
data class ModelContract(
    val source: String,
    val artifactFile: String,
    val artifactFormat: String,
    val artifactSha256: String,
    val target: String,
    val arch: String,
    val zooName: String?,
    val minInputSize: Int,
    val scale: Int,
    val precision: String,
    val input: TensorSpec,
    val output: TensorSpec,
    val shapePolicy: ShapePolicy,
    val overlap: Int,
    val tilingExact: Boolean,
    val golden: Golden,
    /** Null when the converter could not verify the artifact on its machine (e.g. CoreML on Linux). */
    val tolerance: Tolerance?,
) {
    /** The parsed view of apps/README.md ("The parsed view"), as a JSON-ready map. */
    fun toView(): Map<String, Any?> = linkedMapOf(
        "file" to artifactFile,
        "format" to artifactFormat,
        "target" to target,
        "arch" to arch,
        "zoo_name" to zooName,
        "scale" to scale,
        "precision" to precision,
        "min_input_size" to minInputSize,
        "input" to tensorView(input),
        "output" to tensorView(output),
        "shape_policy" to linkedMapOf(
            "kind" to shapePolicy.kind,
            "sizes" to shapePolicy.sizes.map { listOf(it.first, it.second) },
            "min_size" to shapePolicy.minSize,
            "max_size" to shapePolicy.maxSize,
        ),
        "tiling" to linkedMapOf("overlap" to overlap, "exact" to tilingExact),
        "golden" to linkedMapOf(
            "input" to golden.input,
            "output" to golden.output,
            "window" to listOf(golden.top, golden.left, golden.height, golden.width),
        ),
        "tolerance" to tolerance?.let {
            linkedMapOf("name" to it.name, "max_abs_diff" to it.maxAbsDiff, "min_psnr_db" to it.minPsnrDb)
        },
    )

    /** [toView] as one line of JSON. */
    fun toViewJson(): String = Json.write(toView())

    private fun tensorView(spec: TensorSpec): Map<String, Any?> = linkedMapOf(
        "name" to spec.name,
        "layout" to spec.layout.name,
        "dtype" to spec.dtype.jsonName,
        "range" to listOf(spec.rangeLow, spec.rangeHigh),
        "shape" to spec.shape,
        "quantization" to spec.quantization?.let { linkedMapOf("scale" to it.scale, "zero_point" to it.zeroPoint) },
        "clamped" to spec.clamped,
        "image" to spec.image,
    )

    companion object {
        const val SCHEMA = "edge-sr/model-contract"
        const val SCHEMA_VERSION = 1L

        /** Overlap for contracts written before the `tiling` field existed (as edge_sr.app_bundle). */
        const val DEFAULT_OVERLAP = 16

        /** Reads a contract file; [ContractError] names the file on any problem. */
        fun read(file: File): ModelContract = parse(file.readText(), file.path)

        /** Parses contract JSON [text]; [source] (a file name) appears in every error message. */
        fun parse(text: String, source: String): ModelContract {
            val root = Fields.root(text, source)
            root.requireSchema(SCHEMA, SCHEMA_VERSION)
            val artifact = root.obj("artifact")
            val model = root.obj("model")
            val policy = root.obj("shape_policy")
            val kind = policy.string("kind")
            if (kind !in setOf("fixed", "enumerated", "dynamic")) policy.fail("kind", "fixed, enumerated or dynamic", "\"$kind\"")
            val isDynamic = kind == "dynamic"
            val tiling = root.objOrNull("tiling")
            val golden = root.obj("golden")
            val window = golden.obj("output_window")
            val verification = root.obj("verification")
            val tolerance = verification.objOrNull("tolerance")
            return ModelContract(
                source = source,
                artifactFile = artifact.string("file"),
                artifactFormat = artifact.string("format"),
                artifactSha256 = artifact.string("sha256"),
                target = root.string("target"),
                arch = model.string("arch"),
                zooName = model.stringOrNull("zoo_name"),
                minInputSize = model.int("min_input_size"),
                scale = root.int("scale"),
                precision = root.string("precision"),
                input = tensor(root.obj("input"), isOutput = false),
                output = tensor(root.obj("output"), isOutput = true),
                shapePolicy = ShapePolicy(
                    kind = kind,
                    sizes = policy.listOrNull("sizes").orEmpty().mapIndexed { i, item ->
                        val pair = item as? List<*>
                        val h = (pair?.getOrNull(0) as? Number)?.toInt()
                        val w = (pair?.getOrNull(1) as? Number)?.toInt()
                        if (pair == null || pair.size != 2 || h == null || w == null) policy.fail("sizes[$i]", "[H, W]", Json.write(item))
                        h to w
                    },
                    minSize = if (isDynamic) policy.int("min_size") else null,
                    maxSize = if (isDynamic) policy.int("max_size") else null,
                ),
                overlap = tiling?.int("overlap") ?: DEFAULT_OVERLAP,
                tilingExact = tiling?.bool("exact") ?: false,
                golden = Golden(
                    input = golden.string("input"),
                    output = golden.string("output"),
                    top = window.int("top"), left = window.int("left"),
                    height = window.int("height"), width = window.int("width"),
                ),
                tolerance = tolerance?.let {
                    Tolerance(it.string("name"), it.doubleOrNull("max_abs_diff"), it.doubleOrNull("min_psnr_db"))
                },
            )
        }

        private fun tensor(fields: Fields, isOutput: Boolean): TensorSpec {
            val layoutName = fields.string("layout")
            val layout = Layout.entries.firstOrNull { it.name == layoutName }
                ?: fields.fail("layout", "NCHW or NHWC", "\"$layoutName\"")
            val dtypeName = fields.string("dtype")
            val dtype = DType.entries.firstOrNull { it.jsonName == dtypeName }
                ?: fields.fail("dtype", "float32, int8 or uint8", "\"$dtypeName\"")
            val range = fields.list("range")
            val low = (range.getOrNull(0) as? Number)?.toDouble()
            val high = (range.getOrNull(1) as? Number)?.toDouble()
            if (range.size != 2 || low == null || high == null || high <= low) fields.fail("range", "[low, high] with low < high", Json.write(range))
            val quant = fields.objOrNull("quantization")?.let { Quantization(it.double("scale"), it.int("zero_point")) }
            if (dtype.isInteger && quant == null) fields.fail("quantization", "{scale, zero_point} for $dtypeName I/O", "null")
            return TensorSpec(
                name = fields.string("name"),
                layout = layout,
                dtype = dtype,
                rangeLow = low,
                rangeHigh = high,
                shape = fields.list("shape").mapIndexed { i, v -> (v as? Number)?.toInt() ?: fields.fail("shape[$i]", "an integer", Json.write(v)) },
                quantization = quant,
                // Only outputs carry `clamped`; absent means "not said" (null), as in the parsed view.
                clamped = if (isOutput) fields.boolOrNull("clamped") else null,
                image = fields.has("image"),
            )
        }
    }
}

/** One entry of the bundle manifest: which contract to open for a model/target/precision. */
data class BundleEntry(val model: String, val target: String, val precision: String, val contract: String)

/** `manifest.json` written by `edge-sr bundle` (schema `edge-sr/bundle` v1). */
data class BundleManifest(val app: String, val edgeSrVersion: String?, val models: List<BundleEntry>) {
    companion object {
        const val SCHEMA = "edge-sr/bundle"
        const val SCHEMA_VERSION = 1L

        /** Parses manifest JSON [text]; [source] appears in every error message. */
        fun parse(text: String, source: String): BundleManifest {
            val root = Fields.root(text, source)
            root.requireSchema(SCHEMA, SCHEMA_VERSION)
            val models = root.list("models").mapIndexed { i, item ->
                val entry = root.child("models[$i]", item)
                BundleEntry(entry.string("model"), entry.string("target"), entry.string("precision"), entry.string("contract"))
            }
            return BundleManifest(root.string("app"), root.stringOrNull("edge_sr_version"), models)
        }
    }
}

/**
 * Typed access to one JSON object with error messages of the form
 * `FILE: field input.layout: expected NCHW or NHWC, found "NCWH"`.
 */
internal class Fields(private val source: String, private val path: String, private val map: Map<String, Any?>) {
    private fun full(key: String) = if (path.isEmpty()) key else "$path.$key"

    fun fail(key: String, expected: String, found: String): Nothing =
        throw ContractError("$source: field ${full(key)}: expected $expected, found $found")

    fun has(key: String) = map.containsKey(key)

    private fun required(key: String): Any {
        if (!map.containsKey(key)) fail(key, "a value", "nothing (field missing)")
        return map[key] ?: fail(key, "a value", "null")
    }

    private fun describe(value: Any?): String = if (value == null) "null" else Json.write(value)

    fun string(key: String): String = required(key) as? String ?: fail(key, "a string", describe(map[key]))
    fun stringOrNull(key: String): String? = map[key]?.let { it as? String ?: fail(key, "a string or null", describe(it)) }

    fun int(key: String): Int {
        val value = required(key)
        if (value is Long) return value.toInt()
        if (value is Double && value == Math.floor(value)) return value.toInt()
        fail(key, "an integer", describe(value))
    }

    fun double(key: String): Double = (required(key) as? Number)?.toDouble() ?: fail(key, "a number", describe(map[key]))
    fun doubleOrNull(key: String): Double? = map[key]?.let { (it as? Number)?.toDouble() ?: fail(key, "a number or null", describe(it)) }
    fun bool(key: String): Boolean = required(key) as? Boolean ?: fail(key, "true or false", describe(map[key]))
    fun boolOrNull(key: String): Boolean? = map[key]?.let { it as? Boolean ?: fail(key, "true, false or null", describe(it)) }
    fun list(key: String): List<Any?> = required(key) as? List<Any?> ?: fail(key, "an array", describe(map[key]))
    fun listOrNull(key: String): List<Any?>? = map[key]?.let { it as? List<Any?> ?: fail(key, "an array", describe(it)) }

    fun obj(key: String): Fields = child(key, required(key))
    fun objOrNull(key: String): Fields? = map[key]?.let { child(key, it) }

    @Suppress("UNCHECKED_CAST")
    fun child(key: String, value: Any?): Fields {
        val childMap = value as? Map<String, Any?> ?: fail(key, "an object", describe(value))
        return Fields(source, full(key), childMap)
    }

    fun requireSchema(schema: String, version: Long) {
        val foundSchema = map["schema"]
        if (foundSchema != schema) fail("schema", "\"$schema\"", describe(foundSchema))
        val foundVersion = map["schema_version"]
        if (foundVersion != version) fail("schema_version", "$version", describe(foundVersion))
    }

    companion object {
        fun root(text: String, source: String): Fields {
            val value = try {
                Json.parse(text)
            } catch (e: JsonError) {
                throw ContractError("$source: not valid JSON: ${e.message}")
            }
            @Suppress("UNCHECKED_CAST")
            val map = value as? Map<String, Any?> ?: throw ContractError("$source: expected a JSON object at the top level")
            return Fields(source, "", map)
        }
    }
}
