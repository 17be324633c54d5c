package dev.edgesr.core

import kotlin.test.assertEquals
import kotlin.test.assertTrue

class BenchResultsTest {
    @UnitTest
    fun `results file has the edge-sr bench v1 structure`() {
        val c = contract(sizes = listOf(listOf(16, 16)), overlap = 2, scale = 2)
        val measurement = benchmark(Upscaler(c, NearestNeighbourRunner(2)), randomImage(40, 30), warmup = 1, runs = 4)
        val golden = GoldenResult(true, 3.1e-6, null, "convert-fp32")
        val row = BenchRow("span-ch28", "litert-cpu", c, 30, 40, 4, measurement, golden)
        val text = benchResultsJson(DeviceInfo("Pixel 8", "android", "Android 15 (API 35)", "edge-sr demo 0.1"), listOf(row))
        val root = Json.parse(text) as Map<*, *>
        assertEquals("edge-sr/bench", root["schema"])
        assertEquals(1L, root["schema_version"])
        assertEquals(mapOf("name" to "Pixel 8", "kind" to "android", "os" to "Android 15 (API 35)", "app" to "edge-sr demo 0.1"), root["device"])
        val r = (root["rows"] as List<*>).single() as Map<*, *>
        assertEquals(listOf("model", "runtime", "precision", "input", "output", "threads", "artifact", "tiling", "ms", "stages_ms", "golden"), r.keys.toList())
        assertEquals("fp32", r["precision"])
        assertEquals(listOf(30L, 40L), r["input"])
        assertEquals(listOf(60L, 80L), r["output"])
        assertEquals(4L, r["threads"])
        assertEquals(mapOf("file" to "test.float32.bin", "sha256" to "00ff"), r["artifact"])
        val tiling = r["tiling"] as Map<*, *>
        assertEquals(listOf(16L, 16L), tiling["tile"])
        assertEquals(2L, tiling["overlap"])
        assertEquals(measurement.plan.placements.size.toLong(), tiling["tiles"])
        val statKeys = listOf("median", "p10", "p90", "min", "max", "mean", "runs", "warmup")
        val ms = r["ms"] as Map<*, *>
        assertEquals(statKeys, ms.keys.toList())
        assertEquals(4L, ms["runs"])
        assertEquals(1L, ms["warmup"])
        val stages = r["stages_ms"] as Map<*, *>
        assertEquals(listOf("pre", "run", "post"), stages.keys.toList())
        for (stage in stages.values) assertEquals(statKeys, (stage as Map<*, *>).keys.toList())
        assertTrue((ms["min"] as Double) <= (ms["median"] as Double) && (ms["median"] as Double) <= (ms["max"] as Double))
        assertEquals(mapOf("passed" to true, "max_abs_diff" to 3.1e-6, "psnr_db" to null), r["golden"])
    }
}
