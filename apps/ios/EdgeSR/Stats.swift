import Foundation

/// Summary of repeated timings in milliseconds, as `edge_sr.bench.Timing.as_dict` writes it:
/// percentiles by linear interpolation between order statistics (NumPy's default method),
/// every value rounded to 3 decimals.
struct TimingSummary: Encodable, Equatable {
    let median: Double
    let p10: Double
    let p90: Double
    let min: Double
    let max: Double
    let mean: Double
    let runs: Int
    let warmup: Int

    /// - Parameters:
    ///   - runsMs: the timed repetitions (at least one).
    ///   - warmup: untimed runs made before them.
    init(runsMs: [Double], warmup: Int) {
        precondition(!runsMs.isEmpty, "TimingSummary needs at least one run")
        let sorted = runsMs.sorted()
        median = roundedTo3(percentile(sorted: sorted, 50))
        p10 = roundedTo3(percentile(sorted: sorted, 10))
        p90 = roundedTo3(percentile(sorted: sorted, 90))
        min = roundedTo3(sorted.first!)
        max = roundedTo3(sorted.last!)
        mean = roundedTo3(runsMs.reduce(0, +) / Double(runsMs.count))
        runs = runsMs.count
        self.warmup = warmup
    }
}

/// `q`-th percentile (0...100) of ascending `sorted`, NumPy's "linear" method, including its
/// two-sided interpolation (from the upper neighbour when the fraction is ≥ 0.5).
func percentile(sorted: [Double], _ q: Double) -> Double {
    let position = q / 100.0 * Double(sorted.count - 1)
    let below = Int(position.rounded(.down))
    let above = Swift.min(below + 1, sorted.count - 1)
    let fraction = position - Double(below)
    let a = sorted[below], b = sorted[above]
    let difference = b - a
    return fraction >= 0.5 ? b - difference * (1.0 - fraction) : a + difference * fraction
}

/// Python's `round(x, 3)` for the magnitudes timings have (ties are irrelevant at this precision).
func roundedTo3(_ value: Double) -> Double {
    (value * 1000.0).rounded(.toNearestOrEven) / 1000.0
}
