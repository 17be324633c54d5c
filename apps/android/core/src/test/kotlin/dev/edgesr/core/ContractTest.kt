package dev.edgesr.core

import java.io.File
import kotlin.math.abs
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

class ContractTest {
    /** Path lookup in the raw JSON (read independently of [ModelContract]'s field access). */
    private fun Map<*, *>.at(path: String): Any? =
        path.split('.').fold<String, Any?>(this) { node, key -> (node as? Map<*, *>)?.get(key) }

    private fun Any?.asInt(): Int = (this as Number).toInt()

    @UnitTest
    fun `every real contract parses and agrees with its raw JSON`() {
        for (file in TestInputs.requireContracts()) {
            val contract = ModelContract.read(file)
            val raw = Json.parse(file.readText()) as Map<*, *>
            val where = file.name
            assertEquals(raw.at("artifact.file"), contract.artifactFile, where)
            assertEquals(raw.at("artifact.format"), contract.artifactFormat, where)
            assertEquals(raw.at("artifact.sha256"), contract.artifactSha256, where)
            assertEquals(raw.at("target"), contract.target, where)
            assertEquals(raw.at("model.arch"), contract.arch, where)
            assertEquals(raw.at("model.zoo_name"), contract.zooName, where)
            assertEquals(raw.at("model.min_input_size").asInt(), contract.minInputSize, where)
            assertEquals(raw.at("scale").asInt(), contract.scale, where)
            assertEquals(raw.at("precision"), contract.precision, where)
            for ((key, spec) in listOf("input" to contract.input, "output" to contract.output)) {
                assertEquals(raw.at("$key.name"), spec.name, "$where $key")
                assertEquals(raw.at("$key.layout"), spec.layout.name, "$where $key")
                assertEquals(raw.at("$key.dtype"), spec.dtype.jsonName, "$where $key")
                assertEquals((raw.at("$key.shape") as List<*>).map { it.asInt() }, spec.shape, "$where $key")
                val range = raw.at("$key.range") as List<*>
                assertEquals((range[0] as Number).toDouble(), spec.rangeLow, "$where $key")
                assertEquals((range[1] as Number).toDouble(), spec.rangeHigh, "$where $key")
                assertEquals(raw.at("$key.clamped"), spec.clamped, "$where $key")
                assertEquals((raw.at(key) as Map<*, *>).containsKey("image"), spec.image, "$where $key")
                // The layout's channel axis holds the 3 colours.
                assertEquals(3, if (spec.layout == Layout.NCHW) spec.shape[1] else spec.shape[3], "$where $key channels")
                val quant = raw.at("$key.quantization") as Map<*, *>?
                if (quant == null) {
                    assertNull(spec.quantization, where)
                    assertEquals(DType.FLOAT32, spec.dtype, "$where: float I/O has no quantization")
                } else {
                    assertEquals((quant["scale"] as Number).toDouble(), spec.quantization!!.scale, where)
                    assertEquals(quant["zero_point"].asInt(), spec.quantization!!.zeroPoint, where)
                }
                if (spec.dtype == DType.INT8) {
                    // The converters' int8 I/O: pixel/255 grid, zero point -128 (pixel p <-> q = p - 128).
                    assertTrue(abs(spec.quantization!!.scale - 1.0 / 255.0) < 1e-7, "$where: int8 scale ${spec.quantization!!.scale}")
                    assertEquals(-128, spec.quantization!!.zeroPoint, where)
                }
            }
            val policy = contract.shapePolicy
            assertEquals(raw.at("shape_policy.kind"), policy.kind, where)
            assertEquals((raw.at("shape_policy.sizes") as List<*>? ?: emptyList<Any>()).map { (it as List<*>).map { v -> v.asInt() } },
                policy.sizes.map { listOf(it.first, it.second) }, where)
            if (policy.isDynamic) {
                assertEquals(raw.at("shape_policy.min_size").asInt(), policy.minSize, where)
                assertEquals(raw.at("shape_policy.max_size").asInt(), policy.maxSize, where)
                assertTrue(contract.input.shape.contains(-1), "$where: dynamic input shape has -1")
            } else {
                assertNull(policy.minSize, where)
                assertTrue(policy.sizes.isNotEmpty(), "$where: fixed policy names its size")
                if (contract.input.layout == Layout.NCHW) assertEquals(policy.sizes[0], contract.input.shape[2] to contract.input.shape[3], where)
                else assertEquals(policy.sizes[0], contract.input.shape[1] to contract.input.shape[2], where)
            }
            assertEquals(raw.at("tiling.overlap")?.asInt() ?: 16, contract.overlap, where)
            assertEquals(raw.at("golden.output_window.top").asInt(), contract.golden.top, where)
            assertEquals(raw.at("golden.output_window.width").asInt(), contract.golden.width, where)
            val tolerance = raw.at("verification.tolerance") as Map<*, *>?
            if (tolerance == null) assertNull(contract.tolerance, where)
            else {
                assertEquals(tolerance["name"], contract.tolerance!!.name, where)
                assertEquals((tolerance["max_abs_diff"] as Number?)?.toDouble(), contract.tolerance!!.maxAbsDiff, where)
                assertEquals((tolerance["min_psnr_db"] as Number?)?.toDouble(), contract.tolerance!!.minPsnrDb, where)
            }
            // The parsed view carries exactly the README's keys.
            val view = Json.parse(contract.toViewJson()) as Map<*, *>
            assertEquals(
                listOf("file", "format", "target", "arch", "zoo_name", "scale", "precision", "min_input_size", "input", "output",
                    "shape_policy", "tiling", "golden", "tolerance"),
                view.keys.toList(), where,
            )
            assertTrue(view["scale"] is Long, "$where: scale is written as an integer")
            assertTrue(((view["input"] as Map<*, *>)["range"] as List<*>).all { it is Double }, "$where: range is written as floats")
        }
    }

