package dev.edgesr.core

import kotlin.math.floor
import kotlin.math.round

/**
 * Summary of repeated timings in milliseconds, as `edge_sr.bench.Timing.as_dict`: median,
 * p10/p90 by linear interpolation between order statistics (NumPy's default percentile), min,
 * max, mean and the number of runs.
 */
data class Stats(val median: Double, val p10: Double, val p90: Double, val min: Double, val max: Double, val mean: Double, val runs: Int) {

    /** JSON-ready map, values rounded to 3 decimals (µs) as the Python side writes them; [warmup] added when given. */
    fun toMap(warmup: Int? = null): Map<String, Any?> = linkedMapOf<String, Any?>(
        "median" to round3(median), "p10" to round3(p10), "p90" to round3(p90),
        "min" to round3(min), "max" to round3(max), "mean" to round3(mean), "runs" to runs,
    ).also { if (warmup != null) it["warmup"] = warmup }

    companion object {
        /** Statistics of [values] (at least one). */
        fun of(values: List<Double>): Stats {
            require(values.isNotEmpty()) { "statistics need at least one value" }
            val sorted = values.sorted()
            return Stats(
                median = percentile(sorted, 50.0),
                p10 = percentile(sorted, 10.0),
                p90 = percentile(sorted, 90.0),
                min = sorted.first(),
                max = sorted.last(),
                mean = values.sum() / values.size,
                runs = values.size,
            )
        }

        /** NumPy's default ("linear") percentile [q] (0..100) of ascending [sorted] values. */
        fun percentile(sorted: List<Double>, q: Double): Double {
            val position = (sorted.size - 1) * q / 100.0
            val below = floor(position).toInt()
            val above = minOf(below + 1, sorted.size - 1)
            val fraction = position - below
            return sorted[below] + (sorted[above] - sorted[below]) * fraction
        }

        fun round3(value: Double): Double = round(value * 1000.0) / 1000.0
    }
}
