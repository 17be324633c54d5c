package dev.edgesr.core

import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

class StatsTest {
    private fun assertClose(expected: Double, actual: Double, what: String) = assertEquals(expected, actual, 1e-9, what)

    @UnitTest
    fun `percentiles match numpy's linear interpolation`() {
        // Expected values from numpy.percentile / numpy.median / numpy.mean.
        val cases = listOf(
            listOf(3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0) to listOf(3.5, 1.0, 6.9, 3.875),
            listOf(10.0) to listOf(10.0, 10.0, 10.0, 10.0),
            listOf(2.0, 4.0) to listOf(3.0, 2.2, 3.8, 3.0),
            listOf(12.5, 11.0, 13.25, 40.0, 12.0) to listOf(12.5, 11.4, 29.3, 17.75),
        )
        for ((values, expected) in cases) {
            val stats = Stats.of(values)
            assertClose(expected[0], stats.median, "median of $values")
            assertClose(expected[1], stats.p10, "p10 of $values")
            assertClose(expected[2], stats.p90, "p90 of $values")
            assertClose(expected[3], stats.mean, "mean of $values")
            assertEquals(values.min(), stats.min)
            assertEquals(values.max(), stats.max)
            assertEquals(values.size, stats.runs)
        }
        assertFailsWith<IllegalArgumentException> { Stats.of(emptyList()) }
    }

    @UnitTest
    fun `the JSON form rounds to microseconds and adds warm-up`() {
        val map = Stats.of(listOf(1.23456, 2.0)).toMap(warmup = 3)
        assertEquals(listOf("median", "p10", "p90", "min", "max", "mean", "runs", "warmup"), map.keys.toList())
        assertEquals(1.617, map["median"])
        assertEquals(1.235, map["min"])
        assertEquals(2, map["runs"])
        assertEquals(3, map["warmup"])
    }
}
