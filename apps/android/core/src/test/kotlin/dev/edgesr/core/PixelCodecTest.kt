package dev.edgesr.core

import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

class PixelCodecTest {
    /** 2 rows × 3 columns; pixel (y, x) has r = 10·y + x, g = 100 + r, b = 200 + r. */
    private val tiny = RgbImage(3, 2, IntArray(6) { i -> val r = (i / 3) * 10 + i % 3; RgbImage.pack(r, 100 + r, 200 + r) })

    private fun codec(layout: String, dtype: String = "float32") = contract(layout = layout, dtype = dtype).let { PixelCodec(it.input, it.output) }

    /** Every 8-bit value in every channel: 256 pixels, r = i, g = 255 − i, b = 7·i mod 256. */
    private val allValues = RgbImage(16, 16, IntArray(256) { i -> RgbImage.pack(i, 255 - i, (7 * i) % 256) })

    @UnitTest
    fun `NCHW puts the three channel planes one after another`() {
        val tensor = codec("NCHW").encode(tiny, 0, 0, 2, 3)
        val expectedPixels = listOf(0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112, 200, 201, 202, 210, 211, 212)
        assertContentEquals(expectedPixels.map { it / 255f }.toFloatArray(), tensor.floats)
        assertContentEquals(longArrayOf(1, 3, 2, 3), tensor.shape)
    }

    @UnitTest
    fun `NHWC interleaves RGB per pixel`() {
        val tensor = codec("NHWC").encode(tiny, 0, 0, 2, 3)
        val expectedPixels = listOf(0, 100, 200, 1, 101, 201, 2, 102, 202, 10, 110, 210, 11, 111, 211, 12, 112, 212)
        assertContentEquals(expectedPixels.map { it / 255f }.toFloatArray(), tensor.floats)
        assertContentEquals(longArrayOf(1, 2, 3, 3), tensor.shape)
    }

    @UnitTest
    fun `windows past the edge replicate the last row and column`() {
        val tensor = codec("NCHW").encode(tiny, 1, 1, 2, 3) // rows 1,2(=1) × columns 1,2,3(=2)
        val red = tensor.floats!!.copyOfRange(0, 6).map { Math.round(it * 255) }
        assertEquals(listOf(11, 12, 12, 11, 12, 12), red)
    }

    @UnitTest
    fun `float tensors give back every 8-bit pixel exactly in both layouts and ranges`() {
        for (layout in listOf("NCHW", "NHWC")) {
            for (range in listOf(listOf(0.0, 1.0), listOf(-1.0, 1.0), listOf(0.0, 255.0))) {
                val c = ModelContract.parse(contractJson(layout = layout, range = range), "r.json")
                val codec = PixelCodec(c.input, c.output)
                val tensor = codec.encode(allValues, 0, 0, 16, 16)
                assertEquals(range[0].toFloat(), tensor.floats!!.min(), "$layout $range: pixel 0 maps to low")
                assertEquals(range[1].toFloat(), tensor.floats!!.max(), "$layout $range: pixel 255 maps to high")
                assertContentEquals(allValues.argb, codec.decode(tensor).argb, "$layout $range")
            }
        }
    }

    @UnitTest
    fun `int8 and uint8 tensors give back every 8-bit pixel exactly`() {
        for (layout in listOf("NCHW", "NHWC")) {
            val int8 = codec(layout, "int8")
            val q = int8.encode(allValues, 0, 0, 16, 16)
            // With scale 1/255 and zero point -128, pixel p is q = p - 128 exactly.
            val red = (0 until 256).map { i -> q.bytes!![tensorIndex(q.layout, 16, 16, 0, i / 16, i % 16)].toInt() }
            assertEquals((0 until 256).map { it - 128 }, red, layout)
            assertContentEquals(allValues.argb, int8.decode(q).argb, "$layout int8")
            val uint8 = codec(layout, "uint8")
            val u = uint8.encode(allValues, 0, 0, 16, 16)
            assertEquals(255, u.bytes!![tensorIndex(u.layout, 16, 16, 0, 15, 15)].toInt() and 0xFF, "uint8 stores 255 as 0xFF")
            assertContentEquals(allValues.argb, uint8.decode(u).argb, "$layout uint8")
        }
    }

    @UnitTest
    fun `rounding is half away from zero and quantisation clamps to the dtype`() {
        assertEquals(listOf(1L, -1L, 2L, -2L, 3L, -3L, 2L, 0L), listOf(0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 2.4999, -0.49).map(::roundHalfAwayFromZero))
        val signed = Quantization(0.5, -3)
        assertEquals(-2, quantize(0.25, signed, DType.INT8)) // 0.5 → 1, + (−3)
        assertEquals(-4, quantize(-0.25, signed, DType.INT8)) // −0.5 → −1
        assertEquals(127, quantize(1000.0, signed, DType.INT8))
        assertEquals(-128, quantize(-1000.0, signed, DType.INT8))
        assertEquals(0, quantize(-5.0, Quantization(0.1, 0), DType.UINT8))
        assertEquals(255, quantize(99.0, Quantization(0.1, 0), DType.UINT8))
        assertEquals(2.5, dequantize(2, signed))
    }

    @UnitTest
    fun `output pixels clamp to the range and round half up`() {
        assertEquals(0, floatToPixel(-0.3, 0.0, 1.0))
        assertEquals(255, floatToPixel(1.7, 0.0, 1.0))
        assertEquals(1, floatToPixel(0.5 / 255.0, 0.0, 1.0))
        assertEquals(128, floatToPixel(127.5 / 255.0, 0.0, 1.0))
        assertEquals(127, floatToPixel(127.49 / 255.0, 0.0, 1.0))
        assertEquals(128, floatToPixel(0.0, -1.0, 1.0))
        // int8 outputs are dequantised first: q = 127 is real 255/255 with zero point −128.
        val int8 = codec("NCHW", "int8")
        val tensor = TensorData.ofBytes(Layout.NCHW, DType.INT8, 1, 1, byteArrayOf(127, -128, 0))
        assertEquals(listOf(255, 0, 128), (0 until 3).map { int8.outputPixel(tensor, it, 0, 0) })
    }

    @UnitTest
    fun `tensor sizes are checked`() {
        assertFailsWith<IllegalArgumentException> { TensorData.ofFloats(Layout.NCHW, 2, 2, FloatArray(11)) }
        assertFailsWith<IllegalArgumentException> { TensorData.ofBytes(Layout.NCHW, DType.FLOAT32, 1, 1, ByteArray(3)) }
        assertFailsWith<IllegalArgumentException> { RgbImage(2, 2, IntArray(3)) }
    }
}