    @UnitTest
    fun `wrong schema or version is refused naming file, field, expected and found`() {
        val schema = assertFailsWith<ContractError> { ModelContract.parse(contractJson(schema = "edge-sr/bench"), "models/x.contract.json") }
        assertEquals("models/x.contract.json: field schema: expected \"edge-sr/model-contract\", found \"edge-sr/bench\"", schema.message)
        val version = assertFailsWith<ContractError> { ModelContract.parse(contractJson(schemaVersion = 2), "y.json") }
        assertEquals("y.json: field schema_version: expected 1, found 2", version.message)
    }

    @UnitTest
    fun `a real contract with a changed schema version is refused`() {
        val file = TestInputs.requireContracts().first()
        val text = file.readText().replaceFirst(Regex("\"schema_version\"\\s*:\\s*1"), "\"schema_version\": 7")
        val error = assertFailsWith<ContractError> { ModelContract.parse(text, file.path) }
        assertTrue(error.message!!.startsWith(file.path) && "schema_version" in error.message!! && "found 7" in error.message!!, error.message)
    }

    @UnitTest
    fun `bad or missing fields name their path`() {
        val badLayout = contractJson().replace("\"NCHW\"", "\"NCWH\"")
        assertEquals("c.json: field input.layout: expected NCHW or NHWC, found \"NCWH\"",
            assertFailsWith<ContractError> { ModelContract.parse(badLayout, "c.json") }.message)
        val noScale = contractJson().replace("\"scale\":2,", "")
        assertEquals("c.json: field scale: expected a value, found nothing (field missing)",
            assertFailsWith<ContractError> { ModelContract.parse(noScale, "c.json") }.message)
        val int8NoQuant = contractJson(dtype = "int8").replace(Regex("\"quantization\":\\{[^}]*\\}"), "\"quantization\":null")
        assertTrue("field input.quantization" in assertFailsWith<ContractError> { ModelContract.parse(int8NoQuant, "c.json") }.message!!)
        assertTrue("not valid JSON" in assertFailsWith<ContractError> { ModelContract.parse("{", "c.json") }.message!!)
    }

    @UnitTest
    fun `contracts without tiling or tolerance fall back as the README says`() {
        val text = contractJson().replace(Regex("\"tiling\":\\{[^}]*\\},"), "").replace(Regex("\"verification\":\\{.*\\}\\}\\}$"), "\"verification\":{}}")
        val parsed = ModelContract.parse(text, "old.json")
        assertEquals(16, parsed.overlap)
        assertEquals(false, parsed.tilingExact)
        assertNull(parsed.tolerance)
        assertNull(parsed.toView()["tolerance"])
    }

    @UnitTest
    fun `bundle manifest lists its models and refuses other schemas`() {
        val manifest = BundleManifest.parse(
            """{"schema": "edge-sr/bundle", "schema_version": 1, "app": "android", "edge_sr_version": "0.1.0",
               "models": [{"model": "span-ch28", "target": "executorch", "precision": "int8", "contract": "span-ch28.int8.pte.contract.json"}]}""",
            "manifest.json",
        )
        assertEquals("android", manifest.app)
        assertEquals(listOf(BundleEntry("span-ch28", "executorch", "int8", "span-ch28.int8.pte.contract.json")), manifest.models)
        val error = assertFailsWith<ContractError> { BundleManifest.parse("""{"schema": "edge-sr/model-contract", "schema_version": 1}""", "assets/models/manifest.json") }
        assertEquals("assets/models/manifest.json: field schema: expected \"edge-sr/bundle\", found \"edge-sr/model-contract\"", error.message)
        val entry = assertFailsWith<ContractError> {
            BundleManifest.parse("""{"schema": "edge-sr/bundle", "schema_version": 1, "app": "android", "models": [{"model": "m"}]}""", "m.json")
        }
        assertEquals("m.json: field models[0].target: expected a value, found nothing (field missing)", entry.message)
    }

    @UnitTest
    fun `the golden npy beside each real contract has the window's shape`() {
        for (file in TestInputs.requireContracts()) {
            val contract = ModelContract.read(file)
            val npy = File(file.parentFile, contract.golden.output)
            if (!npy.exists()) continue
            val array = readNpyFloat32(npy.readBytes(), npy.name)
            assertEquals(listOf(1, 3, contract.golden.height, contract.golden.width), array.shape, file.name)
            assertNotNull(array.data.firstOrNull { it != 0f }, "${npy.name} holds an image, not zeros")
        }
    }
}
