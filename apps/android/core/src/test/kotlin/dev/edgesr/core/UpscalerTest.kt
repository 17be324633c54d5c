package dev.edgesr.core

import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

class UpscalerTest {
    @UnitTest
    fun `a nearest-neighbour network reproduces the image through the whole pipeline`() {
        var runs = 0
        for (layout in listOf("NCHW", "NHWC")) for (dtype in listOf("float32", "int8", "uint8")) {
            for ((kind, sizes) in listOf("fixed" to listOf(listOf(24, 24)), "enumerated" to listOf(listOf(16, 24), listOf(40, 40)), "dynamic" to emptyList())) {
                val c = contract(layout = layout, dtype = dtype, kind = kind, sizes = sizes, overlap = 4, scale = 3)
                for ((width, height) in listOf(1 to 1, 5 to 9, 24 to 24, 25 to 23, 70 to 33, 100 to 101)) {
                    val image = randomImage(width, height)
                    val upscaler = Upscaler(c, NearestNeighbourRunner(3), maxTileSide = 48)
                    val result = upscaler.upscale(image)
                    val where = "$layout $dtype $kind ${width}x$height"
                    assertEquals(width * 3, result.image.width, where)
                    assertContentEquals(nearestNeighbour(image, 3).argb, result.image.argb, where)
                    runs++
                }
            }
        }
        assertEquals(2 * 3 * 3 * 6, runs)
    }

    @UnitTest
    fun `the float output is the dequantised network output in NCHW`() {
        val image = randomImage(30, 20)
        for (dtype in listOf("float32", "int8")) for (layout in listOf("NCHW", "NHWC")) {
            val c = contract(layout = layout, dtype = dtype, sizes = listOf(listOf(16, 16)), overlap = 3, scale = 2)
            val output = Upscaler(c, NearestNeighbourRunner(2)).upscaleToFloat(image)
            assertEquals(3 * 40 * 60, output.size)
            for (y in 0 until 40) for (x in 0 until 60) {
                val pixel = image.argb[(y / 2) * 30 + x / 2]
                assertEquals(((pixel shr 8) and 0xFF) / 255.0, output[(1 * 40 + y) * 60 + x].toDouble(), 1e-6, "$dtype $layout green at $y,$x")
            }
        }
    }

    @UnitTest
    fun `each stage is timed once per tile`() {
        var now = 0L
        val clock = { now += 1_000_000L; now } // every reading advances 1 ms
        val c = contract(sizes = listOf(listOf(16, 16)), overlap = 2, scale = 2)
        val runner = NearestNeighbourRunner(2)
        val result = Upscaler(c, runner, clock = clock).upscale(randomImage(40, 20))
        val tiles = result.plan.placements.size
        assertEquals(tiles, runner.calls)
        assertEquals(StageTimes(tiles.toDouble(), tiles.toDouble(), tiles.toDouble()), result.times)
        assertEquals(3.0 * tiles, result.times.totalMs)
    }

    @UnitTest
    fun `a runner returning the wrong size or dtype is reported`() {
        val c = contract(sizes = listOf(listOf(16, 16)), overlap = 2, scale = 2)
        val error = assertFailsWith<IllegalStateException> { Upscaler(c, NearestNeighbourRunner(3)).upscale(randomImage(16, 16)) }
        assertTrue("expected 32x32" in error.message!!, error.message)
        val wrongDtype = object : SrRunner {
            override fun run(input: TensorData) = TensorData.ofBytes(Layout.NCHW, DType.INT8, 32, 32, ByteArray(3 * 32 * 32))
        }
        assertFailsWith<IllegalStateException> { Upscaler(c, wrongDtype).upscale(randomImage(16, 16)) }
    }

    @UnitTest
    fun `benchmark runs warm-up plus timed repetitions and summarises them`() {
        val c = contract(sizes = listOf(listOf(16, 16)), overlap = 2, scale = 2)
        val runner = NearestNeighbourRunner(2)
        val image = randomImage(16, 16)
        val progress = ArrayList<Int>()
        val measurement = benchmark(Upscaler(c, runner), image, warmup = 2, runs = 5) { done, total -> assertEquals(7, total); progress += done }
        assertEquals(7, runner.calls)
        assertEquals((1..7).toList(), progress)
        assertEquals(5, measurement.total.runs)
        assertEquals(2, measurement.warmup)
        assertContentEquals(nearestNeighbour(image, 2).argb, measurement.lastImage.argb)
        assertTrue(measurement.total.median >= measurement.run.median)
    }
}
