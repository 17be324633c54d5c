package dev.edgesr.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

class GoldenTest {
    /** Builds a .npy file as numpy.save does (header padded so data starts on a 64-byte boundary). */
    private fun npy(shape: List<Int>, values: FloatArray, version: Int = 1, descr: String = "<f4", fortran: String = "False"): ByteArray {
        val shapeText = if (shape.size == 1) "(${shape[0]},)" else shape.joinToString(", ", "(", ")")
        var header = "{'descr': '$descr', 'fortran_order': $fortran, 'shape': $shapeText, }"
        val prefix = if (version == 1) 10 else 12
        header += " ".repeat(63 - (prefix + header.length) % 64) + "\n"
        val buffer = ByteBuffer.allocate(prefix + header.length + 4 * values.size).order(ByteOrder.LITTLE_ENDIAN)
        buffer.put(byteArrayOf(0x93.toByte(), 'N'.code.toByte(), 'U'.code.toByte(), 'M'.code.toByte(), 'P'.code.toByte(), 'Y'.code.toByte(), version.toByte(), 0))
        if (version == 1) buffer.putShort(header.length.toShort()) else buffer.putInt(header.length)
        buffer.put(header.toByteArray())
        values.forEach { buffer.putFloat(it) }
        return buffer.array()
    }

    @UnitTest
    fun `npy files of version 1 and 2 read with their shape`() {
        val values = FloatArray(24) { it * 0.5f - 3f }
        for (version in listOf(1, 2)) {
            val array = readNpyFloat32(npy(listOf(1, 2, 3, 4), values, version))
            assertEquals(listOf(1, 2, 3, 4), array.shape)
            assertContentEquals(values, array.data)
        }
        assertEquals(listOf(3), readNpyFloat32(npy(listOf(3), floatArrayOf(1f, 2f, 3f))).shape)
    }

    @UnitTest
    fun `npy files of another dtype, order or size are refused`() {
        assertTrue("'<f4'" in assertFailsWith<IllegalArgumentException> { readNpyFloat32(npy(listOf(2), FloatArray(2), descr = "<f8")) }.message!!)
        assertTrue("C order" in assertFailsWith<IllegalArgumentException> { readNpyFloat32(npy(listOf(2), FloatArray(2), fortran = "True")) }.message!!)
        val short = npy(listOf(4), FloatArray(4)).let { it.copyOf(it.size - 4) }
        assertTrue("needs 16 bytes" in assertFailsWith<IllegalArgumentException> { readNpyFloat32(short) }.message!!)
        assertTrue("bad magic" in assertFailsWith<IllegalArgumentException> { readNpyFloat32(ByteArray(20)) }.message!!)
    }

    @UnitTest
    fun `golden check compares the window with the contract's tolerance`() {
        // Window: top 1, left 2, 3 high, 4 wide, of a 3 × 6 × 8 output.
        val c = contract()
        val output = FloatArray(3 * 6 * 8) { it / 200f }
        val window = FloatArray(3 * 3 * 4)
        for (ch in 0 until 3) for (y in 0 until 3) for (x in 0 until 4) window[(ch * 3 + y) * 4 + x] = output[(ch * 6 + 1 + y) * 8 + 2 + x]
        val exact = checkGolden(c, output, 6, 8, NpyArray(listOf(1, 3, 3, 4), window))
        assertEquals(true, exact.passed)
        assertEquals(0.0, exact.maxAbsDiff)
        assertNull(exact.psnrDb)
        val off = window.copyOf().also { it[5] += 2e-4f }
        val failed = checkGolden(c, output, 6, 8, NpyArray(listOf(1, 3, 3, 4), off))
        assertEquals(false, failed.passed)
        assertEquals(2e-4, failed.maxAbsDiff, 1e-6)
        // PSNR tolerance: one error of 0.1 over 36 values → MSE 0.01/36 → 10·log10(3600) ≈ 35.56 dB < 40.
        val psnrContract = ModelContract.parse(
            contractJson(dtype = "int8").replace(Regex("\"tolerance\":\\{[^}]*\\}"), "\"tolerance\":{\"name\":\"int8\",\"min_psnr_db\":40.0}"), "q.json",
        )
        val noisy = window.copyOf().also { it[0] += 0.1f }
        val psnr = checkGolden(psnrContract, output, 6, 8, NpyArray(listOf(1, 3, 3, 4), noisy))
        assertEquals(10 * Math.log10(3600.0), psnr.psnrDb!!, 1e-3)
        assertEquals(false, psnr.passed)
        assertFailsWith<IllegalArgumentException> { checkGolden(c, output, 6, 8, NpyArray(listOf(1, 3, 4, 4), FloatArray(48))) }
    }
}
