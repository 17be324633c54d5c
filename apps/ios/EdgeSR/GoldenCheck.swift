import Foundation

/// The outcome of the golden self-check: the artifact's output on `golden.input`, compared over
/// `golden.output_window` with `golden.output` (float32 NCHW `.npy`).
struct GoldenResult: Encodable {
    /// nil when the contract states no tolerance (verification could not run where it was converted).
    let passed: Bool?
    let maxAbsDiff: Double
    /// PSNR in dB over the window, values clamped to the output range, peak = range width
    /// (`converters/pipeline.py` psnr); +inf is reported as nil.
    let psnrDb: Double?
    /// What was compared, for the screen.
    let summary: String

    enum CodingKeys: String, CodingKey {
        case passed
        case maxAbsDiff = "max_abs_diff"
        case psnrDb = "psnr_db"
    }

    /// JSON nulls for absent values (the synthesized encoder would leave the keys out).
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(passed, forKey: .passed)
        try container.encode(maxAbsDiff, forKey: .maxAbsDiff)
        try container.encode(psnrDb, forKey: .psnrDb)
    }
}

enum GoldenCheckError: LocalizedError {
    case noValues
    case windowOutside(window: OutputWindow, height: Int, width: Int)
    case shapeMismatch(expected: [Int], found: [Int])

    var errorDescription: String? {
        switch self {
        case .noValues: return "golden check: the run kept no float output"
        case let .windowOutside(window, height, width):
            return "golden check: window \(window) lies outside the \(width)x\(height) output"
        case let .shapeMismatch(expected, found):
            return "golden check: .npy shape \(found), expected \(expected)"
        }
    }
}

/// Compares the real output values (NCHW, 1×3×H×W) with the golden window and applies
/// `verification.tolerance`: `max_abs_diff` for fp32, `min_psnr_db` for fp16/int8.
func checkGolden(outputValues: [Float], outputHeight: Int, outputWidth: Int, golden: NpyFloat32Array,
                 contract: ModelContract) throws -> GoldenResult {
    let window = contract.golden.outputWindow
    guard window.top >= 0, window.left >= 0, window.top + window.height <= outputHeight,
          window.left + window.width <= outputWidth else {
        throw GoldenCheckError.windowOutside(window: window, height: outputHeight, width: outputWidth)
    }
    let expectedShape = [1, 3, window.height, window.width]
    guard golden.shape == expectedShape else {
        throw GoldenCheckError.shapeMismatch(expected: expectedShape, found: golden.shape)
    }
    let low = contract.output.low, high = contract.output.high
    var maxAbsDiff = 0.0
    var squaredError = 0.0
    for channel in 0..<3 {
        for y in 0..<window.height {
            for x in 0..<window.width {
                let ours = Double(outputValues[(channel * outputHeight + window.top + y) * outputWidth + window.left + x])
                let theirs = Double(golden.values[(channel * window.height + y) * window.width + x])
                maxAbsDiff = max(maxAbsDiff, abs(ours - theirs))
                let difference = min(max(ours, low), high) - min(max(theirs, low), high)
                squaredError += difference * difference
            }
        }
    }
    let mse = squaredError / Double(3 * window.height * window.width)
    let peak = high - low
    let psnr: Double? = mse == 0 ? nil : 10.0 * log10(peak * peak / mse)

    guard let tolerance = contract.tolerance else {
        return GoldenResult(passed: nil, maxAbsDiff: maxAbsDiff, psnrDb: psnr,
                            summary: "no tolerance in the contract (verification did not run when converting)")
    }
    if let limit = tolerance.maxAbsDiff {
        let passed = maxAbsDiff <= limit
        return GoldenResult(passed: passed, maxAbsDiff: maxAbsDiff, psnrDb: psnr,
                            summary: "\(tolerance.name): max |diff| \(maxAbsDiff) \(passed ? "<=" : ">") \(limit)")
    }
    if let limit = tolerance.minPsnrDb {
        let passed = (psnr ?? .infinity) >= limit
        let shown = psnr.map { String(format: "%.2f dB", $0) } ?? "inf dB"
        return GoldenResult(passed: passed, maxAbsDiff: maxAbsDiff, psnrDb: psnr,
                            summary: "\(tolerance.name): PSNR \(shown) \(passed ? ">=" : "<") \(limit) dB")
    }
    return GoldenResult(passed: nil, maxAbsDiff: maxAbsDiff, psnrDb: psnr,
                        summary: "\(tolerance.name) states neither max_abs_diff nor min_psnr_db")
}
